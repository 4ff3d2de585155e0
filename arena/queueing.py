"""Enqueue Celery tasks after the surrounding transaction commits.

A task enqueued before commit can run before its rows are visible to the worker (or for
rows a rollback then removes), so every enqueue goes through ``transaction.on_commit``.
"""

from __future__ import annotations

from django.db import transaction


def enqueue_advance(tournament_id: int) -> None:
    from arena.tasks import advance_tournament

    transaction.on_commit(lambda: advance_tournament.delay(tournament_id))


def enqueue_play(match_id: int, *, queue: str) -> None:
    from arena.tasks import play_match

    transaction.on_commit(lambda: play_match.apply_async(args=(match_id,), queue=queue))


def enqueue_contestant_added(contestant_id: int) -> None:
    from arena.tasks import contestant_added

    transaction.on_commit(lambda: contestant_added.delay(contestant_id))


def enqueue_plan(strategy: str, n_models: int, tau: float, half_width: float | None) -> None:
    from arena.tasks import compute_plan

    transaction.on_commit(lambda: compute_plan.delay(strategy, n_models, tau, half_width))

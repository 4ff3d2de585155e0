"""Enqueue Celery tasks after the surrounding transaction commits.

A task enqueued before commit can run before its rows are visible to the worker (or for
rows a rollback then removes), so every enqueue goes through ``transaction.on_commit``.
"""

from __future__ import annotations

from django.core.cache import cache
from django.db import transaction

# The global boards are warmed at most this often (arena.services.leaderboards.boards_warm):
# under a stream of verdicts their stamps change every second, and a fit every second
# would be a worker's whole time.
WARM_SECONDS = 30


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


def enqueue_boards_warm() -> None:
    """Warm at the end of the window the first publish in it opens: the boards are keyed
    by the verdicts they hold, so a warm must read the last of a burst, not the first."""
    from arena.tasks import warm_boards

    if cache.add("boards:warm:queued", 1, WARM_SECONDS):
        transaction.on_commit(lambda: warm_boards.apply_async(countdown=WARM_SECONDS))

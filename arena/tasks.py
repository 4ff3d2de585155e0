"""Thin Celery tasks: take ids, call a service, declare the retry policy.

Both tasks are idempotent (see arena.services), so ``acks_late`` redelivery after a worker
dies is safe: the second run finds the work done or claims what was left.
"""

from __future__ import annotations

import logging
import random
from typing import Any

from celery import shared_task
from django.conf import settings
from django.db import connection

from arena.models import Tournament
from arena.services import contestants as contestants_svc
from arena.services.advance import tournament_advance, tournaments_sweep
from arena.services.leaderboards import boards_warm
from arena.services.matches import match_fail, match_play, match_release
from arena.services.plans import Shape, plan_compute
from arena.services.results import tournament_results_publish
from arena.services.tournaments import tournament_rerun
from judges.backends.base import TransientError

MAX_TRANSIENT_RETRIES = 5
log = logging.getLogger(__name__)


@shared_task(acks_late=True)
def advance_tournament(tournament_id: int) -> None:
    tournament_advance(tournament_id=tournament_id)


@shared_task(acks_late=True)
def warm_boards() -> None:
    boards_warm()


@shared_task(acks_late=True)
def compute_plan(strategy: str, n_models: int, tau: float, half_width: float | None) -> None:
    plan_compute(shape=Shape(strategy, n_models, tau, half_width))


@shared_task(bind=True, acks_late=True, max_retries=MAX_TRANSIENT_RETRIES)
def play_match(self: Any, match_id: int) -> str:
    """Every way out ends in a verdict, a retry or a recorded failure: a match is never
    left ``playing`` by an exception (the sweep catches a worker that dies outright)."""
    try:
        return match_play(match_id=match_id)
    except TransientError as error:
        return _retry_or_fail(self, match_id, error, retry_after=error.retry_after)
    except Exception as error:  # a database gone, a bug: the match must not stay claimed
        log.exception("match %s: %s", match_id, type(error).__name__)
        if not connection.in_atomic_block:
            connection.close()  # back to the pool, which checks it before handing it out
        try:
            match_release(match_id=match_id)
        except Exception:  # the database is still away: the sweep gives the claim back
            log.warning("match %s: could not release its claim", match_id)
        return _retry_or_fail(self, match_id, error, retry_after=None)


def _retry_or_fail(self: Any, match_id: int, error: Exception, *, retry_after: float | None) -> str:
    if self.request.retries >= self.max_retries:
        match_fail(match_id=match_id, error=f"gave up after {self.max_retries} retries: {error}")
        return "failed"
    # Exponential backoff with full jitter, at least what the server asked for.
    backoff = min(2**self.request.retries * settings.RETRY_BASE_SECONDS, 120.0)
    delay = max(retry_after or 0.0, backoff * random.uniform(0.5, 1.0))
    raise self.retry(exc=error, countdown=delay) from error


@shared_task(ignore_result=True)
def sweep_tournaments() -> None:
    """Beat runs it every ``SWEEP_SECONDS``: see ``tournaments_sweep``."""
    tournaments_sweep()


@shared_task
def rerun_tournament(tournament_id: int) -> int:
    """For django-celery-beat schedules (admin → Periodic tasks): a new run; its id."""
    return tournament_rerun(tournament=Tournament.objects.get(pk=tournament_id)).pk


@shared_task
def contestant_added(contestant_id: int) -> list[int]:
    """A new contestant joins a fresh run of each tournament that asks for it; their ids."""
    return contestants_svc.contestant_added(contestant_id=contestant_id)


@shared_task(ignore_result=True)
def publish_leaderboard(tournament_id: int) -> None:
    tournament_results_publish(tournament_id=tournament_id)

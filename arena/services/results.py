"""A tournament's results as people watch them: progress events, and the leaderboard
fitted and published by a worker after a window that grows with the fit's cost (debounced:
one publish for a burst of verdicts).
"""

from __future__ import annotations

import logging
from time import thread_time

from django.core.cache import cache
from django.db import transaction

from arena import live
from arena.boards import tournament_leaderboard
from arena.models import (
    Tournament,
)
from arena.queueing import enqueue_boards_warm
from arena.selectors import (
    tournament_progress,
    tournament_spend,
)
from arena.services.leaderboards import elo_point_record

log = logging.getLogger(__name__)


def tournament_publish_progress(*, tournament: Tournament) -> None:
    progress = tournament_progress(tournament)
    live.publish_on_commit(
        live.tournament_group(tournament.pk),
        live.TournamentProgress(
            type="tournament.progress",
            tournament=tournament.pk,
            status=tournament.status,
            done=progress.done,
            failed=progress.failed,
            planned=progress.planned,
            spend_usd=str(tournament_spend(tournament)),
            error=tournament.error,
        ),
    )


# A tournament's results (leaderboard fit, progress, the global nudge) are published by a
# worker at most once per window, however fast verdicts and votes come: a burst of votes
# costs one fit, not one each.
RESULTS_WINDOW_S = 0.5
# ... and the window grows with the CPU the last publish took, so that a costly one keeps
# to about a quarter of a worker thread instead of all of it.
RESULTS_WINDOW_PER_PUBLISH_S = 3.0


def results_scheduled_key(tournament_id: int) -> str:
    return f"arena:leaderboard-scheduled:{tournament_id}"


def _results_cost_key(tournament_id: int) -> str:
    return f"arena:leaderboard-seconds:{tournament_id}"


def tournament_schedule_results(*, tournament_id: int) -> None:
    """After commit, have a worker publish the results: at most one per window, and every
    verdict committed before it runs is in it (``tournament_results_publish``)."""
    transaction.on_commit(lambda: _schedule_results(tournament_id), robust=True)


# The scheduled key lives longer than the window so a lost task cannot block updates for good.
RESULTS_KEY_TIMEOUT_S = RESULTS_WINDOW_S * 20


def _schedule_results(tournament_id: int) -> None:
    if cache.add(results_scheduled_key(tournament_id), 1, timeout=RESULTS_KEY_TIMEOUT_S):
        tournament_queue_results(tournament_id=tournament_id)
    # else a publish is already queued, and will see this verdict: one round trip


def tournament_queue_results(*, tournament_id: int) -> None:
    """Queue the publish, once this verdict's caller has added its scheduled key
    (``results_scheduled_key``: the cache's ``add``, or arena.serving.fastvote's own Redis
    client)."""
    key = results_scheduled_key(tournament_id)
    last = cache.get(_results_cost_key(tournament_id)) or 0.0
    window = max(RESULTS_WINDOW_S, RESULTS_WINDOW_PER_PUBLISH_S * last)
    if window > RESULTS_WINDOW_S:
        cache.touch(key, window * 20)
    from arena.tasks import publish_leaderboard

    try:
        publish_leaderboard.apply_async(args=(tournament_id,), countdown=window)
    except Exception:
        cache.delete(key)  # the next verdict tries again
        raise


def tournament_results_publish(*, tournament_id: int) -> None:
    """The worker's publish: the leaderboard fitted on every committed verdict, progress,
    and the global leaderboards' nudge."""
    cache.delete(results_scheduled_key(tournament_id))
    tournament = Tournament.objects.filter(pk=tournament_id).first()
    if tournament is None:
        return
    # The fit's CPU, not its wall time: on a busy machine the wall time grew with the load
    # (and with it the window, and the leaderboard's delay), not with the fit.
    started = thread_time()
    rows = tournament_leaderboard(tournament, fresh=True)
    cache.set(_results_cost_key(tournament_id), thread_time() - started, timeout=86400)
    elo_point_record(tournament=tournament)
    live.publish(
        live.tournament_group(tournament_id),
        live.LeaderboardUpdated(type="leaderboard.updated", tournament=tournament_id, rows=rows),
    )
    # Read again after the fit: the tournament may have completed (or paused) meanwhile,
    # and a progress event with the old status would come after the one with the new.
    tournament.refresh_from_db(fields=["status", "error"])
    tournament_publish_progress(tournament=tournament)
    live.publish(
        live.GLOBAL_GROUP,
        live.LeaderboardChanged(type="leaderboard.changed", tournament=tournament_id),
    )
    enqueue_boards_warm()

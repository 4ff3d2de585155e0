"""Embedded mode for real: Celery worker threads on the in-memory broker, SQLite on disk."""

from __future__ import annotations

import pytest
from django.conf import settings

from arena.embedded import embedded_worker_start, embedded_worker_stop
from arena.models import Judgment, MatchStatus, Standing, TournamentStatus

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not settings.EMBEDDED, reason="embedded mode only (REDIS_URL is set)"),
]


@pytest.fixture
def worker():
    embedded_worker_start(concurrency=3)
    yield
    embedded_worker_stop()


def test_a_tournament_runs_to_completion_on_the_embedded_worker_with_live_events(
    worker, make_tournament, wait_until_finished, start_and_watch
) -> None:
    tournament = make_tournament(n=6, rounds=2)
    events = start_and_watch(tournament, 60)
    wait_until_finished(tournament, 30)

    assert tournament.status == TournamentStatus.COMPLETED
    assert tournament.matches.filter(status=MatchStatus.COMPLETED).count() == 30
    assert Judgment.objects.filter(match__tournament=tournament).count() == 30
    assert (
        sum(Standing.objects.filter(tournament=tournament).values_list("matches", flat=True)) == 60
    )
    updates = [e for e in events if e["type"] == "leaderboard.updated"]
    assert len(updates) == 30
    assert sum(r["matches"] for r in updates[-1]["rows"]) == 60

"""Embedded mode for real: Celery worker threads on the in-memory broker, SQLite on disk."""

from __future__ import annotations

import threading
import time

import pytest
from django.conf import settings

from arena.celery import app
from arena.models import Judgment, LeaderboardSnapshot, MatchStatus, Standing, TournamentStatus
from arena.services.tournaments import tournament_create, tournament_start
from arena.serving.embedded import embedded_worker_start, embedded_worker_stop

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not settings.EMBEDDED, reason="embedded mode only (REDIS_URL is set)"),
]


@pytest.fixture
def worker():
    # Tasks earlier tests queued on the in-memory broker (an API fuzz asking for plans: a
    # worker's minutes each) are not this test's to run.
    app.control.purge()
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
    assert 1 <= len(updates) < 30  # at most one refit per window, not one per verdict
    assert sum(r["matches"] for r in updates[-1]["rows"]) == 60


# One of each format and of each seeding / grouping / sampler option, small and quick.
EVERY_FORMAT = [
    ("round_robin", 4, {"rounds": 1}),
    ("single_elimination", 6, {"third_place": True}),
    ("single_elimination", 5, {"seeding": "anchor", "anchor": "sim-2"}),
    ("kwise", 7, {"k": 3, "rounds": 2}),
    ("kwise", 7, {"k": 3, "rounds": 3, "grouping": "adaptive"}),
    ("anchor", 5, {"anchor": "sim-2", "rounds": 2}),
    ("swiss", 6, {"rounds": 3}),
    ("adaptive", 5, {"sampler": "info_gain", "max_matches": 16, "batch": 4}),
    ("adaptive", 5, {"sampler": "top_k", "top_k": 2, "max_matches": 16, "batch": 4}),
]


@pytest.mark.parametrize(("format", "n", "config"), EVERY_FORMAT)
def test_every_format_runs_through_celery_and_stores_its_standings_and_leaderboard(
    worker, contestants, prompt_set, judge, wait_until_finished, format, n, config
) -> None:
    tournament = tournament_create(
        name=format,
        format=format,
        contestants=[c.name for c in contestants(n)],
        prompt_set=prompt_set.name,
        judge=judge.name,
        config=config,
        seed=3,
    )
    tournament_start(tournament=tournament)
    wait_until_finished(tournament, 60)

    assert tournament.status == TournamentStatus.COMPLETED, tournament.error
    played = tournament.matches.filter(status=MatchStatus.COMPLETED).count()
    assert played == tournament.matches.count() == tournament.planned_matches > 0
    assert Judgment.objects.filter(match__tournament=tournament).count() == played
    entries = sum(m.entries.count() for m in tournament.matches.all())
    standings = Standing.objects.filter(tournament=tournament)
    assert sum(standings.values_list("matches", flat=True)) == entries
    assert LeaderboardSnapshot.objects.filter(tournament=tournament).exists()


def test_the_embedded_worker_sweeps_on_its_own_timer_until_stopped(monkeypatch, settings) -> None:
    """Embedded mode has no beat: the worker's timer thread runs the sweep instead."""
    from arena.services import advance

    settings.SWEEP_SECONDS = 0.05
    swept = threading.Event()
    monkeypatch.setattr(advance, "tournaments_sweep", lambda: swept.set())
    embedded_worker_start(concurrency=1)
    try:
        assert swept.wait(timeout=5)
    finally:
        embedded_worker_stop()
    time.sleep(0.2)  # the timer wakes from its wait and ends
    assert not any(t.name == "embedded-sweep" for t in threading.enumerate())

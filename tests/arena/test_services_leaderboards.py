"""The global boards are warmed by a worker after verdicts land, at most once a window, so
the leaderboard page's first reader finds them fitted."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache

from arena import boards, queueing, tasks
from arena.models import Tournament
from arena.services.leaderboards import boards_warm
from arena.services.results import tournament_results_publish
from arena.services.tournaments import tournament_start

pytestmark = pytest.mark.django_db


@pytest.fixture
def played(make_tournament, play_out) -> Tournament:
    tournament: Tournament = play_out(tournament_start(tournament=make_tournament(n=4, rounds=2)))
    return tournament


def test_a_results_publish_queues_one_warming_per_window(
    played: Tournament, monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks
) -> None:
    queued: list[Any] = []
    monkeypatch.setattr(
        tasks.warm_boards, "apply_async", lambda countdown: queued.append(countdown)
    )
    cache.clear()
    with django_capture_on_commit_callbacks(execute=True):
        tournament_results_publish(tournament_id=played.pk)
        tournament_results_publish(tournament_id=played.pk)
    assert queued == [queueing.WARM_SECONDS]  # run at the window's end, on its last verdict
    cache.delete("boards:warm:queued")  # the window has passed
    with django_capture_on_commit_callbacks(execute=True):
        tournament_results_publish(tournament_id=played.pk)
    assert queued == [queueing.WARM_SECONDS] * 2


def test_after_warming_the_pages_boards_are_read_without_a_fit(
    played: Tournament, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache.clear()
    boards_warm()
    fits: list[str] = []
    real_quality, real_overall = boards._quality, boards._overall
    monkeypatch.setattr(boards, "_quality", lambda: fits.append("panel") or real_quality())
    monkeypatch.setattr(boards, "_overall", lambda *a: fits.append("overall") or real_overall(*a))
    monkeypatch.setattr(boards, "leaderboard_rows", lambda *a, **k: fits.append("board") or [])
    boards.judge_quality_panel()
    boards.overall_leaderboard()
    rows, _ = boards.global_leaderboard()
    assert fits == [] and rows  # all three from the cache, the board with its rows

"""The periodic sweep: what a dead worker or a lost message left behind is queued again."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import OperationalError
from django.utils import timezone

from arena.models import Match, MatchStatus, Tournament, TournamentStatus
from arena.services import advance as svc
from arena.services.advance import tournament_advance, tournaments_sweep
from arena.services.matches import match_claim
from arena.services.tournaments import tournament_start

pytestmark = pytest.mark.django_db


@pytest.fixture
def advanced(monkeypatch) -> list[int]:
    """The tournaments the sweep queued an advance for (no worker runs here)."""
    queued: list[int] = []
    monkeypatch.setattr(svc, "enqueue_advance", queued.append)
    return queued


@pytest.fixture
def running(make_tournament) -> Tournament:
    tournament = tournament_start(tournament=make_tournament(n=3))
    tournament_advance(tournament_id=tournament.pk)
    return tournament


def later(minutes: float):
    return timezone.now() + timedelta(minutes=minutes)


def test_a_claim_older_than_the_lease_is_given_back_and_its_tournament_advanced(
    running: Tournament, advanced: list[int], settings
) -> None:
    match = running.matches.first()
    assert match_claim(match_id=match.pk)
    swept = tournaments_sweep(now=later(settings.MATCH_CLAIM_LEASE_SECONDS / 60 + 1))
    match.refresh_from_db()
    assert match.status == MatchStatus.PENDING and match.claimed_at is None
    assert swept.released == 1 and advanced == [running.pk]


def test_a_fresh_claim_and_a_tournament_at_work_are_left_alone(
    running: Tournament, advanced: list[int]
) -> None:
    match = running.matches.first()
    assert match_claim(match_id=match.pk)
    swept = tournaments_sweep(now=later(1))
    match.refresh_from_db()
    assert match.status == MatchStatus.PLAYING
    assert swept.released == 0 and advanced == []


def test_pending_matches_nobody_touched_for_a_lease_are_queued_again(
    running: Tournament, advanced: list[int], settings
) -> None:
    assert running.matches.filter(status=MatchStatus.PENDING).exists()
    tournaments_sweep(now=later(settings.MATCH_CLAIM_LEASE_SECONDS / 60 + 1))
    assert advanced == [running.pk]


def test_a_tournament_whose_next_round_message_was_lost_is_advanced(
    running: Tournament, advanced: list[int], settings
) -> None:
    running.matches.update(status=MatchStatus.COMPLETED, finished_at=timezone.now())
    tournaments_sweep(now=later(settings.MATCH_CLAIM_LEASE_SECONDS / 60 + 1))
    assert advanced == [running.pk]


def test_a_tournament_waiting_only_on_voters_is_left_alone(
    running: Tournament, advanced: list[int], settings
) -> None:
    running.matches.update(status=MatchStatus.AWAITING_VOTE)
    tournaments_sweep(now=later(60))
    assert advanced == []


def test_paused_and_finished_tournaments_are_not_swept(
    running: Tournament, advanced: list[int]
) -> None:
    assert match_claim(match_id=running.matches.first().pk)
    Tournament.objects.filter(pk=running.pk).update(status=TournamentStatus.PAUSED)
    swept = tournaments_sweep(now=later(60))
    assert swept.released == 0 and advanced == []
    assert running.matches.filter(status=MatchStatus.PLAYING).count() == 1


def test_an_unexpected_error_while_playing_never_leaves_the_match_playing(
    running: Tournament, monkeypatch
) -> None:
    """A database gone mid-match: the task gives the claim back and retries; when every
    retry fails too, the failure is recorded (Celery runs the retries at once here)."""
    from arena import tasks

    tries: list[str] = []

    def database_gone(*, match_id: int) -> str:
        assert match_claim(match_id=match_id)
        tries.append(Match.objects.get(pk=match_id).status)
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(tasks, "match_play", database_gone)
    match = running.matches.first()
    tasks.play_match.apply(args=[match.pk])
    match.refresh_from_db()
    assert len(tries) == tasks.MAX_TRANSIENT_RETRIES + 1  # each retry found it given back
    assert match.status == MatchStatus.FAILED
    assert match.error.startswith(f"gave up after {tasks.MAX_TRANSIENT_RETRIES} retries:")

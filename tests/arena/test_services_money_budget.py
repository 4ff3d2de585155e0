from __future__ import annotations

from decimal import Decimal

import pytest

from arena.models import Judgment, TournamentStatus
from arena.selectors import tournament_spend
from arena.services import matches as match_services
from arena.services.advance import tournament_advance
from arena.services.tournaments import tournament_resume, tournament_start
from judges.backends.base import Verdict

pytestmark = pytest.mark.django_db


class CentJudge:
    """Every verdict costs one cent; the first answer wins."""

    def compare(self, prompt, answers):
        return Verdict(ranking=((0,), (1,)), cost=0.01)


def test_a_money_budget_pauses_the_tournament_before_it_is_exceeded_and_resume_goes_on(
    make_tournament, monkeypatch, play_out
) -> None:
    monkeypatch.setattr(match_services, "judge_comparator", lambda **kw: CentJudge())
    tournament = make_tournament(n=4, rounds=2)
    tournament.budget_usd = Decimal("0.05")
    tournament.save()
    tournament = tournament_start(tournament=tournament)
    tournament = play_out(tournament)

    assert tournament.status == TournamentStatus.PAUSED
    assert "money budget" in tournament.error and "$0.0500 of $0.0500" in tournament.error
    assert tournament_spend(tournament) == Decimal("0.05")
    assert Judgment.objects.filter(match__tournament=tournament).count() == 5

    tournament.budget_usd = Decimal("1")
    tournament.save()
    tournament = tournament_resume(tournament=tournament)
    tournament = play_out(tournament)
    assert tournament.status == TournamentStatus.COMPLETED
    assert Judgment.objects.filter(match__tournament=tournament).count() == 12
    assert tournament_spend(tournament) == Decimal("0.12")


def test_without_a_money_budget_free_judges_are_never_held_back(make_tournament) -> None:
    tournament = tournament_start(tournament=make_tournament(n=4, rounds=1))
    tournament_advance(tournament_id=tournament.pk)
    assert tournament.matches.count() == 6

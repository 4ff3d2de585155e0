from __future__ import annotations

import pytest

from arena.selectors import tournament_leaderboard
from arena.services.matches import match_play
from arena.services.tournaments import tournament_advance, tournament_create, tournament_start

pytestmark = pytest.mark.django_db


def test_the_leaderboard_ranks_by_bradley_terry_with_cis_that_hold_the_rating(
    contestants, prompt_set, judge
) -> None:
    people = contestants(3)  # hidden strengths 1200, 1100, 1000
    t = tournament_start(
        tournament=tournament_create(
            name="bt",
            format="round_robin",
            contestants=[c.name for c in people],
            prompt_set="tiny",
            judge="sim-judge",
            config={"rounds": 3},
            seed=4,
        )
    )
    for _ in range(10):
        tournament_advance(tournament_id=t.pk)
        for m in t.matches.filter(status="pending"):
            match_play(match_id=m.pk)
    rows = tournament_leaderboard(t)
    assert [r["bt"] for r in rows] == sorted((r["bt"] for r in rows), reverse=True)
    assert all(r["bt_low"] < r["bt"] < r["bt_high"] for r in rows)
    assert all(r["matches"] == 6 for r in rows)
    assert min(r["rank"] for r in rows) == 1


def test_before_any_verdict_there_is_no_bt_rating_and_everyone_shares_rank_1(
    make_tournament,
) -> None:
    t = tournament_start(tournament=make_tournament(n=3))
    rows = tournament_leaderboard(t)
    assert [r["bt"] for r in rows] == [None, None, None]
    assert {r["rank"] for r in rows} == {1}

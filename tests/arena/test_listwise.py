"""K-wise board rows: Plackett-Luce from counted rankings, Weng-Lin beside, BT kept."""

from __future__ import annotations

import pytest

from arena.listwise import FALLBACK_PRIOR, listwise_columns, listwise_rows, plackett_luce_fit
from arena.standings import LeaderboardRow
from ratings.bayesian import SkillRating


def bt_row(name: str, bt: float | None, rank: int) -> LeaderboardRow:
    return LeaderboardRow(
        rank=rank,
        contestant=name,
        bt=bt,
        bt_low=None if bt is None else bt - 50,
        bt_high=None if bt is None else bt + 50,
        elo=1000.0,
        sco=None,
        matches=0 if bt is None else 5,
        wins=0.0,
        ties=0,
        win_rate=0.0,
        preliminary=False,
    )


CYCLE = [[["a"], ["b"], ["c"]], [["b"], ["c"], ["a"]], [["c"], ["a"], ["b"]]]


def test_rows_go_best_first_by_pl_with_ranks_from_its_intervals_and_bt_kept() -> None:
    fit = plackett_luce_fit([*CYCLE, [["a"], ["b"], ["c"]]], [20, 5, 5, 40])
    assert fit is not None and fit.prior == 0.0
    rows = listwise_rows(
        [
            bt_row("c", 1100.0, 1),
            bt_row("b", 1000.0, 1),
            bt_row("a", 900.0, 2),
            bt_row("d", None, 3),
        ],
        listwise_columns(fit, {"a": SkillRating(30.0, 2.0)}),
    )
    assert [r["contestant"] for r in rows] == ["a", "b", "c", "d"]
    assert rows[0]["rank"] == 1 and rows[2]["rank"] > 1  # a's interval lies wholly above c's
    assert rows[0]["bt"] == 900.0  # BT on the pairs stays as it was fitted
    assert rows[0]["wl_ordinal"] == pytest.approx(24.0) and rows[1]["wl_ordinal"] is None
    assert rows[3]["pl"] is None and rows[3]["rank"] == 4
    assert rows[0]["pl_low"] < rows[0]["pl"] < rows[0]["pl_high"]


def test_rankings_without_a_finite_mle_are_fitted_with_the_fallback_prior() -> None:
    fit = plackett_luce_fit([[["a"], ["b"], ["c"]]], [3])
    assert fit is not None and fit.prior == FALLBACK_PRIOR
    assert fit.ratings["a"][0] > fit.ratings["b"][0] > fit.ratings["c"][0]
    assert fit.degenerate_rounds == 0  # every round took the prior: none fell back


def test_no_ranking_means_no_fit() -> None:
    assert plackett_luce_fit([], []) is None

from __future__ import annotations

import pytest

from arena.standings import leaderboard_rows
from ratings.elo import elo_update


def test_rows_come_best_first_with_counts_elo_and_cis_from_the_verdicts_in_order() -> None:
    rankings = [[["a"], ["b"]], [["a"], ["b"]], [["b"], ["c"]], [["a", "c"]]]
    rows = leaderboard_rows(["a", "b", "c", "d"], rankings, soft_condorcet=True)
    assert [r["contestant"] for r in rows] == ["a", "b", "c", "d"]
    a, b, c, d = rows
    assert (a["matches"], a["wins"], a["ties"]) == (3, 2.5, 1)
    assert (c["matches"], c["wins"], c["ties"]) == (2, 0.5, 1)
    elo = {"a": 1000.0, "b": 1000.0, "c": 1000.0}
    for first, second, score in [("a", "b", 1), ("a", "b", 1), ("b", "c", 1), ("a", "c", 0.5)]:
        elo[first], elo[second] = elo_update(elo[first], elo[second], score)
    assert a["elo"] == pytest.approx(elo["a"], abs=0.01)
    assert all(r["bt_low"] < r["bt"] < r["bt_high"] for r in rows[:3])
    assert d["bt"] is None and d["sco"] is None and d["rank"] == 4 and d["matches"] == 0
    assert a["sco"] > c["sco"]


def test_a_kwise_verdict_counts_as_one_match_for_each_entrant() -> None:
    rows = leaderboard_rows(["a", "b", "c"], [[["a"], ["b", "c"]]])
    by = {r["contestant"]: r for r in rows}
    assert [by[m]["matches"] for m in "abc"] == [1, 1, 1]
    assert by["a"]["wins"] == pytest.approx(1.0) and by["b"]["wins"] == pytest.approx(0.25)


def test_no_verdicts_gives_every_model_rank_1_and_no_ratings() -> None:
    rows = leaderboard_rows(["x", "y"], [])
    assert [(r["rank"], r["bt"], r["matches"]) for r in rows] == [(1, None, 0), (1, None, 0)]

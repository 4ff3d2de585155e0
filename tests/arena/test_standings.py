from __future__ import annotations

import numpy as np
import pytest

from arena.evidence import COLUMNS, Entrant, pair_increments
from arena.standings import PairTallies, apply_ranking, leaderboard_rows, new_stats
from ratings.elo import elo_update
from ratings.soft_condorcet import fit_soft_condorcet


def tallies_from_rankings(models, rankings) -> PairTallies:
    """What the cells of these verdicts would hold (each ranking's entrants in tier order)."""
    index = {m: i for i, m in enumerate(sorted(models))}
    totals: dict[tuple[int, int], np.ndarray] = {}
    wanted = [COLUMNS.index(c) for c in ("a_wins", "b_wins", "ties", "share", "a_points", "votes")]
    for ranking in rankings:
        ids = [[index[m] for m in tier] for tier in ranking]
        entrants = [Entrant(c) for tier in ids for c in tier]
        for pair, added in pair_increments(entrants, ids, both_bad=False).items():
            totals[pair] = totals.get(pair, np.zeros(len(wanted))) + np.take(added, wanted)
    names = sorted(models)
    return PairTallies.of(
        names, [(names[a], names[b], tuple(v)) for (a, b), v in sorted(totals.items())]
    )


def test_rows_come_best_first_with_counts_elo_and_cis_from_the_summed_verdicts() -> None:
    rankings = [[["a"], ["b"]], [["a"], ["b"]], [["b"], ["c"]], [["a", "c"]]]
    elo = {"a": 1000.0, "b": 1000.0, "c": 1000.0, "d": 1000.0}
    for first, second, score in [("a", "b", 1), ("a", "b", 1), ("b", "c", 1), ("a", "c", 0.5)]:
        elo[first], elo[second] = elo_update(elo[first], elo[second], score)
    tallies = tallies_from_rankings(["a", "b", "c", "d"], rankings)
    rows = leaderboard_rows(tallies, elo=elo, soft_condorcet=True)
    assert [r["contestant"] for r in rows] == ["a", "b", "c", "d"]
    a, b, c, d = rows
    assert (a["matches"], a["wins"], a["ties"]) == (3, 2.5, 1)
    assert (c["matches"], c["wins"], c["ties"]) == (2, 0.5, 1)
    assert a["elo"] == pytest.approx(elo["a"], abs=0.01)
    assert all(r["bt_low"] < r["bt"] < r["bt_high"] for r in rows[:3])
    assert d["bt"] is None and d["sco"] is None and d["rank"] == 4 and d["matches"] == 0
    assert a["sco"] > c["sco"]


def test_soft_condorcet_from_the_summed_pairs_is_the_fit_on_the_verdicts() -> None:
    from arena.standings import SCO_PARAMS

    rankings = [[["a"], ["b"]], [["a"], ["b", "c"]], [["c"], ["a"], ["b"]], [["a", "c"]]]
    rows = leaderboard_rows(tallies_from_rankings("abc", rankings), soft_condorcet=True)
    whole = fit_soft_condorcet(rankings, models="abc", **SCO_PARAMS).as_dict()
    assert {r["contestant"]: r["sco"] for r in rows} == {m: round(v, 1) for m, v in whole.items()}


def test_a_kwise_verdict_counts_as_one_match_for_each_entrant() -> None:
    rows = leaderboard_rows(tallies_from_rankings(["a", "b", "c"], [[["a"], ["b", "c"]]]))
    by = {r["contestant"]: r for r in rows}
    assert [by[m]["matches"] for m in "abc"] == [1, 1, 1]
    assert by["a"]["wins"] == pytest.approx(1.0) and by["b"]["wins"] == pytest.approx(0.25)
    stats = {m: new_stats() for m in "abc"}
    apply_ranking(stats, [["a"], ["b", "c"]])
    assert {m: by[m]["wins"] for m in "abc"} == pytest.approx({m: stats[m]["wins"] for m in "abc"})


def test_no_verdicts_gives_every_model_rank_1_and_no_ratings() -> None:
    rows = leaderboard_rows(tallies_from_rankings(["x", "y"], []))
    assert [(r["rank"], r["bt"], r["matches"], r["elo"]) for r in rows] == [
        (1, None, 0, None),
        (1, None, 0, None),
    ]


def test_under_style_control_a_model_without_styled_pairs_is_unrated_not_mixed_in() -> None:
    from arena.standings import style_controlled_rows
    from ratings.data import battles_from_arrays
    from ratings.style_moments import moments_from_battles

    rankings = [[["a"], ["b"]], [["b"], ["a"]], [["a"], ["b"]], [["c"], ["a"]]]
    rows = leaderboard_rows(tallies_from_rankings("abc", rankings))
    styled = battles_from_arrays(["a", "b", "a"], ["b", "a", "b"], ["model_a"] * 3, models="ab")
    features = np.array([[100.0, 1, 1, 1], [50.0, 0, 2, 0], [80.0, 2, 0, 1]])
    moments = moments_from_battles(styled, features, features[::-1])
    rows, _ = style_controlled_rows(rows, moments)
    by = {r["contestant"]: r for r in rows}
    assert by["c"]["bt"] is None and by["c"]["preliminary"] and by["c"]["rank"] == 3
    assert by["a"]["bt"] is not None and by["b"]["bt"] is not None


def test_soft_condorcet_on_a_board_reads_like_rating_points_around_1000() -> None:
    rankings = [[["a"], ["b"]]] * 6 + [[["b"], ["a"]]] * 2 + [[["b"], ["c"]]] * 6 + [[["c"], ["b"]]]
    rows = leaderboard_rows(tallies_from_rankings("abc", rankings), soft_condorcet=True)
    sco = {r["contestant"]: r["sco"] for r in rows}
    assert sco["a"] > sco["b"] > sco["c"]
    assert sco["a"] - sco["c"] > 100 and 500 < sco["c"] < sco["a"] < 1500

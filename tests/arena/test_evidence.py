"""A verdict's cell increments agree with the code that reads verdicts whole: the online
standings (points, verdicts, ties), the pairs the fits see, and the style covariates."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from arena import evidence
from arena.evidence import Entrant, pair_increments
from arena.standings import apply_ranking, new_stats
from ratings.data import Outcome, ranking_to_pairs
from ratings.style import FEATURES, style_features

COLUMN = {name: i for i, name in enumerate(evidence.COLUMNS)}


@st.composite
def verdicts(draw: st.DrawFn) -> tuple[list[Entrant], list[list[int]], bool]:
    """Entrants (ids in shown order, with or without style) and a ranking in tiers."""
    k = draw(st.integers(2, 5))
    ids = draw(st.lists(st.integers(1, 50), min_size=k, max_size=k, unique=True))
    styles = [
        draw(st.none() | st.tuples(*[st.integers(0, 40).map(float)] * len(FEATURES))) for _ in ids
    ]
    levels = [draw(st.integers(0, k - 1)) for _ in ids]
    ranking = [
        [c for c, lv in zip(ids, levels, strict=True) if lv == v] for v in sorted(set(levels))
    ]
    both_bad = k == 2 and len(ranking) == 1 and draw(st.booleans())
    return [Entrant(c, s) for c, s in zip(ids, styles, strict=True)], ranking, both_bad


@given(verdicts())
def test_each_entrant_gets_one_verdict_and_the_points_the_online_standings_give(verdict) -> None:
    entrants, ranking, both_bad = verdict
    added = pair_increments(entrants, ranking, both_bad=both_bad)
    stats = {str(e.contestant): new_stats() for e in entrants}
    apply_ranking(stats, [[str(c) for c in tier] for tier in ranking])
    for e in entrants:
        mine = [(pair, v) for pair, v in added.items() if e.contestant in pair]
        share = sum(v[COLUMN["share"]] for _, v in mine)
        points = sum(
            v[COLUMN["a_points"]]
            if pair[0] == e.contestant
            else v[COLUMN["share"]] - v[COLUMN["a_points"]]
            for pair, v in mine
        )
        ties = sum(v[COLUMN["ties"]] for _, v in mine)
        record = stats[str(e.contestant)]
        assert share == pytest.approx(record["matches"])
        assert points == pytest.approx(record["wins"])
        assert ties == record["ties"]


@given(verdicts())
def test_the_outcomes_are_the_pairs_the_fits_see_from_the_lower_ids_side(verdict) -> None:
    entrants, ranking, both_bad = verdict
    added = pair_increments(entrants, ranking, both_bad=both_bad)
    expected: dict[tuple[int, int], str] = {}
    for x, y, outcome in ranking_to_pairs([[str(c) for c in tier] for tier in ranking]):
        a, b = sorted((int(x), int(y)))
        if outcome == Outcome.TIE:
            expected[(a, b)] = "ties"
        else:
            expected[(a, b)] = "a_wins" if int(x) == a else "b_wins"
    assert set(added) == set(expected)
    for pair, column in expected.items():
        outcomes = {c: added[pair][COLUMN[c]] for c in ("a_wins", "b_wins", "ties")}
        assert outcomes == {c: float(c == column) for c in outcomes}
        assert added[pair][COLUMN["both_bad"]] == float(both_bad and column == "ties")


@given(verdicts())
def test_position_counts_credit_the_answer_shown_first(verdict) -> None:
    entrants, ranking, both_bad = verdict
    level = {c: i for i, tier in enumerate(ranking) for c in tier}
    added = pair_increments(entrants, ranking, both_bad=both_bad)
    won = lost = 0
    for i, first in enumerate(entrants):
        for second in entrants[i + 1 :]:
            won += level[first.contestant] < level[second.contestant]
            lost += level[first.contestant] > level[second.contestant]
    assert sum(v[COLUMN["first_won"]] for v in added.values()) == won
    assert sum(v[COLUMN["first_lost"]] for v in added.values()) == lost


def test_style_sums_are_the_normalised_differences_style_control_uses() -> None:
    rng = np.random.default_rng(0)
    feats = rng.integers(0, 30, size=(40, 2, len(FEATURES))).astype(float)
    totals = np.zeros(len(evidence.COLUMNS))
    for n, (fa, fb) in enumerate(feats):
        a, b = Entrant(1, tuple(fa)), Entrant(2, tuple(fb))
        ranking = [[1], [2]] if n % 3 == 0 else [[2], [1]] if n % 3 == 1 else [[1, 2]]
        totals += pair_increments([a, b], ranking, both_bad=False)[(1, 2)]
    covariates = style_features(feats[:, 0], feats[:, 1])
    sums = np.array([totals[COLUMN[f"sd_{f}"]] for f in FEATURES])
    np.testing.assert_allclose(sums, covariates.mean * len(feats), rtol=1e-12, atol=1e-12)
    assert totals[COLUMN["styled"]] == len(feats)


def test_an_answer_without_style_adds_no_style_and_is_not_counted_as_styled() -> None:
    added = pair_increments(
        [Entrant(1, None), Entrant(2, (5.0, 0, 0, 0))], [[1], [2]], both_bad=False
    )
    values = added[(1, 2)]
    assert values[COLUMN["styled"]] == 0
    assert all(values[COLUMN[c]] == 0 for c in evidence.SUMS if c.startswith(("sd", "syd")))
    assert values[COLUMN["longer_won"]] == values[COLUMN["longer_lost"]] == 0


def test_a_weighted_verdict_adds_its_weight_over_one_to_its_outcome_and_nothing_else() -> None:
    from arena.evidence import COLUMNS, IPW, IPW_GRADED, ipw_weight

    entrants = [Entrant(1), Entrant(2)]
    plain = pair_increments(entrants, [[2], [1]], both_bad=False)[(1, 2)]
    weighted = pair_increments(entrants, [[2], [1]], both_bad=False, weight=3.0)[(1, 2)]
    extra = dict(zip(COLUMNS, weighted, strict=True))
    assert [extra[c] for c in IPW] == [0.0, 2.0, 0.0]
    assert [extra[c] for c in IPW_GRADED] == [0.0, 2.0, 0.0]
    weights = IPW + IPW_GRADED
    assert [v for c, v in zip(COLUMNS, plain, strict=True) if c not in weights] == [
        v for c, v in extra.items() if c not in weights
    ]
    assert ipw_weight(None, 8) == 1.0 and ipw_weight(1 / 28, 8) == pytest.approx(1.0)
    assert ipw_weight(0.5, 3) == pytest.approx(2 / 3)


def test_a_verdict_judged_in_both_orders_adds_each_order_and_the_mean_of_their_grades() -> None:
    from arena.evidence import Reading

    entrants = [Entrant(5), Entrant(3)]  # 5 shown first
    readings = [
        Reading(shown=(0, 1), ranking=((0,), (1,)), first_score=0.8),  # 5 first, 5 wins 0.8
        Reading(shown=(1, 0), ranking=((1,), (0,)), first_score=0.3),  # 3 first, 3 gets 0.3
    ]
    added = dict(
        zip(
            evidence.COLUMNS,
            pair_increments(entrants, [[5], [3]], both_bad=False, readings=readings)[(3, 5)],
            strict=True,
        )
    )
    # a is contestant 3: its graded score is (0.2 + 0.3) / 2 = 0.25, half a loss, half a tie
    assert (added["g_a_wins"], added["g_b_wins"]) == (0.0, 0.5)
    assert added["g_ties"] == pytest.approx(0.5)
    assert (added["ab_n"], added["ab_hard"], added["ab_graded"]) == (1.0, 0.0, 0.3)
    assert (added["ba_n"], added["ba_hard"]) == (1.0, 0.0)
    assert added["ba_graded"] == pytest.approx(0.2)
    assert (added["a_wins"], added["b_wins"]) == (0.0, 1.0)  # the hard verdict is unchanged


@given(verdicts())
def test_a_verdict_without_readings_is_one_observation_in_its_shown_order_graded_as_hard(
    verdict,
) -> None:
    entrants, ranking, both_bad = verdict
    for (a, b), v in pair_increments(entrants, ranking, both_bad=both_bad).items():
        cell = dict(zip(evidence.COLUMNS, v, strict=True))
        assert [cell[c] for c in evidence.GRADED] == [cell["a_wins"], cell["b_wins"], cell["ties"]]
        shown = [e.contestant for e in entrants]
        a_first = shown.index(a) < shown.index(b)
        assert (cell["ab_n"], cell["ba_n"]) == ((1.0, 0.0) if a_first else (0.0, 1.0))
        score = cell["a_wins"] + cell["ties"] / 2
        assert cell["ab_hard"] + cell["ba_hard"] == cell["ab_graded"] + cell["ba_graded"] == score

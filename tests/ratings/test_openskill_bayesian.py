"""Weng-Lin Plackett-Luce online ratings against openskill 6.2.0."""

from __future__ import annotations

from typing import Any

import pytest

from ratings.bayesian import (
    SkillRating,
    WengLinParams,
    ordinal,
    rate_plackett_luce,
    replay_plackett_luce,
)


def test_replay_matches_openskill_plackett_luce_after_every_match_within_1e_9(
    vectors: dict[str, Any],
) -> None:
    case = vectors["kwise_rankings"]
    history = replay_plackett_luce([[[m] for m in r] for r in case["input"]["rankings_best_first"]])
    golden = case["openskill"]["PlackettLuce"]["after_each_match_mu_sigma"]
    assert len(history) == len(golden) == 6
    for ours, theirs in zip(history, golden, strict=True):
        for model, (mu, sigma) in theirs.items():
            assert ours[model].mu == pytest.approx(mu, abs=1e-9)
            assert ours[model].sigma == pytest.approx(sigma, abs=1e-9)


def test_final_ordinals_match_openskill_mu_minus_3_sigma(vectors: dict[str, Any]) -> None:
    case = vectors["kwise_rankings"]
    final = replay_plackett_luce([[[m] for m in r] for r in case["input"]["rankings_best_first"]])[
        -1
    ]
    expected = case["openskill"]["PlackettLuce"]["final_ordinal_mu_minus_3sigma"]
    assert {m: ordinal(r) for m, r in final.items()} == pytest.approx(expected, abs=1e-9)


def test_one_vs_one_and_a_tied_three_way_match_openskill(vectors: dict[str, Any]) -> None:
    golden = vectors["kwise_rankings"]["openskill"]
    duel = rate_plackett_luce({}, [["w"], ["l"]])
    assert [duel["w"].mu, duel["w"].sigma] == pytest.approx(
        golden["PlackettLuce_1v1_default_first_wins"]["winner"], abs=1e-9
    )
    assert [duel["l"].mu, duel["l"].sigma] == pytest.approx(
        golden["PlackettLuce_1v1_default_first_wins"]["loser"], abs=1e-9
    )
    three = rate_plackett_luce({}, [["a"], ["b", "c"]])
    flat_golden = [value for pair in golden["PlackettLuce_3way_ranks_0_1_1"] for value in pair]
    assert [v for m in "abc" for v in (three[m].mu, three[m].sigma)] == pytest.approx(
        flat_golden, abs=1e-9
    )


def test_a_win_raises_mu_and_every_match_shrinks_sigma_towards_the_tau_floor() -> None:
    start = {"a": SkillRating(25.0, 8.0), "b": SkillRating(25.0, 8.0)}
    after = rate_plackett_luce(start, [["a"], ["b"]], WengLinParams(tau=0.0))
    assert after["a"].mu > 25.0 > after["b"].mu
    assert after["a"].sigma < 8.0 and after["b"].sigma < 8.0


def test_a_bad_ranking_is_named_by_its_index() -> None:
    with pytest.raises(ValueError, match="ranking 1: ranking: needs at least two entries"):
        replay_plackett_luce([[["a"], ["b"]], [["a"]]])

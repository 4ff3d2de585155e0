"""Plackett-Luce MLE against choix's test cases and K-wise rankings."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ratings.bradley_terry import NoMLEError, fit_bradley_terry
from ratings.data import Battles, battles_from_rankings
from ratings.plackett_luce import bootstrap_plackett_luce, distinct_rankings, fit_plackett_luce


def as_tiers(order: list[int]) -> list[list[str]]:
    return [[str(item)] for item in order]


@pytest.mark.parametrize("case", ["rankings-1", "rankings-2"])
def test_pl_matches_choix_ilsr_rankings_test_cases_within_1e_7(
    case: str, vectors: dict[str, Any]
) -> None:
    golden = vectors["choix_repo_testcases"][case]
    result = fit_plackett_luce([as_tiers(r) for r in golden["data"]])
    assert result.log_strengths.tolist() == pytest.approx(golden["ilsr_rankings"], abs=1e-7)
    assert result.log_strengths.tolist() == pytest.approx(golden["ml_est_from_repo"], abs=5e-5)


@pytest.mark.parametrize("case", ["top1-1", "top1-2"])
def test_pl_on_top1_choices_matches_choix_ilsr_top1_within_1e_7(
    case: str, vectors: dict[str, Any]
) -> None:
    golden = vectors["choix_repo_testcases"][case]
    choices = [[[str(winner)], [str(x) for x in losers]] for winner, losers in golden["data"]]
    result = fit_plackett_luce(choices, final_tier_unranked=True)
    assert result.log_strengths.tolist() == pytest.approx(golden["ilsr_top1"], abs=1e-7)


@pytest.mark.parametrize("case", ["pairwise-1", "pairwise-2"])
def test_pl_on_pairs_is_bradley_terry_and_matches_choix_ilsr_pairwise(
    case: str, vectors: dict[str, Any]
) -> None:
    golden = vectors["choix_repo_testcases"][case]
    result = fit_plackett_luce([as_tiers(pair) for pair in golden["data"]])
    assert result.log_strengths.tolist() == pytest.approx(golden["ilsr_pairwise"], abs=1e-7)


def test_pl_on_kwise_rankings_matches_choix_theta_and_log_likelihood(
    vectors: dict[str, Any],
) -> None:
    case = vectors["kwise_rankings"]
    result = fit_plackett_luce([[[m] for m in r] for r in case["input"]["rankings_best_first"]])
    golden = case["choix_plackett_luce"]
    assert result.as_dict() == pytest.approx(golden["ilsr_rankings_theta"], abs=1e-7)
    assert result.as_dict() == pytest.approx(golden["mm_rankings_theta"], abs=1e-7)
    assert result.log_likelihood == pytest.approx(golden["log_likelihood_at_ilsr"], abs=1e-9)


def test_bt_on_fully_broken_kwise_rankings_matches_choix_ilsr_pairwise(
    vectors: dict[str, Any],
) -> None:
    case = vectors["kwise_rankings"]
    battles = battles_from_rankings(
        [[[m] for m in r] for r in case["input"]["rankings_best_first"]]
    )
    golden = case["pairwise_full_breaking"]
    assert len(battles) == len(golden["pairs_winner_first"]) == 27
    result = fit_bradley_terry(battles)
    assert dict(zip(result.models, result.log_strengths.tolist(), strict=True)) == pytest.approx(
        golden["choix_ilsr_pairwise_theta"], abs=1e-7
    )
    strengths = np.exp(result.log_strengths) / np.exp(result.log_strengths).sum()
    assert strengths.tolist() == pytest.approx(
        list(golden["evalica_bradley_terry_sum1"].values()), abs=1e-6
    )


def test_pl_without_ties_on_food_pairs_equals_bt_and_choix(
    food: Battles, vectors: dict[str, Any]
) -> None:
    decisive = [
        [[food.models[a]], [food.models[b]]] if o == 2 else [[food.models[b]], [food.models[a]]]
        for a, b, o in zip(food.model_a, food.model_b, food.outcome, strict=True)
        if o != 1
    ]
    result = fit_plackett_luce(decisive)
    expected = vectors["pairwise_food"]["choix"]["ties_dropped"]["ilsr_pairwise_alpha0"]
    assert result.log_strengths.tolist() == pytest.approx(expected, abs=1e-7)


def test_pl_breslow_ties_give_the_hand_computed_likelihood() -> None:
    tie_only = fit_plackett_luce([[["a", "b"]], [["a"], ["b"]], [["b"], ["a"]]])
    # a tie between two equal items adds 2 * log(1/2); the two orders add 2 * log(1/2)
    assert tie_only.log_likelihood == pytest.approx(4 * math.log(0.5), abs=1e-9)
    assert tie_only.as_dict() == pytest.approx({"a": 0.0, "b": 0.0}, abs=1e-9)


def test_pl_raises_when_the_mle_does_not_exist_and_a_prior_fixes_it() -> None:
    rankings = [[["a"], ["b"], ["c"]], [["a"], ["c"], ["b"]]]
    with pytest.raises(NoMLEError, match="prior > 0"):
        fit_plackett_luce(rankings)
    result = fit_plackett_luce(rankings, prior=0.1)
    assert result.as_dict()["a"] == max(result.log_strengths)
    assert result.params() == {"prior": 0.1, "ties": "breslow", "final_tier_unranked": False}


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_pl_is_invariant_to_ranking_order_and_relabelling(seed: int) -> None:
    rng = np.random.default_rng(seed)
    models = ["w", "x", "y", "z"]
    rankings = [[[m] for m in rng.permutation(models).tolist()] for _ in range(6)]
    rankings += [[[m] for m in models], [[m] for m in models[::-1]]]  # keeps the MLE finite
    base = fit_plackett_luce(rankings).as_dict()
    shuffled = [rankings[k] for k in rng.permutation(len(rankings))]
    assert fit_plackett_luce(shuffled).as_dict() == pytest.approx(base, abs=1e-6)
    rename = {"w": "4", "x": "3", "y": "2", "z": "1"}
    renamed = fit_plackett_luce([[[rename[t[0]]] for t in r] for r in rankings]).as_dict()
    assert {m: renamed[rename[m]] for m in models} == pytest.approx(base, abs=1e-6)


def kwise_votes(seed: int, n: int) -> list[list[list[str]]]:
    """n rankings of 3 of 5 models drawn from true strengths, an occasional tie."""
    rng = np.random.default_rng(seed)
    models = ["a", "b", "c", "d", "e"]
    strength = dict(zip(models, [1.0, 0.5, 0.0, -0.5, -1.0], strict=True))
    votes = []
    for _ in range(n):
        group = rng.choice(models, 3, replace=False).tolist()
        order = sorted(group, key=lambda m: -(strength[m] + rng.gumbel()))
        tiers = [[order[0]], [order[1], order[2]]] if rng.random() < 0.1 else [[m] for m in order]
        votes.append(tiers)
    return votes


def test_pl_bootstrap_of_rankings_and_of_their_counts_are_the_same_draws() -> None:
    votes = kwise_votes(3, 200)
    listed = distinct_rankings([[list(reversed(t)) for t in v] for v in reversed(votes)])
    keys = sorted({tuple(tuple(sorted(t)) for t in v) for v in votes})
    counted = distinct_rankings(
        [list(map(list, k)) for k in keys],
        counts=[sum(tuple(tuple(sorted(t)) for t in v) == k for v in votes) for k in keys],
    )
    models = fit_plackett_luce(votes).models
    first = bootstrap_plackett_luce(listed, models=models, rounds=20, seed=7)
    second = bootstrap_plackett_luce(counted, models=models, rounds=20, seed=7)
    np.testing.assert_array_equal(first.samples, second.samples)
    assert int(listed.counts.sum()) == 200


def test_pl_bootstrap_round_r_does_not_depend_on_the_number_of_rounds() -> None:
    data = distinct_rankings(kwise_votes(4, 150))
    models = ("a", "b", "c", "d", "e")
    short = bootstrap_plackett_luce(data, models=models, rounds=5, seed=1)
    long = bootstrap_plackett_luce(data, models=models, rounds=30, seed=1)
    np.testing.assert_array_equal(short.samples, long.samples[:5])


def test_pl_bootstrap_interval_covers_the_fit_and_shrinks_with_four_times_the_data() -> None:
    votes = kwise_votes(5, 100)
    models = fit_plackett_luce(votes).models
    point = fit_plackett_luce(votes).log_strengths
    boot = bootstrap_plackett_luce(distinct_rankings(votes), models=models, rounds=100, seed=0)
    low, high = boot.interval(0.95)
    assert np.all((low <= point) & (point <= high))
    big = bootstrap_plackett_luce(
        distinct_rankings(votes, counts=[4] * len(votes)), models=models, rounds=100, seed=0
    )
    big_low, big_high = big.interval(0.95)
    # the spread scales as 1 / sqrt(N): half as wide, give or take the bootstrap's noise
    assert np.mean(big_high - big_low) / np.mean(high - low) == pytest.approx(0.5, abs=0.1)


def test_distinct_rankings_names_the_bad_ranking_and_the_bad_count() -> None:
    with pytest.raises(ValueError, match="ranking 1: ranking: needs at least two entries"):
        distinct_rankings([[["a"], ["b"]], [["a"]]])
    with pytest.raises(ValueError, match="counts: ranking 0 has a negative count -1"):
        distinct_rankings([[["a"], ["b"]]], counts=[-1])

"""Bootstrap and sandwich confidence intervals for Bradley-Terry, and ranks from intervals."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats  # type: ignore[import-untyped]

from ratings.bootstrap import (
    Resample,
    bootstrap_bradley_terry,
    rank_from_intervals,
    resample_counts,
    sandwich_bradley_terry,
)
from ratings.bradley_terry import NoMLEError, fit_bradley_terry
from ratings.data import Battles, battles_from_arrays

ELO_PER_NAT = 400 / math.log(10)


def two_player(wins: int, losses: int) -> Battles:
    n = wins + losses
    return battles_from_arrays(["a"] * n, ["b"] * n, ["model_a"] * wins + ["model_b"] * losses)


def test_rank_is_one_plus_models_whose_lower_bound_beats_our_upper_bound() -> None:
    low = np.array([10.0, 8.0, 5.0, 1.0])
    high = np.array([14.0, 12.0, 9.0, 4.0])
    # model 2 (5..9) is beaten by model 0 (low 10 > 9) only; model 3 by all three
    assert rank_from_intervals(low, high).tolist() == [1, 1, 2, 4]


def test_rank_from_intervals_rejects_mismatched_bounds() -> None:
    with pytest.raises(ValueError, match="same length"):
        rank_from_intervals(np.zeros(2), np.zeros(3))


def test_bootstrap_is_reproducible_for_a_seed_and_changes_with_it(llmfao_crowd: Battles) -> None:
    first = bootstrap_bradley_terry(llmfao_crowd, rounds=20, seed=7)
    again = bootstrap_bradley_terry(llmfao_crowd, rounds=20, seed=7)
    other = bootstrap_bradley_terry(llmfao_crowd, rounds=20, seed=8)
    assert np.array_equal(first.samples, again.samples)
    assert not np.array_equal(first.samples, other.samples)


def test_bootstrap_round_r_does_not_depend_on_the_number_of_rounds(food: Battles) -> None:
    short = bootstrap_bradley_terry(food, rounds=5, seed=0)
    long = bootstrap_bradley_terry(food, rounds=12, seed=0)
    assert np.array_equal(short.samples, long.samples[:5])


def test_bootstrap_point_ratings_are_the_bt_fit_and_intervals_contain_them(
    llmfao_crowd: Battles,
) -> None:
    result = bootstrap_bradley_terry(llmfao_crowd, rounds=50, seed=0)
    fit = fit_bradley_terry(llmfao_crowd)
    assert result.ratings == pytest.approx(fit.ratings, abs=1e-6)
    interval = result.interval(0.95)
    assert np.all(interval.ci_low <= result.ratings) and np.all(result.ratings <= interval.ci_high)
    assert result.samples.shape == (50, 59)
    assert result.degenerate_rounds == 0
    assert interval.ranks.min() == 1


def test_bootstrap_quantiles_are_any_quantiles_of_the_replicates(food: Battles) -> None:
    result = bootstrap_bradley_terry(food, rounds=30, seed=1)
    q = result.quantile([0.1, 0.5, 0.9])
    assert q.shape == (3, 5)
    assert q[1] == pytest.approx(np.median(result.samples, axis=0))
    assert np.all(q[0] <= q[1]) and np.all(q[1] <= q[2])


def test_bootstrap_refits_resamples_without_an_mle_with_the_fallback_prior_and_counts_them(
    food: Battles,
) -> None:
    # 30 battles: many resamples leave Pizza (3 wins, 1 tie) without a win
    result = bootstrap_bradley_terry(food, rounds=100, seed=0, fallback_prior=1e-3)
    assert 0 < result.degenerate_rounds < 100
    assert np.all(np.isfinite(result.samples))
    assert result.fallback_prior == 1e-3


@pytest.mark.parametrize("resample", ["poisson", "multinomial"])
def test_bootstrap_sd_agrees_with_the_analytic_two_player_standard_error(
    resample: Resample,
) -> None:
    wins, losses = 300, 100
    result = bootstrap_bradley_terry(
        two_player(wins, losses), rounds=400, seed=3, resample=resample
    )
    assert result.resample == resample
    p = wins / (wins + losses)
    gap_sd = ELO_PER_NAT / math.sqrt((wins + losses) * p * (1 - p))
    observed = np.std(result.samples[:, 0] - result.samples[:, 1], ddof=1)
    assert observed == pytest.approx(gap_sd, rel=0.12)


def test_sandwich_equals_the_closed_form_two_player_interval() -> None:
    wins, losses = 30, 10
    result = sandwich_bradley_terry(two_player(wins, losses), level=0.9)
    p = wins / (wins + losses)
    half_gap_sd = ELO_PER_NAT / math.sqrt((wins + losses) * p * (1 - p)) / 2
    z = scipy.stats.norm.ppf(0.95)
    assert result.ratings[0] - 1000 == pytest.approx(ELO_PER_NAT * math.log(3) / 2, abs=1e-9)
    assert result.ci_high - result.ratings == pytest.approx([z * half_gap_sd] * 2, abs=1e-9)
    assert result.ratings - result.ci_low == pytest.approx([z * half_gap_sd] * 2, abs=1e-9)


def test_sandwich_interval_halves_when_the_data_is_quadrupled(food: Battles) -> None:
    single = sandwich_bradley_terry(food)
    rows = np.tile(np.arange(len(food)), 4)
    quadruple = sandwich_bradley_terry(food.take(rows))
    assert (quadruple.ci_high - quadruple.ratings) == pytest.approx(
        (single.ci_high - single.ratings) / 2, abs=1e-9
    )


def test_sandwich_and_bootstrap_widths_agree_on_llmfao_crowd_votes(llmfao_crowd: Battles) -> None:
    sandwich = sandwich_bradley_terry(llmfao_crowd)
    boot = bootstrap_bradley_terry(llmfao_crowd, rounds=100, seed=0).interval(0.95)
    ratio = np.median((boot.ci_high - boot.ci_low) / (sandwich.ci_high - sandwich.ci_low))
    assert 0.85 <= ratio <= 1.15


def test_sandwich_with_an_anchor_gives_the_anchor_zero_width(food: Battles) -> None:
    result = sandwich_bradley_terry(food, anchor=("Pasta", 1000.0))
    k = result.models.index("Pasta")
    assert result.ci_low[k] == pytest.approx(1000.0, abs=1e-9)
    assert result.ci_high[k] == pytest.approx(1000.0, abs=1e-9)


def test_bootstrap_and_sandwich_refuse_data_without_an_mle_unless_given_a_prior(
    simple: Battles,
) -> None:
    no_ties = simple.take(np.flatnonzero(simple.outcome != 1))
    with pytest.raises(NoMLEError):
        bootstrap_bradley_terry(no_ties, rounds=3)
    with pytest.raises(NoMLEError):
        sandwich_bradley_terry(no_ties)
    assert np.all(np.isfinite(bootstrap_bradley_terry(no_ties, rounds=3, prior=0.1).samples))


def test_poisson_and_multinomial_resampling_give_the_same_interval_widths(
    llmfao_crowd: Battles,
) -> None:
    poisson = bootstrap_bradley_terry(llmfao_crowd, rounds=150, seed=0, resample="poisson")
    multinomial = bootstrap_bradley_terry(llmfao_crowd, rounds=150, seed=0, resample="multinomial")
    sd_ratio = np.std(poisson.samples, axis=0) / np.std(multinomial.samples, axis=0)
    # 150 rounds estimate each SD to about 6%: the medians over 59 models agree far closer
    assert np.median(sd_ratio) == pytest.approx(1.0, abs=0.06)
    assert np.array_equal(poisson.ratings, multinomial.ratings)


def test_resampled_counts_keep_the_total_or_draw_it_from_a_poisson() -> None:
    counts = np.array([5, 0, 20, 75], dtype=np.int64)
    rng = np.random.default_rng(0)
    fixed = np.array([resample_counts(rng, counts, "multinomial") for _ in range(2000)])
    free = np.array([resample_counts(rng, counts, "poisson") for _ in range(2000)])
    assert np.all(fixed.sum(axis=1) == 100)
    assert np.all(fixed[:, 1] == 0) and np.all(free[:, 1] == 0)
    assert free.mean(axis=0) == pytest.approx(counts, abs=0.5)
    assert free.sum(axis=1).var() == pytest.approx(100, rel=0.15)  # Poisson(100) total
    with pytest.raises(ValueError, match="resample"):
        resample_counts(rng, counts, "jackknife")  # type: ignore[arg-type]

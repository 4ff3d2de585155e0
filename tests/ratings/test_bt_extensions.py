"""Extended Bradley-Terry: Davidson / Rao-Kupper ties, first-position advantage, IPW."""

from __future__ import annotations

import math

import numpy as np
import pytest
from numpy.typing import NDArray

from ratings.bradley_terry import fit_bradley_terry
from ratings.bt_extensions import TieModel, fit_bradley_terry_extended
from ratings.data import Battles, Outcome, aggregate, battles_from_arrays

MODELS = ("m0", "m1", "m2", "m3")
TRUE_THETA = np.array([0.6, 0.2, -0.3, -0.5])  # mean 0


def draw_battles(
    tie_model: TieModel, tie_parameter: float, h: float, n_battles: int, seed: int
) -> Battles:
    """Battles sampled from a Davidson or Rao-Kupper model with known parameters."""
    rng = np.random.default_rng(seed)
    a = rng.integers(0, len(MODELS), n_battles)
    b = (a + rng.integers(1, len(MODELS), n_battles)) % len(MODELS)
    pi_a = np.exp(TRUE_THETA[a] + h)
    pi_b = np.exp(TRUE_THETA[b])
    if tie_model == "davidson":
        tie_mass = tie_parameter * np.sqrt(pi_a * pi_b)
        denom = pi_a + pi_b + tie_mass
        p_a, p_tie = pi_a / denom, tie_mass / denom
    else:
        t = tie_parameter
        p_a = pi_a / (pi_a + t * pi_b)
        p_b = pi_b / (t * pi_a + pi_b)
        p_tie = 1.0 - p_a - p_b
    u = rng.random(n_battles)
    outcome = np.where(
        u < p_a, Outcome.A_WINS, np.where(u < p_a + p_tie, Outcome.TIE, Outcome.B_WINS)
    )
    return battles_from_arrays(
        np.array(MODELS)[a], np.array(MODELS)[b], outcome.astype(np.int8), models=MODELS
    )


def swapped(battles: Battles) -> Battles:
    """Every battle with A and B exchanged (and the winner flipped accordingly)."""
    flip = np.array([Outcome.A_WINS, Outcome.TIE, Outcome.B_WINS, Outcome.TIE_BOTHBAD])
    return Battles(
        models=battles.models,
        model_a=battles.model_b,
        model_b=battles.model_a,
        outcome=flip[battles.outcome].astype(np.int8),
        weight=battles.weight,
    )


def log_strength_gaps(theta: NDArray[np.float64]) -> NDArray[np.float64]:
    return np.asarray(theta[:, None] - theta[None, :], dtype=np.float64)


@pytest.fixture(scope="module")
def davidson_battles() -> Battles:
    return draw_battles("davidson", tie_parameter=0.8, h=0.15, n_battles=200_000, seed=7)


@pytest.fixture(scope="module")
def rao_kupper_battles() -> Battles:
    return draw_battles("rao_kupper", tie_parameter=1.5, h=0.15, n_battles=200_000, seed=11)


def test_half_ties_equal_plain_bradley_terry_on_food_within_1e_6_points(food: Battles) -> None:
    ours = fit_bradley_terry_extended(food, ties="half")
    plain = fit_bradley_terry(food)
    assert ours.converged
    assert ours.tie_parameter is None
    np.testing.assert_allclose(ours.ratings, plain.ratings, rtol=0, atol=1e-6)
    assert ours.log_likelihood == pytest.approx(plain.log_likelihood, abs=1e-9)


def test_half_ties_with_prior_equal_plain_bradley_terry_with_prior(food: Battles) -> None:
    ours = fit_bradley_terry_extended(food, ties="half", prior=0.5)
    plain = fit_bradley_terry(food, prior=0.5)
    np.testing.assert_allclose(ours.ratings, plain.ratings, rtol=0, atol=1e-6)


def test_davidson_fit_recovers_strengths_nu_and_home_advantage(
    davidson_battles: Battles,
) -> None:
    fit = fit_bradley_terry_extended(davidson_battles, ties="davidson", position_bias=True)
    assert fit.converged
    gaps = log_strength_gaps(fit.log_strengths) - log_strength_gaps(TRUE_THETA)
    assert np.max(np.abs(gaps)) < 0.05
    assert fit.tie_parameter is not None
    assert fit.tie_parameter == pytest.approx(0.8, rel=0.10)
    assert abs(fit.home_advantage - 0.15) < 0.05
    assert fit.home_advantage_elo == pytest.approx(fit.home_advantage * 400 / math.log(10))


def test_rao_kupper_fit_recovers_strengths_theta_and_home_advantage(
    rao_kupper_battles: Battles,
) -> None:
    fit = fit_bradley_terry_extended(rao_kupper_battles, ties="rao_kupper", position_bias=True)
    assert fit.converged
    gaps = log_strength_gaps(fit.log_strengths) - log_strength_gaps(TRUE_THETA)
    assert np.max(np.abs(gaps)) < 0.05
    assert fit.tie_parameter is not None
    assert fit.tie_parameter == pytest.approx(1.5, rel=0.10)
    assert abs(fit.home_advantage - 0.15) < 0.05


def test_fitted_outcome_probabilities_sum_to_one_and_favour_the_home_side(
    davidson_battles: Battles,
) -> None:
    for ties in ("davidson", "rao_kupper"):
        fit = fit_bradley_terry_extended(davidson_battles, ties=ties, position_bias=True)
        p_a, p_tie, p_b = fit.outcome_probabilities("m1", "m2")
        assert p_a + p_tie + p_b == pytest.approx(1.0, abs=1e-12)
        assert p_tie > 0
        home, _, _ = fit.outcome_probabilities("m0", "m1")
        _, _, away = fit.outcome_probabilities("m1", "m0")
        assert home > away  # m0 wins more often when shown first


@pytest.mark.parametrize("ties", ["half", "davidson", "rao_kupper"])
def test_position_bias_is_near_zero_on_data_without_bias(ties: TieModel) -> None:
    battles = draw_battles("davidson", tie_parameter=0.5, h=0.0, n_battles=40_000, seed=3)
    fit = fit_bradley_terry_extended(battles, ties=ties, position_bias=True)
    assert abs(fit.home_advantage) < 0.05


@pytest.mark.parametrize("ties", ["half", "davidson", "rao_kupper"])
def test_constant_ipw_gives_the_same_ratings_as_no_ipw(ties: TieModel, food: Battles) -> None:
    plain = fit_bradley_terry_extended(food, ties=ties)
    weighted = fit_bradley_terry_extended(food, ties=ties, ipw=np.full(len(food), 3.7))
    np.testing.assert_allclose(weighted.ratings, plain.ratings, rtol=0, atol=1e-6)
    assert weighted.ipw is not None and plain.ipw is None


def test_ipw_weights_multiply_battle_weights(food: Battles) -> None:
    rng = np.random.default_rng(0)
    ipw = rng.uniform(0.5, 2.0, len(food))
    by_ipw = fit_bradley_terry_extended(food, ties="davidson", ipw=ipw)
    reweighted = Battles(
        models=food.models,
        model_a=food.model_a,
        model_b=food.model_b,
        outcome=food.outcome,
        weight=food.weight * ipw,
    )
    by_weight = fit_bradley_terry_extended(reweighted, ties="davidson")
    np.testing.assert_allclose(by_ipw.ratings, by_weight.ratings, rtol=0, atol=1e-6)


@pytest.mark.parametrize("ties", ["half", "davidson", "rao_kupper"])
def test_swapping_a_and_b_leaves_ratings_unchanged_without_position_bias(
    ties: TieModel, food: Battles
) -> None:
    original = fit_bradley_terry_extended(food, ties=ties)
    mirrored = fit_bradley_terry_extended(swapped(food), ties=ties)
    np.testing.assert_allclose(mirrored.ratings, original.ratings, rtol=0, atol=1e-6)


def test_swapping_a_and_b_flips_the_sign_of_the_home_advantage(
    davidson_battles: Battles,
) -> None:
    original = fit_bradley_terry_extended(davidson_battles, position_bias=True)
    mirrored = fit_bradley_terry_extended(swapped(davidson_battles), position_bias=True)
    assert mirrored.home_advantage == pytest.approx(-original.home_advantage, abs=1e-6)
    np.testing.assert_allclose(mirrored.ratings, original.ratings, rtol=0, atol=1e-6)


def test_davidson_without_ties_has_tiny_nu_and_matches_plain_bt_within_1_point(
    food: Battles,
) -> None:
    decisive = food.take(np.flatnonzero(food.outcome != Outcome.TIE).astype(np.intp))
    fit = fit_bradley_terry_extended(decisive, ties="davidson")
    assert fit.tie_parameter is not None
    assert fit.tie_parameter < 0.01
    plain = fit_bradley_terry(decisive)
    np.testing.assert_allclose(fit.ratings, plain.ratings, rtol=0, atol=1.0)


def test_result_records_every_hyper_parameter(food: Battles) -> None:
    fit = fit_bradley_terry_extended(
        food, ties="rao_kupper", position_bias=True, prior=0.1, scale=200, base=math.e
    )
    assert fit.params() == {
        "ties": "rao_kupper",
        "position_bias": True,
        "ipw": False,
        "prior": 0.1,
        "scale": 200,
        "base": math.e,
        "init_rating": 1000.0,
    }
    expected = 1000.0 + 200 * fit.log_strengths
    np.testing.assert_allclose(fit.ratings, expected, rtol=0, atol=1e-9)


def test_ipw_on_aggregated_cells_or_wrong_length_is_an_error(food: Battles) -> None:
    with pytest.raises(ValueError, match="Battles"):
        fit_bradley_terry_extended(aggregate(food), ipw=np.ones(len(food)))
    with pytest.raises(ValueError, match="expected"):
        fit_bradley_terry_extended(food, ipw=np.ones(len(food) + 1))
    with pytest.raises(ValueError, match="ties"):
        fit_bradley_terry_extended(food, ties="bogus")  # type: ignore[arg-type]

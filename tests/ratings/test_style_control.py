"""Style control: BT with normalised answer-style differences as covariates."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray

from ratings.bradley_terry import NoMLEError, fit_bradley_terry
from ratings.data import Battles, battles_from_arrays
from ratings.style import (
    FEATURES,
    StyleFeatures,
    answer_features,
    fit_style_controlled_bt,
    style_features,
)

MODELS = np.array(["concise-1", "concise-2", "concise-3", "verbose"])


@dataclass(frozen=True)
class Arena:
    battles: Battles
    features_a: NDArray[np.float64]
    features_b: NDArray[np.float64]

    def covariates(self) -> StyleFeatures:
        return style_features(self.features_a, self.features_b)

    def swapped(self) -> Arena:
        """Every battle with its sides exchanged: A wins becomes B wins."""
        flipped = np.array([2, 1, 0, 3])[self.battles.outcome]
        models = np.array(self.battles.models)
        battles = battles_from_arrays(
            models[self.battles.model_b],
            models[self.battles.model_a],
            flipped,
            models=self.battles.models,
        )
        return Arena(battles, self.features_b, self.features_a)


def verbosity_arena(n: int = 20_000, gamma: float = 3.0, seed: int = 0) -> Arena:
    """Four equally strong models; "verbose" writes ~2.7x longer answers, and judges pick
    the longer answer with probability sigmoid(gamma * (La - Lb) / (La + Lb)), 10% ties.
    Header counts vary at random and do not matter to the judges."""
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 4, n)
    b = (a + rng.integers(1, 4, n)) % 4
    log_mean = np.array([5.5, 5.5, 5.5, 6.5])
    length_a = np.rint(np.exp(rng.normal(log_mean[a], 0.4)))
    length_b = np.rint(np.exp(rng.normal(log_mean[b], 0.4)))
    relative = (length_a - length_b) / (length_a + length_b)
    p_a = 1.0 / (1.0 + np.exp(-gamma * relative))
    outcome = np.where(rng.random(n) < 0.1, 1, np.where(rng.random(n) < p_a, 2, 0))
    zeros = np.zeros(n)
    features_a = np.c_[length_a, rng.poisson(2, n), zeros, zeros]
    features_b = np.c_[length_b, rng.poisson(2, n), zeros, zeros]
    return Arena(battles_from_arrays(MODELS[a], MODELS[b], outcome), features_a, features_b)


@pytest.fixture(scope="module")
def arena() -> Arena:
    return verbosity_arena()


# --------------------------------------------------------------------------- features


def test_answer_features_count_tokens_headers_list_items_and_bold_spans() -> None:
    text = (
        "# Title\n"
        "Some **bold** words, and __more__.\n"
        "## Steps\n"
        "1. first\n"
        "  - nested item\n"
        "* star item\n"
        "+ plus item\n"
        "#not a header\n"
        "```python\n# a comment, not a header\n- not a list\n**not bold**\n```\n"
    )
    features = answer_features(text)
    assert features["headers"] == 2
    assert features["lists"] == 4
    assert features["bold"] == 2


def test_answer_length_counts_words_and_punctuation_as_tokens() -> None:
    assert answer_features("Hello, world!")["length"] == 4
    assert answer_features("")["length"] == 0
    assert set(answer_features("x")) == set(FEATURES)


def test_style_features_normalise_by_the_sum_and_standardise_across_battles() -> None:
    a = np.array([[30, 0, 0, 2], [10, 0, 1, 0], [20, 0, 0, 0]], dtype=float)
    b = np.array([[10, 0, 1, 0], [30, 0, 0, 2], [20, 0, 0, 0]], dtype=float)
    result = style_features(a, b)
    assert result.mean == pytest.approx([0.0, 0.0, 0.0, 0.0])
    assert result.std[1] == 0  # headers never differ: left at zero
    assert result.matrix[:, 0] == pytest.approx(np.array([0.5, -0.5, 0.0]) / np.std([0.5, -0.5, 0]))
    assert result.matrix[:, 1].tolist() == [0.0, 0.0, 0.0]
    assert result.matrix[:, 3] == pytest.approx(np.array([1, -1, 0]) / np.std([1, -1, 0]))


def test_style_features_accept_answer_feature_dicts_and_reject_bad_rows() -> None:
    dicts_a = [answer_features("**a** b c"), answer_features("x")]
    dicts_b = [answer_features("x y"), answer_features("# h\n- item")]
    from_dicts = style_features(dicts_a, dicts_b)
    rows_a = [[d[name] for name in FEATURES] for d in dicts_a]
    rows_b = [[d[name] for name in FEATURES] for d in dicts_b]
    assert np.array_equal(from_dicts.matrix, style_features(rows_a, rows_b).matrix)
    with pytest.raises(ValueError, match="row 1: features_b: missing feature 'bold'"):
        style_features(dicts_a, [dicts_b[0], {"length": 1, "headers": 0, "lists": 0}])
    with pytest.raises(ValueError, match="row 0: features_a: features must be finite and >= 0"):
        style_features([[-1, 0, 0, 0]], [[1, 0, 0, 0]])


# --------------------------------------------------------------------------- the fit


def test_with_all_zero_covariates_style_control_is_plain_bt(llmfao_crowd: Battles) -> None:
    same = np.ones((len(llmfao_crowd), 4))
    covariates = style_features(same, same)
    assert not covariates.matrix.any()
    style = fit_style_controlled_bt(llmfao_crowd, covariates)
    plain = fit_bradley_terry(llmfao_crowd)
    assert style.ratings == pytest.approx(plain.ratings, abs=1e-6)
    assert style.log_likelihood == pytest.approx(plain.log_likelihood, abs=1e-6)
    assert style.coefficients.tolist() == [0.0, 0.0, 0.0, 0.0]


def test_style_control_removes_a_win_rate_bought_by_length(arena: Arena) -> None:
    plain = fit_bradley_terry(arena.battles).as_dict()
    styled = fit_style_controlled_bt(arena.battles, arena.covariates())
    ratings = styled.as_dict()
    # plain BT crowns the verbose model by a wide margin ...
    assert max(plain, key=plain.__getitem__) == "verbose"
    assert plain["verbose"] - max(plain[m] for m in MODELS[:3]) > 100
    # ... style control puts it level with the others (all true strengths are equal)
    assert max(abs(ratings[m] - 1000.0) for m in MODELS) < 12
    # the length coefficient is the judges' preference: the 10% ties flatten the logistic
    # slope to about 0.9 * gamma (in units of the standardised relative length)
    beta = styled.coefficients_dict()
    assert beta["length"] == pytest.approx(0.9 * 3.0 * styled.feature_std[0], rel=0.15)
    assert abs(beta["headers"]) < 0.06  # noise: about 2 standard errors
    assert beta["lists"] == beta["bold"] == 0.0  # never varied
    assert (
        styled.converged and styled.log_likelihood > fit_bradley_terry(arena.battles).log_likelihood
    )


def test_swapping_the_sides_of_every_battle_changes_nothing(arena: Arena) -> None:
    small = Arena(
        arena.battles.take(np.arange(3000)), arena.features_a[:3000], arena.features_b[:3000]
    )
    original = fit_style_controlled_bt(small.battles, small.covariates())
    swapped = fit_style_controlled_bt(small.swapped().battles, small.swapped().covariates())
    assert swapped.ratings == pytest.approx(original.ratings, abs=1e-8)
    assert swapped.coefficients == pytest.approx(original.coefficients, abs=1e-10)


def test_style_bootstrap_is_seeded_and_its_intervals_cover_the_truth(arena: Arena) -> None:
    small = Arena(
        arena.battles.take(np.arange(4000)), arena.features_a[:4000], arena.features_b[:4000]
    )
    first = fit_style_controlled_bt(small.battles, small.covariates(), rounds=30, seed=5)
    again = fit_style_controlled_bt(small.battles, small.covariates(), rounds=30, seed=5)
    assert first.samples is not None and first.coefficient_samples is not None
    assert np.array_equal(first.samples, again.samples)
    assert first.samples.shape == (30, 4) and first.coefficient_samples.shape == (30, 4)
    interval = first.interval(0.95)
    assert np.all(interval.ci_low <= first.ratings) and np.all(first.ratings <= interval.ci_high)
    low, high = first.coefficient_interval(0.95)
    assert low[0] > 0  # the length effect is clearly positive
    assert first.params()["rounds"] == 30 and first.params()["resample"] == "poisson"


def test_style_fit_without_bootstrap_has_no_intervals_and_checks_its_input(arena: Arena) -> None:
    small = arena.battles.take(np.arange(500))
    result = fit_style_controlled_bt(small, np.zeros((500, 2)))
    assert result.feature_names == ("feature_0", "feature_1")
    with pytest.raises(ValueError, match="rounds > 0"):
        result.interval()
    with pytest.raises(ValueError, match="expected 500 rows"):
        fit_style_controlled_bt(small, np.zeros((499, 2)))
    never_wins = battles_from_arrays(["a", "a", "b"], ["b", "c", "c"], ["model_a"] * 3)
    with pytest.raises(NoMLEError):
        fit_style_controlled_bt(never_wins, np.zeros((3, 1)))
    # a constant covariate acts as an intercept: it needs its own prior here
    assert fit_style_controlled_bt(never_wins, np.ones((3, 1)), prior=0.1, beta_prior=0.1).converged


# --------------------------------------------------------------------------- properties

battle_sets = st.integers(min_value=3, max_value=60).flatmap(
    lambda n: st.tuples(
        st.lists(st.integers(0, 3), min_size=n, max_size=n),
        st.lists(st.integers(1, 3), min_size=n, max_size=n),
        st.lists(st.sampled_from([0, 1, 2]), min_size=n, max_size=n),
        st.lists(st.tuples(*[st.integers(0, 50)] * 4), min_size=2 * n, max_size=2 * n),
    )
)


@settings(max_examples=20, deadline=None)
@given(battle_sets)
def test_property_side_swap_invariance_and_zero_score_residuals(data: tuple) -> None:  # type: ignore[type-arg]
    first, offset, outcome, counts = data
    n = len(first)
    a = np.array(first)
    b = (a + np.array(offset)) % 4
    battles = battles_from_arrays(MODELS[a], MODELS[b], outcome, models=MODELS.tolist())
    features = np.array(counts, dtype=float)
    arena = Arena(battles, features[:n], features[n:])
    fit = fit_style_controlled_bt(arena.battles, arena.covariates(), prior=0.05, beta_prior=0.05)
    swapped = fit_style_controlled_bt(
        arena.swapped().battles, arena.swapped().covariates(), prior=0.05, beta_prior=0.05
    )
    assert fit.converged
    assert swapped.ratings == pytest.approx(fit.ratings, abs=1e-6)
    assert swapped.coefficients == pytest.approx(fit.coefficients, abs=1e-8)
    # stationarity: observed minus expected score of each model balances its prior pull
    x = arena.covariates().matrix
    eta = fit.log_strengths[battles.model_a] - fit.log_strengths[battles.model_b]
    p = 1 / (1 + np.exp(-(eta + x @ fit.coefficients)))
    residual = battles.score_a - p
    per_model = np.bincount(battles.model_a, residual, 4) - np.bincount(
        battles.model_b, residual, 4
    )
    assert per_model == pytest.approx(2 * 0.05 * fit.log_strengths, abs=1e-7)


markdown_lines = st.lists(
    st.sampled_from(["header", "item", "numbered", "bold", "plain"]), min_size=0, max_size=30
)


@settings(max_examples=60, deadline=None)
@given(markdown_lines)
def test_property_markdown_counts_match_how_the_answer_was_built(kinds: list[str]) -> None:
    make = {
        "header": "### Section title",
        "item": "  - an item",
        "numbered": "12. a step",
        "bold": "a **strong** point",
        "plain": "just words here",
    }
    tokens = {"header": 5, "item": 3, "numbered": 4, "bold": 7, "plain": 3}  # "#", "**" split
    features = answer_features("\n".join(make[kind] for kind in kinds))
    assert features["headers"] == kinds.count("header")
    assert features["lists"] == kinds.count("item") + kinds.count("numbered")
    assert features["bold"] == kinds.count("bold")
    assert features["length"] == sum(tokens[kind] for kind in kinds)

"""Bradley-Terry on graded outcomes with a first-position advantage per judge."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ratings.bradley_terry import fit_bradley_terry
from ratings.bt_extensions import fit_bradley_terry_extended
from ratings.data import Battles, Outcome
from ratings.graded import fit_graded_bt

TO_ELO = 400 / math.log(10)


def hard_rows(seed: int, models: int, rows: int, h: float) -> tuple[np.ndarray, ...]:
    """First, second and a hard score (1, 0.5, 0) drawn from BT with half-win ties."""
    rng = np.random.default_rng(seed)
    theta = rng.normal(0.0, 0.7, models)
    first = rng.integers(0, models, rows)
    second = (first + rng.integers(1, models, rows)) % models
    p = 1 / (1 + np.exp(-(theta[first] - theta[second] + h)))
    u = rng.random(rows)
    # a tie with probability 0.2, else a win with probability (p - 0.1) / 0.8: E[s] = p
    tie = u < 0.2
    win = ~tie & (rng.random(rows) < np.clip((p - 0.1) / 0.8, 0, 1))
    return first, second, np.where(tie, 0.5, win.astype(float))


def as_battles(models: int, first: np.ndarray, second: np.ndarray, score: np.ndarray) -> Battles:
    codes = np.where(score == 1, Outcome.A_WINS, np.where(score == 0, Outcome.B_WINS, Outcome.TIE))
    names = tuple(f"m{k}" for k in range(models))
    return Battles(
        names,
        first.astype(np.intp),
        second.astype(np.intp),
        codes.astype(np.int8),
        np.ones(first.size),
    )


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10**6), models=st.integers(2, 7), h=st.floats(-1.0, 1.0))
def test_hard_scores_fit_as_the_extended_bt_with_half_ties_and_home_advantage(
    seed: int, models: int, h: float
) -> None:
    first, second, score = hard_rows(seed, models, 400, h)
    names = [f"m{k}" for k in range(models)]
    fit = fit_graded_bt(names, first, second, np.ones(first.size), score, prior=0.05)
    reference = fit_bradley_terry_extended(
        as_battles(models, first, second, score), ties="half", position_bias=True, prior=0.05
    )
    # the reference is mean-centred too; the extended fit polishes to ~1e-10 in theta
    assert np.allclose(fit.ratings, reference.ratings, atol=1e-5)
    assert fit.position_elo[0] == pytest.approx(reference.home_advantage_elo, abs=1e-5)


def test_without_the_position_term_hard_scores_give_bradley_terry_with_ties_as_half() -> None:
    first, second, score = hard_rows(3, 5, 600, 0.0)
    names = [f"m{k}" for k in range(5)]
    fit = fit_graded_bt(names, first, second, np.ones(first.size), score, position=False)
    reference = fit_bradley_terry(as_battles(5, first, second, score), prior=0.01)
    assert np.allclose(
        fit.ratings - fit.ratings.mean(), reference.ratings - reference.ratings.mean(), atol=1e-5
    )
    assert fit.position_elo.tolist() == [0.0]


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10**6), split=st.integers(1, 5))
def test_aggregated_rows_fit_as_the_observations_they_sum(seed: int, split: int) -> None:
    rng = np.random.default_rng(seed)
    first = rng.integers(0, 4, 60)
    second = (first + rng.integers(1, 4, 60)) % 4
    score = rng.random(60)
    names = ["a", "b", "c", "d"]
    one_by_one = fit_graded_bt(names, first, second, np.ones(60), score)
    key = first * 4 + second
    cells, inverse = np.unique(key, return_inverse=True)
    summed = fit_graded_bt(
        names,
        cells // 4,
        cells % 4,
        np.bincount(inverse, minlength=cells.size).astype(float),
        np.bincount(inverse, weights=score, minlength=cells.size),
    )
    assert np.allclose(one_by_one.ratings, summed.ratings, atol=1e-7)
    assert np.allclose(one_by_one.ci_high, summed.ci_high, atol=1e-7)


def test_a_graded_score_counts_as_a_win_and_a_loss_weighted_by_it() -> None:
    rng = np.random.default_rng(8)
    first = rng.integers(0, 3, 200)
    second = (first + rng.integers(1, 3, 200)) % 3
    score = rng.beta(2, 2, 200)
    fit = fit_graded_bt(["a", "b", "c"], first, second, np.ones(200), score, prior=0.1)
    split = Battles(
        ("a", "b", "c"),
        np.concatenate([first, first]).astype(np.intp),
        np.concatenate([second, second]).astype(np.intp),
        np.concatenate([np.full(200, Outcome.A_WINS), np.full(200, Outcome.B_WINS)]).astype(
            np.int8
        ),
        np.concatenate([score, 1 - score]),
    )
    reference = fit_bradley_terry_extended(split, ties="half", position_bias=True, prior=0.1)
    assert np.allclose(fit.ratings, reference.ratings, atol=1e-5)
    assert fit.position_elo[0] == pytest.approx(reference.home_advantage_elo, abs=1e-5)


def test_each_judge_gets_its_own_position_term() -> None:
    rng = np.random.default_rng(4)
    theta = np.array([0.5, 0.0, -0.5, 0.2])
    rows = 20_000
    first = rng.integers(0, 4, rows)
    second = (first + rng.integers(1, 4, rows)) % 4
    group = rng.integers(0, 2, rows)
    h = np.array([0.8, -0.2])[group]
    p = 1 / (1 + np.exp(-(theta[first] - theta[second] + h)))
    score = (rng.random(rows) < p).astype(float)
    fit = fit_graded_bt(list("abcd"), first, second, np.ones(rows), score, group=group)
    for k, truth in enumerate((0.8, -0.2)):
        assert fit.position_low[k] < truth * TO_ELO < fit.position_high[k]
    assert fit.position_elo[0] - fit.position_elo[1] > 0.8 * TO_ELO  # truth: 1.0 log-odds


def test_the_position_interval_covers_the_truth_about_95_percent_of_the_time() -> None:
    """By simulation against a known truth: 300 data sets from BT with a home advantage,
    hard outcomes (where the Fisher interval is exact in the limit)."""
    h_true, covered = 0.4, 0
    theta = np.array([0.3, 0.0, -0.3, 0.6, -0.6])
    for seed in range(300):
        rng = np.random.default_rng([seed, 19])
        first = rng.integers(0, 5, 300)
        second = (first + rng.integers(1, 5, 300)) % 5
        p = 1 / (1 + np.exp(-(theta[first] - theta[second] + h_true)))
        score = (rng.random(300) < p).astype(float)
        fit = fit_graded_bt(list("abcde"), first, second, np.ones(300), score, prior=0.01)
        covered += fit.position_low[0] <= h_true * TO_ELO <= fit.position_high[0]
    # 95% nominal; with 300 draws the binomial sd is 1.3 points
    assert 0.91 <= covered / 300 <= 0.985


def test_graded_scores_give_intervals_no_narrower_than_they_should_be() -> None:
    """Scores with mean p but less spread than a coin: the Fisher interval is conservative,
    never anti-conservative (checked for the position term by simulation)."""
    h_true, covered = 0.4, 0
    for seed in range(200):
        rng = np.random.default_rng([seed, 91])
        first = rng.integers(0, 3, 200)
        second = (first + rng.integers(1, 3, 200)) % 3
        p = 1 / (
            1
            + np.exp(
                -(np.array([0.2, 0.0, -0.2])[first] - np.array([0.2, 0.0, -0.2])[second] + h_true)
            )
        )
        score = np.clip(p + rng.normal(0, 0.15, 200), 0, 1)
        fit = fit_graded_bt(list("abc"), first, second, np.ones(200), score)
        covered += fit.position_low[0] <= h_true * TO_ELO <= fit.position_high[0]
    assert covered / 200 >= 0.95


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"prior": 0.0}, "prior"),
        ({"score": [2.0]}, "score <= n"),
        ({"first": [0], "second": [0]}, "two different models"),
        ({"group": [3], "n_groups": 2}, "group"),
        ({"n": [1.0, 1.0]}, "n: expected one value per row"),
    ],
)
def test_bad_input_is_refused_naming_the_field(change: dict, message: str) -> None:
    arguments = {"first": [0], "second": [1], "n": [1.0], "score": [1.0]} | change
    prior = arguments.pop("prior", 0.01)
    with pytest.raises(ValueError, match=message):
        fit_graded_bt(["a", "b"], prior=prior, **arguments)

"""Leaderboard comparison and prediction metrics."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from ratings.bradley_terry import fit_bradley_terry
from ratings.data import Battles, battles_from_arrays
from ratings.elo import online_elo
from ratings.metrics import (
    brier_score,
    counting_scores,
    kendall_tau,
    log_loss,
    predicted_win_probability,
    spearman,
    top_k_overlap,
    win_rate_matrix,
)


def test_kendall_tau_counts_concordant_minus_discordant_pairs() -> None:
    assert kendall_tau([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert kendall_tau([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    # one swapped adjacent pair out of 6: (5 - 1) / 6
    assert kendall_tau([1, 2, 3, 4], [1, 2, 4, 3]) == pytest.approx(4 / 6)


def test_spearman_is_pearson_on_ranks() -> None:
    # ranks 1..5 vs 1,2,3,5,4: 1 - 6 * 2 / (5 * 24)
    assert spearman([1, 2, 3, 4, 5], [10, 20, 30, 50, 40]) == pytest.approx(0.9)


def test_top_k_overlap_is_the_shared_share_of_the_top_k() -> None:
    assert top_k_overlap([9, 8, 7, 1], [9, 1, 8, 7], k=2) == 0.5
    assert top_k_overlap([9, 8, 7, 1], [9, 1, 8, 7], k=3) == pytest.approx(2 / 3)
    assert top_k_overlap([9, 8, 7, 1], [9, 1, 8, 7], k=4) == 1.0
    with pytest.raises(ValueError, match="k must be in 1..4"):
        top_k_overlap([1, 2, 3, 4], [1, 2, 3, 4], k=5)


def test_metrics_reject_misaligned_inputs() -> None:
    with pytest.raises(ValueError, match="same length"):
        kendall_tau([1, 2, 3], [1, 2])


def test_win_rate_matrix_averages_match_evalica_average_win_rate_on_food(
    food: Battles, evalica_golden: Any
) -> None:
    matrix = win_rate_matrix(food)
    ours = dict(zip(matrix.models, matrix.average_win_rate().tolist(), strict=True))
    assert ours == pytest.approx(evalica_golden("food", "average_win_rate"), abs=1e-12)
    assert np.all(np.isnan(np.diag(matrix.win_rate)))
    off_diagonal = ~np.eye(5, dtype=bool)
    assert np.allclose((matrix.win_rate + matrix.win_rate.T)[off_diagonal], 1.0)


@pytest.mark.parametrize("dataset", ["food", "simple"])
def test_counting_scores_match_evalica_counting(
    dataset: str, food: Battles, simple: Battles, evalica_golden: Any
) -> None:
    battles = food if dataset == "food" else simple
    ours = dict(zip(battles.models, counting_scores(battles).tolist(), strict=True))
    assert ours == pytest.approx(evalica_golden(dataset, "counting"), abs=1e-12)


def test_predicted_win_probability_is_ten_to_one_at_400_points() -> None:
    p = predicted_win_probability([1400.0, 1000.0])
    assert p[0, 1] == pytest.approx(10 / 11, abs=1e-15)
    assert p + p.T == pytest.approx(np.ones((2, 2)))


def test_log_loss_of_equal_ratings_is_log_2_and_bt_minimises_it(food: Battles) -> None:
    assert log_loss(food, np.full(5, 1000.0)) == pytest.approx(math.log(2), abs=1e-15)
    bt = fit_bradley_terry(food)
    assert log_loss(food, bt.ratings) == pytest.approx(-bt.log_likelihood / len(food), abs=1e-12)
    assert log_loss(food, bt.ratings) < log_loss(food, online_elo(food).ratings)
    assert log_loss(food, bt.ratings) < log_loss(food, bt.ratings + np.array([5.0, 0, 0, 0, 0]))


def test_brier_score_of_a_coin_is_a_quarter_and_of_a_sure_call_near_zero() -> None:
    battles = battles_from_arrays(["a", "a"], ["b", "b"], ["model_a", "model_a"])
    assert brier_score(battles, [1000.0, 1000.0]) == pytest.approx(0.25)
    assert brier_score(battles, [3000.0, 1000.0]) < 1e-9
    with pytest.raises(ValueError, match="expected 2 values"):
        brier_score(battles, [1.0])

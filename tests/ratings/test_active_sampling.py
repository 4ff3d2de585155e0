"""Pair sampling rules: Chatbot Arena Eq. 9, UCB, uniform, inverse-count; seeded choices."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from ratings.sampling import (
    all_pairs,
    arena_probabilities,
    choose_pairs,
    inverse_count_probabilities,
    pair_variance_from_covariance,
    pairs_to_names,
    ucb_priorities,
    uniform_probabilities,
)


def test_arena_eq9_matches_the_worked_example_within_1e_9(vectors: dict[str, Any]) -> None:
    case = vectors["chatbot_arena_active_sampling_example"]
    seen = arena_probabilities(case["Sigma_diag"][:3], case["counts"][:3])
    assert seen.tolist() == pytest.approx(case["probabilities_excluding_unseen"], abs=1e-9)


def test_arena_eq9_samples_never_compared_pairs_first(vectors: dict[str, Any]) -> None:
    case = vectors["chatbot_arena_active_sampling_example"]
    assert arena_probabilities(case["Sigma_diag"], case["counts"]).tolist() == [0.0, 0.0, 0.0, 1.0]


def test_uniform_and_inverse_count_probabilities() -> None:
    assert uniform_probabilities(4).tolist() == [0.25] * 4
    assert inverse_count_probabilities([0, 1, 3]).tolist() == pytest.approx([4 / 7, 2 / 7, 1 / 7])


def test_all_pairs_lists_each_unordered_pair_once() -> None:
    pairs = all_pairs(4)
    assert pairs.tolist() == [[0, 1], [0, 2], [0, 3], [1, 2], [1, 3], [2, 3]]
    assert pairs_to_names(pairs[:2], ["a", "b", "c", "d"]) == [("a", "b"), ("a", "c")]


def test_pair_variance_is_var_i_plus_var_j_minus_twice_cov() -> None:
    cov = np.array([[2.0, 0.5, 0.0], [0.5, 1.0, 0.2], [0.0, 0.2, 3.0]])
    assert pair_variance_from_covariance(cov, all_pairs(3)).tolist() == pytest.approx(
        [2.0, 5.0, 3.6]
    )


def test_ucb_prefers_close_rarely_compared_pairs() -> None:
    pairs = all_pairs(3)
    ratings = [1000.0, 1010.0, 1400.0]
    equal_counts = ucb_priorities(ratings, pairs, [10, 10, 10])
    assert int(np.argmax(equal_counts)) == 0  # the 10-point gap beats the 400-point ones
    lopsided = ucb_priorities(ratings, pairs, [1000, 0, 1000])
    assert int(np.argmax(lopsided)) == 1


def test_choose_pairs_is_deterministic_given_a_seed_and_follows_the_probabilities() -> None:
    p = np.array([0.7, 0.2, 0.1])
    first = choose_pairs(p, 2000, seed=42)
    assert np.array_equal(first, choose_pairs(p, 2000, seed=42))
    assert not np.array_equal(first, choose_pairs(p, 2000, seed=43))
    assert np.bincount(first, minlength=3) / 2000 == pytest.approx(p, abs=0.04)


def test_choose_pairs_argmax_takes_top_priorities_with_seeded_tie_breaks() -> None:
    assert choose_pairs([0.1, 0.9, 0.5], 2, seed=0, mode="argmax").tolist() == [1, 2]
    ties = [choose_pairs([1.0, 1.0, 1.0], 1, seed=s, mode="argmax")[0] for s in range(20)]
    assert len(set(ties)) > 1
    assert (
        choose_pairs([1.0, 1.0], 1, seed=5, mode="argmax").tolist()
        == choose_pairs([1.0, 1.0], 1, seed=5, mode="argmax").tolist()
    )


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: arena_probabilities([0.1], [-1]), "counts"),
        (lambda: arena_probabilities([0.1, 0.2], [1]), "variance"),
        (lambda: choose_pairs([0.0, 0.0], 1, seed=0), "sum to zero"),
        (lambda: choose_pairs([1.0], 0, seed=0), "size"),
    ],
)
def test_sampling_rejects_bad_input_with_a_reason(call: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()

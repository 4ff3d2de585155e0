"""Information-gain and top-k (LUCB-style) pair samplers, and the posterior they score with."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ratings.sampling import (
    all_pairs,
    bt_fisher_covariance,
    choose_pairs,
    information_gain_probabilities,
    pair_variance_from_covariance,
    top_k_priorities,
    virtual_update,
)


def test_two_equal_models_after_n_games_have_difference_variance_4_over_n() -> None:
    games = np.array([[0.0, 10.0], [10.0, 0.0]])
    cov = bt_fisher_covariance(np.zeros(2), games)
    assert pair_variance_from_covariance(cov, all_pairs(2))[0] == pytest.approx(4 / 10)
    assert cov.sum() == pytest.approx(0.0, abs=1e-12)  # centred: no common shift


def test_a_virtual_update_equals_refitting_the_covariance_with_one_more_game() -> None:
    rng = np.random.default_rng(3)
    theta = rng.normal(0, 0.5, 5)
    games = rng.integers(0, 6, (5, 5)).astype(float)
    games = np.triu(games, 1) + np.triu(games, 1).T
    p = 1 / (1 + math.exp(-(theta[1] - theta[3])))
    updated = virtual_update(bt_fisher_covariance(theta, games, prior=0.01), 1, 3, p * (1 - p))
    games[1, 3] += 1
    games[3, 1] += 1
    assert updated == pytest.approx(bt_fisher_covariance(theta, games, prior=0.01), abs=1e-10)


def test_information_gain_prefers_close_uncertain_pairs_and_ignores_settled_ones() -> None:
    theta = np.array([0.0, 0.05, 3.0])  # 0 and 1 close, 2 far above both
    pairs = all_pairs(3)  # (0,1) (0,2) (1,2)
    probs = information_gain_probabilities(theta, np.array([0.2, 0.2, 0.2]), pairs)
    assert probs.sum() == pytest.approx(1.0)
    assert int(np.argmax(probs)) == 0
    assert probs[1] < 1e-3 and probs[2] < 1e-3  # a 3-nat gap with sd 0.45 is settled
    more_uncertain = information_gain_probabilities(theta, np.array([0.2, 9.0, 0.2]), pairs)
    assert more_uncertain[1] > probs[1]  # the same gap with a wide variance is open again


def test_information_gain_is_uniform_when_nothing_can_be_learned() -> None:
    probs = information_gain_probabilities(np.zeros(3), np.zeros(3), all_pairs(3))
    assert probs.tolist() == pytest.approx([1 / 3] * 3)


def test_information_gain_matches_the_formula_on_one_pair() -> None:
    # H(order) * 1/2 ln(1 + p (1 - p) v), here with two pairs to normalise against
    theta, v = np.array([0.0, 0.4, 0.0]), np.array([0.5, 2.0, 0.5])
    pairs = all_pairs(3)

    def gain(d: float, var: float) -> float:
        q = 0.5 * math.erfc(abs(d) / math.sqrt(var) / math.sqrt(2))
        h = -(q * math.log2(q) + (1 - q) * math.log2(1 - q))
        p = 1 / (1 + math.exp(-d))
        return h * 0.5 * math.log1p(p * (1 - p) * var)

    raw = [gain(-0.4, 0.5), gain(0.0, 2.0), gain(0.4, 0.5)]
    expected = [g / sum(raw) for g in raw]
    assert information_gain_probabilities(theta, v, pairs).tolist() == pytest.approx(expected)


def test_top_k_priority_is_largest_for_the_lucb_pair_and_zero_on_one_side() -> None:
    ratings = np.array([1300.0, 1200.0, 1100.0, 1090.0, 800.0])
    half = np.array([20.0, 30.0, 40.0, 40.0, 20.0])
    pairs = all_pairs(5)
    prio = top_k_priorities(ratings, ratings - half, ratings + half, pairs, 3)
    by_pair = {tuple(p): v for p, v in zip(pairs.tolist(), prio.tolist(), strict=True)}
    assert by_pair[(0, 1)] == 0 and by_pair[(3, 4)] == 0  # same side of the boundary
    assert max(by_pair, key=lambda p: by_pair[p]) == (2, 3)  # lowest LCB vs highest UCB
    assert by_pair[(0, 4)] == 0  # clearly separated
    far = ratings + np.array([0, 0, 200, 0, 0.0])
    separated = top_k_priorities(far, far - half, far + half, pairs, 3)
    assert by_pair[(2, 3)] > 0 and separated[all_pairs(5).tolist().index([2, 3])] == 0


def test_with_a_covariance_top_k_scores_the_shrinkage_of_the_boundary_arms() -> None:
    theta = np.array([2.0, 1.0, 0.05, 0.0, -2.0])
    games = np.full((5, 5), 4.0) - 4.0 * np.eye(5)
    cov = bt_fisher_covariance(theta, games, prior=0.01)
    ratings = theta * 400 / math.log(10)
    half = 1.96 * np.sqrt(np.diag(cov)) * 400 / math.log(10)
    pairs = all_pairs(5)
    prio = top_k_priorities(ratings, ratings - half, ratings + half, pairs, 2, covariance=cov)
    best = tuple(pairs[int(np.argmax(prio))].tolist())
    assert set(best) & {1, 2}  # rank 2 or rank 3: an arm at the boundary
    assert prio[pairs.tolist().index([0, 4])] < prio.max() / 2
    wide = half * 0 + 1.0  # intervals of +-1 Elo: everything separated
    done = top_k_priorities(ratings, ratings - wide, ratings + wide, pairs, 2, covariance=cov)
    assert not done.any()


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: information_gain_probabilities([0, 1], [-1.0], all_pairs(2)), "pair_variance"),
        (lambda: top_k_priorities([1, 2], [0, 1], [2, 3], all_pairs(2), 2), "k must"),
        (lambda: top_k_priorities([1, 2], [0], [2, 3], all_pairs(2), 1), "low, high"),
        (lambda: bt_fisher_covariance([0, 0], [[0, -1], [-1, 0]]), "games"),
    ],
)
def test_the_new_samplers_reject_bad_input_with_a_reason(call: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()  # type: ignore[operator]


@settings(max_examples=80, deadline=None)
@given(
    n=st.integers(2, 9),
    seed=st.integers(0, 2**31),
    k=st.integers(1, 8),
)
def test_probabilities_are_valid_and_choices_deterministic_given_the_seed(
    n: int, seed: int, k: int
) -> None:
    rng = np.random.default_rng(seed)
    theta = rng.normal(0, 1.5, n)
    games = np.triu(rng.integers(0, 20, (n, n)).astype(float), 1)
    games = games + games.T
    pairs = all_pairs(n)
    cov = bt_fisher_covariance(theta, games, prior=0.01)
    probs = information_gain_probabilities(theta, pair_variance_from_covariance(cov, pairs), pairs)
    assert np.all(np.isfinite(probs)) and np.all(probs >= 0)
    assert probs.sum() == pytest.approx(1.0)
    ratings = theta * 400 / math.log(10)
    half = 1.96 * np.sqrt(np.maximum(np.diag(cov), 0)) * 400 / math.log(10)
    prio = top_k_priorities(ratings, ratings - half, ratings + half, pairs, min(k, n - 1))
    assert np.all(np.isfinite(prio)) and np.all(prio >= 0)
    shrink = top_k_priorities(
        ratings, ratings - half, ratings + half, pairs, min(k, n - 1), covariance=cov
    )
    assert np.all(np.isfinite(shrink)) and np.all(shrink >= 0)
    for scores, mode in ((probs, "sample"), (prio + 1e-12, "argmax")):
        picked = choose_pairs(scores, 1, seed=seed, mode=mode)  # type: ignore[arg-type]
        assert picked.tolist() == choose_pairs(scores, 1, seed=seed, mode=mode).tolist()  # type: ignore[arg-type]
        assert 0 <= picked[0] < len(pairs)


@settings(max_examples=40, deadline=None)
@given(cov_seed=st.integers(0, 2**31), pair=st.tuples(st.integers(0, 4), st.integers(0, 4)))
def test_a_virtual_update_never_raises_a_variance(cov_seed: int, pair: tuple[int, int]) -> None:
    if pair[0] == pair[1]:
        return
    rng = np.random.default_rng(cov_seed)
    games = np.triu(rng.integers(0, 5, (5, 5)).astype(float), 1)
    cov = bt_fisher_covariance(rng.normal(0, 1, 5), games + games.T, prior=0.01)
    after = virtual_update(cov, *pair, 0.2)
    assert np.all(np.diag(after) <= np.diag(cov) + 1e-12)

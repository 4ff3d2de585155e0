"""Choosing the next pair to compare: uniform, inverse-count, Chatbot Arena Eq. 9, UCB.

All rules return a probability (or priority) per candidate pair; ``choose_pairs`` then
draws from them with a seeded generator, so a tournament replays identically.

Chatbot Arena's active rule (Chiang et al. 2024, "Chatbot Arena: An Open Platform for
Evaluating LLMs by Human Preference", Eq. 9) samples pair a with probability

    P(a) proportional to sqrt(Sigma_aa / n_a) - sqrt(Sigma_aa / (n_a + 1)),

the expected shrinkage of that pair's confidence interval from one more vote (Sigma_aa:
variance of the pair's outcome, n_a: votes so far). The paper leaves n_a = 0 undefined
(infinite priority); here never-compared pairs share all the probability until each has
one vote, which is the limit of the rule.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "all_pairs",
    "arena_probabilities",
    "choose_pairs",
    "inverse_count_probabilities",
    "pairs_to_names",
    "pair_variance_from_covariance",
    "ucb_priorities",
    "uniform_probabilities",
]


def all_pairs(n_models: int) -> NDArray[np.intp]:
    """Every unordered pair (i < j) as an array of shape (n(n-1)/2, 2), in a fixed order."""
    if n_models < 2:
        raise ValueError("need at least two models")
    i, j = np.triu_indices(n_models, k=1)
    return np.stack([i, j], axis=1).astype(np.intp)


def _counts(counts: ArrayLike) -> NDArray[np.float64]:
    n = np.asarray(counts, dtype=np.float64)
    if n.ndim != 1 or n.size == 0 or np.any(n < 0) or not np.all(np.isfinite(n)):
        raise ValueError("counts: need a non-empty 1-d array of counts >= 0")
    return n


def uniform_probabilities(n_pairs: int) -> NDArray[np.float64]:
    """Every pair equally likely: the unbiased baseline."""
    if n_pairs < 1:
        raise ValueError("need at least one pair")
    return np.full(n_pairs, 1.0 / n_pairs)


def inverse_count_probabilities(counts: ArrayLike) -> NDArray[np.float64]:
    """P proportional to 1 / (n + 1): evens out coverage without needing a model fit."""
    weight = 1.0 / (_counts(counts) + 1.0)
    return np.asarray(weight / weight.sum(), dtype=np.float64)


def arena_probabilities(variance: ArrayLike, counts: ArrayLike) -> NDArray[np.float64]:
    """Chatbot Arena Eq. 9 (see module docstring); unseen pairs first."""
    n = _counts(counts)
    sigma = np.asarray(variance, dtype=np.float64)
    if sigma.shape != n.shape or np.any(sigma < 0) or not np.all(np.isfinite(sigma)):
        raise ValueError("variance: need one finite value >= 0 per pair")
    unseen = n == 0
    if unseen.any():
        return np.asarray(unseen / unseen.sum(), dtype=np.float64)
    gain = np.sqrt(sigma / n) - np.sqrt(sigma / (n + 1))
    if gain.sum() <= 0:
        return np.full(n.size, 1.0 / n.size)
    return np.asarray(gain / gain.sum(), dtype=np.float64)


def pair_variance_from_covariance(
    covariance: ArrayLike, pairs: NDArray[np.intp]
) -> NDArray[np.float64]:
    """Var(theta_i - theta_j) per pair, e.g. from a BT sandwich covariance, for Eq. 9."""
    cov = np.asarray(covariance, dtype=np.float64)
    i, j = pairs[:, 0], pairs[:, 1]
    return np.asarray(np.maximum(cov[i, i] + cov[j, j] - 2 * cov[i, j], 0.0), dtype=np.float64)


def ucb_priorities(
    ratings: ArrayLike,
    pairs: NDArray[np.intp],
    counts: ArrayLike,
    *,
    exploration: float = 1.0,
    scale: float = 400.0,
    base: float = 10.0,
) -> NDArray[np.float64]:
    """Upper-confidence priority of each pair for separating neighbours in the ranking.

    priority = P(closer model wins) closeness ``1 - |2p - 1|`` plus the UCB1 bonus
    ``exploration * sqrt(2 ln(total + 1) / (n + 1))``. Close, rarely compared pairs win:
    those are the comparisons that settle adjacent ranks.
    """
    n = _counts(counts)
    r = np.asarray(ratings, dtype=np.float64)
    logit = (r[pairs[:, 0]] - r[pairs[:, 1]]) * math.log(base) / scale
    p = 0.5 * (1.0 + np.tanh(0.5 * logit))
    bonus = exploration * np.sqrt(2.0 * math.log(n.sum() + 1.0) / (n + 1.0))
    return np.asarray(1.0 - np.abs(2.0 * p - 1.0) + bonus, dtype=np.float64)


def choose_pairs(
    scores: ArrayLike,
    size: int,
    *,
    seed: int | np.random.SeedSequence,
    mode: Literal["sample", "argmax"] = "sample",
) -> NDArray[np.intp]:
    """Indices of the next ``size`` pairs, deterministic given ``seed``.

    ``sample`` draws (with replacement) from probabilities; ``argmax`` takes the highest
    priorities, breaking exact ties at random with the same seed (for UCB).
    """
    values = np.asarray(scores, dtype=np.float64)
    if (
        values.ndim != 1
        or values.size == 0
        or np.any(values < 0)
        or not np.all(np.isfinite(values))
    ):
        raise ValueError("scores: need a non-empty 1-d array of finite values >= 0")
    if size < 1:
        raise ValueError("size must be >= 1")
    rng = np.random.default_rng(seed)
    if mode == "sample":
        total = values.sum()
        if total <= 0:
            raise ValueError("scores: probabilities sum to zero")
        return np.asarray(rng.choice(values.size, size=size, p=values / total), dtype=np.intp)
    if size > values.size:
        raise ValueError("argmax: size larger than the number of pairs")
    jitter = rng.random(values.size)
    order = np.lexsort((jitter, -values))
    return np.asarray(order[:size], dtype=np.intp)


def pairs_to_names(pairs: NDArray[np.intp], models: Sequence[str]) -> list[tuple[str, str]]:
    """Readable (model, model) tuples for chosen pair rows."""
    return [(models[i], models[j]) for i, j in pairs.tolist()]

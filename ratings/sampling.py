"""Choosing the next pair to compare: uniform, inverse-count, Chatbot Arena Eq. 9, UCB,
information gain, and a top-k (LUCB-style) rule.

All rules return a probability (or priority) per candidate pair; ``choose_pairs`` then
draws from them with a seeded generator, so a tournament replays identically.

Chatbot Arena's active rule (Chiang et al. 2024, "Chatbot Arena: An Open Platform for
Evaluating LLMs by Human Preference", Eq. 9) samples pair a with probability

    P(a) proportional to sqrt(Sigma_aa / n_a) - sqrt(Sigma_aa / (n_a + 1)),

the expected shrinkage of that pair's confidence interval from one more vote (Sigma_aa:
variance of the pair's outcome, n_a: votes so far). The paper leaves n_a = 0 undefined
(infinite priority); here never-compared pairs share all the probability until each has
one vote, which is the limit of the rule.

Information gain (``information_gain_probabilities``). Under the Gaussian (Laplace)
approximation of the BT posterior, with covariance Sigma of the log-strengths, one more
comparison of i and j adds Fisher information ``w x x^T`` (x = e_i - e_j, w = p (1 - p)),
so the expected reduction of the posterior entropy is

    IG(i, j) = 1/2 ln(1 + w v),    v = x^T Sigma x = Var(theta_i - theta_j)

(MacKay 1992, "Information-based objective functions for active data selection", Neural
Computation 4(4): the entropy change of a Gaussian posterior is 1/2 ln det of the ratio
of its precisions; the matrix determinant lemma gives this rank-one form). Because the
ranking, not the strengths, is what we want to learn, each pair's gain is weighted by the
entropy of its order, ``H(Phi(|d| / sqrt(v)))`` in bits (d: the estimated gap): pairs
whose order is already certain are not worth a call even when their strengths are.
This is the "entropy of P(i beats j) weighted by pair variance" family of active-ranking
rules (cf. Houlsby et al. 2011, "Bayesian active learning for classification and
preference learning", BALD).

Top-k (``top_k_priorities``), after LUCB (Kalyanakrishnan, Tewari, Auer and Stone 2012,
"PAC subset selection in stochastic multi-armed bandits", ICML): of the estimated top k
the one with the lowest lower confidence bound and of the rest the one with the highest
upper bound are the arms whose intervals still cross the boundary between rank k and
k + 1, and LUCB samples exactly those. Pairwise, the simple form gives a pair (i in the top
k, j outside) priority ``max(0, UCB_j - LCB_i) * 4 p (1 - p)``: the overlap of their
intervals (largest for the LUCB pair), times how much one comparison of them tells (1 at
p = 1/2). With a posterior covariance the rule scores, instead, how much one comparison
would shrink the intervals of every arm that crosses the boundary (weighted by how far it
crosses): BT intervals are relative to the field, so a boundary arm's interval also
narrows when the arms it is measured against get better known.

``virtual_update`` lets a batch sampler pretend a chosen comparison was already made
(the rank-one posterior update above), so a batch spreads over pairs instead of picking
the same one B times.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import numpy as np
import scipy.special  # type: ignore[import-untyped]
import scipy.stats  # type: ignore[import-untyped]
from numpy.typing import ArrayLike, NDArray

ELO_PER_NAT = 400.0 / math.log(10.0)

__all__ = [
    "all_pairs",
    "arena_probabilities",
    "choose_pairs",
    "bt_fisher_covariance",
    "information_gain_probabilities",
    "inverse_count_probabilities",
    "pairs_to_names",
    "pair_variance_from_covariance",
    "top_k_priorities",
    "ucb_priorities",
    "uniform_probabilities",
    "virtual_update",
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


def bt_fisher_covariance(
    log_strengths: ArrayLike, games: ArrayLike, *, prior: float = 0.0
) -> NDArray[np.float64]:
    """Centred inverse Fisher information of BT log-strengths (natural units).

    ``games[i, j]`` (symmetric): comparisons of i and j. The Hessian is the weighted graph
    Laplacian ``sum games p (1 - p) x x^T`` plus ``2 prior I``; its inverse is centred
    (the overall shift carries no ranking information, and a weak prior would otherwise
    add a large common variance to every strength). Pair variances are unaffected.
    """
    theta = np.asarray(log_strengths, dtype=np.float64)
    g = np.asarray(games, dtype=np.float64)
    n = theta.size
    if g.shape != (n, n) or np.any(g < 0) or not np.all(np.isfinite(g)):
        raise ValueError("games: need a finite n x n matrix of counts >= 0")
    if prior < 0:
        raise ValueError("prior must be >= 0")
    p = scipy.special.expit(theta[:, None] - theta[None, :])
    h = -g * p * (1.0 - p)
    np.fill_diagonal(h, 0.0)
    h[np.diag_indices(n)] = -h.sum(axis=1) + 2.0 * prior
    centre = np.eye(n) - 1.0 / n
    # the centred pseudo-inverse (without a prior H is singular along the ones vector)
    cov = np.linalg.pinv(centre @ h @ centre + 1.0 / n, hermitian=True) - 1.0 / n
    return np.asarray(centre @ cov @ centre, dtype=np.float64)


def virtual_update(
    covariance: NDArray[np.float64], i: int, j: int, weight: float
) -> NDArray[np.float64]:
    """The covariance after one more comparison of i and j with Fisher weight ``p (1 - p)``.

    Rank-one (Sherman-Morrison) update: ``S - w S x x^T S / (1 + w x^T S x)``.
    """
    sx = covariance[:, i] - covariance[:, j]
    v = float(sx[i] - sx[j])
    return np.asarray(covariance - weight * np.outer(sx, sx) / (1.0 + weight * v), dtype=np.float64)


def _order_entropy(gap: NDArray[np.float64], variance: NDArray[np.float64]) -> NDArray[np.float64]:
    """Entropy (bits) of the probability that the estimated order of a pair is right."""
    sd = np.sqrt(np.maximum(variance, 1e-300))
    q = np.clip(scipy.stats.norm.cdf(-np.abs(gap) / sd), 1e-300, 0.5)
    return np.asarray(-(q * np.log2(q) + (1.0 - q) * np.log2(1.0 - q)), dtype=np.float64)


def information_gain_probabilities(
    log_strengths: ArrayLike, pair_variance: ArrayLike, pairs: NDArray[np.intp]
) -> NDArray[np.float64]:
    """P(pair) proportional to ``H(order) * 1/2 ln(1 + p (1 - p) v)`` (module docstring).

    ``log_strengths``: natural BT log-strengths; ``pair_variance``: Var(theta_i - theta_j)
    per pair in the same units. Uniform when every gain is zero.
    """
    theta = np.asarray(log_strengths, dtype=np.float64)
    v = np.asarray(pair_variance, dtype=np.float64)
    if v.shape != (len(pairs),) or np.any(v < 0) or not np.all(np.isfinite(v)):
        raise ValueError("pair_variance: need one finite value >= 0 per pair")
    gap = theta[pairs[:, 0]] - theta[pairs[:, 1]]
    p = scipy.special.expit(gap)
    gain = _order_entropy(gap, v) * 0.5 * np.log1p(p * (1.0 - p) * v)
    total = gain.sum()
    if not total > 0:
        return np.full(len(pairs), 1.0 / len(pairs))
    return np.asarray(gain / total, dtype=np.float64)


def top_k_priorities(
    ratings: ArrayLike,
    low: ArrayLike,
    high: ArrayLike,
    pairs: NDArray[np.intp],
    k: int,
    *,
    covariance: ArrayLike | None = None,
    scale: float = 400.0,
    base: float = 10.0,
) -> NDArray[np.float64]:
    """LUCB-style priority of each pair for telling the top ``k`` from the rest.

    Without ``covariance``: ``max(0, high_j - low_i) * 4 p (1 - p)`` for i among the
    estimated top k (by rating, ties by index) and j not; 0 for pairs on one side.

    With ``covariance`` (of the natural log-strengths, e.g. ``bt_fisher_covariance``):
    every arm whose interval crosses the boundary is ambiguous, by how far it crosses
    (i in the top k: ``max(0, max_rest high - low_i)``; j outside:
    ``max(0, high_j - min_top low)``), and a pair's priority is the ambiguity-weighted
    expected shrinkage of those arms' standard deviations if the pair were compared once
    (the rank-one update of ``virtual_update``). Marginal intervals are coupled through
    the other arms, so this may pick a pair on one side when that tightens the boundary
    arms most. All zero once the top k's intervals clear the rest's.
    """
    r = np.asarray(ratings, dtype=np.float64)
    lo = np.asarray(low, dtype=np.float64)
    hi = np.asarray(high, dtype=np.float64)
    n = r.size
    if lo.shape != (n,) or hi.shape != (n,) or np.any(np.isnan(lo)) or np.any(np.isnan(hi)):
        raise ValueError("low, high: need one bound per model")
    if not 1 <= k < n:
        raise ValueError(f"k must be between 1 and {n - 1}, got {k}")
    top = np.zeros(n, dtype=bool)
    top[np.argsort(-r, kind="stable")[:k]] = True
    a, b = pairs[:, 0], pairs[:, 1]
    p = scipy.special.expit((r[a] - r[b]) * math.log(base) / scale)
    if covariance is None:
        cross = top[a] != top[b]
        inside = np.where(top[a], a, b)
        outside = np.where(top[a], b, a)
        # infinite bounds (no data yet) would make inf * 0; cap the overlap instead
        overlap = np.clip(hi[outside] - lo[inside], 0.0, 1e12)
        return np.asarray(np.where(cross, overlap * 4.0 * p * (1.0 - p), 0.0), dtype=np.float64)
    cov = np.asarray(covariance, dtype=np.float64)
    if cov.shape != (n, n) or not np.all(np.isfinite(cov)):
        raise ValueError("covariance: need a finite n x n matrix")
    ambiguity = np.zeros(n)
    ambiguity[top] = np.clip(hi[~top].max() - lo[top], 0.0, 1e12)
    ambiguity[~top] = np.clip(hi[~top] - lo[top].min(), 0.0, 1e12)
    arms = np.flatnonzero(ambiguity > 0)
    if arms.size == 0:
        return np.zeros(len(pairs))
    rows = cov[arms]
    sx = rows[:, a] - rows[:, b]  # (Sigma x)_arm for every pair x = e_a - e_b
    v = pair_variance_from_covariance(cov, pairs)
    w = p * (1.0 - p)
    var = np.maximum(np.diag(cov)[arms], 0.0)[:, None]
    after = np.maximum(var - w * sx**2 / (1.0 + w * v), 0.0)
    shrink = np.sqrt(var) - np.sqrt(after)
    return np.asarray(ambiguity[arms] @ shrink, dtype=np.float64)


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

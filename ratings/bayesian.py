"""Online Bayesian ratings: Weng-Lin Plackett-Luce (the openskill ``PlackettLuce`` model).

Weng & Lin 2011, "A Bayesian Approximation Method for Online Ranking" (JMLR 12),
Algorithm 4 (Plackett-Luce), with openskill's defaults: mu 25, sigma 25/3, beta 25/6,
kappa 1e-4, tau 25/300 (added to every sigma before each match, so uncertainty never
collapses to zero), gamma = sigma / c. Each player is its own team here, as in the arena.
Unlike BT/PL MLE this is an online filter: a K-wise ranking (ties share a rank) updates
everyone's (mu, sigma) at once, and the leaderboard shows mu - 3 sigma (``ordinal``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ratings.data import RankingInput, normalize_ranking

__all__ = ["SkillRating", "WengLinParams", "ordinal", "rate_plackett_luce", "replay_plackett_luce"]


@dataclass(frozen=True)
class SkillRating:
    """A Gaussian belief about one model's skill."""

    mu: float
    sigma: float


@dataclass(frozen=True)
class WengLinParams:
    """Hyper-parameters (openskill 6 defaults)."""

    mu: float = 25.0
    sigma: float = 25.0 / 3.0
    beta: float = 25.0 / 6.0
    kappa: float = 1e-4
    tau: float = 25.0 / 300.0


def ordinal(rating: SkillRating, *, z: float = 3.0) -> float:
    """Conservative skill estimate mu - z * sigma, used to sort leaderboards."""
    return rating.mu - z * rating.sigma


def rate_plackett_luce(
    ratings: Mapping[str, SkillRating],
    ranking: RankingInput,
    params: WengLinParams = WengLinParams(),
) -> dict[str, SkillRating]:
    """New ratings of the entries of one tiered ranking (best first); unknown models start
    at the prior. Returns only the entries of this ranking."""
    tiers = normalize_ranking(ranking)
    names = [name for tier in tiers for name in tier]
    rank = [level for level, tier in enumerate(tiers) for _ in tier]
    prior = SkillRating(params.mu, params.sigma)
    current = [ratings.get(name, prior) for name in names]
    sigma_sq = [r.sigma**2 + params.tau**2 for r in current]
    mu = [r.mu for r in current]
    c = math.sqrt(sum(s + params.beta**2 for s in sigma_sq))
    strength = [math.exp(m / c) for m in mu]
    # sum_q[q]: total strength of everyone ranked at or below q's rank (still "in" at q's turn)
    sum_q = [
        sum(strength[i] for i in range(len(names)) if rank[i] >= rank[q]) for q in range(len(names))
    ]
    tied = [rank.count(rank[q]) for q in range(len(names))]
    updated: dict[str, SkillRating] = {}
    for i, name in enumerate(names):
        omega = 0.0
        delta = 0.0
        for q in range(len(names)):
            if rank[q] > rank[i]:
                continue
            share = strength[i] / sum_q[q]
            delta += share * (1 - share) / tied[q]
            omega += ((1 - share) if q == i else -share) / tied[q]
        omega *= sigma_sq[i] / c
        delta *= sigma_sq[i] / c**2
        delta *= math.sqrt(sigma_sq[i]) / c  # gamma
        sigma = math.sqrt(sigma_sq[i]) * math.sqrt(max(1 - delta, params.kappa))
        updated[name] = SkillRating(mu[i] + omega, sigma)
    return updated


def replay_plackett_luce(
    rankings: Sequence[RankingInput], params: WengLinParams = WengLinParams()
) -> list[dict[str, SkillRating]]:
    """Ratings of every model seen so far after each ranking, in order."""
    state: dict[str, SkillRating] = {}
    history = []
    for index, ranking in enumerate(rankings):
        try:
            state = state | rate_plackett_luce(state, ranking, params)
        except ValueError as exc:
            raise ValueError(f"ranking {index}: {exc}") from None
        history.append(dict(state))
    return history

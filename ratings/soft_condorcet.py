"""Soft Condorcet Optimization (SCO): ratings that agree with as many votes as possible.

Lanctot et al. 2024, "Soft Condorcet Optimization for Ranking of General Agents"
(arXiv:2411.00119), as in open_spiel ``python/voting/soft_condorcet_optimization.py``:

    L(theta) = 1/|V| * sum over votes v, over pairs (a above b in v) of
               w_v * sigmoid((theta_b - theta_a) / tau)

minimised by full-batch projected gradient descent from the midpoint of
``[lower, upper]`` (open_spiel defaults: tau 1, lr 0.01, 1000 iterations, [0, 1000]).
The loss counts smoothed pairwise disagreements, so unlike Elo/BT it is not pulled by
margins: it approximates the Kemeny ranking and puts a Condorcet winner first.
Votes are tiered rankings; entries tied in one tier express no preference and add no
pair. This is the deterministic full-batch mode (the C++ SGD variant samples batches).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ratings.data import RankingInput, normalize_ranking

__all__ = [
    "SoftCondorcetResult",
    "fit_soft_condorcet",
    "fit_soft_condorcet_pairs",
    "preference_pairs",
]


@dataclass(frozen=True, eq=False)
class SoftCondorcetResult:
    """SCO ratings (higher is better) with the final loss and every hyper-parameter."""

    models: tuple[str, ...]
    ratings: NDArray[np.float64]
    loss: float
    temperature: float
    learning_rate: float
    iterations: int
    lower: float
    upper: float
    method: str = "soft_condorcet"

    def as_dict(self) -> dict[str, float]:
        return dict(zip(self.models, self.ratings.tolist(), strict=True))

    def params(self) -> dict[str, float]:
        return {
            "temperature": self.temperature,
            "learning_rate": self.learning_rate,
            "iterations": self.iterations,
            "lower": self.lower,
            "upper": self.upper,
        }


def preference_pairs(
    rankings: Sequence[RankingInput],
    models: Sequence[str] | None = None,
    weights: Sequence[float] | None = None,
) -> tuple[tuple[str, ...], NDArray[np.intp], NDArray[np.intp], NDArray[np.float64]]:
    """Every strict preference (above, below, vote weight) in the votes, as index arrays."""
    if weights is not None and len(weights) != len(rankings):
        raise ValueError(f"weights: expected {len(rankings)} values, got {len(weights)}")
    tiers_per_vote = []
    for index, ranking in enumerate(rankings):
        try:
            tiers_per_vote.append(normalize_ranking(ranking))
        except ValueError as exc:
            raise ValueError(f"vote {index}: {exc}") from None
    names = {name for tiers in tiers_per_vote for tier in tiers for name in tier}
    universe = tuple(sorted(names if models is None else set(models)))
    if not names <= set(universe):
        raise ValueError(f"votes name models outside 'models': {sorted(names - set(universe))}")
    lookup = {name: k for k, name in enumerate(universe)}
    above: list[int] = []
    below: list[int] = []
    pair_weight: list[float] = []
    for index, tiers in enumerate(tiers_per_vote):
        weight = 1.0 if weights is None else float(weights[index])
        for level, tier in enumerate(tiers):
            worse = [lookup[name] for lower_tier in tiers[level + 1 :] for name in lower_tier]
            for name in tier:
                above.extend([lookup[name]] * len(worse))
                below.extend(worse)
                pair_weight.extend([weight] * len(worse))
    return (
        universe,
        np.asarray(above, dtype=np.intp),
        np.asarray(below, dtype=np.intp),
        np.asarray(pair_weight, dtype=np.float64),
    )


def _sigmoid(x: NDArray[np.float64]) -> NDArray[np.float64]:
    return np.asarray(0.5 * (1.0 + np.tanh(0.5 * x)), dtype=np.float64)


def fit_soft_condorcet(
    votes: Sequence[RankingInput],
    *,
    temperature: float = 1.0,
    learning_rate: float = 0.01,
    iterations: int = 1000,
    lower: float = 0.0,
    upper: float = 1000.0,
    weights: Sequence[float] | None = None,
    models: Sequence[str] | None = None,
) -> SoftCondorcetResult:
    """Full-batch SCO on tiered votes (best first); deterministic, no seed needed."""
    if not votes:
        raise ValueError("votes: need at least one vote")
    universe, above, below, weight = preference_pairs(votes, models, weights)
    return fit_soft_condorcet_pairs(
        universe,
        above,
        below,
        weight,
        n_votes=len(votes),
        temperature=temperature,
        learning_rate=learning_rate,
        iterations=iterations,
        lower=lower,
        upper=upper,
    )


def fit_soft_condorcet_pairs(
    models: Sequence[str],
    above: NDArray[np.intp],
    below: NDArray[np.intp],
    weight: NDArray[np.float64],
    *,
    n_votes: float,
    temperature: float = 1.0,
    learning_rate: float = 0.01,
    iterations: int = 1000,
    lower: float = 0.0,
    upper: float = 1000.0,
) -> SoftCondorcetResult:
    """The same from the votes' strict preferences already summed per (above, below) pair
    (``preference_pairs`` gives them one per vote; counts per pair give the same fit):
    what a leaderboard kept as counts has. ``n_votes`` is the number of votes |V|."""
    if temperature <= 0 or learning_rate <= 0 or iterations < 0 or not lower < upper:
        raise ValueError("need temperature > 0, learning_rate > 0, iterations >= 0, lower < upper")
    if n_votes <= 0:
        raise ValueError("n_votes: need at least one vote")
    n = len(models)
    theta = np.full(n, (upper - lower) / 2 + lower)
    scale = weight / temperature / n_votes
    for _ in range(iterations):
        s = _sigmoid((theta[below] - theta[above]) / temperature)
        push = s * (1.0 - s) * scale
        grad = np.bincount(below, push, n) - np.bincount(above, push, n)
        theta = np.clip(theta - learning_rate * grad, lower, upper)
    loss = float(np.sum(weight * _sigmoid((theta[below] - theta[above]) / temperature)) / n_votes)
    theta.setflags(write=False)
    return SoftCondorcetResult(
        models=tuple(models),
        ratings=theta,
        loss=loss,
        temperature=temperature,
        learning_rate=learning_rate,
        iterations=iterations,
        lower=lower,
        upper=upper,
    )

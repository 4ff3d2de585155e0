"""Classic rank aggregation of tiered votes: Borda, Copeland, Kemeny-Young.

Useful as transparent baselines next to the statistical models and for K-wise judges,
where a small panel's rankings must be merged into one order.

- Borda: an entry scores the number of entries it beats in a vote plus half its
  tie-mates; scores add up over votes (partial votes only score their own entries).
- Copeland: 1 per head-to-head majority won, 0.5 per tied (or never held) majority.
- Kemeny-Young: the strict order agreeing with the most pairwise preferences, found by
  dynamic programming over subsets (exact, O(2^n n^2), so capped at ``max_models``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ratings.data import RankingInput
from ratings.soft_condorcet import preference_pairs

__all__ = ["AggregateResult", "borda", "copeland", "kemeny_young", "preference_matrix"]


@dataclass(frozen=True, eq=False)
class AggregateResult:
    """Scores (higher is better) and the order they imply, best first."""

    models: tuple[str, ...]
    scores: NDArray[np.float64]
    order: tuple[str, ...]
    method: str

    def as_dict(self) -> dict[str, float]:
        return dict(zip(self.models, self.scores.tolist(), strict=True))


def preference_matrix(
    votes: Sequence[RankingInput], *, weights: Sequence[float] | None = None
) -> tuple[tuple[str, ...], NDArray[np.float64]]:
    """``M[i, j]`` = (weighted) number of votes ranking i strictly above j."""
    models, above, below, weight = preference_pairs(votes, weights=weights)
    matrix = np.zeros((len(models), len(models)))
    np.add.at(matrix, (above, below), weight)
    return models, matrix


def _result(models: tuple[str, ...], scores: NDArray[np.float64], method: str) -> AggregateResult:
    order = tuple(
        models[k] for k in sorted(range(len(models)), key=lambda k: (-scores[k], models[k]))
    )
    scores.setflags(write=False)
    return AggregateResult(models, scores, order, method)


def borda(
    votes: Sequence[RankingInput], *, weights: Sequence[float] | None = None
) -> AggregateResult:
    """Borda count with ties scored as half a point per tie-mate."""
    models, matrix = preference_matrix(votes, weights=weights)
    n = len(models)
    beaten = matrix.sum(axis=1)
    # tie-mates: pairs in the same tier appear in neither direction of the matrix
    lookup = {name: k for k, name in enumerate(models)}
    half = np.zeros(n)
    for index, vote in enumerate(votes):
        w = 1.0 if weights is None else float(weights[index])
        for tier in vote:
            for name in tier:
                half[lookup[name]] += 0.5 * w * (len(tier) - 1)
    return _result(models, np.asarray(beaten + half, dtype=np.float64), "borda")


def copeland(
    votes: Sequence[RankingInput], *, weights: Sequence[float] | None = None
) -> AggregateResult:
    """Copeland score: head-to-head majorities won, ties (including unmet pairs) half."""
    models, matrix = preference_matrix(votes, weights=weights)
    wins = (matrix > matrix.T).sum(axis=1)
    ties = (matrix == matrix.T).sum(axis=1) - 1  # minus the diagonal
    return _result(models, np.asarray(wins + 0.5 * ties, dtype=np.float64), "copeland")


def kemeny_young(
    votes: Sequence[RankingInput], *, weights: Sequence[float] | None = None, max_models: int = 16
) -> AggregateResult:
    """Exact Kemeny-Young order; ``scores`` are n-1 for the first model down to 0.

    Among equally good orders the first found in a fixed search order (subsets in
    increasing bitmask order, models by sorted name) wins, so the answer is deterministic.
    """
    models, matrix = preference_matrix(votes, weights=weights)
    n = len(models)
    if n > max_models:
        raise ValueError(
            f"kemeny_young: {n} models exceed max_models={max_models} (exact search is O(2^n))"
        )
    full = (1 << n) - 1
    # agreement gained by placing x above everyone not yet placed (x excluded)
    best = np.full(1 << n, -np.inf)
    choice = np.full(1 << n, -1, dtype=np.int64)
    best[0] = 0.0
    for placed in range(1 << n):
        if best[placed] == -np.inf:
            continue
        rest = [y for y in range(n) if not placed >> y & 1]
        for x in rest:
            gain = sum(matrix[x, y] for y in rest if y != x)
            nxt = placed | 1 << x
            if best[placed] + gain > best[nxt] + 1e-12:
                best[nxt] = best[placed] + gain
                choice[nxt] = x
    order: list[int] = []
    state = full
    while state:
        x = int(choice[state])
        order.append(x)
        state &= ~(1 << x)
    order.reverse()
    scores = np.zeros(n)
    for position, x in enumerate(order):
        scores[x] = n - 1 - position
    return _result(models, scores, "kemeny_young")

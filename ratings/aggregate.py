"""Rank aggregation of tiered votes: Borda, Copeland, Kemeny-Young, Soft Condorcet.

Useful as transparent baselines next to the statistical models, for K-wise judges, where
a small panel's rankings must be merged into one order, and for rankings across tasks
(one vote per task or category: ``rankings_from_scores`` turns an agent x task score
table into such votes).

- Borda: an entry scores the number of entries it beats in a vote plus half its
  tie-mates; scores add up over votes (partial votes only score their own entries).
- Copeland: 1 per head-to-head majority won, 0.5 per tied (or never held) majority.
- Kemeny-Young: the strict order agreeing with the most pairwise preferences, found by
  dynamic programming over subsets (exact, O(2^n n^2), so capped at ``max_models``).
  ``kemeny`` is exact up to ``KEMENY_EXACT_MAX`` models and beyond that a local search:
  from the better of the Borda and Copeland orders, move one model to the position that
  raises the agreement most, until no single move raises it. The result is a local
  optimum (no better order one insertion away; adjacent swaps are insertions one step
  away), not always the Kemeny order, and never agrees less than its start.
- Soft Condorcet (``soft_condorcet``): ``ratings.soft_condorcet`` at ``RATING_SCALE``,
  ratings around 1000 whose gaps read like Elo points, on the same votes.

A vote need not rank every model: a model missing from a vote (an agent not run on a
task) has no preference there. Borda then favours models that appear in more votes (it
adds points per vote); Copeland, Kemeny and Soft Condorcet compare only the pairs met.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ratings.data import RankingInput
from ratings.metrics import kendall_tau
from ratings.soft_condorcet import RATING_SCALE, fit_soft_condorcet_pairs, preference_pairs

__all__ = [
    "AGGREGATORS",
    "KEMENY_EXACT_MAX",
    "AggregateResult",
    "Profile",
    "aggregate_all",
    "agreement",
    "borda",
    "copeland",
    "kemeny",
    "kemeny_local_search",
    "kemeny_young",
    "method_taus",
    "preference_matrix",
    "rankings_from_scores",
    "soft_condorcet",
]

# Exact Kemeny up to this many models (2^8 subsets: instant); a local search beyond.
KEMENY_EXACT_MAX = 8


@dataclass(frozen=True, eq=False)
class AggregateResult:
    """Scores (higher is better) and the order they imply, best first."""

    models: tuple[str, ...]
    scores: NDArray[np.float64]
    order: tuple[str, ...]
    method: str
    params: Mapping[str, Any] = field(default_factory=dict)

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


def _result(
    models: tuple[str, ...],
    scores: NDArray[np.float64],
    method: str,
    params: Mapping[str, Any] | None = None,
) -> AggregateResult:
    order = tuple(
        models[k] for k in sorted(range(len(models)), key=lambda k: (-scores[k], models[k]))
    )
    scores.setflags(write=False)
    return AggregateResult(models, scores, order, method, dict(params or {}))


@dataclass(frozen=True, eq=False)
class Profile:
    """What every method reads from the votes, computed once: the models (sorted), the
    preference matrix, each model's weighted number of tie-mates and the number of votes."""

    models: tuple[str, ...]
    matrix: NDArray[np.float64]
    tie_mates: NDArray[np.float64]
    n_votes: int

    @classmethod
    def of(cls, votes: Sequence[RankingInput], weights: Sequence[float] | None = None) -> Profile:
        models, matrix = preference_matrix(votes, weights=weights)
        # tie-mates: pairs in the same tier appear in neither direction of the matrix
        lookup = {name: k for k, name in enumerate(models)}
        tie_mates = np.zeros(len(models))
        for index, vote in enumerate(votes):
            w = 1.0 if weights is None else float(weights[index])
            for tier in vote:
                for name in tier:
                    tie_mates[lookup[name]] += w * (len(tier) - 1)
        return cls(models, matrix, tie_mates, len(votes))


def borda(
    votes: Sequence[RankingInput], *, weights: Sequence[float] | None = None
) -> AggregateResult:
    """Borda count with ties scored as half a point per tie-mate."""
    return _borda(Profile.of(votes, weights))


def _borda(profile: Profile) -> AggregateResult:
    scores = profile.matrix.sum(axis=1) + 0.5 * profile.tie_mates
    return _result(profile.models, np.asarray(scores, dtype=np.float64), "borda")


def copeland(
    votes: Sequence[RankingInput], *, weights: Sequence[float] | None = None
) -> AggregateResult:
    """Copeland score: head-to-head majorities won, ties (including unmet pairs) half."""
    return _copeland(Profile.of(votes, weights))


def _copeland(profile: Profile) -> AggregateResult:
    matrix = profile.matrix
    wins = (matrix > matrix.T).sum(axis=1)
    ties = (matrix == matrix.T).sum(axis=1) - 1  # minus the diagonal
    scores = np.asarray(wins + 0.5 * ties, dtype=np.float64)
    return _result(profile.models, scores, "copeland")


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
    return _positional(models, _kemeny_exact(matrix), "kemeny_young")


def _kemeny_exact(matrix: NDArray[np.float64]) -> list[int]:
    """The Kemeny order (indices, best first) by dynamic programming over subsets."""
    n = len(matrix)
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
    return order


def _positional(
    models: tuple[str, ...],
    order: Sequence[int],
    method: str,
    params: Mapping[str, Any] | None = None,
) -> AggregateResult:
    """Scores n-1 for the first model of ``order`` down to 0 for the last."""
    n = len(models)
    scores = np.zeros(n)
    for position, x in enumerate(order):
        scores[x] = n - 1 - position
    return _result(models, scores, method, params)


def agreement(matrix: NDArray[np.float64], order: Sequence[int]) -> float:
    """The weight of the preferences an order (indices, best first) agrees with: the
    quantity Kemeny-Young maximises."""
    index = np.asarray(order, dtype=np.intp)
    return float(np.triu(matrix[np.ix_(index, index)], k=1).sum())


def kemeny_local_search(matrix: NDArray[np.float64], start: Sequence[int]) -> tuple[list[int], int]:
    """From ``start`` (indices, best first), make the single insertion (one model moved to
    another position; an adjacent swap is one) that raises the agreement most, until none
    raises it. Returns the order and the number of moves. Deterministic: of equally good
    moves the first (by the model's position, then the target) wins. A local optimum: no
    order one insertion away agrees more; the agreement only ever rises."""
    order = np.array(start, dtype=np.intp)
    gain = matrix - matrix.T  # gain[x, y]: agreement won by putting x above y
    tolerance = 1e-12 * max(1.0, float(matrix.sum()))
    n = len(order)
    below, above = np.tril_indices(n, k=-1), np.triu_indices(n, k=1)
    moves = 0
    while n > 1:
        ordered = gain[np.ix_(order, order)]
        # prefix[i, j]: the gain of the model at position i over those at positions < j.
        # To j < i it passes positions j..i-1; to j > i, positions i+1..j pass it.
        prefix = np.concatenate([np.zeros((n, 1)), np.cumsum(ordered, axis=1)], axis=1)
        here = prefix[np.arange(n), np.arange(n)][:, None]
        delta = np.full((n, n), -np.inf)
        delta[below] = (here - prefix[:, :n])[below]
        delta[above] = (here - prefix[:, 1:])[above]
        flat = int(np.argmax(delta))  # row-major: the first by position, then target
        if delta.flat[flat] <= tolerance:
            break
        i, j = divmod(flat, n)
        order = np.insert(np.delete(order, i), j, order[i])
        moves += 1
    return order.tolist(), moves


def kemeny(
    votes: Sequence[RankingInput],
    *,
    weights: Sequence[float] | None = None,
    exact_max: int = KEMENY_EXACT_MAX,
) -> AggregateResult:
    """Kemeny-Young: exact up to ``exact_max`` models, else ``kemeny_local_search`` from
    the Borda or Copeland order, whichever agrees more (Borda on a tie). ``params`` say
    which search ran, its start and moves, and the agreement reached."""
    return _kemeny(Profile.of(votes, weights), exact_max)


def _kemeny(profile: Profile, exact_max: int = KEMENY_EXACT_MAX) -> AggregateResult:
    models, matrix = profile.models, profile.matrix
    if len(models) <= exact_max:
        order = _kemeny_exact(matrix)
        params: dict[str, Any] = {"search": "exact"}
    else:
        lookup = {name: k for k, name in enumerate(models)}
        starts = {
            name: [lookup[m] for m in method(profile).order]
            for name, method in (("borda", _borda), ("copeland", _copeland))
        }
        start = max(starts, key=lambda name: agreement(matrix, starts[name]))
        order, moves = kemeny_local_search(matrix, starts[start])
        params = {
            "search": "local (insertions from the start order; a local optimum)",
            "start": start,
            "start_agreement": agreement(matrix, starts[start]),
            "moves": moves,
        }
    params |= {"agreement": agreement(matrix, order), "preferences": float(matrix.sum())}
    return _positional(models, order, "kemeny", params)


def soft_condorcet(
    votes: Sequence[RankingInput], *, weights: Sequence[float] | None = None
) -> AggregateResult:
    """Soft Condorcet ratings at ``RATING_SCALE`` (gaps read like Elo points)."""
    return _soft_condorcet(Profile.of(votes, weights))


def _soft_condorcet(profile: Profile) -> AggregateResult:
    # the votes' preferences summed per pair give the same fit as one per vote
    above, below = np.nonzero(profile.matrix)
    fit = fit_soft_condorcet_pairs(
        profile.models,
        above.astype(np.intp),
        below.astype(np.intp),
        profile.matrix[above, below],
        n_votes=profile.n_votes,
        **RATING_SCALE,
    )
    params = dict(fit.params()) | {"loss": fit.loss}
    return _result(fit.models, np.array(fit.ratings, dtype=np.float64), "sco", params)


AGGREGATORS: dict[str, Callable[[Profile], AggregateResult]] = {
    "borda": _borda,
    "copeland": _copeland,
    "kemeny": _kemeny,
    "sco": _soft_condorcet,
}


def aggregate_all(
    votes: Sequence[RankingInput],
    *,
    weights: Sequence[float] | None = None,
    methods: Sequence[str] = tuple(AGGREGATORS),
) -> dict[str, AggregateResult]:
    """Each method's result on the same votes, by method name (``AGGREGATORS``); the
    votes are read once."""
    unknown = [name for name in methods if name not in AGGREGATORS]
    if unknown:
        raise ValueError(f"methods: unknown {unknown} (known: {', '.join(AGGREGATORS)})")
    profile = Profile.of(votes, weights)
    return {name: AGGREGATORS[name](profile) for name in methods}


def method_taus(results: Mapping[str, AggregateResult]) -> dict[str, dict[str, float]]:
    """Kendall tau-b between every two methods' scores (ties count as ties), over the
    models both rate; NaN where fewer than two models or a method ties them all."""
    taus: dict[str, dict[str, float]] = {name: {} for name in results}
    for (a, first), (b, second) in itertools.combinations(results.items(), 2):
        common = sorted(set(first.models) & set(second.models))
        tau = math.nan
        if len(common) >= 2:
            x, y = first.as_dict(), second.as_dict()
            tau = kendall_tau([x[m] for m in common], [y[m] for m in common])
        taus[a][b] = taus[b][a] = tau
    return taus


def rankings_from_scores(
    scores: Mapping[str, Mapping[str, float]],
) -> dict[str, tuple[tuple[str, ...], ...]]:
    """Per task, its models in tiers by score, higher first; equal scores share a tier.
    ``scores[task][model]``; a model without a score on a task is not in its ranking, and
    a task with fewer than two scored models ranks nothing (left out)."""
    rankings = {}
    for task, row in scores.items():
        if len(row) < 2:
            continue
        by_score = sorted(row.items(), key=lambda item: (-item[1], item[0]))
        rankings[task] = tuple(
            tuple(name for name, _ in tier)
            for _, tier in itertools.groupby(by_score, key=lambda item: item[1])
        )
    return rankings

"""Estimators: what a strategy's verdicts are refitted with at each checkpoint (BT with
sandwich intervals, online Elo, Plackett-Luce, Weng-Lin, both orders merged, graded BT
with a position term)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from arena.formats.adaptive import Tally, fit
from ratings.bayesian import SkillRating, rate_plackett_luce
from ratings.data import Battles, Outcome
from ratings.elo import online_elo
from ratings.graded import GradedFit, fit_graded_bt
from ratings.plackett_luce import fit_plackett_luce
from simulator.judge import Calls, Rows, implied_pairs, tiers_of

PRIOR = 0.01


@dataclass(frozen=True, eq=False)
class Estimate:
    scores: NDArray[np.float64]
    low: NDArray[np.float64] | None = None
    high: NDArray[np.float64] | None = None


class Estimator(Protocol):
    def observe(self, order: Rows, ties: NDArray[np.bool_]) -> None: ...

    def estimate(self) -> Estimate: ...


class BTEstimator:
    """Bradley-Terry (prior ``PRIOR``) on every implied pair, 95% sandwich intervals."""

    def __init__(self, n: int) -> None:
        self.tally = Tally(n)

    def observe(self, order: Rows, ties: NDArray[np.bool_]) -> None:
        self.tally.record_pairs(*implied_pairs(order, ties))

    def estimate(self) -> Estimate:
        result = fit(self.tally)
        return Estimate(result.ratings, result.low, result.high)


class EloEstimator:
    """Online Elo (FastChat conventions, K = 4) over the pairs in the order judged."""

    def __init__(self, n: int) -> None:
        self.models = tuple(f"{k:06d}" for k in range(n))
        self.parts: list[tuple[Rows, Rows, NDArray[np.int8]]] = []

    def observe(self, order: Rows, ties: NDArray[np.bool_]) -> None:
        self.parts.append(implied_pairs(order, ties))

    def estimate(self) -> Estimate:
        a, b, codes = (np.concatenate([p[k] for p in self.parts]) for k in range(3))
        battles = Battles(self.models, a, b, codes.astype(np.int8), np.ones(a.size))
        return Estimate(online_elo(battles).ratings)


class PLEstimator:
    """Plackett-Luce MLE (prior ``PRIOR``) on the whole rankings."""

    def __init__(self, n: int) -> None:
        self.models = tuple(f"{k:06d}" for k in range(n))
        self.rankings: list[list[list[str]]] = []

    def observe(self, order: Rows, ties: NDArray[np.bool_]) -> None:
        for row, tie in zip(order.tolist(), ties.tolist(), strict=True):
            tiers = tiers_of(row, tie)
            self.rankings.append([[self.models[c] for c in t] for t in tiers])

    def estimate(self) -> Estimate:
        result = fit_plackett_luce(self.rankings, prior=PRIOR, models=self.models, tol=1e-6)
        return Estimate(np.asarray(result.log_strengths, dtype=np.float64))


class BayesEstimator:
    """Weng-Lin Plackett-Luce online ratings; scores are the means."""

    def __init__(self, n: int) -> None:
        self.models = tuple(f"{k:06d}" for k in range(n))
        self.state: dict[str, SkillRating] = {}

    def observe(self, order: Rows, ties: NDArray[np.bool_]) -> None:
        for row, tie in zip(order.tolist(), ties.tolist(), strict=True):
            ranking = [[self.models[c] for c in t] for t in tiers_of(row, tie)]
            self.state.update(rate_plackett_luce(self.state, ranking))

    def estimate(self) -> Estimate:
        default = SkillRating(25.0, 25.0 / 3.0)
        return Estimate(np.array([self.state.get(m, default).mu for m in self.models]))


@runtime_checkable
class CallEstimator(Protocol):
    """An estimator that reads whole calls (answer order, graded scores), not only the
    rankings; ``run`` gives it every call in the order judged."""

    def observe_calls(self, calls: Calls) -> None: ...

    def estimate(self) -> Estimate: ...


def first_scores(calls: Calls) -> NDArray[np.float64]:
    """The first answer's score per pairwise call: the judge's graded score when it gave
    one, else the verdict's (1 a win, 1/2 a tie, 0 a loss)."""
    if calls.first_score is not None:
        return calls.first_score
    won = calls.order[:, 0] == calls.entrants[:, 0]
    return np.where(calls.ties[:, 0], 0.5, np.where(won, 1.0, 0.0))


class BothOrdersBTEstimator:
    """BT (as ``BTEstimator``) on pairs judged in both orders, each pair's two verdicts
    merged as the product merges them (``judges.pairwise.combine_votes``, the default
    ``order_disagreement: tie``): the same verdict in both orders stands, any
    disagreement (a win against a loss or a tie) is a tie. Calls come in twos, rows
    2k and 2k + 1 being one pair's two orders; a lone first order waits for its second."""

    def __init__(self, n: int) -> None:
        self.tally = Tally(n)
        self.pending: Calls | None = None

    def observe_calls(self, calls: Calls) -> None:
        if self.pending is not None:
            calls = Calls(
                np.concatenate([self.pending.entrants, calls.entrants]),
                np.concatenate([self.pending.order, calls.order]),
                np.concatenate([self.pending.ties, calls.ties]),
            )
        whole = len(calls) - len(calls) % 2
        self.pending = calls.part(slice(whole, None)) if whole < len(calls) else None
        if whole == 0:
            return
        one, other = calls.part(slice(0, whole, 2)), calls.part(slice(1, whole, 2))
        if np.any(one.entrants != other.entrants[:, ::-1]):
            raise ValueError("both-orders calls must come as (a, b) then (b, a)")
        tie = one.ties[:, 0] | other.ties[:, 0] | (one.order[:, 0] != other.order[:, 0])
        codes = np.where(tie, int(Outcome.TIE), int(Outcome.A_WINS)).astype(np.int8)
        self.tally.record_pairs(one.order[:, 0], one.order[:, 1], codes)

    def estimate(self) -> Estimate:
        result = fit(self.tally)
        return Estimate(result.ratings, result.low, result.high)


class GradedEstimator:
    """Every call an observation of the first answer's score (graded from a graded judge,
    else 1 / 1/2 / 0), fitted by ``ratings.graded.fit_graded_bt`` (prior ``PRIOR``, 95%
    Fisher intervals) with a first-position term when ``position``. Kept as an M x M
    count and score sum per (first shown, second shown)."""

    def __init__(self, n: int, position: bool = True) -> None:
        self.models = tuple(f"{k:06d}" for k in range(n))
        self.position = position
        self.count = np.zeros((n, n))
        self.score = np.zeros((n, n))
        self.last: GradedFit | None = None

    def observe_calls(self, calls: Calls) -> None:
        cell = (calls.entrants[:, 0], calls.entrants[:, 1])
        np.add.at(self.count, cell, 1.0)
        np.add.at(self.score, cell, first_scores(calls))

    def estimate(self) -> Estimate:
        first, second = np.nonzero(self.count)
        if first.size == 0:
            n = len(self.models)
            return Estimate(np.full(n, 1000.0), np.full(n, -math.inf), np.full(n, math.inf))
        self.last = fit_graded_bt(
            self.models, first, second, self.count[first, second], self.score[first, second],
            position=self.position, prior=PRIOR,
        )  # fmt: skip
        return Estimate(self.last.ratings, self.last.ci_low, self.last.ci_high)

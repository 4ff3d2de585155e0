"""Adaptive pairwise format: an active sampler picks the most informative next pairs.

Every step (the engine asks when no match is open) refits Bradley-Terry with a small
Gaussian prior (``PRIOR``, so early, disconnected data never fails) on every judged match,
then:

1. stops when ``max_matches`` matches are planned (the budget; failed matches count, they
   were judge calls), or when the confidence ``target`` is met: ``"adjacent"``: every two
   neighbours in the rating order have disjoint 95% intervals; ``"top_k"``: the ``top_k``
   best are separated from the rest (the lowest lower bound among them is above every
   other upper bound); ``"none"`` (default): only the budget stops it. Intervals are the
   sandwich (robust) ones of ``ratings.bootstrap``, cheap enough for every step. The
   target is only checked once every contestant has ``MIN_JUDGED`` judged matches.
2. otherwise plans a batch of ``batch`` matches (fewer if the budget runs out), chosen
   from ``ratings.sampling`` by ``sampler``: ``"ci_reduction"`` (Chatbot Arena Eq. 9, the
   pair's outcome variance ``p (1 - p)`` from the fit), ``"ucb"``, ``"info_gain"``
   (expected entropy reduction weighted by the entropy of the pair's order, for the whole
   ranking), ``"top_k"`` (LUCB-style: the comparisons that most shrink the intervals
   crossing the boundary between rank ``top_k`` and ``top_k + 1``; needs ``top_k``),
   ``"uniform"`` or
   ``"inverse_count"``. Picks are sequential with virtual updates (counts; for
   ``info_gain`` and ``top_k`` also the posterior covariance, as if the picked comparison
   had been judged; rescored after every pick, or every ``batch // 32`` picks in big
   batches), and a pair is not picked twice in a batch unless every pair already is in
   it, except with ``top_k``, whose virtual updates are what discounts a repeat: it
   works on a few boundary contestants, so a batch that may hold each pair once forces
   most of a big batch onto pairs that tell nothing about the boundary.

Answer order: whoever has been shown first less often than second (relative to the
other) goes first, else a seeded coin.
Prompts cycle through a seeded shuffle of the prompt set, one per match. Round r is the
r-th batch; slots are 0..B-1, so (round, slot) is unique.

``planned_total`` is ``max_matches`` while running (an upper bound: a target can stop it
sooner) and the number actually planned once finished. Standings: BT rating order;
contestants without a judged match come last.

The decision code works on a ``Tally`` (sufficient statistics), so the simulator
(the ``simulator`` package) runs exactly these decisions without replaying the
whole history at every step: ``Tally.from_state`` + ``decide`` is all ``next_step`` does.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from arena.formats._common import (
    check_basics,
    check_unknown,
    open_count,
    prompt_order,
    require_choice,
    require_pairwise,
    seeded_rng,
    tiers_by,
)
from arena.formats.base import ConfigError, FormatState, PlannedMatch, Step, Tiers, require_int
from ratings.bootstrap import sandwich_bradley_terry
from ratings.bradley_terry import fit_bradley_terry
from ratings.data import Cells, Outcome
from ratings.sampling import (
    ELO_PER_NAT,
    all_pairs,
    arena_probabilities,
    bt_fisher_covariance,
    choose_pairs,
    information_gain_probabilities,
    inverse_count_probabilities,
    pair_variance_from_covariance,
    top_k_priorities,
    ucb_priorities,
    uniform_probabilities,
    virtual_update,
)

NAME = "adaptive"
OPTIONS = ("k", "sampler", "batch", "max_matches", "target", "top_k")
SAMPLERS = ("ci_reduction", "ucb", "info_gain", "top_k", "uniform", "inverse_count")
COVARIANCE_SAMPLERS = ("info_gain", "top_k")
# The covariance samplers rescore the pairs this many times per batch (every pick for
# batches up to 2 * RESCORES - 1): big batches stay cheap, the virtual updates still count.
RESCORES = 32
# Samplers that may pick a pair again within a batch. ``top_k`` spends nearly everything
# on the 2-4 contestants around rank k; held to one comparison per pair and batch, each of
# them met every other contestant equally often, rank 64 as often as its neighbours
# (measured at M = 64, batch 512), and needed several times more calls
# (benchmarks/README.md has the figures).
REPEATING_SAMPLERS = ("top_k",)
# Samplers that take their best pairs rather than drawing by probability.
ARGMAX_SAMPLERS = ("ucb", "top_k")
TARGETS = ("none", "adjacent", "top_k")
PRIOR = 0.01  # Gaussian penalty on natural log-strengths: finite fits from the first match
LEVEL = 0.95
MIN_JUDGED = 3  # judged matches per contestant before a target may stop the tournament
DEFAULT_BATCH = 8
MATCHES_PER_CONTESTANT = 20  # default budget: 20 N


def default_max_matches(n_contestants: int) -> int:
    return MATCHES_PER_CONTESTANT * n_contestants


class Tally:
    """What the decisions need to know about the matches so far, by contestant index.

    ``wins[i, j]``: judged matches i won against j; ``ties[i, j]`` (i < j): ties;
    ``pair_count[i, j]`` (symmetric): planned matches of the pair (failed ones included);
    ``first[i]``: planned matches where i answered first; ``judged[i]``: i's judged matches.
    """

    def __init__(self, n: int) -> None:
        self.n = n
        self.wins = np.zeros((n, n))
        self.ties = np.zeros((n, n))
        self.pair_count = np.zeros((n, n))
        self.first = np.zeros(n)
        self.judged = np.zeros(n)
        self.planned = 0

    @classmethod
    def from_state(cls, state: FormatState) -> Tally:
        index = {c: k for k, c in enumerate(sorted(state.contestants))}
        tally = cls(len(index))
        for m in state.planned:
            tally.plan([index[c] for c in m.entrants])
        for r in state.results:
            if r.ranking is not None:
                tally.record([[index[c] for c in tier if c in index] for tier in r.ranking])
        return tally

    def plan(self, entrants: Sequence[int]) -> None:
        self.planned += 1
        self.first[entrants[0]] += 1
        for a_pos, a in enumerate(entrants):
            for b in entrants[a_pos + 1 :]:
                self.pair_count[a, b] += 1
                self.pair_count[b, a] += 1

    def record(self, ranking: Sequence[Sequence[int]]) -> None:
        """One judged match: tiers of indices, best first (K-wise counts as its pairs)."""
        placed = [(c, level) for level, tier in enumerate(ranking) for c in tier]
        for c, _ in placed:
            self.judged[c] += 1
        for k, (a, level_a) in enumerate(placed):
            for b, level_b in placed[k + 1 :]:
                if level_a == level_b:
                    self.ties[min(a, b), max(a, b)] += 1
                else:
                    self.wins[a, b] += 1

    def record_pairs(
        self, a: NDArray[np.intp], b: NDArray[np.intp], outcome: NDArray[np.int8]
    ) -> None:
        """Many judged pairwise matches at once (``outcome``: ``ratings.data.Outcome`` codes)."""
        np.add.at(self.judged, a, 1)
        np.add.at(self.judged, b, 1)
        win_a = outcome == Outcome.A_WINS
        win_b = outcome == Outcome.B_WINS
        tie = ~(win_a | win_b)
        np.add.at(self.wins, (a[win_a], b[win_a]), 1)
        np.add.at(self.wins, (b[win_b], a[win_b]), 1)
        np.add.at(self.ties, (np.minimum(a, b)[tie], np.maximum(a, b)[tie]), 1)

    def plan_pairs(self, first: NDArray[np.intp], second: NDArray[np.intp]) -> None:
        self.planned += int(first.size)
        np.add.at(self.first, first, 1)
        np.add.at(self.pair_count, (first, second), 1)
        np.add.at(self.pair_count, (second, first), 1)

    def cells(self) -> Cells:
        """The judged matches as ``ratings`` cells (one per pair and outcome)."""
        i, j = np.triu_indices(self.n, k=1)
        parts = (
            (Outcome.A_WINS, self.wins[i, j]),
            (Outcome.TIE, self.ties[i, j]),
            (Outcome.B_WINS, self.wins[j, i]),
        )
        model_a, model_b, outcome, count = [], [], [], []
        for code, values in parts:
            keep = values > 0
            model_a.append(i[keep])
            model_b.append(j[keep])
            outcome.append(np.full(int(keep.sum()), int(code), dtype=np.int8))
            count.append(values[keep])
        counts = np.concatenate(count)
        return Cells(
            models=tuple(f"{k:06d}" for k in range(self.n)),
            model_a=np.concatenate(model_a).astype(np.intp),
            model_b=np.concatenate(model_b).astype(np.intp),
            outcome=np.concatenate(outcome),
            count=counts.astype(np.float64),
            n_battles=np.rint(counts).astype(np.int64),
        )


@dataclass(frozen=True, eq=False)
class Fit:
    """BT ratings (Elo scale) with 95% sandwich intervals, by contestant index."""

    ratings: NDArray[np.float64]
    low: NDArray[np.float64]
    high: NDArray[np.float64]


def fit(tally: Tally, *, intervals: bool = True) -> Fit:
    """BT with ``PRIOR`` on the tally; no data at all gives equal ratings, infinite CIs.

    ``intervals=False`` skips the sandwich (the bounds are then infinite): the samplers
    only need the ratings.
    """
    unbounded = np.full(tally.n, -math.inf), np.full(tally.n, math.inf)
    if not tally.judged.any():
        return Fit(np.full(tally.n, 1000.0), *unbounded)
    if not intervals:
        return Fit(fit_bradley_terry(tally.cells(), prior=PRIOR).ratings, *unbounded)
    result = sandwich_bradley_terry(tally.cells(), prior=PRIOR, level=LEVEL)
    return Fit(result.ratings, result.ci_low, result.ci_high)


def separated_top(result: Fit, k: int) -> NDArray[np.intp] | None:
    """The indices of the top k when their intervals clear everyone else's, else None."""
    order = np.argsort(-result.ratings, kind="stable")
    top, rest = order[:k], order[k:]
    if rest.size and result.low[top].min() > result.high[rest].max():
        return np.asarray(top, dtype=np.intp)
    return None


def adjacent_separated(result: Fit) -> bool:
    order = np.argsort(-result.ratings, kind="stable")
    return bool(np.all(result.low[order[:-1]] > result.high[order[1:]]))


def target_reached(tally: Tally, result: Fit, config: Mapping[str, Any]) -> bool:
    target = config.get("target", "none")
    if target == "none" or tally.judged.min() < MIN_JUDGED:
        return False
    if target == "adjacent":
        return adjacent_separated(result)
    return separated_top(result, int(config["top_k"])) is not None


def needs_fit(config: Mapping[str, Any]) -> bool:
    return config.get("target", "none") != "none" or config["sampler"] in (
        "ci_reduction",
        "ucb",
        *COVARIANCE_SAMPLERS,
    )


def needs_intervals(config: Mapping[str, Any]) -> bool:
    return bool(config.get("target", "none") != "none" or config["sampler"] == "top_k")


def games_matrix(tally: Tally) -> NDArray[np.float64]:
    """Judged comparisons per pair (symmetric)."""
    ties = tally.ties + tally.ties.T
    return np.asarray(tally.wins + tally.wins.T + ties, dtype=np.float64)


def choose_batch(
    tally: Tally, config: Mapping[str, Any], size: int, seed: int, result: Fit | None
) -> list[tuple[int, int]]:
    """``size`` pairs of indices, in answer order, from the configured sampler."""
    sampler = str(config["sampler"])
    pairs = all_pairs(tally.n)
    counts = tally.pair_count[pairs[:, 0], pairs[:, 1]].copy()
    first = tally.first.copy()
    played = tally.pair_count.sum(axis=1)
    p = np.full(len(pairs), 0.5)
    if result is not None:
        diff = result.ratings[pairs[:, 0]] - result.ratings[pairs[:, 1]]
        p = 1.0 / (1.0 + 10.0 ** (-diff / 400.0))
    posterior = Posterior.start(tally, result, pairs) if sampler in COVARIANCE_SAMPLERS else None
    rng = random.Random(seed)
    blocked = np.zeros(len(pairs), dtype=bool)
    chosen: list[tuple[int, int]] = []
    mode: Literal["sample", "argmax"] = "argmax" if sampler in ARGMAX_SAMPLERS else "sample"
    rescore_every = max(1, size // RESCORES)
    every = np.zeros(len(pairs))
    queue: list[int] = []
    for _ in range(size):
        if blocked.all():
            blocked[:] = False  # more matches than pairs: a new sweep of the pairs
        candidates = np.flatnonzero(~blocked)
        if posterior is not None and rescore_every > 1:
            if not queue:  # big batch: draw the next picks together from fresh scores
                every = posterior.scores(sampler, config)
                if every[candidates].sum() <= 0 < every.sum():
                    candidates = np.arange(len(pairs))
                queue = _draw(every[candidates], candidates, rescore_every, rng, mode)
            pick = queue.pop(0)
        else:
            if posterior is not None:
                every = posterior.scores(sampler, config)
                if every[candidates].sum() <= 0 < every.sum():
                    # only pairs already in the batch are worth a call: repeat them (their
                    # virtual updates already discount them) rather than spread at random
                    candidates = np.arange(len(pairs))
                scores = every[candidates]
            else:
                scores = _scores(sampler, pairs, counts, p, result)[candidates]
            if scores.sum() <= 0:
                scores = np.ones(candidates.size)
            chosen_index = choose_pairs(scores, 1, seed=rng.getrandbits(63), mode=mode)[0]
            pick = int(candidates[chosen_index])
        if sampler not in REPEATING_SAMPLERS:
            blocked[pick] = True
        counts[pick] += 1
        a, b = int(pairs[pick, 0]), int(pairs[pick, 1])
        if posterior is not None:
            posterior.observe(a, b)
        lead = 2 * first - played  # shown first minus shown second
        if lead[a] > lead[b] or (lead[a] == lead[b] and rng.random() < 0.5):
            a, b = b, a
        first[a] += 1
        played[[a, b]] += 1
        chosen.append((a, b))
    return chosen


def _draw(
    scores: NDArray[np.float64],
    candidates: NDArray[np.intp],
    size: int,
    rng: random.Random,
    mode: Literal["sample", "argmax"],
) -> list[int]:
    """Up to ``size`` distinct candidates: the top scores, or drawn by them (no repeats)."""
    generator = np.random.default_rng(rng.getrandbits(63))
    if scores.sum() <= 0:
        scores = np.ones(candidates.size)
    take = min(size, int(np.count_nonzero(scores > 0)))
    if mode == "argmax":
        order = np.lexsort((generator.random(candidates.size), -scores))
        return [int(c) for c in candidates[order[:take]]]
    picked = generator.choice(candidates, size=take, replace=False, p=scores / scores.sum())
    return [int(c) for c in picked]


@dataclass
class Posterior:
    """The Gaussian approximation the covariance samplers score with, updated virtually.

    ``theta``: natural log-strengths of the fit; ``cov``: centred inverse Fisher
    information (``ratings.sampling.bt_fisher_covariance``); ``variance``: Var(theta_a -
    theta_b) per candidate pair, kept in step with ``cov``; ``half``: the fit's 95%
    half-widths (Elo), shrunk with the Fisher marginal sd as picks are virtually judged.
    """

    pairs: NDArray[np.intp]
    theta: NDArray[np.float64]
    cov: NDArray[np.float64]
    variance: NDArray[np.float64]
    start_sd: NDArray[np.float64]
    centre: NDArray[np.float64]
    half: NDArray[np.float64]

    @classmethod
    def start(cls, tally: Tally, result: Fit | None, pairs: NDArray[np.intp]) -> Posterior:
        ratings = result.ratings if result is not None else np.zeros(tally.n)
        theta = (ratings - ratings.mean()) / ELO_PER_NAT
        cov = bt_fisher_covariance(theta, games_matrix(tally), prior=PRIOR)
        sd = np.sqrt(np.maximum(np.diag(cov), 1e-300))
        if result is not None and np.all(np.isfinite(result.high - result.low)):
            half = (result.high - result.low) / 2.0
        else:
            half = 1.96 * sd * ELO_PER_NAT
        variance = pair_variance_from_covariance(cov, pairs)
        centre = np.asarray(ratings, dtype=np.float64)
        return cls(pairs, theta, cov, variance, sd, centre, half)

    def observe(self, a: int, b: int) -> None:
        p = 1.0 / (1.0 + math.exp(-(self.theta[a] - self.theta[b])))
        w = p * (1.0 - p)
        sx = self.cov[:, a] - self.cov[:, b]
        v = float(sx[a] - sx[b])
        # the same rank-one update as ``virtual_update``, applied to the pair variances too
        shift = sx[self.pairs[:, 0]] - sx[self.pairs[:, 1]]
        self.variance = np.maximum(self.variance - w * shift**2 / (1.0 + w * v), 0.0)
        self.cov = virtual_update(self.cov, a, b, w)

    def scores(self, sampler: str, config: Mapping[str, Any]) -> NDArray[np.float64]:
        if sampler == "info_gain":
            return information_gain_probabilities(self.theta, self.variance, self.pairs)
        shrink = np.sqrt(np.maximum(np.diag(self.cov), 0.0)) / self.start_sd
        half = self.half * shrink
        return top_k_priorities(
            self.centre,
            self.centre - half,
            self.centre + half,
            self.pairs,
            int(config["top_k"]),
            covariance=self.cov,
        )


def _scores(
    sampler: str,
    pairs: NDArray[np.intp],
    counts: NDArray[np.float64],
    p: NDArray[np.float64],
    result: Fit | None,
) -> NDArray[np.float64]:
    if sampler == "ci_reduction":
        return arena_probabilities(p * (1.0 - p), counts)
    if sampler == "ucb":
        ratings = result.ratings if result is not None else np.zeros(int(pairs.max()) + 1)
        return ucb_priorities(ratings, pairs, counts)
    if sampler == "inverse_count":
        return inverse_count_probabilities(counts)
    return uniform_probabilities(len(pairs))


@dataclass(frozen=True)
class Decision:
    """``pairs`` (indices, answer order) to play next, or ``finished`` with a reason."""

    pairs: tuple[tuple[int, int], ...]
    finished: bool
    reason: str = ""
    fit: Fit | None = None


def decide(tally: Tally, config: Mapping[str, Any], seed: int, round_index: int) -> Decision:
    """The adaptive step on sufficient statistics: stop, or the next batch of pairs."""
    left = int(config["max_matches"]) - tally.planned
    if left <= 0:
        return Decision((), True, f"budget: max_matches = {config['max_matches']} reached")
    result = fit(tally, intervals=needs_intervals(config)) if needs_fit(config) else None
    if result is not None and target_reached(tally, result, config):
        reason = f"target {config['target']!r} reached after {tally.planned} matches"
        return Decision((), True, reason, result)
    size = min(int(config["batch"]), left)
    step_seed = seeded_rng(seed, NAME, "batch", round_index).getrandbits(63)
    return Decision(tuple(choose_batch(tally, config, size, step_seed, result)), False, "", result)


def draw_probabilities(
    tally: Tally, config: Mapping[str, Any]
) -> tuple[NDArray[np.intp], NDArray[np.float64]] | None:
    """For one pair drawn when a voter asks (a batch of one, no virtual updates): every
    pair (indices) and the probability the sampler draws it with; None when the tournament
    should stop (the budget is planned, or the target is met). The argmax samplers
    (``ucb``, ``top_k``) put it all on their best pairs, evenly among ties."""
    if int(config["max_matches"]) - tally.planned <= 0:
        return None
    result = fit(tally, intervals=needs_intervals(config)) if needs_fit(config) else None
    if result is not None and target_reached(tally, result, config):
        return None
    sampler = str(config["sampler"])
    pairs = all_pairs(tally.n)
    if sampler in COVARIANCE_SAMPLERS:
        scores = Posterior.start(tally, result, pairs).scores(sampler, config)
    else:
        counts = tally.pair_count[pairs[:, 0], pairs[:, 1]]
        p = np.full(len(pairs), 0.5)
        if result is not None:
            diff = result.ratings[pairs[:, 0]] - result.ratings[pairs[:, 1]]
            p = 1.0 / (1.0 + 10.0 ** (-diff / 400.0))
        scores = _scores(sampler, pairs, counts, p, result)
    scores = np.where(np.isfinite(scores), np.maximum(scores, 0.0), 0.0)
    if scores.sum() <= 0:
        scores = np.ones(len(pairs))
    if sampler in ARGMAX_SAMPLERS:
        scores = (scores == scores.max()).astype(np.float64)
    return pairs, scores / scores.sum()


def answer_order(tally: Tally, a: int, b: int, coin: float) -> tuple[int, int]:
    """Who answers first: whoever has been shown first less often than second (relative
    to the other), else the ``coin`` (uniform in [0, 1)) decides."""
    lead = 2 * tally.first - tally.pair_count.sum(axis=1)
    if lead[a] > lead[b] or (lead[a] == lead[b] and coin < 0.5):
        return b, a
    return a, b


class Adaptive:
    name = NAME
    # Judged by people, it draws each pair when a voter asks (arena.services.draws): the
    # engine plans no batches for it.
    on_demand = True

    def validate_config(
        self,
        config: Mapping[str, Any],
        *,
        n_contestants: int,
        n_prompts: int,
        contestants: Sequence[int] | None = None,
    ) -> dict[str, Any]:
        check_basics(n_contestants, n_prompts)
        check_unknown(config, OPTIONS, NAME)
        require_pairwise(config, NAME)
        sampler = require_choice(config, "sampler", "ci_reduction", SAMPLERS)
        batch = require_int(config, "batch", DEFAULT_BATCH, low=1, high=10_000)
        max_matches = require_int(
            config, "max_matches", default_max_matches(n_contestants), low=1, high=10_000_000
        )
        target = require_choice(config, "target", "none", TARGETS)
        out: dict[str, Any] = {
            "k": 2,
            "sampler": sampler,
            "batch": batch,
            "max_matches": max_matches,
            "target": target,
        }
        if target == "top_k" or sampler == "top_k":
            if "top_k" not in config:
                raise ConfigError("top_k", 'required when target or sampler is "top_k"')
            out["top_k"] = require_int(config, "top_k", 1, low=1, high=n_contestants - 1)
        elif "top_k" in config:
            raise ConfigError("top_k", 'only used when target or sampler is "top_k"')
        return out

    def next_step(self, state: FormatState) -> Step:
        budget = int(state.config["max_matches"])
        if open_count(state):
            return Step(planned_total=budget)
        ids = sorted(state.contestants)
        round_index = max((m.round for m in state.planned), default=-1) + 1
        decision = decide(Tally.from_state(state), state.config, state.seed, round_index)
        if decision.finished:
            notes = (decision.reason,)
            return Step(finished=True, planned_total=len(state.planned), notes=notes)
        prompts = prompt_order(state)
        start = len(state.planned)
        matches = tuple(
            PlannedMatch(
                round_index, slot, prompts[(start + slot) % len(prompts)], (ids[a], ids[b])
            )
            for slot, (a, b) in enumerate(decision.pairs)
        )
        note = f"planned_total is the budget max_matches = {budget}, an upper bound"
        return Step(matches=matches, planned_total=budget, notes=(note,))

    def standings(self, state: FormatState) -> Tiers:
        ids = sorted(state.contestants)
        tally = Tally.from_state(state)
        ratings = fit(tally).ratings

        def key(c: int) -> tuple[bool, float]:
            k = ids.index(c)
            return (bool(tally.judged[k] > 0), round(float(ratings[k]), 9))

        return tiers_by(ids, key)


def pair_counts_by_gap(
    tally: Tally, strengths: Iterable[float]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """(|true gap|, planned count) per pair: how a sampler spread its matches (diagnostics)."""
    s = np.asarray(list(strengths), dtype=np.float64)
    pairs = all_pairs(tally.n)
    gaps = np.abs(s[pairs[:, 0]] - s[pairs[:, 1]])
    return gaps, tally.pair_count[pairs[:, 0], pairs[:, 1]]

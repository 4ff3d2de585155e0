"""Strategies: ways to spend judge calls (a registered format run cycle after cycle as the
engine runs it, the adaptive format's decisions, uniform random pairs), each paired with
an estimator in ``STRATEGIES``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from arena.formats import get_format
from arena.formats.adaptive import Tally, decide, fit
from arena.formats.base import FormatState, MatchResult, PlannedMatch
from arena.formats.kwise import adaptive_groups
from simulator.estimators import (
    BayesEstimator,
    BothOrdersBTEstimator,
    BTEstimator,
    CallEstimator,
    EloEstimator,
    Estimator,
    GradedEstimator,
    PLEstimator,
)
from simulator.judge import Rows, implied_pairs, tiers_of

TOP = 5


def _graded_position(n: int) -> GradedEstimator:
    return GradedEstimator(n, position=True)


class Strategy(Protocol):
    k: int

    def propose(self) -> Rows:
        """The next matches (rows of entrant indices, answer order); empty when done."""
        ...

    def observe(self, entrants: Rows, order: Rows, ties: NDArray[np.bool_]) -> None: ...


class UniformPairs:
    """Independent uniformly random pairs, random answer order (the K-Sort Arena baseline)."""

    k = 2

    def __init__(self, n: int, rng: np.random.Generator, batch: int = 256) -> None:
        self.n, self.rng, self.batch = n, rng, batch

    def propose(self) -> Rows:
        a = self.rng.integers(0, self.n, self.batch)
        b = (a + self.rng.integers(1, self.n, self.batch)) % self.n
        return np.stack([a, b], axis=1).astype(np.intp)

    def observe(self, entrants: Rows, order: Rows, ties: NDArray[np.bool_]) -> None:
        return None


class BothOrders:
    """Uniformly random pairs (random first order, as ``UniformPairs``), each judged in
    both orders: rows (a, b), (b, a) one after the other, one item (two calls)."""

    k = 2

    def __init__(self, n: int, rng: np.random.Generator, batch: int = 256) -> None:
        self.pairs = UniformPairs(n, rng, batch)

    def propose(self) -> Rows:
        pairs = self.pairs.propose()
        return np.stack([pairs, pairs[:, ::-1]], axis=1).reshape(-1, 2)

    def observe(self, entrants: Rows, order: Rows, ties: NDArray[np.bool_]) -> None:
        return None


class AdaptiveSampling:
    """The adaptive format's decisions on an incrementally kept tally."""

    k = 2

    def __init__(self, n: int, sampler: str, seed: int, batch: int) -> None:
        self.config: dict[str, Any] = {
            "sampler": sampler,
            "batch": batch,
            "max_matches": 10**9,
            "target": "none",
        }
        if sampler == "top_k":
            self.config["top_k"] = min(TOP, n - 1)
        self.tally = Tally(n)
        self.seed = seed
        self.round = 0

    def propose(self) -> Rows:
        decision = decide(self.tally, self.config, self.seed, self.round)
        self.round += 1
        rows = np.asarray(decision.pairs, dtype=np.intp).reshape(-1, 2)
        self.tally.plan_pairs(rows[:, 0], rows[:, 1])
        return rows

    def observe(self, entrants: Rows, order: Rows, ties: NDArray[np.bool_]) -> None:
        self.tally.record_pairs(*implied_pairs(order, ties))


class AdaptiveGroups:
    """The K-wise format's adaptive grouping (``kwise.adaptive_groups``) on a kept tally:
    one round of ceil(M / K) groups per proposal, as ``KWise.next_step`` plans them."""

    def __init__(self, n: int, k: int, seed: int) -> None:
        self.n, self.k, self.seed = n, k, seed
        self.tally = Tally(n)
        self.round = 0

    def propose(self) -> Rows:
        groups = adaptive_groups(self.tally, self.k, -(-self.n // self.k), self.seed, self.round)
        self.round += 1
        return np.asarray(groups, dtype=np.intp)

    def observe(self, entrants: Rows, order: Rows, ties: NDArray[np.bool_]) -> None:
        for row, tie in zip(order.tolist(), ties.tolist(), strict=True):
            self.tally.record(tiers_of(row, tie))


ConfigFor = Callable[[int, int], tuple[dict[str, Any], int]]


class FormatCycles:
    """A registered format run as the engine runs it, one tournament (cycle) after another.

    ``config_for(cycle, n)`` gives the cycle's config and prompt count; cycle c uses seed
    ``seed + c`` and, for formats that seed from ratings, the BT ratings so far.
    """

    def __init__(self, format_name: str, n: int, seed: int, k: int, config_for: ConfigFor) -> None:
        self.fmt = get_format(format_name)
        self.n, self.seed, self.k, self.config_for = n, seed, k, config_for
        self.cycle = -1
        self.tally = Tally(n)
        self._new_cycle()

    def _new_cycle(self) -> None:
        self.cycle += 1
        raw, n_prompts = self.config_for(self.cycle, self.n)
        config = self.fmt.validate_config(raw, n_contestants=self.n, n_prompts=n_prompts)
        prior: dict[int, float] = {}
        if self.tally.judged.any():
            prior = dict(enumerate(fit(self.tally).ratings.tolist()))
        self.state = FormatState(tuple(range(self.n)), n_prompts, config, self.seed + self.cycle)
        self.prior = prior
        self.planned: list[PlannedMatch] = []
        self.results: list[MatchResult] = []
        self.queue: list[PlannedMatch] = []

    def _state(self) -> FormatState:
        s = self.state
        return FormatState(
            s.contestants, s.n_prompts, s.config, s.seed, tuple(self.planned),
            tuple(self.results), self.prior,
        )  # fmt: skip

    def propose(self) -> Rows:
        for _ in range(10_000):
            step = self.fmt.next_step(self._state())
            if step.matches:
                self.planned.extend(step.matches)
                self.queue = list(step.matches)
                return np.asarray([m.entrants for m in step.matches], dtype=np.intp)
            if not step.finished:
                raise AssertionError(f"{self.fmt.name} waits with nothing open")
            self._new_cycle()
        raise AssertionError("no matches from the format")  # pragma: no cover

    def observe(self, entrants: Rows, order: Rows, ties: NDArray[np.bool_]) -> None:
        self.tally.record_pairs(*implied_pairs(order, ties))
        for row, tie in zip(order.tolist(), ties.tolist(), strict=True):
            m = self.queue.pop(0)
            self.results.append(MatchResult(m.round, m.slot, m.entrants, tiers_of(row, tie)))


def _round_robin(cycle: int, n: int) -> tuple[dict[str, Any], int]:
    return {"rounds": 1}, 1


def _single_elimination(cycle: int, n: int) -> tuple[dict[str, Any], int]:
    return {"seeding": "rating" if cycle else "random"}, 1


def _swiss(cycle: int, n: int) -> tuple[dict[str, Any], int]:
    return {"seeding": "rating" if cycle else "random"}, 1


def _kwise(grouping: str) -> ConfigFor:
    def config(cycle: int, n: int) -> tuple[dict[str, Any], int]:
        rounds = max(n - 1, 1)
        return {"k": min(4, n), "rounds": rounds, "grouping": grouping}, rounds

    return config


@dataclass(frozen=True)
class StrategySpec:
    name: str
    description: str
    build: Callable[[int, int, np.random.Generator, int], Strategy]
    estimator: Callable[[int], Estimator | CallEstimator]
    k: int = 2
    # Another strategy whose random draws (judge outcomes, tie-breaks) this one replays:
    # two strategies that only refit the same votes differently are then compared on the
    # same votes, which takes the judge's luck out of their difference.
    draws: str | None = None
    # Calls per item: 2 when each pair is judged in both orders (rows 2k, 2k + 1 then
    # share the item's effect, ``JudgeModel.item_noise``); each order counts as a call.
    orders: int = 1


def _adaptive(sampler: str) -> Callable[[int, int, np.random.Generator, int], Strategy]:
    def build(n: int, seed: int, rng: np.random.Generator, batch: int) -> Strategy:
        return AdaptiveSampling(n, sampler, seed, batch)

    return build


def _cycles(
    name: str, config_for: ConfigFor, k: int = 2
) -> Callable[[int, int, np.random.Generator, int], Strategy]:
    def build(n: int, seed: int, rng: np.random.Generator, batch: int) -> Strategy:
        return FormatCycles(name, n, seed, min(k, n), config_for)

    return build


def _uniform(n: int, seed: int, rng: np.random.Generator, batch: int) -> Strategy:
    return UniformPairs(n, rng)


def _both_orders(n: int, seed: int, rng: np.random.Generator, batch: int) -> Strategy:
    return BothOrders(n, rng)


def _adaptive_groups(n: int, seed: int, rng: np.random.Generator, batch: int) -> Strategy:
    return AdaptiveGroups(n, min(4, n), seed)


def _single_elimination_anchor(cycle: int, n: int) -> tuple[dict[str, Any], int]:
    # contestant 0 is a random draw from the truth: the anchor is not chosen to flatter
    if cycle == 0:
        return {"seeding": "anchor", "anchor": 0}, 1
    return {"seeding": "rating"}, 1


STRATEGIES: dict[str, StrategySpec] = {
    s.name: s
    for s in (
        StrategySpec("uniform_elo", "uniform random pairs + online Elo", _uniform, EloEstimator),
        StrategySpec("uniform_bt", "uniform random pairs + BT", _uniform, BTEstimator),
        StrategySpec(
            "adaptive_ci_reduction", "adaptive, Eq. 9 CI reduction + BT",
            _adaptive("ci_reduction"), BTEstimator,
        ),
        StrategySpec("adaptive_ucb", "adaptive, UCB + BT", _adaptive("ucb"), BTEstimator),
        StrategySpec(
            "adaptive_info_gain", "adaptive, information gain + BT",
            _adaptive("info_gain"), BTEstimator,
        ),
        StrategySpec(
            "adaptive_top_k", f"adaptive, LUCB-style top-{TOP} rule + BT",
            _adaptive("top_k"), BTEstimator,
        ),
        StrategySpec(
            "adaptive_inverse_count", "adaptive, inverse count + BT",
            _adaptive("inverse_count"), BTEstimator,
        ),
        StrategySpec(
            "adaptive_uniform", "adaptive, uniform (no repeat in batch) + BT",
            _adaptive("uniform"), BTEstimator,
        ),
        StrategySpec(
            "kwise_random_bt", "K=4 random groups + BT refit",
            _cycles("kwise", _kwise("random"), 4), BTEstimator, 4,
        ),
        StrategySpec(
            "kwise_adaptive_bt", "K=4 adaptive groups (information-gain partition) + BT refit",
            _adaptive_groups, BTEstimator, 4,
        ),
        StrategySpec(
            "kwise_adaptive_pl", "K=4 adaptive groups + Plackett-Luce refit (same votes as BT)",
            _adaptive_groups, PLEstimator, 4, draws="kwise_adaptive_bt",
        ),
        StrategySpec(
            "kwise_balanced_bt", "K=4 balanced groups + BT refit",
            _cycles("kwise", _kwise("balanced"), 4), BTEstimator, 4,
        ),
        StrategySpec(
            "kwise_balanced_pl", "K=4 balanced groups + Plackett-Luce",
            _cycles("kwise", _kwise("balanced"), 4), PLEstimator, 4,
        ),
        StrategySpec(
            "kwise_balanced_bayes", "K=4 balanced groups + Weng-Lin online",
            _cycles("kwise", _kwise("balanced"), 4), BayesEstimator, 4,
        ),
        StrategySpec(
            "single_elimination_bt", "seeded single elimination, repeated + BT",
            _cycles("single_elimination", _single_elimination), BTEstimator,
        ),
        StrategySpec(
            "single_elimination_anchor_bt",
            "single elimination, first bracket seeded by an anchor pass, repeated + BT",
            _cycles("single_elimination", _single_elimination_anchor), BTEstimator,
        ),
        StrategySpec(
            "round_robin_bt", "round robin + BT", _cycles("round_robin", _round_robin),
            BTEstimator,
        ),
        StrategySpec("swiss_bt", "Swiss, repeated + BT", _cycles("swiss", _swiss), BTEstimator),
        # A position-biased judge (issue 19): the same kind of pairs, used differently.
        StrategySpec(
            "uniform_graded_position",
            "uniform random pairs, one order, graded BT with a position term (same votes)",
            _uniform, _graded_position, draws="uniform_bt",
        ),
        StrategySpec(
            "both_orders_bt",
            "uniform random pairs judged in both orders (2 calls), merged (disagree = tie) + BT",
            _both_orders, BothOrdersBTEstimator, orders=2,
        ),
        StrategySpec(
            "both_orders_graded_position",
            "both orders, every order graded, BT with a position term (same votes)",
            _both_orders, _graded_position, draws="both_orders_bt", orders=2,
        ),
    )
}  # fmt: skip

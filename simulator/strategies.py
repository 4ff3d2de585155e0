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
# Prompts (so brackets) per tournament of the per-prompt bracket strategies: a few
# brackets per cycle leave room for many cycles, each seeded from the BT fit so far.
PER_PROMPT_BRACKETS = 8


def _graded_position(n: int) -> GradedEstimator:
    return GradedEstimator(n, position=True)


class Strategy(Protocol):
    k: int

    def propose(self) -> Rows:
        """The next matches (rows of entrant indices, answer order); empty when done."""
        ...

    def observe(self, entrants: Rows, order: Rows, ties: NDArray[np.bool_]) -> None: ...

    def prompts(self) -> Rows:
        """The prompt of each row of the last proposal: an index into the sequence of
        prompts every strategy on a truth shares (``judge.PromptEffects``)."""
        ...


class PromptSequence:
    """Prompts for strategies that are not formats: every item on a fresh prompt, taken in
    order from the shared sequence 0, 1, 2, ... (a prompt set far larger than the calls,
    as an arena's stream of user prompts is)."""

    def __init__(self) -> None:
        self.used = 0
        self.last: Rows = np.zeros(0, dtype=np.intp)

    def take(self, n: int) -> Rows:
        self.last = np.arange(self.used, self.used + n, dtype=np.intp)
        self.used += n
        return self.last


class UniformPairs:
    """Independent uniformly random pairs, random answer order (the K-Sort Arena baseline)."""

    k = 2

    def __init__(self, n: int, rng: np.random.Generator, batch: int = 256) -> None:
        self.n, self.rng, self.batch = n, rng, batch
        self.sequence = PromptSequence()

    def propose(self) -> Rows:
        a = self.rng.integers(0, self.n, self.batch)
        b = (a + self.rng.integers(1, self.n, self.batch)) % self.n
        self.sequence.take(self.batch)
        return np.stack([a, b], axis=1).astype(np.intp)

    def observe(self, entrants: Rows, order: Rows, ties: NDArray[np.bool_]) -> None:
        return None

    def prompts(self) -> Rows:
        return self.sequence.last


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

    def prompts(self) -> Rows:
        # both orders of a pair answer the same prompt
        return np.repeat(self.pairs.prompts(), 2)


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
        self.sequence = PromptSequence()

    def propose(self) -> Rows:
        decision = decide(self.tally, self.config, self.seed, self.round)
        self.round += 1
        rows = np.asarray(decision.pairs, dtype=np.intp).reshape(-1, 2)
        self.tally.plan_pairs(rows[:, 0], rows[:, 1])
        self.sequence.take(len(rows))
        return rows

    def observe(self, entrants: Rows, order: Rows, ties: NDArray[np.bool_]) -> None:
        self.tally.record_pairs(*implied_pairs(order, ties))

    def prompts(self) -> Rows:
        return self.sequence.last


class AdaptiveGroups:
    """The K-wise format's adaptive grouping (``kwise.adaptive_groups``) on a kept tally:
    one round of ceil(M / K) groups per proposal, as ``KWise.next_step`` plans them."""

    def __init__(self, n: int, k: int, seed: int) -> None:
        self.n, self.k, self.seed = n, k, seed
        self.tally = Tally(n)
        self.round = 0
        self.sequence = PromptSequence()

    def propose(self) -> Rows:
        groups = adaptive_groups(self.tally, self.k, -(-self.n // self.k), self.seed, self.round)
        self.round += 1
        self.sequence.take(len(groups))
        return np.asarray(groups, dtype=np.intp)

    def observe(self, entrants: Rows, order: Rows, ties: NDArray[np.bool_]) -> None:
        for row, tie in zip(order.tolist(), ties.tolist(), strict=True):
            self.tally.record(tiers_of(row, tie))

    def prompts(self) -> Rows:
        return self.sequence.last


ConfigFor = Callable[[int, int], tuple[dict[str, Any], int]]


class FormatCycles:
    """A registered format run as the engine runs it, one tournament (cycle) after another.

    ``config_for(cycle, n)`` gives the cycle's config and prompt count; cycle c uses seed
    ``seed + c`` and, for formats that seed from ratings, the BT ratings so far. Each
    cycle is a tournament on prompts of its own: its P prompts are the next P of the
    sequence every strategy shares (cycle 0 has prompts 0 .. P - 1, and so on).
    """

    def __init__(self, format_name: str, n: int, seed: int, k: int, config_for: ConfigFor) -> None:
        self.fmt = get_format(format_name)
        self.n, self.seed, self.k, self.config_for = n, seed, k, config_for
        self.cycle = -1
        self.tally = Tally(n)
        self.first_prompt = 0
        self.state = FormatState((), 0, {}, seed)
        self.last_prompts: Rows = np.zeros(0, dtype=np.intp)
        self._new_cycle()

    def _new_cycle(self) -> None:
        self.cycle += 1
        self.first_prompt += self.state.n_prompts
        raw, n_prompts = self.config_for(self.cycle, self.n)
        config = self.fmt.validate_config(raw, n_contestants=self.n, n_prompts=n_prompts)
        prior: dict[int, float] = {}
        # only a rating seeding reads them: a fit per tournament is most of a short one's cost
        if config.get("seeding") == "rating" and self.tally.judged.any():
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
                prompts = [self.first_prompt + m.prompt_index for m in step.matches]
                self.last_prompts = np.asarray(prompts, dtype=np.intp)
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

    def prompts(self) -> Rows:
        return self.last_prompts


def _round_robin(cycle: int, n: int) -> tuple[dict[str, Any], int]:
    return {"rounds": 1}, 1


def _bracket_rounds(n: int) -> int:
    """A bracket's rounds for n contestants: its prompts, one per round (``per_round``)."""
    return max((n - 1).bit_length(), 1)


def _single_elimination(cycle: int, n: int) -> tuple[dict[str, Any], int]:
    return {"seeding": "rating" if cycle else "random"}, _bracket_rounds(n)


def _per_prompt(first_seeding: str) -> ConfigFor:
    """Per-prompt brackets (Varco Arena), ``PER_PROMPT_BRACKETS`` per tournament: the first
    seeded by ``first_seeding`` (random, or an anchor pass against contestant 0), every
    later one from the BT ratings so far (the leaderboard)."""

    def config(cycle: int, n: int) -> tuple[dict[str, Any], int]:
        raw: dict[str, Any] = {"brackets": "per_prompt", "seeding": "rating"}
        if cycle == 0:
            raw["seeding"] = first_seeding
            if first_seeding == "anchor":
                raw["anchor"] = 0
        return raw, PER_PROMPT_BRACKETS

    return config


def _anchor(cycle: int, n: int) -> tuple[dict[str, Any], int]:
    # contestant 0 is a random draw from the truth: the anchor is not chosen to flatter
    return {"anchor": 0, "rounds": 1}, 1


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
        return {"seeding": "anchor", "anchor": 0}, _bracket_rounds(n)
    return {"seeding": "rating"}, _bracket_rounds(n)


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
            "per_prompt_brackets_bt",
            f"{PER_PROMPT_BRACKETS} per-prompt brackets per tournament, seeded from the "
            "leaderboard (the first at random), repeated + BT",
            _cycles("single_elimination", _per_prompt("random")), BTEstimator,
        ),
        StrategySpec(
            "per_prompt_brackets_anchor_bt",
            f"{PER_PROMPT_BRACKETS} per-prompt brackets per tournament, the first seeded by "
            "an anchor pass, later ones from the leaderboard, repeated + BT",
            _cycles("single_elimination", _per_prompt("anchor")), BTEstimator,
        ),
        StrategySpec(
            "round_robin_bt", "round robin + BT", _cycles("round_robin", _round_robin),
            BTEstimator,
        ),
        StrategySpec(
            "anchor_bt", "anchor format (everyone against contestant 0), repeated + BT",
            _cycles("anchor", _anchor), BTEstimator,
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

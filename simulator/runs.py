"""Runs: one strategy on one seed's truth and judge stream, refitted at geometrically
spaced checkpoints until every reported quantity is known or the cap."""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from arena.formats.adaptive import Fit, separated_top
from ratings.metrics import kendall_tau
from simulator.estimators import CallEstimator, Estimate
from simulator.judge import Judge, JudgeModel, true_strengths
from simulator.strategies import STRATEGIES, TOP

CHECKPOINT_RATIO = 1.1
SUSTAIN = 1.5
THRESHOLDS = (0.9, 0.95)


@dataclass(frozen=True)
class Checkpoint:
    calls: int
    tau: float
    ci_width: float  # mean 95% interval width (Elo), NaN without intervals
    top_found: bool  # true top-k estimated top-k, intervals separated from the rest
    best_found: bool = False  # the estimated best is the true best


@dataclass(frozen=True)
class Trace:
    strategy: str
    seed: int
    n_models: int
    k: int
    checkpoints: tuple[Checkpoint, ...]
    stream: int = 0

    def first_sustained(self, threshold: float) -> int | None:
        return first_sustained(
            [c.calls for c in self.checkpoints], [c.tau for c in self.checkpoints], threshold
        )

    def first_best(self) -> int | None:
        """Calls until the estimated best is the true best, sustained like tau."""
        values = [1.0 if c.best_found else 0.0 for c in self.checkpoints]
        return first_sustained([c.calls for c in self.checkpoints], values, 0.5)

    def first_top_found(self) -> int | None:
        return next((c.calls for c in self.checkpoints if c.top_found), None)

    def first_half_width(self, half_width: float) -> int | None:
        return next((c.calls for c in self.checkpoints if c.ci_width / 2 <= half_width), None)

    def at(self, calls: int) -> Checkpoint | None:
        return next((c for c in self.checkpoints if c.calls == calls), None)


def first_sustained(
    calls: Sequence[int], values: Sequence[float], threshold: float, span: float = SUSTAIN
) -> int | None:
    """The first n with value >= threshold at every checkpoint in [n, span * n].

    The checkpoints must reach span * n: a run that ends sooner has not shown it lasts.
    """
    for k, n in enumerate(calls):
        if values[k] < threshold or calls[-1] < span * n:
            continue
        window = [v for c, v in zip(calls[k:], values[k:], strict=True) if c <= span * n]
        if all(v >= threshold for v in window):
            return n
    return None


def checkpoints(
    start: int, cap: int, extra: Iterable[int] = (), ratio: float = CHECKPOINT_RATIO
) -> list[int]:
    if ratio <= 1.0:
        raise ValueError(f"checkpoint ratio must be > 1, got {ratio:g}")
    points = {cap, *(b for b in extra if b <= cap)}
    value = float(max(start, 1))
    while value < cap:
        points.add(int(math.ceil(value)))
        value *= ratio
    return sorted(points)


@dataclass(frozen=True)
class Settings:
    """Everything a run depends on besides strategy and seed."""

    n_models: int = 20
    spread: float = 100.0
    judge: JudgeModel = field(default_factory=JudgeModel)
    max_calls: int | None = None  # default: 600 per model
    budgets: tuple[int, ...] = ()  # fixed budgets reported; default 10 M and 50 M
    batch: int = 8  # adaptive batch
    thresholds: tuple[float, ...] = THRESHOLDS
    half_width: float | None = None  # also run until the mean CI half-width is this small
    top: int = TOP
    strengths: tuple[float, ...] | None = None  # a fixed truth instead of normal draws
    # "all": run until every reported quantity is known (or the cap); "top": stop once the
    # top-k is identified (tau and best are then not measured: cheaper top-k benchmarks);
    # "tau": stop once the calls to every tau threshold and to the best are known (the
    # top-k and CI targets are then not followed: a separated top-5 can take 100x longer)
    goal: str = "all"
    # A median of "calls to tau" can only be a checkpoint, so two strategies' gain moves in
    # steps of this ratio: a finer grid resolves gains closer than 10%, at more refits.
    checkpoint_ratio: float = CHECKPOINT_RATIO

    def cap(self) -> int:
        return self.max_calls if self.max_calls is not None else 600 * self.n_models

    def fixed_budgets(self) -> tuple[int, ...]:
        return self.budgets or (10 * self.n_models, 50 * self.n_models)


def _seed_of(strategy: str, seed: int, stream: int) -> list[int]:
    # Stream 0 keeps the seeding every recorded table was made with. The marker keeps
    # stream j's seeds apart from stream 0's judge seed, which is [seed, crc, 1].
    base = [seed, zlib.crc32(strategy.encode())]
    return base if stream == 0 else [*base, 0x57, stream]


def run(strategy: str, seed: int, settings: Settings, stream: int = 0) -> Trace:
    """One strategy on one seed's truth until every reported quantity is known or the cap.

    ``stream`` picks another set of judge outcomes (and tie-breaks) on the same truth: the
    votes a truth needs vary a lot between streams, so a median over truths alone is noisy.
    """
    spec = STRATEGIES[strategy]
    n = settings.n_models
    truth = (
        true_strengths(n, seed, settings.spread)
        if settings.strengths is None
        else np.asarray(settings.strengths, dtype=np.float64)
    )
    stream_seed = _seed_of(spec.draws or strategy, seed, stream)
    rng = np.random.default_rng(stream_seed)
    judge = Judge(truth, settings.judge, np.random.default_rng([*stream_seed, 1]), seed)
    play = spec.build(n, seed, rng, settings.batch)
    estimator = spec.estimator(n)
    cap = settings.cap()
    points = checkpoints(n // 2, cap, settings.fixed_budgets(), settings.checkpoint_ratio)
    true_top = set(np.argsort(-truth, kind="stable")[: settings.top].tolist())
    done: list[Checkpoint] = []
    calls, index = 0, 0
    while calls < cap:
        entrants = play.propose()
        if entrants.size == 0:
            break
        items = np.arange(len(entrants)) // spec.orders if spec.orders > 1 else None
        judged = judge.judge(entrants, items, play.prompts())
        order, ties = judged.order, judged.ties
        start = 0
        while start < len(entrants) and calls < cap:
            take = min(len(entrants) - start, points[index] - calls)
            part = slice(start, start + take)
            play.observe(entrants[part], order[part], ties[part])
            if isinstance(estimator, CallEstimator):
                estimator.observe_calls(judged.part(part))
            else:
                estimator.observe(order[part], ties[part])
            calls += take
            start += take
            if calls == points[index]:
                done.append(evaluate(estimator.estimate(), truth, true_top, calls, settings))
                index += 1
                if _complete(done, settings):
                    return Trace(strategy, seed, n, spec.k, tuple(done), stream)
    return Trace(strategy, seed, n, spec.k, tuple(done), stream)


def evaluate(
    est: Estimate, truth: NDArray[np.float64], true_top: set[int], calls: int, settings: Settings
) -> Checkpoint:
    tau = kendall_tau(est.scores, truth)
    best = int(np.argmax(est.scores)) == int(np.argmax(truth))
    if est.low is None or est.high is None:
        return Checkpoint(calls, tau, math.nan, False, best)
    width = float(np.mean(est.high - est.low))
    top = separated_top(Fit(est.scores, est.low, est.high), settings.top)
    found = top is not None and set(top.tolist()) == true_top
    return Checkpoint(calls, tau, width, found, best)


def _complete(done: list[Checkpoint], settings: Settings) -> bool:
    trace = Trace("", 0, settings.n_models, 2, tuple(done))
    if done[-1].calls < max(settings.fixed_budgets()):
        return False
    if settings.goal == "top":
        return math.isnan(done[-1].ci_width) or trace.first_top_found() is not None
    if any(trace.first_sustained(t) is None for t in settings.thresholds):
        return False
    if trace.first_best() is None:
        return False
    if settings.goal == "tau":
        return True
    has_ci = not math.isnan(done[-1].ci_width)
    if has_ci and trace.first_top_found() is None:
        return False
    if has_ci and settings.half_width is not None:
        return trace.first_half_width(settings.half_width) is not None
    return True


def run_all(
    strategies: Sequence[str],
    seeds: Iterable[int],
    settings: Settings,
    *,
    streams: int = 1,
    map_fn: Callable[..., Iterable[Trace]] = map,
) -> list[Trace]:
    """Every strategy's run on every seed's truth and judge stream."""
    unknown = [s for s in strategies if s not in STRATEGIES]
    if unknown:
        raise ValueError(f"unknown strategy {unknown[0]!r}; one of {sorted(STRATEGIES)}")
    if streams < 1:
        raise ValueError(f"streams must be >= 1, got {streams}")
    seed_list = list(seeds)
    jobs = [(s, seed, j) for s in strategies for seed in seed_list for j in range(streams)]
    return list(map_fn(run_job, jobs, [settings] * len(jobs)))


def run_job(job: tuple[str, int, int], settings: Settings) -> Trace:
    strategy, seed, stream = job
    return run(strategy, seed, settings, stream)

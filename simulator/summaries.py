"""Summaries of runs: medians over truths and judge streams, and the bootstrap interval of
one strategy's gain over another."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from simulator.runs import Settings, Trace, run_all
from simulator.strategies import STRATEGIES


@dataclass(frozen=True)
class Summary:
    """Medians over runs (seeds x streams); ``None`` where the median run did not get there."""

    strategy: str
    description: str
    n_models: int
    seeds: int  # truths
    cap: int
    k: int
    calls_to_tau: dict[float, int | None]
    reached_tau: dict[float, int]  # seeds that got there
    tau_at: dict[int, float]
    ci_width_at: dict[int, float]
    top_calls: int | None
    best_calls: int | None  # sustained: the estimated best is the true best
    pairs_per_call: int
    answers_per_call: int
    goal: str = "all"
    streams: int = 1  # judge streams per truth
    reached_best: int | None = None  # runs whose best was found (sustained); None: unknown

    @property
    def runs(self) -> int:
        return self.seeds * self.streams

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def median_calls(values: Sequence[float | None]) -> int | None:
    numbers = [math.inf if v is None else float(v) for v in values]
    middle = float(np.median(numbers)) if numbers else math.inf
    return None if math.isinf(middle) else int(round(middle))


def summarize(strategy: str, traces: Sequence[Trace], settings: Settings) -> Summary:
    spec = STRATEGIES[strategy]
    k = spec.k if settings.n_models >= spec.k else settings.n_models
    calls = {t: median_calls([tr.first_sustained(t) for tr in traces]) for t in settings.thresholds}
    reached = {t: sum(tr.first_sustained(t) is not None for tr in traces) for t in calls}
    tau_at: dict[int, float] = {}
    width_at: dict[int, float] = {}
    for budget in settings.fixed_budgets():
        points = [tr.at(budget) for tr in traces]
        taus = [p.tau for p in points if p is not None]
        widths = [p.ci_width for p in points if p is not None]
        tau_at[budget] = float(np.median(taus)) if taus else math.nan
        width_at[budget] = float(np.median(widths)) if widths else math.nan
    top = median_calls([tr.first_top_found() for tr in traces])
    bests = [tr.first_best() for tr in traces]
    best = median_calls(bests)
    truths = len({tr.seed for tr in traces})
    streams = len(traces) // truths if truths else 1
    return Summary(
        strategy, spec.description, settings.n_models, truths, settings.cap(), k,
        calls, reached, tau_at, width_at, top, best, k * (k - 1) // 2, k, settings.goal,
        streams, sum(b is not None for b in bests),
    )  # fmt: skip


def simulate(
    strategies: Sequence[str],
    seeds: Iterable[int],
    settings: Settings,
    *,
    streams: int = 1,
    map_fn: Callable[..., Iterable[Trace]] = map,
) -> list[Summary]:
    """Run every strategy on every seed's truth with ``streams`` judge streams each, and
    summarize the pooled runs (``map_fn`` may be a process pool's map)."""
    traces = run_all(strategies, seeds, settings, streams=streams, map_fn=map_fn)
    return summarize_all(strategies, traces, settings)


def summarize_all(
    strategies: Sequence[str], traces: Sequence[Trace], settings: Settings
) -> list[Summary]:
    """One summary per strategy, of its runs among ``traces``."""
    return [summarize(s, [t for t in traces if t.strategy == s], settings) for s in strategies]


@dataclass(frozen=True)
class Gain:
    """How many times fewer calls than the baseline a strategy needs (ratio of medians to
    a sustained tau), with a bootstrap interval over truths."""

    point: float  # inf: the strategy's median run got there, the baseline's did not
    low: float
    high: float
    at_least: dict[float, float]  # share of bootstrap draws with a gain >= each bar


def gain_interval(
    baseline: Mapping[int, Sequence[int | None]],
    other: Mapping[int, Sequence[int | None]],
    *,
    bars: Sequence[float] = (5.0,),
    rounds: int = 2000,
    level: float = 0.95,
    seed: int = 0,
) -> Gain:
    """Median calls of ``baseline`` over median calls of ``other``, each keyed by truth
    (seed) with one value per judge stream (``None``: never within the cap).

    Truths are drawn with replacement, each with all its streams and for both strategies
    (paired: a hard truth is hard for both); ``None`` counts as infinitely many calls."""
    truths = sorted(set(baseline) & set(other))
    if not truths:
        raise ValueError("no truth is in both the baseline and the other strategy")
    inf = math.inf

    def table(runs: Mapping[int, Sequence[int | None]]) -> NDArray[np.float64]:
        rows = [[inf if v is None else float(v) for v in runs[t]] for t in truths]
        if len({len(r) for r in rows}) != 1:
            raise ValueError("every truth needs the same number of streams")
        return np.asarray(rows, dtype=np.float64)

    base, mine = table(baseline), table(other)

    def ratio(idx: NDArray[np.int64]) -> float:
        b, o = np.median(base[idx]), np.median(mine[idx])
        if math.isinf(o):
            return 0.0 if not math.isinf(b) else math.nan
        return float(b / o)

    rng = np.random.default_rng(seed)
    draws = np.array([ratio(rng.integers(0, len(truths), len(truths))) for _ in range(rounds)])
    draws = draws[~np.isnan(draws)]
    point = ratio(np.arange(len(truths)))
    if draws.size == 0:  # in every draw neither median run got there: no ratio to give
        return Gain(point, math.nan, math.nan, dict.fromkeys(bars, math.nan))
    tail = (1 - level) / 2
    # No interpolation between draws: a draw may be infinite.
    low, high = (float(q) for q in np.quantile(draws, [tail, 1 - tail], method="inverted_cdf"))
    return Gain(point, low, high, {bar: float(np.mean(draws >= bar)) for bar in bars})


def calls_by_truth(traces: Iterable[Trace], tau: float) -> dict[int, list[int | None]]:
    """Calls to a sustained ``tau`` per truth, one per judge stream in stream order."""
    return _by_truth(traces, lambda t: t.first_sustained(tau))


def calls_to_best_by_truth(traces: Iterable[Trace]) -> dict[int, list[int | None]]:
    """Calls until the true best is first (sustained) per truth, one per judge stream."""
    return _by_truth(traces, Trace.first_best)


def _by_truth(
    traces: Iterable[Trace], calls_of: Callable[[Trace], int | None]
) -> dict[int, list[int | None]]:
    runs: dict[int, list[tuple[int, int | None]]] = {}
    for t in traces:
        runs.setdefault(t.seed, []).append((t.stream, calls_of(t)))
    return {seed: [calls for _, calls in sorted(r)] for seed, r in runs.items()}

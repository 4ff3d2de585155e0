"""The planner: how many judge calls (and dollars) a strategy needs for M models to reach
tau >= t or a mean CI half-width <= X, from the same runs as the benchmark."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from simulator.runs import Settings, Trace, run_job
from simulator.strategies import STRATEGIES
from simulator.summaries import median_calls

# The planner's default truths, held out from the benchmark's seeds 0..19. The calls a
# strategy needs vary several-fold between random truths (the closest true gaps decide),
# so medians of 5 or even 20 truths differ by up to 1.5x between draws: 60 by default.
PLAN_SEEDS = range(1000, 1060)


@dataclass(frozen=True)
class Plan:
    """Judge calls (median over seeds) and dollars for one strategy to reach a target."""

    strategy: str
    n_models: int
    seeds: int
    tau: float
    calls_to_tau: int | None
    dollars_to_tau: float | None
    half_width: float | None
    calls_to_half_width: int | None
    dollars_to_half_width: float | None
    price_per_call: float
    answers_per_call: int


def plan(
    strategy: str,
    settings: Settings,
    *,
    seeds: Iterable[int] = PLAN_SEEDS,
    tau: float = 0.9,
    price_per_call: float = 0.0,
    map_fn: Callable[..., Iterable[Trace]] = map,
) -> Plan:
    """Calls and dollars to a sustained tau >= ``tau`` (and to ``settings.half_width``)."""
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; one of {sorted(STRATEGIES)}")
    if price_per_call < 0:
        raise ValueError("price_per_call must be >= 0")
    thresholds = tuple(sorted({*settings.thresholds, tau}))
    settings = Settings(**{**_fields(settings), "thresholds": thresholds})
    seed_list = list(seeds)
    jobs = [(strategy, s, 0) for s in seed_list]
    traces = list(map_fn(run_job, jobs, [settings] * len(jobs)))
    calls = median_calls([t.first_sustained(tau) for t in traces])
    hw = settings.half_width
    hw_calls = None if hw is None else median_calls([t.first_half_width(hw) for t in traces])
    return Plan(
        strategy, settings.n_models, len(seed_list), tau, calls,
        None if calls is None else calls * price_per_call,
        hw, hw_calls, None if hw_calls is None else hw_calls * price_per_call,
        price_per_call, STRATEGIES[strategy].k,
    )  # fmt: skip


def _fields(settings: Settings) -> dict[str, Any]:
    return {name: getattr(settings, name) for name in settings.__dataclass_fields__}

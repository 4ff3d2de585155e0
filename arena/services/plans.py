"""The planner in the product: judge calls and dollars a tournament should take to reach a
Kendall tau target (or a CI half-width), from the simulator run on its format and size.

A plan takes the simulator minutes of CPU, so it never runs in a request, and only when
staff ask for it (a page view must not start minutes of work): ``plan_request`` queues it
for a worker (``plan_compute``), and the result is kept in the cache under the strategy,
M and targets, shared by every tournament of that shape. Prices are not part of the key:
dollars are the calls times this judge's cost per call.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from django.core.cache import cache
from django.utils import timezone

from arena.formats.simulation import STRATEGIES, Settings, plan
from arena.models import MatchStatus, Tournament
from arena.queueing import enqueue_plan
from arena.selectors import judge_usd_per_call, tournament_calls_per_match

log = logging.getLogger(__name__)

TAU = 0.9
# Held-out truths a plan is the median of: a third of the CLI's 60 (`simulate --plan`), so a
# worker spends minutes, not a quarter of an hour, at M = 20.
SEEDS = range(1000, 1020)
# Kept until the simulator changes (the key's version); a pending mark outlives a worker
# that died computing it by this much, then the next ask queues it again.
KEPT_SECONDS = 30 * 24 * 3600
PENDING_SECONDS = 15 * 60
VERSION = 1
MAX_MODELS = 128  # beyond this a plan takes a worker too long; the page says so


@dataclass(frozen=True)
class Shape:
    """What a plan depends on: the simulated strategy standing for the format, M, targets."""

    strategy: str
    n_models: int
    tau: float = TAU
    half_width: float | None = None

    @property
    def key(self) -> str:
        return f"plan:v{VERSION}:{self.strategy}:{self.n_models}:{self.tau:g}:{self.half_width}"


def plan_strategy(format_name: str, config: dict[str, Any]) -> tuple[str | None, str]:
    """The simulator's strategy that plays a format as the engine does, or None and why."""
    if format_name == "round_robin":
        return "round_robin_bt", ""
    if format_name == "swiss":
        return "swiss_bt", ""
    if format_name == "single_elimination":
        if config.get("brackets") == "per_prompt":
            return None, "per-prompt brackets are not in the planner yet"
        if config.get("seeding") == "anchor":
            return "single_elimination_anchor_bt", ""
        return "single_elimination_bt", ""
    if format_name == "kwise":
        if int(config.get("k", 4)) != 4:
            return None, "the simulator plays K-wise groups of 4 only"
        return f"kwise_{config.get('grouping', 'balanced')}_bt", ""
    if format_name == "adaptive":
        return f"adaptive_{config.get('sampler', 'ci_reduction')}", ""
    return None, f"no simulated strategy plays the {format_name} format"


def plan_shape(tournament: Tournament) -> tuple[Shape | None, str]:
    strategy, reason = plan_strategy(tournament.format, tournament.config)
    n = tournament.contestants.count()
    if strategy is None or strategy not in STRATEGIES:
        return None, reason or f"no simulated strategy {strategy}"
    if n > MAX_MODELS:
        return None, f"plans are simulated for up to {MAX_MODELS} models"
    return Shape(strategy, n), ""


def plan_read(shape: Shape) -> dict[str, Any] | None:
    """The stored plan of this shape, or None."""
    found: dict[str, Any] | None = cache.get(shape.key)
    return found


def plan_pending(shape: Shape) -> bool:
    return cache.get(_pending(shape)) is not None


def plan_request(shape: Shape) -> None:
    """Queue the shape's simulation for a worker, unless it is stored or already queued."""
    if plan_read(shape) is None and cache.add(_pending(shape), 1, PENDING_SECONDS):
        enqueue_plan(shape.strategy, shape.n_models, shape.tau, shape.half_width)


def _pending(shape: Shape) -> str:
    return f"{shape.key}:pending"


def plan_compute(*, shape: Shape) -> dict[str, Any]:
    """Run the simulator for a shape and keep the result (a worker's job)."""
    result = plan(
        shape.strategy,
        Settings(n_models=shape.n_models, half_width=shape.half_width),
        seeds=SEEDS,
        tau=shape.tau,
    )
    stored = {
        "strategy": shape.strategy,
        "description": STRATEGIES[shape.strategy].description,
        "n_models": shape.n_models,
        "seeds": result.seeds,
        "tau": shape.tau,
        "matches_to_tau": result.calls_to_tau,
        "half_width": shape.half_width,
        "matches_to_half_width": result.calls_to_half_width,
        "computed_at": timezone.now().isoformat(timespec="seconds"),
    }
    cache.set(shape.key, stored, KEPT_SECONDS)
    cache.delete(_pending(shape))
    return stored


def tournament_plan(tournament: Tournament) -> dict[str, Any]:
    """What the page and the API show: the plan for this tournament's shape (or why there
    is none, or that it is being computed), its judge calls and dollars at this judge's
    prices, and the verdicts so far against it."""
    shape, reason = plan_shape(tournament)
    if shape is None:
        return {"status": "unavailable", "reason": reason}
    stored = plan_read(shape)
    if stored is None:
        status = "computing" if plan_pending(shape) else "not_planned"
        return {"status": status, "strategy": shape.strategy, "n_models": shape.n_models}
    calls_per_match = tournament_calls_per_match(tournament) if tournament.judge_id else 1
    per_call = judge_usd_per_call(tournament)
    matches = stored["matches_to_tau"]
    done = tournament.matches.filter(status=MatchStatus.COMPLETED).count()
    return {
        "status": "ready",
        **stored,
        "judge_calls_to_tau": None if matches is None else matches * calls_per_match,
        "usd_to_tau": None if matches is None else round(matches * calls_per_match * per_call, 4),
        "verdicts": done,
        "progress": None if not matches else done / matches,
        "percent": None if not matches else 100 * done // matches,
    }


def tournament_plan_request(tournament: Tournament) -> None:
    shape, _ = plan_shape(tournament)
    if shape is not None:
        plan_request(shape)

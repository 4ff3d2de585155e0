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

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.utils import timezone

from arena.formats import ConfigError, get_format
from arena.models import Judge, MatchStatus, PromptSet, Tournament
from arena.queueing import enqueue_plan
from arena.selectors import (
    judge_calls_per_match,
    judge_shape,
    judge_usd_per_call,
    prompt_set_tokens,
    tournament_calls_per_match,
    usd_per_judge_call,
)
from arena.services.tournaments import ENGINE_OPTIONS, row_resolve
from simulator.planner import plan
from simulator.runs import Settings
from simulator.strategies import STRATEGIES

log = logging.getLogger(__name__)

TAU = 0.9
# Kept until the simulator changes (the key's version); a pending mark outlives a worker
# that died computing it by this much, then the next ask queues it again.
KEPT_SECONDS = 30 * 24 * 3600
PENDING_SECONDS = 60 * 60
VERSION = 1
MAX_MODELS = 64  # beyond this a plan takes a worker too long; the page says so


@dataclass(frozen=True)
class Shape:
    """What a plan depends on: the simulated strategy standing for the format, M, targets."""

    strategy: str
    n_models: int
    tau: float = TAU
    half_width: float | None = None

    @property
    def key(self) -> str:
        shape = f"{self.strategy}:{self.n_models}:{self.tau:g}:{self.half_width}"
        return f"plan:v{VERSION}:{settings.PLAN_TRUTHS}:{shape}"


def plan_strategy(format_name: str, config: dict[str, Any]) -> tuple[str | None, str]:
    """The simulator's strategy that plays a format as the engine does, or None and why."""
    if format_name == "round_robin":
        return "round_robin_bt", ""
    if format_name == "swiss":
        return "swiss_bt", ""
    if format_name == "single_elimination":
        if config.get("brackets") == "per_prompt":
            anchored = config.get("seeding") == "anchor"
            return ("per_prompt_brackets_anchor_bt" if anchored else "per_prompt_brackets_bt"), ""
        if config.get("seeding") == "anchor":
            return "single_elimination_anchor_bt", ""
        return "single_elimination_bt", ""
    if format_name == "kwise":
        if int(config.get("k", 4)) != 4:
            return None, "the simulator plays K-wise groups of 4 only"
        return f"kwise_{config.get('grouping', 'balanced')}_bt", ""
    if format_name == "adaptive":
        return f"adaptive_{config.get('sampler', 'ci_reduction')}", ""
    if format_name == "anchor":
        return "anchor_bt", ""
    return None, f"no simulated strategy plays the {format_name} format"


def plan_shape(
    format_name: str, config: dict[str, Any], n_models: int, half_width: float | None = None
) -> tuple[Shape | None, str]:
    """The shape a tournament of this format, config and size is planned as, or None and
    why not."""
    if n_models < 2:
        return None, "a plan needs at least 2 models"
    strategy, reason = plan_strategy(format_name, config)
    if strategy is None or strategy not in STRATEGIES:
        return None, reason or f"no simulated strategy {strategy}"
    if n_models > MAX_MODELS:
        return None, f"plans are simulated for up to {MAX_MODELS} models"
    if half_width is not None and not half_width > 0:
        return None, "half_width: a CI half-width target must be above 0 Elo"
    return Shape(strategy, n_models, TAU, half_width), ""


def _config_checked(format_name: str, config: dict[str, Any], n_models: int) -> dict[str, Any]:
    """The format's own reading of the options (defaults filled in: a K-wise K is at most
    M), or a ValidationError naming the option. A contestant named by an option (the
    anchor) is only checked to be there: the planner has no contestants."""
    named = {k: v for k, v in config.items() if k not in ENGINE_OPTIONS}
    if isinstance(named.get("anchor"), str):
        named["anchor"] = 0
    try:
        return get_format(format_name).validate_config(named, n_contestants=n_models, n_prompts=1)
    except ConfigError as error:
        raise ValidationError({error.field: [error.message]}) from None


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
    """Run the simulator for a shape and keep the result (a worker's job). The pending
    mark goes whatever happens: a run that failed is asked for again, not waited on."""
    try:
        result = plan(
            shape.strategy,
            Settings(n_models=shape.n_models, half_width=shape.half_width),
            seeds=range(1000, 1000 + settings.PLAN_TRUTHS),
            tau=shape.tau,
        )
    finally:
        cache.delete(_pending(shape))
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
    return stored


def plan_view(
    shape: Shape | None,
    reason: str,
    *,
    calls_per_match: int,
    usd_per_call: float,
    verdicts: int | None = None,
) -> dict[str, Any]:
    """What the pages and the API show of a shape's plan: its matches, judge calls and
    dollars to each target at these prices, or why there is none, or that it is being
    computed; with ``verdicts``, the progress toward the tau target."""
    if shape is None:
        return {"status": "unavailable", "reason": reason}
    stored = plan_read(shape)
    if stored is None:
        status = "computing" if plan_pending(shape) else "not_planned"
        return {"status": status, "strategy": shape.strategy, "n_models": shape.n_models}
    shown: dict[str, Any] = {"status": "ready", **stored}
    for target in ("tau", "half_width"):
        matches = stored[f"matches_to_{target}"]
        calls = None if matches is None else matches * calls_per_match
        shown[f"judge_calls_to_{target}"] = calls
        shown[f"usd_to_{target}"] = None if calls is None else round(calls * usd_per_call, 4)
    matches = stored["matches_to_tau"]
    if verdicts is not None:
        shown["verdicts"] = verdicts
        shown["progress"] = None if not matches else verdicts / matches
        shown["percent"] = None if not matches else 100 * verdicts // matches
    return shown


def tournament_plan(tournament: Tournament) -> dict[str, Any]:
    """The plan of this tournament's format and size at its judge's prices, and the
    verdicts so far against it."""
    n = tournament.contestants.count()
    shape, reason = plan_shape(tournament.format, tournament.config, n)
    return plan_view(
        shape,
        reason,
        calls_per_match=tournament_calls_per_match(tournament) if tournament.judge_id else 1,
        usd_per_call=judge_usd_per_call(tournament),
        verdicts=tournament.matches.filter(status=MatchStatus.COMPLETED).count(),
    )


def tournament_plan_request(tournament: Tournament) -> None:
    shape, _ = plan_shape(tournament.format, tournament.config, tournament.contestants.count())
    if shape is not None:
        plan_request(shape)


def plan_for(
    *,
    format_name: str,
    config: dict[str, Any],
    n_models: int,
    judge: str | int | None = None,
    prompt_set: str | int | None = None,
    half_width: float | None = None,
    request: bool = False,
) -> dict[str, Any]:
    """A plan before there is a tournament (the new-tournament page, the API): the format,
    its options and the number of models, priced at ``judge``'s prices with answers to
    ``prompt_set``'s prompts (unpriced without them). ``request``: queue it if missing."""
    judge_row: Judge | None = None if judge in (None, "") else row_resolve(Judge, "judge", judge)
    pset = None if prompt_set in (None, "") else row_resolve(PromptSet, "prompt_set", prompt_set)
    if n_models >= 2:
        config = _config_checked(format_name, config, n_models)
    shape, reason = plan_shape(format_name, config, n_models, half_width)
    if request and shape is not None:
        plan_request(shape)
    k = int(config.get("k", min(4, n_models) if format_name == "kwise" else 2))
    if judge_row is None:
        return plan_view(shape, reason, calls_per_match=1, usd_per_call=0.0)
    return plan_view(
        shape,
        reason,
        calls_per_match=judge_calls_per_match(judge_shape(judge_row), k=k),
        usd_per_call=usd_per_judge_call(judge_row, prompt_set_tokens(pset), k),
    )

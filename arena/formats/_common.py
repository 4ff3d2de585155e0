"""Small pure helpers shared by the formats: option parsing, scoring, seeding, tiers."""

from __future__ import annotations

import random
from collections.abc import Callable, Hashable, Iterable, Mapping
from fractions import Fraction
from typing import Any

from arena.formats.base import ConfigError, FormatState, MatchResult, PlannedMatch, Tiers

SEEDINGS = ("random", "rating")


def check_basics(n_contestants: int, n_prompts: int, *, minimum: int = 2) -> None:
    if n_contestants < minimum:
        raise ConfigError(
            "contestants", f"need at least {minimum} contestants, got {n_contestants}"
        )
    if n_prompts < 1:
        raise ConfigError("prompt_set", "the prompt set has no prompts")


def check_unknown(config: Mapping[str, Any], allowed: Iterable[str], format_name: str) -> None:
    unknown = set(config) - set(allowed)
    if unknown:
        # Naming what it does take: "rounds" given to a bracket is a question, not a typo.
        options = ", ".join(sorted(allowed))
        raise ConfigError(
            sorted(unknown)[0], f"unknown option for {format_name}; its options: {options}"
        )


def require_pairwise(config: Mapping[str, Any], format_name: str) -> None:
    k = config.get("k", 2)
    if isinstance(k, bool) or not isinstance(k, int):
        raise ConfigError("k", f"must be an integer, got {k!r}")
    if k != 2:
        raise ConfigError("k", f"{format_name} is pairwise: k must be 2, got {k}")


def require_choice(
    config: Mapping[str, Any], key: str, default: str, choices: tuple[str, ...]
) -> str:
    value = config.get(key, default)
    if value not in choices:
        raise ConfigError(key, f"must be one of {list(choices)}, got {value!r}")
    return str(value)


def require_bool(config: Mapping[str, Any], key: str, default: bool) -> bool:
    value = config.get(key, default)
    if not isinstance(value, bool):
        raise ConfigError(key, f"must be true or false, got {value!r}")
    return value


def require_seed_source(config: Mapping[str, Any], seeding: str) -> str | None:
    """The leaderboard a ``seeding="rating"`` draw reads its ratings from: every verdict
    (``"all"``, the default), people's votes (``"humans"``) or one judge's (``"judge:<id>"``).
    """
    if seeding != "rating":
        if "seed_source" in config:
            raise ConfigError("seed_source", 'only used with seeding "rating"')
        return None
    value = config.get("seed_source", "all")
    judge = isinstance(value, str) and value.startswith("judge:") and value[6:].isdigit()
    if value not in ("all", "humans") and not judge:
        raise ConfigError("seed_source", f'must be "all", "humans" or "judge:<id>", got {value!r}')
    return str(value)


def seeded_rng(seed: int, *labels: object) -> random.Random:
    """A private RNG for one decision, so decisions do not shift each other's draws."""
    return random.Random(":".join([str(seed), *(str(label) for label in labels)]))


def prompt_order(state: FormatState) -> list[int]:
    """A seeded shuffle of the prompt indices (the same one round robin uses)."""
    order = list(range(state.n_prompts))
    random.Random(state.seed).shuffle(order)
    return order


def seed_order(state: FormatState, seeding: str, format_name: str) -> list[int]:
    """Contestant ids by seed, best (seed 1) first.

    ``random``: a shuffle drawn from the tournament seed. ``rating``: by
    ``state.prior_ratings`` descending, ties and unrated contestants (after the rated ones)
    by id.
    """
    ids = sorted(state.contestants)
    if seeding == "rating":
        ratings = state.prior_ratings
        rated = sorted((c for c in ids if c in ratings), key=lambda c: (-ratings[c], c))
        return rated + [c for c in ids if c not in ratings]
    seeded_rng(state.seed, format_name, "seeding").shuffle(ids)
    return ids


def results_by_slot(state: FormatState) -> dict[tuple[int, int], MatchResult]:
    return {(r.round, r.slot): r for r in state.results}


def planned_slots(state: FormatState) -> set[tuple[int, int]]:
    return {(m.round, m.slot) for m in state.planned}


def open_count(state: FormatState) -> int:
    done = {(r.round, r.slot) for r in state.results}
    return sum(1 for m in state.planned if (m.round, m.slot) not in done)


def rank_points(ranking: Tiers) -> dict[int, Fraction]:
    """Points each entrant earns in one ranked match: 1 per entrant ranked below, 1/2 per tie.

    Pairwise this is win 1, tie 1/2, loss 0.
    """
    points: dict[int, Fraction] = {}
    remaining = sum(len(tier) for tier in ranking)
    for tier in ranking:
        remaining -= len(tier)
        for c in tier:
            points[c] = remaining + Fraction(len(tier) - 1, 2)
    return points


def tiers_by(ids: Iterable[int], key: Callable[[int], Hashable]) -> Tiers:
    """Group ``ids`` into tiers of equal ``key``, the largest key first; ids ascend in a tier."""
    groups: dict[Hashable, list[int]] = {}
    for c in sorted(ids):
        groups.setdefault(key(c), []).append(c)
    ordered = sorted(groups, key=_sort_key, reverse=True)
    return tuple(tuple(groups[k]) for k in ordered)


def _sort_key(value: Hashable) -> Any:
    return value


def missing(expected: Iterable[PlannedMatch], state: FormatState) -> tuple[PlannedMatch, ...]:
    """The expected matches the engine has not created yet."""
    made = planned_slots(state)
    return tuple(m for m in expected if (m.round, m.slot) not in made)


def points_standings(state: FormatState) -> Tiers:
    """Points over every judged match (win 1, tie 1/2; failed matches count nothing)."""
    points = {c: Fraction(0) for c in state.contestants}
    for result in state.results:
        if result.ranking is not None:
            for c, p in rank_points(result.ranking).items():
                if c in points:
                    points[c] += p
    return tiers_by(points, points.__getitem__)

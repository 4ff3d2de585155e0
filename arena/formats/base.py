"""The contract every tournament format keeps. Pure: no Django, no I/O.

A format is a deterministic function of (contestants, config, seed, results so far) to the
next matches, or to "finished". The engine saves what it returns and feeds results back,
so a format can be replayed or resumed from stored results alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

Tiers = tuple[tuple[int, ...], ...]


class ConfigError(ValueError):
    """A tournament configuration value is unusable; ``field`` names which one."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class PlannedMatch:
    """A match to create: ``entrants`` in answer order (position 0 is shown first)."""

    round: int
    slot: int
    prompt_index: int
    entrants: tuple[int, ...]


@dataclass(frozen=True)
class MatchResult:
    round: int
    slot: int
    entrants: tuple[int, ...]
    ranking: Tiers | None  # None: the match failed and has no verdict


@dataclass(frozen=True)
class FormatState:
    contestants: tuple[int, ...]
    n_prompts: int
    config: Mapping[str, Any]
    seed: int
    planned: tuple[PlannedMatch, ...] = ()
    results: tuple[MatchResult, ...] = ()
    # Current leaderboard ratings by contestant id (higher is better), for formats that seed
    # from it (``seeding: "rating"``). Unrated contestants seed after rated ones, by id.
    prior_ratings: Mapping[int, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Step:
    """What to do next: create ``matches``, wait for open ones, or stop (``finished``)."""

    matches: tuple[PlannedMatch, ...] = ()
    finished: bool = False
    planned_total: int | None = None
    notes: tuple[str, ...] = field(default=())


class Format(Protocol):
    name: str

    def validate_config(
        self,
        config: Mapping[str, Any],
        *,
        n_contestants: int,
        n_prompts: int,
        contestants: Sequence[int] | None = None,
    ) -> dict[str, Any]:
        """Return the config with defaults filled in, or raise ConfigError.

        ``contestants`` (the contestant ids, optional) lets a format check options that name
        a contestant, such as the anchor format's ``anchor``.
        """
        ...

    def next_step(self, state: FormatState) -> Step: ...

    def standings(self, state: FormatState) -> Tiers:
        """Standings from the results so far (final once finished): tiers, best first."""
        ...


def require_int(config: Mapping[str, Any], key: str, default: int, *, low: int, high: int) -> int:
    """Read an integer option within [low, high], naming the field when it is not."""
    value = config.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(key, f"must be an integer, got {value!r}")
    if not low <= value <= high:
        raise ConfigError(key, f"must be between {low} and {high}, got {value}")
    return value

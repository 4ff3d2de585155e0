"""Tournament formats: pure pairing logic, no Django. See ``base.Format`` for the contract."""

from __future__ import annotations

from arena.formats.base import (
    ConfigError,
    Format,
    FormatState,
    MatchResult,
    PlannedMatch,
    Step,
    Tiers,
)
from arena.formats.round_robin import RoundRobin

FORMATS: dict[str, Format] = {f.name: f for f in (RoundRobin(),)}


def get_format(name: str) -> Format:
    try:
        return FORMATS[name]
    except KeyError:
        raise ConfigError("format", f"unknown format {name!r}; one of {sorted(FORMATS)}") from None


__all__ = [
    "FORMATS",
    "ConfigError",
    "Format",
    "FormatState",
    "MatchResult",
    "PlannedMatch",
    "Step",
    "Tiers",
    "get_format",
]

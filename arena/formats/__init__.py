"""Tournament formats: pure pairing logic, no Django. See ``base.Format`` for the contract."""

from __future__ import annotations

from arena.formats.adaptive import Adaptive
from arena.formats.anchor import Anchor, anchor_warning
from arena.formats.base import (
    ConfigError,
    Format,
    FormatState,
    MatchResult,
    PlannedMatch,
    Step,
    Tiers,
)
from arena.formats.kwise import KWise
from arena.formats.review import Review
from arena.formats.round_robin import RoundRobin
from arena.formats.single_elimination import SingleElimination
from arena.formats.swiss import Swiss

FORMATS: dict[str, Format] = {
    f.name: f
    for f in (
        RoundRobin(),
        SingleElimination(),
        KWise(),
        Anchor(),
        Swiss(),
        Adaptive(),
        Review(),
    )
}


def on_demand(name: str) -> bool:
    """Whether the format, judged by people, has its matches drawn when a voter asks
    rather than planned (arena.services.draws)."""
    return bool(getattr(get_format(name), "on_demand", False))


def get_format(name: str) -> Format:
    try:
        return FORMATS[name]
    except KeyError:
        raise ConfigError("format", f"unknown format {name!r}; one of {sorted(FORMATS)}") from None


__all__ = [
    "FORMATS",
    "Adaptive",
    "ConfigError",
    "Format",
    "FormatState",
    "MatchResult",
    "PlannedMatch",
    "Step",
    "Tiers",
    "anchor_warning",
    "get_format",
    "on_demand",
]

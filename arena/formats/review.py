"""Review: a human-judged tournament that plans nothing itself. Its matches come from other
tournaments, whose judge disagreed with itself on them (the two orders of a pair gave
different winners, or a panel's members did: ``disagreements_to`` in their config,
arena.services.escalations), and people vote on them like on any other blind battle.

It waits while it runs and is closed by staff (complete or cancel); the people's verdicts
count as human votes on every board, beside the judge's, which keeps its own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from arena.formats._common import check_unknown, points_standings
from arena.formats.base import ConfigError, FormatState, Step, Tiers, require_int


class Review:
    name = "review"

    def validate_config(
        self,
        config: Mapping[str, Any],
        *,
        n_contestants: int,
        n_prompts: int,
        contestants: Sequence[int] | None = None,
    ) -> dict[str, Any]:
        if n_contestants < 2:
            raise ConfigError("contestants", f"need at least 2 contestants, got {n_contestants}")
        k = require_int(config, "k", 2, low=2, high=8)
        if k != 2:
            raise ConfigError("k", f"review is pairwise: k must be 2, got {k}")
        check_unknown(config, ("k",), "review")
        return {"k": 2}

    def next_step(self, state: FormatState) -> Step:
        return Step()  # nothing to plan: its matches are sent to it

    def standings(self, state: FormatState) -> Tiers:
        return points_standings(state)

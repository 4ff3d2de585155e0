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

from arena.formats._common import check_basics, check_unknown, points_standings, require_pairwise
from arena.formats.base import FormatState, Step, Tiers


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
        check_basics(n_contestants, n_prompts)
        require_pairwise(config, "review")
        check_unknown(config, ("k",), "review")
        return {"k": 2}

    def next_step(self, state: FormatState) -> Step:
        return Step()  # nothing to plan: its matches are sent to it

    def standings(self, state: FormatState) -> Tiers:
        return points_standings(state)

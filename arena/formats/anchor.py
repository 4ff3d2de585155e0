"""Anchor / baseline pairwise (Arena-Hard style): every contestant meets one anchor model.

Config: ``anchor`` (required: the anchor's contestant id, which must be one of the
contestants) and ``rounds`` (how many prompts, default ``min(n_prompts, 3)``; a seeded shuffle
of the prompt set, like round robin). Round r pairs every other contestant with the anchor on
prompt r, slot i for the i-th other contestant by id. Answer position alternates: each
contestant starts on a side drawn from the seed and switches side every round.

Pairings never depend on results, so the whole schedule is created in the first step.

Standings: each contestant's score rate over its judged matches (win 1, tie 1/2), the anchor
included (its rate is against the field), so the anchor lands among the contestants it
separates. ``anchor_warning`` flags an anchor ranked best or worst: a mid-ranked anchor
separates models best.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from fractions import Fraction
from typing import Any

from arena.formats._common import (
    check_basics,
    check_unknown,
    missing,
    open_count,
    prompt_order,
    rank_points,
    require_pairwise,
    seeded_rng,
    tiers_by,
)
from arena.formats.base import ConfigError, FormatState, PlannedMatch, Step, Tiers, require_int

NAME = "anchor"
OPTIONS = ("k", "anchor", "rounds")


def anchor_warning(standings: Tiers, anchor: int) -> str | None:
    """A warning when the anchor is ranked best or worst, else None."""
    if not standings or not any(anchor in tier for tier in standings):
        return None
    advice = "a mid-ranked anchor separates models best; consider a stronger or weaker one"
    if anchor in standings[0]:
        return f"the anchor (contestant {anchor}) is ranked best: {advice}"
    if anchor in standings[-1]:
        return f"the anchor (contestant {anchor}) is ranked worst: {advice}"
    return None


class Anchor:
    name = NAME

    def validate_config(
        self,
        config: Mapping[str, Any],
        *,
        n_contestants: int,
        n_prompts: int,
        contestants: Sequence[int] | None = None,
    ) -> dict[str, Any]:
        check_basics(n_contestants, n_prompts)
        check_unknown(config, OPTIONS, NAME)
        require_pairwise(config, NAME)
        if "anchor" not in config:
            raise ConfigError("anchor", "name the anchor contestant (its id)")
        anchor = config["anchor"]
        if isinstance(anchor, bool) or not isinstance(anchor, int):
            raise ConfigError("anchor", f"must be a contestant id, got {anchor!r}")
        if contestants is not None and anchor not in contestants:
            raise ConfigError("anchor", f"contestant {anchor} is not in this tournament")
        rounds = require_int(config, "rounds", min(n_prompts, 3), low=1, high=n_prompts)
        return {"k": 2, "anchor": anchor, "rounds": rounds}

    def next_step(self, state: FormatState) -> Step:
        schedule = self.schedule(state)
        new = missing(schedule, state)
        if new or open_count(state):
            return Step(matches=new, planned_total=len(schedule))
        warning = anchor_warning(self.standings(state), int(state.config["anchor"]))
        notes = (warning,) if warning else ()
        return Step(finished=True, planned_total=len(schedule), notes=notes)

    def schedule(self, state: FormatState) -> tuple[PlannedMatch, ...]:
        anchor = state.config.get("anchor")
        if anchor not in state.contestants:
            raise ConfigError("anchor", f"contestant {anchor} is not in this tournament")
        others = [c for c in sorted(state.contestants) if c != anchor]
        prompts = prompt_order(state)
        start = {c: seeded_rng(state.seed, NAME, "side", c).random() < 0.5 for c in others}
        matches = []
        for r in range(int(state.config["rounds"])):
            for slot, c in enumerate(others):
                anchor_first = start[c] == (r % 2 == 0)
                entrants = (int(anchor), c) if anchor_first else (c, int(anchor))
                matches.append(PlannedMatch(r, slot, prompts[r % len(prompts)], entrants))
        return tuple(matches)

    def standings(self, state: FormatState) -> Tiers:
        points = {c: Fraction(0) for c in state.contestants}
        games: Counter[int] = Counter()
        for result in state.results:
            if result.ranking is None:
                continue
            for c, p in rank_points(result.ranking).items():
                if c in points:
                    points[c] += p
                    games[c] += 1

        def key(c: int) -> tuple[bool, Fraction]:
            return (games[c] > 0, points[c] / games[c] if games[c] else Fraction(0))

        return tiers_by(state.contestants, key)

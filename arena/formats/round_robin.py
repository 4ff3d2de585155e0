"""Pairwise round-robin: every pair of contestants meets once per round, one prompt a round.

Round r uses prompt r of a seeded shuffle of the prompt set, so a tournament with the same
seed replays the same pairings, prompts and answer positions. Which side answers first is
drawn per match from the seed, which spreads position bias evenly in expectation.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Mapping, Sequence
from typing import Any

from arena.formats._common import check_unknown, points_standings
from arena.formats.base import ConfigError, FormatState, PlannedMatch, Step, Tiers, require_int


class RoundRobin:
    name = "round_robin"

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
        if n_prompts < 1:
            raise ConfigError("prompt_set", "the prompt set has no prompts")
        k = require_int(config, "k", 2, low=2, high=8)
        if k != 2:
            raise ConfigError("k", f"round_robin is pairwise: k must be 2, got {k}")
        check_unknown(config, ("k", "rounds"), "round_robin")
        rounds = require_int(config, "rounds", min(n_prompts, 3), low=1, high=n_prompts)
        return {"k": 2, "rounds": rounds}

    def next_step(self, state: FormatState) -> Step:
        rounds = int(state.config["rounds"])
        pairs = len(state.contestants) * (len(state.contestants) - 1) // 2
        total = rounds * pairs
        planned_rounds = {m.round for m in state.planned}
        done = {(r.round, r.slot) for r in state.results}
        open_matches = [m for m in state.planned if (m.round, m.slot) not in done]
        if open_matches:
            return Step(planned_total=total)
        # A round the engine created only in part (a budget cut it) is completed first.
        planned_keys = {(m.round, m.slot) for m in state.planned}
        for r in sorted(planned_rounds):
            missing = [m for m in self._round(state, r) if (m.round, m.slot) not in planned_keys]
            if missing:
                return Step(matches=tuple(missing), planned_total=total)
        next_round = len(planned_rounds)
        if next_round >= rounds:
            return Step(finished=True, planned_total=total)
        return Step(matches=self._round(state, next_round), planned_total=total)

    def standings(self, state: FormatState) -> Tiers:
        return points_standings(state)

    def _round(self, state: FormatState, round_index: int) -> tuple[PlannedMatch, ...]:
        prompt_order = list(range(state.n_prompts))
        random.Random(state.seed).shuffle(prompt_order)
        rng = random.Random(f"{state.seed}:round:{round_index}")
        matches = []
        for slot, (a, b) in enumerate(itertools.combinations(sorted(state.contestants), 2)):
            entrants = (a, b) if rng.random() < 0.5 else (b, a)
            matches.append(PlannedMatch(round_index, slot, prompt_order[round_index], entrants))
        return tuple(matches)

"""Swiss system, pairwise: a few rounds, each pairing contestants with similar scores.

Config: ``rounds`` (default ``ceil(log2 N) + 1``, at most N-1) and ``seeding`` (``"random"``
by seed, default, or ``"rating"`` from ``FormatState.prior_ratings``, as in single
elimination). Round r is played on prompt ``r mod n_prompts`` of a seeded shuffle of the
prompt set.

Pairing (Monrad style): contestants sorted by points, then by seed; the top unpaired one
meets the next one it has not met yet, backtracking when the rest cannot be paired, so
pairs stay within (or next to) score groups and nobody meets anyone twice. When no pairing
without a rematch exists (or the bounded search gives up), rematches are allowed, oldest
first: only pairs whose last meeting was in round 0, then round 0 or 1, and so on; the
step carries a note saying so.

Odd N: the lowest-ranked contestant who has not had a bye sits out with 1 point (a bye
creates no match); if that leaves no rematch-free pairing, the next one up takes it.

Answer position (colour): whoever has been shown first less often goes first; then whoever
has been shown second more often; then whoever was second in their latest match; then a
seeded coin.

Scoring: win 1, tie 1/2, loss 0; a failed match gives neither side a point but counts as
played (no rematch, and it counts in Buchholz). Standings: points, then Buchholz (the sum of
the opponents' points); equal on both is one tier.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from arena.formats._common import (
    SEEDINGS,
    check_basics,
    check_unknown,
    prompt_order,
    rank_points,
    require_choice,
    require_pairwise,
    require_seed_source,
    results_by_slot,
    seed_order,
    seeded_rng,
    tiers_by,
)
from arena.formats.base import FormatState, PlannedMatch, Step, Tiers, require_int

NAME = "swiss"
OPTIONS = ("k", "rounds", "seeding", "seed_source")
SEARCH_STEPS = 20_000  # per pairing search; deterministic, so replays agree


def default_rounds(n_contestants: int) -> int:
    return max(1, min((n_contestants - 1).bit_length() + 1, n_contestants - 1))


@dataclass
class _Table:
    seed_rank: dict[int, int]
    points: dict[int, Fraction]
    opponents: dict[int, list[int]]
    last_met: dict[frozenset[int], int] = field(default_factory=dict)
    firsts: Counter[int] = field(default_factory=Counter)
    seconds: Counter[int] = field(default_factory=Counter)
    last_side: dict[int, int] = field(default_factory=dict)
    byes: Counter[int] = field(default_factory=Counter)
    matches: list[PlannedMatch] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    finished: bool = False


class Swiss:
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
        rounds = require_int(
            config, "rounds", default_rounds(n_contestants), low=1, high=n_contestants - 1
        )
        seeding = require_choice(config, "seeding", "random", SEEDINGS)
        clean: dict[str, Any] = {"k": 2, "rounds": rounds, "seeding": seeding}
        source = require_seed_source(config, seeding)
        if source is not None:
            clean["seed_source"] = source
        return clean

    def next_step(self, state: FormatState) -> Step:
        table = self._replay(state)
        total = int(state.config["rounds"]) * (len(state.contestants) // 2)
        notes = tuple(table.notes)
        if table.finished:
            return Step(finished=True, planned_total=total, notes=notes)
        return Step(matches=tuple(table.matches), planned_total=total, notes=notes)

    def standings(self, state: FormatState) -> Tiers:
        t = self._replay(state)

        def key(c: int) -> tuple[Fraction, Fraction]:
            return (t.points[c], sum((t.points[o] for o in t.opponents[c]), Fraction(0)))

        return tiers_by(state.contestants, key)

    def _replay(self, state: FormatState) -> _Table:
        """Re-pair every round from the stored results, up to the first unfinished round."""
        order = seed_order(state, str(state.config.get("seeding", "random")), NAME)
        t = _Table(
            seed_rank={c: i for i, c in enumerate(order)},
            points={c: Fraction(0) for c in order},
            opponents={c: [] for c in order},
        )
        results = results_by_slot(state)
        made = {(m.round, m.slot) for m in state.planned}
        prompts = prompt_order(state)
        for r in range(int(state.config["rounds"])):
            pairs, bye = self._pair(t, r)
            if bye is not None:
                t.points[bye] += 1
                t.byes[bye] += 1
            complete = True
            planned = [
                PlannedMatch(r, slot, prompts[r % len(prompts)], self._colour(state, t, r, a, b))
                for slot, (a, b) in enumerate(pairs)
            ]
            for m in planned:
                result = results.get((m.round, m.slot))
                if result is None:
                    complete = False
                    if (m.round, m.slot) not in made:
                        t.matches.append(m)
            for m in planned:  # record after colouring, so colours depend on earlier rounds
                a, b = m.entrants
                t.last_met[frozenset((a, b))] = r
                t.opponents[a].append(b)
                t.opponents[b].append(a)
                t.firsts[a] += 1
                t.seconds[b] += 1
                t.last_side[a], t.last_side[b] = 0, 1
                result = results.get((m.round, m.slot))
                if result is not None and result.ranking is not None:
                    for c, p in rank_points(result.ranking).items():
                        if c in t.points:
                            t.points[c] += p
            if not complete:
                return t
        t.finished = True
        return t

    def _pair(self, t: _Table, r: int) -> tuple[list[tuple[int, int]], int | None]:
        ranked = sorted(t.points, key=lambda c: (-t.points[c], t.seed_rank[c]))
        bye_options: list[int | None] = [None]
        if len(ranked) % 2:
            bottom_up: list[int] = sorted(ranked[::-1], key=lambda c: t.byes[c])
            bye_options = list(bottom_up)
        budget = [SEARCH_STEPS]
        for bye in bye_options:
            players = [c for c in ranked if c != bye]
            pairs = _search(players, lambda a, b: frozenset((a, b)) not in t.last_met, budget)
            if pairs is not None:
                return pairs, bye
            if budget[0] <= 0:
                break
        bye = bye_options[0]
        players = [c for c in ranked if c != bye]
        for oldest in sorted(set(t.last_met.values())):
            budget = [SEARCH_STEPS]
            pairs = _search(players, _met_no_later_than(t, oldest), budget)
            if pairs is not None:
                t.notes.append(
                    f"round {r}: no pairing without a rematch; allowed rematches of pairs "
                    f"last met in round {oldest} or earlier"
                )
                return pairs, bye
        raise AssertionError("any pairing is allowed in the last pass")  # pragma: no cover

    def _colour(self, state: FormatState, t: _Table, r: int, a: int, b: int) -> tuple[int, int]:
        def key(c: int) -> tuple[int, int, int]:
            return (t.firsts[c], -t.seconds[c], -t.last_side.get(c, -1))

        if key(a) != key(b):
            return (a, b) if key(a) < key(b) else (b, a)
        coin = seeded_rng(state.seed, NAME, "colour", r, min(a, b), max(a, b)).random()
        return (a, b) if coin < 0.5 else (b, a)


def _met_no_later_than(t: _Table, last_round: int) -> Callable[[int, int], bool]:
    def allowed(a: int, b: int) -> bool:
        return t.last_met.get(frozenset((a, b)), -1) <= last_round

    return allowed


def _search(
    players: list[int], allowed: Callable[[int, int], bool], budget: list[int]
) -> list[tuple[int, int]] | None:
    """Pair ``players`` in order (top with the nearest allowed one below), backtracking.

    ``budget`` counts search steps down; when it runs out the search gives up (None).
    """
    if not players:
        return []
    top, rest = players[0], players[1:]
    for i, other in enumerate(rest):
        budget[0] -= 1
        if budget[0] < 0:
            return None
        if not allowed(top, other):
            continue
        tail = _search(rest[:i] + rest[i + 1 :], allowed, budget)
        if tail is not None:
            return [(top, other), *tail]
    return None

"""Seeded single elimination (Varco Arena / ArenaRL style): a knockout bracket, pairwise.

Seeding: ``seeding="random"`` (default) shuffles the contestants from the tournament seed;
``"rating"`` seeds from ``FormatState.prior_ratings`` (best rating is seed 1; ties and
unrated contestants after the rated ones, by id). ``"anchor"`` (ArenaRL): first an anchor
pass in which every other contestant is judged against the ``anchor`` contestant (its id)
once per prompt, on ``anchor_rounds`` prompts (default 1); seeds follow each contestant's
score rate against the anchor (win 1, tie 1/2, over its judged anchor matches; none judged
counts 1/2), the anchor itself scoring 1/2 (as against itself); equal scores are ordered by
a shuffle drawn from the tournament seed. The pass plays rounds ``0 .. anchor_rounds - 1``
(slot i: the i-th other contestant by id; the anchor's side alternates per round from a
seeded start) on the prompts the bracket's first rounds use; the bracket's rounds follow
it. Until every anchor match has a result no bracket match is planned; the pass is replayed
from the stored results like the rest, so a resumed tournament seeds identically.
Anchor-pass matches feed the leaderboard but not the bracket points below (their
information is in the seeds).

Placement is the classic recursive order, so seed 1 meets seed N, 2 meets N-1, …, and the
top two seeds sit in opposite halves (they can only meet in the final). For 8 the bracket
positions hold seeds ``[1, 8, 4, 5, 2, 7, 3, 6]``. When N is not a power of two the bracket
is padded to the next one and the missing seeds are byes, which fall to the top seeds; a
bye creates no match.

Brackets (``brackets``): ``"single"`` (default), one bracket whose round r plays on prompt
``r mod n_prompts`` (``prompts="per_round"``, default) or every round on one seeded prompt
(``prompts="same"``); ``"per_prompt"`` (Varco Arena): one bracket per prompt of the
tournament, every one of its games on that prompt, all from the same seeds. Brackets move on
independently (one waiting for a verdict holds up no other), all their matches feed the
leaderboard's fit. Which side answers first is drawn per match from the seed.

Seeding by rating reads ``FormatState.prior_ratings``; where they come from is the engine's
business (``seed_source`` names the leaderboard it should read: ``"all"``, ``"humans"`` or
``"judge:<id>"``; only with ``seeding="rating"``).

Ties (``tie_rule``): ``"rejudge"`` (default) replays the same pair on the same prompt with the
answer order swapped, as a new match in a later slot of the same round; after
``max_rejudges`` (default 1) replays are still tied, the higher seed advances.
``"higher_seed"``: the higher seed advances at once. A failed match (no verdict) is not
replayed: the higher seed advances.

Slots: in round r with ``w`` games (bracket nodes, plus the third-place match in the final
round), attempt ``a`` of game ``g`` of bracket ``b`` has slot ``b * s + a * w + g``, where the
stride ``s = (max_rejudges + 1) * w``; unique across the tournament (a single bracket is
bracket 0, so its slots are ``a * w + g``).

Standings: by the round a contestant went out in (champion, finalist, then 3rd and 4th from
the third-place match when played, otherwise the semi-final losers, then quarter-final losers,
…); within one round by points won in the tournament (win 1, tie 1/2, over every match
including replays), then by seed. Every tier holds one contestant. With several brackets the
same keys are summed over the brackets (rounds reached, titles, third places, points).

For people (``slot_role``, ``SingleElimination.placings``): what a stored match is (an anchor
pass match, a bracket game, the third-place match; its first judgment or a re-judge after a
tie), each contestant's seed, and the places the bracket gives: the places a contestant
shares with the others out in the same round (semi-final losers share 3rd–4th unless a
third-place match splits them), known as soon as it is out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from arena.formats._common import (
    SEEDINGS,
    check_basics,
    check_unknown,
    rank_points,
    require_bool,
    require_choice,
    require_pairwise,
    require_seed_source,
    results_by_slot,
    seed_order,
    seeded_rng,
    tiers_by,
)
from arena.formats.base import (
    ConfigError,
    FormatState,
    MatchResult,
    PlannedMatch,
    Step,
    Tiers,
    require_int,
)

NAME = "single_elimination"
OPTIONS = (
    "k",
    "seeding",
    "third_place",
    "tie_rule",
    "max_rejudges",
    "prompts",
    "anchor",
    "anchor_rounds",
    "brackets",
    "seed_source",
)
BRACKETS = ("single", "per_prompt")
SE_SEEDINGS = (*SEEDINGS, "anchor")


def bracket_order(size: int) -> list[int]:
    """Seeds (1-based) by bracket position for a power-of-two ``size``: 8 → [1,8,4,5,2,7,3,6]."""
    if size < 1 or size & (size - 1):
        raise ValueError(f"bracket size must be a power of two, got {size}")
    order = [1]
    while len(order) < size:
        total = 2 * len(order) + 1
        order = [s for seed in order for s in (seed, total - seed)]
    return order


@dataclass
class _Bracket:
    """Everything a replay of the stored results learns about the bracket."""

    seeds: list[int]
    rounds: int
    seed_of: dict[int, int] = field(default_factory=dict)
    matches: list[PlannedMatch] = field(default_factory=list)
    pending: bool = False
    finished: bool = False
    reached: dict[int, int] = field(default_factory=dict)
    alive: set[int] = field(default_factory=set)
    points: dict[int, Fraction] = field(default_factory=dict)
    third_place_winner: int | None = None
    rejudges: int = 0
    made: set[tuple[int, int]] = field(default_factory=set)
    # For people: who went through each decided game (stored round, game), and the bracket
    # round (0-based) each loser went out in.
    winners: dict[tuple[int, int], int] = field(default_factory=dict)
    out_in: dict[int, int] = field(default_factory=dict)
    third_place: tuple[int, int] | None = None  # (winner, loser) once decided
    seeded: bool = True


@dataclass(frozen=True)
class SlotRole:
    """What the match in a stored (round, slot) is, for people."""

    stage: str  # "anchor" (the seeding pass), "bracket", or "third_place"
    number: int  # 1-based: the anchor pass's round, or the bracket's round
    # "Anchor pass", "Quarter-finals", "Semi-finals", "Final", "Third-place match"; "" for
    # the bracket's earlier rounds (known by number)
    name: str
    game: int  # the bracket node (the third-place match is the last game of the final)
    attempt: int  # 0: the first judgment; n: the n-th re-judge after a tie
    bracket: int = 0  # which bracket (per-prompt brackets: the prompt's index)


@dataclass(frozen=True)
class Placings:
    """Seeds and the places the bracket has decided so far."""

    seeds: tuple[int, ...]  # contestant ids, seed 1 first
    seeds_final: bool  # False while an anchor pass is still being judged
    places: Mapping[int, tuple[int, int]]  # contestant → (best, worst) place it shares
    winners: Mapping[tuple[int, int], int]  # (stored round, game) → who went through
    champion: int | None
    finished: bool

    def seed_of(self, contestant: int) -> int:
        return self.seeds.index(contestant) + 1


def slot_role(config: Mapping[str, Any], n_contestants: int, round_: int, slot: int) -> SlotRole:
    """The role of the match stored at (``round_``, ``slot``) of a bracket of ``n_contestants``
    (the slot layout of the module's docstring)."""
    passes = anchor_rounds(config)
    if round_ < passes:
        name = "Anchor pass" if passes == 1 else f"Anchor pass {round_ + 1}"
        return SlotRole("anchor", round_ + 1, name, slot, 0)
    bracket_round = round_ - passes
    width, third = round_width(config, n_contestants, round_)
    bracket, within = divmod(slot, round_stride(config, n_contestants, round_))
    attempt, game = divmod(within, width)
    if game == third:
        return SlotRole(
            "third_place", bracket_round + 1, "Third-place match", game, attempt, bracket
        )
    size = 1 << (max(n_contestants, 2) - 1).bit_length()
    name = ROUND_NAMES.get(size >> bracket_round, "")
    return SlotRole("bracket", bracket_round + 1, name, game, attempt, bracket)


def round_width(config: Mapping[str, Any], n_contestants: int, round_: int) -> tuple[int, int]:
    """A stored bracket round's games in one bracket (the slot of attempt ``a`` of game ``g``
    is ``a * width + g`` within the bracket) and which game is the third-place match (-1:
    none)."""
    bracket_round = round_ - anchor_rounds(config)
    if bracket_round < 0:
        raise ValueError(f"round {round_} is in the anchor pass, not the bracket")
    size = 1 << (max(n_contestants, 2) - 1).bit_length()
    nodes = size >> (bracket_round + 1)
    third = nodes == 1 and bool(config.get("third_place")) and n_contestants >= 4
    return (nodes + 1, nodes) if third else (nodes, -1)


def round_stride(config: Mapping[str, Any], n_contestants: int, round_: int) -> int:
    """Slots one bracket takes in a stored bracket round: every game's every attempt."""
    width, _ = round_width(config, n_contestants, round_)
    return (int(config.get("max_rejudges", 1)) + 1) * width


def bracket_count(config: Mapping[str, Any], n_prompts: int) -> int:
    """How many brackets the tournament plays: one per prompt, or one."""
    return max(n_prompts, 1) if config.get("brackets") == "per_prompt" else 1


def byes(seeds: Sequence[int]) -> dict[int, int]:
    """The first bracket round's byes: game (bracket node) → the contestant it sends
    through unplayed (``seeds``: contestant ids, seed 1 first)."""
    size = 1 << (max(len(seeds), 2) - 1).bit_length()
    slots = [seeds[s - 1] if s <= len(seeds) else None for s in bracket_order(size)]
    found: dict[int, int] = {}
    for g in range(size // 2):
        a, b = slots[2 * g], slots[2 * g + 1]
        if a is None or b is None:
            through = a if a is not None else b
            if through is not None:  # byes never meet each other
                found[g] = through
    return found


# The last bracket rounds by name, keyed by the players they start with (byes counted).
ROUND_NAMES = {2: "Final", 4: "Semi-finals", 8: "Quarter-finals"}


class SingleElimination:
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
        clean: dict[str, Any] = {
            "k": 2,
            "seeding": require_choice(config, "seeding", "random", SE_SEEDINGS),
            "third_place": require_bool(config, "third_place", False),
            "tie_rule": require_choice(config, "tie_rule", "rejudge", ("rejudge", "higher_seed")),
            "max_rejudges": require_int(config, "max_rejudges", 1, low=0, high=5),
            "brackets": require_choice(config, "brackets", "single", BRACKETS),
        }
        if clean["brackets"] == "single":
            clean["prompts"] = require_choice(config, "prompts", "per_round", ("per_round", "same"))
        elif "prompts" in config:
            raise ConfigError(
                "prompts",
                'only with brackets "single": a per-prompt bracket '
                "plays every game on its own prompt",
            )
        source = require_seed_source(config, clean["seeding"])
        if source is not None:
            clean["seed_source"] = source
        if clean["seeding"] != "anchor":
            for key in ("anchor", "anchor_rounds"):
                if key in config:
                    raise ConfigError(key, 'only used with seeding "anchor"')
            return clean
        if "anchor" not in config:
            raise ConfigError("anchor", 'seeding "anchor" needs the anchor contestant (its id)')
        anchor = config["anchor"]
        if isinstance(anchor, bool) or not isinstance(anchor, int):
            raise ConfigError("anchor", f"must be a contestant id, got {anchor!r}")
        if contestants is not None and anchor not in contestants:
            raise ConfigError("anchor", f"contestant {anchor} is not in this tournament")
        clean["anchor"] = anchor
        clean["anchor_rounds"] = require_int(config, "anchor_rounds", 1, low=1, high=n_prompts)
        return clean

    def next_step(self, state: FormatState) -> Step:
        brackets = self._replay(state)
        n = len(state.contestants)
        third = 1 if state.config.get("third_place") and n >= 4 else 0
        count = bracket_count(state.config, state.n_prompts)
        total = count * (n - 1 + third) + sum(b.rejudges for b in brackets)
        total += anchor_rounds(state.config) * (n - 1)
        if all(b.finished for b in brackets):
            return Step(finished=True, planned_total=total)
        return Step(matches=tuple(m for b in brackets for m in b.matches), planned_total=total)

    def standings(self, state: FormatState) -> Tiers:
        brackets = self._replay(state)
        seed_of = brackets[0].seed_of

        def key(c: int) -> tuple[int, int, int, Fraction, int]:
            return (
                sum(b.reached[c] for b in brackets),
                sum(c in b.alive for b in brackets),
                sum(c == b.third_place_winner for b in brackets),
                sum((b.points[c] for b in brackets), Fraction(0)),
                -seed_of[c],
            )

        return tiers_by(state.contestants, key)

    def placings(self, state: FormatState, bracket: int = 0) -> Placings:
        """Seeds, who went through each decided game, and the places decided so far in one
        bracket: the losers of a round share the places below those still in (with byes,
        the first round's losers share what is left), the third-place match splits its two."""
        brackets = self._replay(state)
        return _placings(brackets[bracket] if bracket < len(brackets) else brackets[0])

    def all_placings(self, state: FormatState) -> tuple[Placings, ...]:
        """Every bracket's placings (one replay), bracket 0 first; while an anchor pass is
        being judged there are no brackets yet and this holds the pass's provisional seeds."""
        return tuple(_placings(b) for b in self._replay(state))

    def seeds(self, state: FormatState) -> tuple[list[int], bool]:
        """Contestant ids by seed (seed 1 first), and whether they are final.

        Only ``seeding="anchor"`` can be provisional: while the anchor pass is incomplete
        the order reflects the anchor matches judged so far.
        """
        seeding = str(state.config.get("seeding", "random"))
        if seeding != "anchor":
            return seed_order(state, seeding, NAME), True
        order, pass_matches = _anchor_pass(state)
        done = {(r.round, r.slot) for r in state.results}
        return order, all((m.round, m.slot) in done for m in pass_matches)

    def _replay(self, state: FormatState) -> list[_Bracket]:
        """Walk each bracket round by round through the stored results, up to its first gap."""
        seeds, seeded = self.seeds(state)
        made = {(m.round, m.slot) for m in state.planned}
        if not seeded:
            b = _new_bracket(seeds)
            b.seeded = False
            _, pass_matches = _anchor_pass(state)
            b.matches = [m for m in pass_matches if (m.round, m.slot) not in made]
            b.pending = True
            return [b]
        results = results_by_slot(state)
        return [
            self._replay_one(state, seeds, made, results, k)
            for k in range(bracket_count(state.config, state.n_prompts))
        ]

    def _replay_one(
        self,
        state: FormatState,
        seeds: list[int],
        made: set[tuple[int, int]],
        results: dict[tuple[int, int], MatchResult],
        index: int,
    ) -> _Bracket:
        config = state.config
        b = _new_bracket(seeds)
        b.made = made
        n = len(seeds)
        if n < 2:
            b.finished = True
            return b
        size = 1 << (n - 1).bit_length()
        slots: list[int | None] = [seeds[s - 1] if s <= n else None for s in bracket_order(size)]
        nodes = [(slots[i], slots[i + 1]) for i in range(0, size, 2)]
        semi_losers: list[int] = []
        offset = anchor_rounds(config)
        for bracket_round in range(b.rounds):
            r = offset + bracket_round
            prompt = (
                index
                if bracket_count(config, state.n_prompts) > 1
                else _prompt(state, bracket_round)
            )
            base = index * round_stride(config, n, r)
            games: list[tuple[int, int, int]] = [
                (g, x, y) for g, (x, y) in enumerate(nodes) if x is not None and y is not None
            ]
            third_game = bracket_round == b.rounds - 1 and bool(config.get("third_place"))
            third_game = third_game and len(semi_losers) == 2
            if third_game:
                games.append((len(nodes), semi_losers[0], semi_losers[1]))
            width = len(nodes) + (1 if third_game else 0)
            winners: dict[int, int] = {}
            for g, a, c in games:
                won = self._play(state, b, results, (r, base, g, width), a, c, prompt)
                if won is not None:
                    winners[g] = won
                    b.winners[(r, g)] = won
                    if g < len(nodes):
                        b.out_in[c if won == a else a] = bracket_round
                    else:
                        b.third_place = (won, c if won == a else a)
            if b.pending:
                return b
            advancing: list[int] = []
            for g, (x, y) in enumerate(nodes):
                if x is None or y is None:
                    bye = x if x is not None else y
                    if bye is None:  # impossible: byes never meet each other
                        raise AssertionError("empty bracket node")
                    advancing.append(bye)
                    b.reached[bye] = bracket_round + 1
                    continue
                winner = winners[g]
                loser = y if winner == x else x
                advancing.append(winner)
                b.reached[winner] = bracket_round + 1
                b.alive.discard(loser)
                if bracket_round == b.rounds - 2:
                    semi_losers.append(loser)
            if third_game:
                b.third_place_winner = winners[len(nodes)]
            nodes = [(advancing[i], advancing[i + 1]) for i in range(0, len(advancing) - 1, 2)]
        b.finished = True
        return b

    def _play(
        self,
        state: FormatState,
        b: _Bracket,
        results: dict[tuple[int, int], MatchResult],
        where: tuple[int, int, int, int],
        x: int,
        y: int,
        prompt: int,
    ) -> int | None:
        """The winner of one game (following replays), or None while it is still open.
        ``where``: the stored round, the bracket's first slot in it, the game, the round's
        width in one bracket."""
        r, base, game, width = where
        higher = x if b.seed_of[x] < b.seed_of[y] else y
        # A single bracket draws the order as it always has (stored tournaments replay).
        labels: tuple[object, ...] = (r, game) if base == 0 else (r, base + game)
        rng = seeded_rng(state.seed, NAME, "order", *labels)
        first = (x, y) if rng.random() < 0.5 else (y, x)
        max_rejudges = int(state.config.get("max_rejudges", 1))
        rejudge = state.config.get("tie_rule", "rejudge") == "rejudge"
        attempt = 0
        while True:
            slot = base + attempt * width + game
            if attempt:
                b.rejudges += 1
            result = results.get((r, slot))
            if result is None:
                entrants = first if attempt % 2 == 0 else (first[1], first[0])
                if (r, slot) not in b.made:
                    b.matches.append(PlannedMatch(r, slot, prompt, entrants))
                b.pending = True
                return None
            if result.ranking is None:
                return higher
            for c, p in rank_points(result.ranking).items():
                if c in b.points:
                    b.points[c] += p
            top = set(result.ranking[0]) & {x, y} if result.ranking else set()
            if len(top) == 1:
                return top.pop()
            if len(top) == 2 and rejudge and attempt < max_rejudges:
                attempt += 1
                continue
            return higher


def _new_bracket(seeds: list[int]) -> _Bracket:
    size = 1 << (max(len(seeds), 2) - 1).bit_length()
    b = _Bracket(seeds=seeds, rounds=size.bit_length() - 1)
    b.seed_of = {c: i + 1 for i, c in enumerate(seeds)}
    b.reached = dict.fromkeys(seeds, 0)
    b.alive = set(seeds)
    b.points = {c: Fraction(0) for c in seeds}
    return b


def _placings(b: _Bracket) -> Placings:
    n = len(b.seeds)
    size = 1 << (max(n, 1) - 1).bit_length()
    places: dict[int, tuple[int, int]] = {}
    for c, out in b.out_in.items():
        places[c] = ((size >> (out + 1)) + 1, min(size >> out, n))
    if b.third_place is not None:
        places[b.third_place[0]] = (3, 3)
        places[b.third_place[1]] = (4, 4)
    champion = next(iter(b.alive)) if b.finished and len(b.alive) == 1 else None
    if champion is not None:
        places[champion] = (1, 1)
    return Placings(
        seeds=tuple(b.seeds),
        seeds_final=b.seeded,
        places=places,
        winners=b.winners,
        champion=champion,
        finished=b.finished,
    )


def anchor_rounds(config: Mapping[str, Any]) -> int:
    """How many rounds the anchor pass takes before the bracket (0 without one)."""
    return int(config.get("anchor_rounds", 1)) if config.get("seeding") == "anchor" else 0


def _prompt(state: FormatState, index: int) -> int:
    """The prompt of bracket round (or anchor round) ``index``."""
    if state.config.get("prompts") == "same":
        return seeded_rng(state.seed, NAME, "prompt").randrange(max(state.n_prompts, 1))
    return index % state.n_prompts


def _anchor_pass(state: FormatState) -> tuple[list[int], list[PlannedMatch]]:
    """Seed order from the anchor matches judged so far, and the anchor pass's matches."""
    anchor = state.config.get("anchor")
    if anchor not in state.contestants:
        raise ConfigError("anchor", f"contestant {anchor} is not in this tournament")
    others = [c for c in sorted(state.contestants) if c != anchor]
    start = {c: seeded_rng(state.seed, NAME, "anchor_side", c).random() < 0.5 for c in others}
    matches: list[PlannedMatch] = []
    for a in range(anchor_rounds(state.config)):
        for slot, c in enumerate(others):
            anchor_first = start[c] == (a % 2 == 0)
            entrants = (int(anchor), c) if anchor_first else (c, int(anchor))
            matches.append(PlannedMatch(a, slot, _prompt(state, a), entrants))
    results = results_by_slot(state)
    points = {c: Fraction(0) for c in others}
    judged = dict.fromkeys(others, 0)
    for m in matches:
        result = results.get((m.round, m.slot))
        if result is None or result.ranking is None:
            continue
        c = next(e for e in m.entrants if e != anchor)
        points[c] += rank_points(result.ranking).get(c, Fraction(0))
        judged[c] += 1
    half = Fraction(1, 2)
    rate = {c: points[c] / judged[c] if judged[c] else half for c in others}
    rate[int(anchor)] = half
    shuffled = sorted(state.contestants)
    seeded_rng(state.seed, NAME, "anchor_ties").shuffle(shuffled)
    tiebreak = {c: i for i, c in enumerate(shuffled)}
    return sorted(state.contestants, key=lambda c: (-rate[c], tiebreak[c])), matches

"""K-wise free-for-all (K-Sort Arena style): groups of K contestants answer one prompt and
the judge ranks each group whole.

Each round uses one prompt (a seeded shuffle of the prompt set, like round robin) and splits
the contestants into ``ceil(N / K)`` groups of exactly K. When K does not divide N, the last
group holds the ``N mod K`` leftovers plus fillers taken from other groups (a filler plays
twice that round, never twice in one group).

``grouping="balanced"`` (default): the leftovers are the contestants who have played most so
far and the fillers those who have played least, so appearance counts stay within one of each
other; groups are then built greedily to keep pair co-occurrences low. ``"random"``: a
seeded shuffle cut into groups, fillers drawn at random. Answer order inside a group is a
seeded shuffle.

With ``"balanced"`` and ``"random"`` groups never depend on results, so the whole schedule
is created in the first step.

``grouping="adaptive"`` (matchmaking from the results so far, as K-Sort Arena does, with
the adaptive format's information-gain score): the first ``ADAPTIVE_WARMUP`` (2) rounds are
random groups (everyone plays); every later round is planned once the previous one is
fully judged, from a Bradley-Terry fit (prior) of every judged group seen as its pairs.
Each pair gets the ``info_gain`` sampler's score (``ratings.sampling``: the expected
entropy reduction of the BT posterior from one comparison, weighted by the entropy of the
pair's order), and the round is a partition: each group starts with the contestant whose
pairs with the not yet placed score highest in sum, then adds, K - 1 times, the not yet
placed contestant whose pairs with the group's members score highest. So everyone plays
once per round (a last, short group completes itself from everyone), and groups gather
contestants whose order is still uncertain, near neighbours or not. Seeded jitter breaks
ties. ``rounds`` may exceed the prompt count here: prompts cycle through the seeded
shuffle. Because the plan depends on results, a resumed tournament recomputes round r
from the results of rounds before r alone, so it plans the same groups. (An earlier rule,
widest interval first plus its most overlapping neighbours, needed 4x more votes than
random groups for the whole ranking: benchmarks/README.md.)

Standings: average rank points over a contestant's judged groups, each group scoring
``(entrants ranked below + 1/2 * entrants tied with it) / (K - 1)`` (Borda-like, 0..1).
Contestants with no judged group come last. With ``"adaptive"`` groups the opponents are
not comparable (strong contestants meet strong ones), so standings are the BT rating order
instead (contestants without a judged group last).
"""

from __future__ import annotations

import functools
import math
import random
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from fractions import Fraction
from typing import Any

import numpy as np
from numpy.typing import NDArray

from arena.formats._common import (
    check_basics,
    check_unknown,
    missing,
    open_count,
    prompt_order,
    rank_points,
    require_choice,
    seeded_rng,
    tiers_by,
)
from arena.formats.adaptive import Posterior, Tally, fit
from arena.formats.base import FormatState, PlannedMatch, Step, Tiers, require_int
from ratings.sampling import all_pairs

NAME = "kwise"
OPTIONS = ("k", "rounds", "grouping")
GROUPINGS = ("balanced", "random", "adaptive")
MAX_ADAPTIVE_ROUNDS = 100_000
ADAPTIVE_WARMUP = 2  # random rounds before the fit decides (everyone judged this often)


class KWise:
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
        k = require_int(config, "k", min(4, n_contestants), low=2, high=min(8, n_contestants))
        grouping = require_choice(config, "grouping", "balanced", GROUPINGS)
        most = MAX_ADAPTIVE_ROUNDS if grouping == "adaptive" else n_prompts
        rounds = require_int(config, "rounds", min(n_prompts, 3), low=1, high=most)
        return {"k": k, "rounds": rounds, "grouping": grouping}

    def next_step(self, state: FormatState) -> Step:
        if state.config.get("grouping") == "adaptive":
            return self._adaptive_step(state)
        schedule = self.schedule(state)
        total = len(schedule)
        new = missing(schedule, state)
        if new or open_count(state):
            return Step(matches=new, planned_total=total)
        return Step(finished=True, planned_total=total)

    def _adaptive_step(self, state: FormatState) -> Step:
        k, rounds = int(state.config["k"]), int(state.config["rounds"])
        per_round = math.ceil(len(state.contestants) / k)
        total = rounds * per_round
        current = max((m.round for m in state.planned), default=-1)
        made = sum(1 for m in state.planned if m.round == current)
        if current >= 0 and made >= per_round:
            if open_count(state):
                return Step(planned_total=total)
            if current + 1 >= rounds:
                return Step(finished=True, planned_total=total)
            current += 1
        current = max(current, 0)
        return Step(
            matches=missing(self.adaptive_round(state, current), state), planned_total=total
        )

    def adaptive_round(self, state: FormatState, round_index: int) -> tuple[PlannedMatch, ...]:
        """The groups of one adaptive round, from the results of earlier rounds only."""
        ids = sorted(state.contestants)
        k = int(state.config["k"])
        earlier = FormatState(
            state.contestants,
            state.n_prompts,
            state.config,
            state.seed,
            tuple(m for m in state.planned if m.round < round_index),
            tuple(r for r in state.results if r.round < round_index),
        )
        tally = Tally.from_state(earlier)
        groups = adaptive_groups(tally, k, math.ceil(len(ids) / k), state.seed, round_index)
        prompts = prompt_order(state)
        prompt = prompts[round_index % len(prompts)]
        return tuple(
            PlannedMatch(round_index, slot, prompt, tuple(ids[i] for i in group))
            for slot, group in enumerate(groups)
        )

    def standings(self, state: FormatState) -> Tiers:
        if state.config.get("grouping") == "adaptive":
            return _rating_standings(state)
        totals = {c: Fraction(0) for c in state.contestants}
        games: Counter[int] = Counter()
        for result in state.results:
            if result.ranking is None:
                continue
            size = sum(len(tier) for tier in result.ranking)
            for c, points in rank_points(result.ranking).items():
                if c in totals and size > 1:
                    totals[c] += points / (size - 1)
                    games[c] += 1

        def key(c: int) -> tuple[bool, Fraction]:
            return (games[c] > 0, totals[c] / games[c] if games[c] else Fraction(0))

        return tiers_by(state.contestants, key)

    def schedule(self, state: FormatState) -> tuple[PlannedMatch, ...]:
        """Every group of every round, in (round, slot) order."""
        return _schedule(
            tuple(state.contestants),
            state.n_prompts,
            int(state.config["k"]),
            int(state.config["rounds"]),
            state.config.get("grouping", "balanced") == "balanced",
            state.seed,
        )


@functools.lru_cache(maxsize=64)
def _schedule(
    contestants: tuple[int, ...], n_prompts: int, k: int, rounds: int, balanced: bool, seed: int
) -> tuple[PlannedMatch, ...]:
    """Pure in its arguments, so cached: the engine asks again after every match."""
    prompts = prompt_order(FormatState(contestants, n_prompts, {}, seed))
    appearances: Counter[int] = Counter()
    together: Counter[frozenset[int]] = Counter()
    matches = []
    for r in range(rounds):
        rng = seeded_rng(seed, NAME, "round", r)
        if balanced:
            groups = _balanced_groups(list(contestants), k, appearances, together, rng)
        else:
            groups = _random_groups(list(contestants), k, rng)
        for slot, group in enumerate(groups):
            rng.shuffle(group)
            matches.append(PlannedMatch(r, slot, prompts[r % len(prompts)], tuple(group)))
            appearances.update(group)
            together.update(frozenset((a, b)) for i, a in enumerate(group) for b in group[i + 1 :])
    return tuple(matches)


def _random_groups(ids: list[int], k: int, rng: random.Random) -> list[list[int]]:
    rng.shuffle(ids)
    groups = [ids[i : i + k] for i in range(0, len(ids), k)]
    last = groups[-1]
    if len(last) < k:
        others = [c for c in ids if c not in last]
        last.extend(rng.sample(others, k - len(last)))
    return groups


def _balanced_groups(
    ids: list[int],
    k: int,
    appearances: Counter[int],
    together: Counter[frozenset[int]],
    rng: random.Random,
) -> list[list[int]]:
    """Groups that keep appearances within one and repeat pairs as little as they can.

    Putting two contestants together again costs ``4 ** (times they already met)``, so one
    pair meeting a third time costs more than two pairs meeting a second time. A few seeded
    greedy constructions are each polished by swapping members between full groups while
    that lowers the cost; the cheapest wins.
    """
    rng.shuffle(ids)  # random tie-breaks below (sorts are stable)
    weight = {c: {m: 4 ** together[frozenset((c, m))] for m in ids if m != c} for c in ids}

    def overlap(c: int, group: list[int]) -> int:
        row = weight[c]
        return sum(row[m] for m in group if m != c)

    leftover = len(ids) % k
    best: list[list[int]] | None = None
    best_cost = 0
    for attempt in range(BALANCED_TRIES):
        order = ids[:]
        if attempt:
            rng.shuffle(order)
        last = _partial_group(order, k, leftover, appearances, overlap)
        full = [c for c in order if c not in last[:leftover]]
        groups: list[list[int]] = []
        while full:
            group = [full.pop(0)]
            while len(group) < k:
                pick = min(full, key=lambda c: overlap(c, group))
                full.remove(pick)
                group.append(pick)
            groups.append(group)
        _improve_by_swaps(groups, overlap)
        if last:
            groups.append(last)
        total = sum(overlap(c, g) for g in groups for c in g)
        if best is None or total < best_cost:
            best, best_cost = groups, total
    assert best is not None
    return best


def _partial_group(
    order: list[int],
    k: int,
    leftover: int,
    appearances: Counter[int],
    overlap: Callable[[int, list[int]], int],
) -> list[int]:
    """The short group: ``leftover`` contestants who play once, then fillers who play twice.

    With appearance counts m and m+1 (L = those at m), the fillers F keep counts within one
    exactly when F is inside L or L is inside F. Fillers are taken least-played first, so it
    suffices that either L minus the leftovers still holds enough fillers, or no leftover is
    from L at all.
    """
    if not leftover:
        return []
    fillers_needed = k - leftover
    low = min(appearances[c] for c in order)
    least = {c for c in order if appearances[c] == low}
    avoid_least = len(least) - leftover < fillers_needed
    chosen: list[int] = []
    while len(chosen) < leftover:
        options = [c for c in order if c not in chosen]
        if avoid_least:
            options = [c for c in options if c not in least] or options
        else:
            spare = len(least - set(chosen)) - fillers_needed
            if spare <= 0:
                options = [c for c in options if c not in least]
        chosen.append(min(options, key=lambda c: (overlap(c, chosen), -appearances[c])))
    candidates = [c for c in order if c not in chosen]
    while len(chosen) < k:
        filler = min(candidates, key=lambda c: (appearances[c], overlap(c, chosen)))
        candidates.remove(filler)
        chosen.append(filler)
    return chosen


BALANCED_TRIES = 4


def adaptive_groups(
    tally: Tally, k: int, n_groups: int, seed: int, round_index: int
) -> list[list[int]]:
    """``n_groups`` groups of ``k`` indices (answer order) for one adaptive round.

    Until everyone has ``ADAPTIVE_WARMUP`` judged groups: random groups covering everyone.
    Then the information-gain partition of the module docstring.
    """
    rng = seeded_rng(seed, NAME, "adaptive", round_index)
    n = tally.n
    if round_index < ADAPTIVE_WARMUP or tally.judged.min() < ADAPTIVE_WARMUP:
        groups = _random_groups(list(range(n)), k, rng)[:n_groups]
    else:
        gain = _pair_gains(tally)
        jitter = np.array([rng.random() for _ in range(n)]) * 1e-9 * max(gain.max(), 1e-300)
        left = list(range(n))
        groups = []
        for _ in range(n_groups):
            # a last, short group takes the leftovers and completes itself from everyone
            group = [] if len(left) >= k else list(left)
            pool = left if len(left) >= k else list(range(n))
            while len(group) < k:
                candidates = np.array([c for c in pool if c not in group])
                members = np.array(group) if group else candidates
                links = gain[np.ix_(candidates, members)].sum(axis=1)
                group.append(int(candidates[np.argmax(links + jitter[candidates])]))
            left = [c for c in left if c not in group]
            groups.append(group)
    for group in groups:
        rng.shuffle(group)
    return groups


def _pair_gains(tally: Tally) -> NDArray[np.float64]:
    """Symmetric matrix of each pair's information gain, as the adaptive format's
    ``info_gain`` sampler scores pairs."""
    n = tally.n
    pairs = all_pairs(n)
    posterior = Posterior.start(tally, fit(tally, intervals=False), pairs)
    matrix = np.zeros((n, n))
    matrix[pairs[:, 0], pairs[:, 1]] = posterior.scores("info_gain", {})
    return matrix + matrix.T


def _rating_standings(state: FormatState) -> Tiers:
    ids = sorted(state.contestants)
    tally = Tally.from_state(state)
    ratings = fit(tally, intervals=False).ratings

    def key(c: int) -> tuple[bool, float]:
        i = ids.index(c)
        return (bool(tally.judged[i] > 0), round(float(ratings[i]), 9))

    return tiers_by(ids, key)


def _improve_by_swaps(groups: list[list[int]], overlap: Callable[[int, list[int]], int]) -> None:
    """Swap two members of different groups while that lowers the repeated meetings."""
    improved = True
    while improved:
        improved = False
        for gi, a_group in enumerate(groups):
            for b_group in groups[gi + 1 :]:
                for i, a in enumerate(a_group):
                    for j, b in enumerate(b_group):
                        rest_a = [m for m in a_group if m != a]
                        rest_b = [m for m in b_group if m != b]
                        now = overlap(a, rest_a) + overlap(b, rest_b)
                        then = overlap(b, rest_a) + overlap(a, rest_b)
                        if then < now:
                            a_group[i], b_group[j] = b, a
                            a = b
                            improved = True

from __future__ import annotations

import random
import time
from typing import Any

import pytest

from arena.formats import FORMATS, FormatState, MatchResult, PlannedMatch, Tiers

CONFIGS: dict[str, dict[str, Any]] = {
    "round_robin": {},
    "single_elimination": {"third_place": True},
    "kwise": {"k": 3},
    "anchor": {"anchor": 13},
    "swiss": {},
    "adaptive": {},
}


def noisy(seed: int, m: PlannedMatch) -> Tiers | None:
    rng = random.Random(f"{seed}{m}")
    roll = rng.random()
    if roll < 0.05:
        return None
    order = list(m.entrants)
    rng.shuffle(order)
    if roll < 0.25:
        return (tuple(order[:2]), *((c,) for c in order[2:]))
    return tuple((c,) for c in order)


def test_every_registered_format_has_a_test_config_here() -> None:
    # review plans nothing and never finishes: its matches are sent to it (tested below)
    assert set(FORMATS) == set(CONFIGS) | {"review"}


def test_a_review_waits_for_matches_sent_to_it_and_ranks_by_their_points() -> None:
    fmt = FORMATS["review"]
    cfg = fmt.validate_config({}, n_contestants=3, n_prompts=1, contestants=(1, 2, 3))
    sent = (MatchResult(0, 7, (1, 2), ((2,), (1,))), MatchResult(0, 9, (2, 3), ((2, 3),)))
    state = FormatState((1, 2, 3), 1, cfg, 0, (), sent)
    step = fmt.next_step(state)
    assert step.matches == () and not step.finished
    assert fmt.standings(state) == ((2,), (3,), (1,))


@pytest.mark.parametrize("name", sorted(CONFIGS))
@pytest.mark.parametrize("n", [2, 3, 7, 10])
def test_every_format_runs_to_completion_with_exact_totals_and_ranks_everyone(
    name: str, n: int
) -> None:
    fmt = FORMATS[name]
    ids = tuple(range(10, 10 + n))
    config = dict(CONFIGS[name])
    if name == "kwise":
        config["k"] = min(3, n)
    if name == "anchor":
        config["anchor"] = ids[n // 2]
    cfg = fmt.validate_config(config, n_contestants=n, n_prompts=4, contestants=ids)
    planned: list[PlannedMatch] = []
    results: list[MatchResult] = []
    slots: set[tuple[int, int]] = set()
    slowest = 0.0
    for _ in range(200):
        state = FormatState(ids, 4, cfg, n, tuple(planned), tuple(results))
        started = time.perf_counter()
        step = fmt.next_step(state)
        slowest = max(slowest, time.perf_counter() - started)
        if step.finished:
            break
        assert step.matches, f"{name}: nothing to do but not finished"
        for m in step.matches:
            assert (m.round, m.slot) not in slots
            assert set(m.entrants) <= set(ids) and len(set(m.entrants)) == len(m.entrants)
            assert 0 <= m.prompt_index < 4
            slots.add((m.round, m.slot))
            planned.append(m)
            results.append(MatchResult(m.round, m.slot, m.entrants, noisy(n, m)))
    else:
        raise AssertionError(f"{name} never finished")
    standings = fmt.standings(state)
    assert sorted(c for tier in standings for c in tier) == list(ids)
    assert step.planned_total == len(planned)
    assert slowest < 0.5

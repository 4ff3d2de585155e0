from __future__ import annotations

import itertools
import random
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arena.formats import (
    FORMATS,
    ConfigError,
    FormatState,
    MatchResult,
    PlannedMatch,
    Tiers,
    get_format,
)

KW = get_format("kwise")
Judge = Callable[[PlannedMatch], Tiers | None]


def lower_id_best(m: PlannedMatch) -> Tiers:
    return tuple((c,) for c in sorted(m.entrants))


def make_state(
    n: int = 8,
    config: dict[str, Any] | None = None,
    seed: int = 1,
    planned: Any = (),
    results: Any = (),
) -> FormatState:
    ids = tuple(range(10, 10 + n))
    cfg = KW.validate_config(config or {}, n_contestants=n, n_prompts=6)
    return FormatState(ids, 6, cfg, seed, tuple(planned), tuple(results))


def run(
    n: int = 8, config: dict[str, Any] | None = None, judge: Judge = lower_id_best, seed: int = 1
) -> tuple[FormatState, list[PlannedMatch]]:
    planned: list[PlannedMatch] = []
    results: list[MatchResult] = []
    seen: set[tuple[int, int]] = set()
    for _ in range(100):
        state = make_state(n, config, seed, planned, results)
        step = KW.next_step(state)
        if step.finished:
            return state, planned
        assert step.matches, "an unfinished step with nothing open must create matches"
        for m in step.matches:
            assert (m.round, m.slot) not in seen
            seen.add((m.round, m.slot))
            planned.append(m)
            results.append(MatchResult(m.round, m.slot, m.entrants, judge(m)))
    raise AssertionError("never finished")


def co_occurrences(matches: list[PlannedMatch] | tuple[PlannedMatch, ...], n: int) -> list[int]:
    met = Counter(frozenset(p) for m in matches for p in itertools.combinations(m.entrants, 2))
    return [met[frozenset(p)] for p in itertools.combinations(range(10, 10 + n), 2)]


def test_it_is_registered_by_name() -> None:
    assert FORMATS["kwise"] is KW


def test_defaults_are_groups_of_four_over_three_prompts_balanced() -> None:
    assert KW.validate_config({}, n_contestants=8, n_prompts=5) == {
        "k": 4,
        "rounds": 3,
        "grouping": "balanced",
    }
    assert KW.validate_config({}, n_contestants=3, n_prompts=2)["k"] == 3


def test_every_round_covers_everyone_in_groups_of_exactly_k_on_one_prompt() -> None:
    step = KW.next_step(make_state(10, {"k": 4, "rounds": 3}))
    assert step.planned_total == 3 * 3 == len(step.matches)
    for r in range(3):
        groups = [m for m in step.matches if m.round == r]
        assert [m.slot for m in groups] == [0, 1, 2]
        assert all(len(set(m.entrants)) == 4 for m in groups)
        counts = Counter(c for m in groups for c in m.entrants)
        assert set(counts) == set(range(10, 20))
        assert sorted(counts.values()) == [1] * 8 + [2] * 2
        assert len({m.prompt_index for m in groups}) == 1
    assert len({m.prompt_index for m in step.matches}) == 3


def test_balanced_grouping_keeps_appearances_within_one() -> None:
    matches = KW.next_step(make_state(7, {"k": 3, "rounds": 6})).matches
    counts = Counter(c for m in matches for c in m.entrants)
    assert max(counts.values()) - min(counts.values()) <= 1


def test_balanced_grouping_spreads_pair_meetings_better_than_random() -> None:
    # Nine contestants in threes over four rounds: every pair can meet exactly once.
    balanced = KW.next_step(make_state(9, {"k": 3, "rounds": 4})).matches
    assert sorted(set(co_occurrences(balanced, 9))) == [1]
    # Eight in fours over three rounds: no pair needs to meet three times.
    assert max(co_occurrences(KW.next_step(make_state(8, {"rounds": 3})).matches, 8)) == 2
    randoms = [
        max(
            co_occurrences(
                KW.next_step(make_state(9, {"k": 3, "rounds": 4, "grouping": "random"}, s)).matches,
                9,
            )
        )
        for s in range(5)
    ]
    assert max(randoms) >= 2


def test_random_grouping_never_puts_a_contestant_twice_in_one_group() -> None:
    for seed in range(20):
        step = KW.next_step(make_state(7, {"k": 3, "grouping": "random"}, seed))
        assert all(len(set(m.entrants)) == 3 for m in step.matches)


def test_a_full_run_finishes_with_the_always_best_contestant_on_top() -> None:
    state, planned = run(10, {"k": 4, "rounds": 3})
    assert len(planned) == 9
    standings = KW.standings(state)
    assert standings[0] == (10,)
    assert standings[-1] == (19,)
    assert sorted(c for tier in standings for c in tier) == list(range(10, 20))


def test_standings_average_borda_points_and_tie_equal_averages() -> None:
    config = KW.validate_config({"k": 3, "rounds": 2}, n_contestants=4, n_prompts=2)
    results = (
        MatchResult(0, 0, (1, 2, 3), ((1,), (2, 3))),  # 1: 1, 2: 1/4, 3: 1/4
        MatchResult(0, 1, (4, 1, 2), ((4,), (1,), (2,))),  # 4: 1, 1: 1/2, 2: 0
        MatchResult(1, 0, (3, 4, 1), None),  # failed: counts for nobody
    )
    state = FormatState((1, 2, 3, 4), 2, config, 0, (), results)
    # averages: 1 → 3/4, 2 → 1/8, 3 → 1/4, 4 → 1
    assert KW.standings(state) == ((4,), (1,), (3,), (2,))
    tie = FormatState((1, 2, 3, 4), 2, config, 0, (), results[:1])
    assert KW.standings(tie) == ((1,), (2, 3), (4,))


def test_it_waits_for_open_groups_and_finishes_when_all_are_judged() -> None:
    first = KW.next_step(make_state(8)).matches
    some = [MatchResult(m.round, m.slot, m.entrants, lower_id_best(m)) for m in first[:4]]
    waiting = KW.next_step(make_state(8, planned=first, results=some))
    assert waiting.matches == () and not waiting.finished
    every = some + [MatchResult(m.round, m.slot, m.entrants, None) for m in first[4:]]
    assert KW.next_step(make_state(8, planned=first, results=every)).finished


def test_a_rebuilt_state_gives_the_same_next_step_and_missing_groups_are_asked_again() -> None:
    first = KW.next_step(make_state(8)).matches
    assert KW.next_step(make_state(8, planned=first[:2])).matches == first[2:]
    assert KW.next_step(make_state(8, planned=first[:2])) == KW.next_step(
        make_state(8, planned=first[:2])
    )


def test_the_same_seed_gives_the_same_groups_and_another_seed_other_groups() -> None:
    assert KW.next_step(make_state(9, seed=4)) == KW.next_step(make_state(9, seed=4))
    assert (
        KW.next_step(make_state(9, seed=4)).matches != KW.next_step(make_state(9, seed=5)).matches
    )


@pytest.mark.parametrize(
    ("config", "n", "field"),
    [
        ({"k": 1}, 8, "k"),
        ({"k": 9}, 10, "k"),
        ({"k": 5}, 4, "k"),
        ({"k": "4"}, 8, "k"),
        ({"rounds": 0}, 8, "rounds"),
        ({"rounds": 7}, 8, "rounds"),
        ({"grouping": "snake"}, 8, "grouping"),
        ({"group": "random"}, 8, "group"),
        ({}, 1, "contestants"),
    ],
)
def test_bad_config_names_the_field(config: dict[str, Any], n: int, field: str) -> None:
    with pytest.raises(ConfigError) as error:
        KW.validate_config(config, n_contestants=n, n_prompts=6)
    assert error.value.field == field


@settings(max_examples=80, deadline=None)
@given(
    n=st.integers(2, 20),
    k=st.integers(2, 8),
    rounds=st.integers(1, 6),
    seed=st.integers(0, 1000),
)
def test_balanced_grouping_always_keeps_appearances_within_one(
    n: int, k: int, rounds: int, seed: int
) -> None:
    k = min(k, n)
    step = KW.next_step(make_state(n, {"k": k, "rounds": rounds}, seed))
    counts = Counter(c for m in step.matches for c in m.entrants)
    assert set(counts) == set(range(10, 10 + n))
    assert max(counts.values()) - min(counts.values()) <= 1
    assert all(len(set(m.entrants)) == k for m in step.matches)
    assert len({(m.round, m.slot) for m in step.matches}) == len(step.matches)


@settings(max_examples=30, deadline=None)
@given(n=st.integers(2, 12), seed=st.integers(0, 1000))
def test_any_run_finishes_with_everyone_ranked(n: int, seed: int) -> None:
    def noisy(m: PlannedMatch) -> Tiers | None:
        rng = random.Random(f"{seed}{m}")
        if rng.random() < 0.1:
            return None
        order = list(m.entrants)
        rng.shuffle(order)
        return (tuple(order[:2]), *((c,) for c in order[2:]))

    state, planned = run(n, {"k": min(3, n), "rounds": 3}, noisy, seed)
    assert len(planned) == 3 * -(-n // min(3, n))
    assert sorted(c for tier in KW.standings(state) for c in tier) == list(state.contestants)

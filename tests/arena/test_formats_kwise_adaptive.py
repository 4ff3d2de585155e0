"""K-wise free-for-all with adaptive group composition (information-gain matchmaking)."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arena.formats import FORMATS, ConfigError, FormatState, MatchResult, PlannedMatch, Tiers

KW = FORMATS["kwise"]


def config(n: int, k: int = 3, rounds: int = 6, n_prompts: int = 4) -> dict[str, Any]:
    raw = {"grouping": "adaptive", "k": k, "rounds": rounds}
    return KW.validate_config(raw, n_contestants=n, n_prompts=n_prompts)


def strength_judge(strengths: dict[int, float], seed: int = 0) -> Any:
    """Plackett-Luce-ish: a noisy sort by strength, seeded per match."""

    def judge(m: PlannedMatch) -> Tiers:
        rng = random.Random(f"{seed}:{m.round}:{m.slot}")
        keyed = sorted(m.entrants, key=lambda c: -(strengths[c] + rng.gauss(0, 50)))
        return tuple((c,) for c in keyed)

    return judge


def drive(
    n: int, cfg: dict[str, Any], judge: Any, seed: int = 1
) -> tuple[FormatState, list[tuple[PlannedMatch, ...]]]:
    ids = tuple(range(10, 10 + n))
    planned: list[PlannedMatch] = []
    results: list[MatchResult] = []
    steps: list[tuple[PlannedMatch, ...]] = []
    for _ in range(1000):
        state = FormatState(ids, 4, cfg, seed, tuple(planned), tuple(results))
        step = KW.next_step(state)
        if step.finished:
            return state, steps
        assert step.matches
        steps.append(step.matches)
        for m in step.matches:
            planned.append(m)
            results.append(MatchResult(m.round, m.slot, m.entrants, judge(m)))
    raise AssertionError("never finished")


# two clusters far apart: 10-12 strong, 13-15 weak
CLUSTERS = {10: 900.0, 11: 880.0, 12: 860.0, 13: 0.0, 14: -20.0, 15: -40.0}


def test_each_step_is_one_round_of_ceil_n_over_k_groups_planned_after_the_last_is_judged() -> None:
    state, steps = drive(7, config(7), strength_judge({10 + i: 0.0 for i in range(7)}))
    assert [len(s) for s in steps] == [3] * 6
    assert [{m.round for m in s} for s in steps] == [{r} for r in range(6)]
    assert all(len(set(m.entrants)) == 3 for s in steps for m in s)


def test_the_first_round_covers_everyone_and_later_rounds_group_uncertain_orders() -> None:
    # three near ties, 400 Elo apart: the pairs whose order is uncertain are the ties
    ties = {10: 0.0, 11: 5.0, 12: 400.0, 13: 405.0, 14: 800.0, 15: 805.0}
    state, steps = drive(6, config(6, k=2, rounds=12), strength_judge(ties))
    assert {c for m in steps[0] for c in m.entrants} == set(ties)
    later = [frozenset(m.entrants) for s in steps[2:] for m in s]
    near = sum(1 for g in later if g in ({10, 11}, {12, 13}, {14, 15}))
    assert near > len(later) / 2  # a random pairing would hold a near tie 1 time in 5


def test_after_the_warm_up_every_round_is_a_partition_of_the_field() -> None:
    state, steps = drive(8, config(8, k=4, rounds=6), strength_judge(CLUSTERS | {16: 5, 17: 6}))
    for s in steps[2:]:
        assert sorted(c for m in s for c in m.entrants) == list(range(10, 18))


def test_a_round_does_not_repeat_a_group() -> None:
    state, steps = drive(8, config(8, k=2, rounds=10), strength_judge(CLUSTERS | {16: 5, 17: 6}))
    for s in steps[1:]:
        groups = [frozenset(m.entrants) for m in s]
        assert len(groups) == len(set(groups))


def test_it_waits_while_a_group_is_open_and_resumes_the_same_groups_from_results() -> None:
    cfg = config(6)
    judge = strength_judge(CLUSTERS)
    state, steps = drive(6, cfg, judge)
    ids = tuple(range(10, 16))
    planned = [m for s in steps[:3] for m in s]
    results = [MatchResult(m.round, m.slot, m.entrants, judge(m)) for m in planned]
    waiting = KW.next_step(FormatState(ids, 4, cfg, 1, tuple(planned), tuple(results[:-1])))
    assert waiting.matches == () and not waiting.finished
    resumed = KW.next_step(FormatState(ids, 4, cfg, 1, tuple(planned), tuple(results)))
    assert resumed.matches == steps[3]
    partial = KW.next_step(FormatState(ids, 4, cfg, 1, (*planned, steps[3][0]), tuple(results)))
    assert partial.matches == steps[3][1:]  # the groups the engine did not create


def test_standings_are_the_bt_order_for_adaptive_groups() -> None:
    state, _ = drive(6, config(6, rounds=8), strength_judge(CLUSTERS))
    top = [c for tier in KW.standings(state) for c in tier][:3]
    assert set(top) == {10, 11, 12}


def test_adaptive_rounds_may_exceed_the_prompt_count_and_prompts_cycle() -> None:
    state, steps = drive(4, config(4, k=2, rounds=9, n_prompts=4), strength_judge(CLUSTERS))
    assert len(steps) == 9
    prompts = [s[0].prompt_index for s in steps]
    assert prompts[:4] == prompts[4:8] and sorted(prompts[:4]) == [0, 1, 2, 3]
    with pytest.raises(ConfigError) as error:
        KW.validate_config({"grouping": "balanced", "rounds": 9}, n_contestants=4, n_prompts=4)
    assert error.value.field == "rounds"


@settings(max_examples=30, deadline=None)
@given(n=st.integers(2, 11), k=st.integers(2, 5), seed=st.integers(0, 10_000))
def test_any_adaptive_run_has_valid_groups_and_is_deterministic_given_the_seed(
    n: int, k: int, seed: int
) -> None:
    k = min(k, n)
    cfg = config(n, k=k, rounds=4)
    strengths = {10 + i: random.Random(seed + i).gauss(0, 200) for i in range(n)}
    state, steps = drive(n, cfg, strength_judge(strengths, seed), seed=seed)
    for s in steps:
        assert len(s) == -(-n // k)
        for m in s:
            assert len(m.entrants) == k == len(set(m.entrants))
            assert set(m.entrants) <= set(strengths)
    assert {c for m in steps[0] for c in m.entrants} == set(strengths)
    again, steps_again = drive(n, cfg, strength_judge(strengths, seed), seed=seed)
    assert steps_again == steps
    assert Counter(c for tier in KW.standings(state) for c in tier) == Counter(set(strengths))

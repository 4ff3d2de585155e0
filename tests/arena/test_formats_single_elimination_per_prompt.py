"""Per-prompt brackets (Varco Arena): one bracket per prompt, all from the same seeds."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from arena.formats import FormatState, MatchResult, PlannedMatch, Tiers, get_format
from arena.formats.single_elimination import SingleElimination, bracket_count, slot_role

SE = get_format("single_elimination")
assert isinstance(SE, SingleElimination)
Judge = Callable[[PlannedMatch], Tiers | None]


def lower_id_wins(m: PlannedMatch) -> Tiers:
    return tuple((c,) for c in sorted(m.entrants))


def state_of(
    n: int, prompts: int, config: dict[str, Any], planned: Any = (), results: Any = ()
) -> FormatState:
    """Contestants 10, 11, …, seeded by rating in id order (10 is seed 1)."""
    ids = tuple(range(10, 10 + n))
    cfg = SE.validate_config(
        {"seeding": "rating", "brackets": "per_prompt", **config},
        n_contestants=n,
        n_prompts=prompts,
    )
    ratings = {c: 1000.0 - c for c in ids}
    return FormatState(ids, prompts, cfg, 7, tuple(planned), tuple(results), ratings)


def run(
    n: int, prompts: int, judge: Judge, config: dict[str, Any] | None = None
) -> tuple[FormatState, list[PlannedMatch]]:
    """A tiny engine: ask for matches, judge them all, feed the results back."""
    planned: list[PlannedMatch] = []
    results: list[MatchResult] = []
    for _ in range(500):
        state = state_of(n, prompts, config or {}, planned, results)
        step = SE.next_step(state)
        if step.finished:
            return state, planned
        assert step.matches
        planned.extend(step.matches)
        results.extend(MatchResult(m.round, m.slot, m.entrants, judge(m)) for m in step.matches)
    raise AssertionError("the brackets never finished")


def test_each_prompt_gets_a_bracket_of_n_minus_1_games_on_that_prompt() -> None:
    state, planned = run(8, 3, lower_id_wins, {"third_place": True})
    assert bracket_count(state.config, 3) == 3
    by_bracket = Counter(slot_role(state.config, 8, m.round, m.slot).bracket for m in planned)
    assert by_bracket == {0: 8, 1: 8, 2: 8}  # 7 games and the third-place match each
    for m in planned:
        assert m.prompt_index == slot_role(state.config, 8, m.round, m.slot).bracket
    assert len({(m.round, m.slot) for m in planned}) == len(planned)
    assert SE.next_step(state).planned_total == 24


def test_every_bracket_has_its_own_champion_and_places() -> None:
    def prompt_decides(m: PlannedMatch) -> Tiers:
        # On prompt p the contestant 10 + p beats everyone; otherwise the lower id wins.
        favourite = 10 + m.prompt_index
        rest = sorted(c for c in m.entrants if c != favourite)
        return tuple((c,) for c in ([favourite] if favourite in m.entrants else []) + rest)

    state, _ = run(4, 3, prompt_decides, {"third_place": True})
    placings = SE.all_placings(state)
    assert [p.champion for p in placings] == [10, 11, 12]
    assert all(p.finished and p.seeds == (10, 11, 12, 13) for p in placings)
    assert placings[2].places[12] == (1, 1)
    assert SE.placings(state, bracket=1).champion == 11
    # Standings sum the brackets: three titles shared, 13 never won one.
    assert SE.standings(state)[-1] == (13,)


def test_a_bracket_waiting_for_a_verdict_holds_up_no_other() -> None:
    state = state_of(4, 2, {})
    first = SE.next_step(state).matches
    assert {m.prompt_index for m in first} == {0, 1}
    done = [m for m in first if m.prompt_index == 0]
    results = [MatchResult(m.round, m.slot, m.entrants, lower_id_wins(m)) for m in done]
    step = SE.next_step(state_of(4, 2, {}, first, results))
    assert [(m.round, m.prompt_index, set(m.entrants)) for m in step.matches] == [(1, 0, {10, 11})]


def test_a_tie_is_rejudged_inside_its_own_bracket_with_the_answers_swapped() -> None:
    def tie_on_prompt_1(m: PlannedMatch) -> Tiers:
        if m.prompt_index == 1 and m.round == 0 and set(m.entrants) == {10, 13}:
            return (tuple(sorted(m.entrants)),)
        return lower_id_wins(m)

    state, planned = run(4, 3, tie_on_prompt_1)
    roles = [(slot_role(state.config, 4, m.round, m.slot), m) for m in planned]
    rejudged = [(role, m) for role, m in roles if role.attempt]
    assert len(rejudged) == 1
    role, m = rejudged[0]
    first = next(x for r, x in roles if r.bracket == 1 and r.game == role.game and not r.attempt)
    assert role.bracket == 1 and m.prompt_index == 1 and m.entrants == first.entrants[::-1]
    assert SE.next_step(state).planned_total == 3 * 3 + 1


def test_one_bracket_keeps_the_slots_and_orders_it_always_had() -> None:
    config = {"seeding": "rating"}
    single = SE.validate_config(config, n_contestants=8, n_prompts=1)
    per_prompt = SE.validate_config(
        {**config, "brackets": "per_prompt"}, n_contestants=8, n_prompts=1
    )
    ids = tuple(range(10, 18))
    ratings = {c: 1000.0 - c for c in ids}
    a = SE.next_step(FormatState(ids, 1, single, 7, (), (), ratings)).matches
    b = SE.next_step(FormatState(ids, 1, per_prompt, 7, (), (), ratings)).matches
    assert a == b


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(2, 12),
    prompts=st.integers(1, 4),
    seed=st.integers(0, 1000),
    third=st.booleans(),
)
def test_random_verdicts_finish_every_bracket_with_one_champion(
    n: int, prompts: int, seed: int, third: bool
) -> None:
    rng = random.Random(seed)

    def noisy(m: PlannedMatch) -> Tiers | None:
        draw = rng.random()
        if draw < 0.2:
            return (tuple(sorted(m.entrants)),)
        if draw < 0.25:
            return None  # a failed match: the higher seed goes through
        pair = list(m.entrants)
        rng.shuffle(pair)
        return tuple((c,) for c in pair)

    state, planned = run(n, prompts, noisy, {"third_place": third})
    placings = SE.all_placings(state)
    assert len(placings) == prompts
    assert all(p.champion is not None for p in placings)
    assert len({(m.round, m.slot) for m in planned}) == len(planned)
    games = Counter(
        slot_role(state.config, n, m.round, m.slot).bracket
        for m in planned
        if not slot_role(state.config, n, m.round, m.slot).attempt
    )
    thirds = 1 if third and n >= 4 else 0
    assert games == dict.fromkeys(range(prompts), n - 1 + thirds)

from __future__ import annotations

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
from arena.formats.single_elimination import bracket_order

SE = get_format("single_elimination")
Judge = Callable[[PlannedMatch], Tiers | None]


def lower_id_wins(m: PlannedMatch) -> Tiers:
    return tuple((c,) for c in sorted(m.entrants))


def always_tie(m: PlannedMatch) -> Tiers:
    return (tuple(sorted(m.entrants)),)


def make_state(
    n: int = 8,
    config: dict[str, Any] | None = None,
    seed: int = 1,
    planned: Any = (),
    results: Any = (),
    n_prompts: int = 5,
    rated: bool = True,
) -> FormatState:
    """Contestants 10, 11, …; with ``rated`` the rating seeds them in id order (10 is seed 1)."""
    ids = tuple(range(10, 10 + n))
    cfg = SE.validate_config({"seeding": "rating", **(config or {})}, n_contestants=n, n_prompts=5)
    ratings = {c: 1000.0 - c for c in ids} if rated else {}
    return FormatState(ids, n_prompts, cfg, seed, tuple(planned), tuple(results), ratings)


def run(
    n: int = 8, config: dict[str, Any] | None = None, judge: Judge = lower_id_wins, seed: int = 1
) -> tuple[FormatState, list[PlannedMatch]]:
    """A tiny engine: ask for matches, judge them all at once, feed the results back."""
    planned: list[PlannedMatch] = []
    results: list[MatchResult] = []
    seen: set[tuple[int, int]] = set()
    for _ in range(200):
        state = make_state(n, config, seed, planned, results)
        step = SE.next_step(state)
        if step.finished:
            return state, planned
        assert step.matches, "an unfinished step with nothing open must create matches"
        for m in step.matches:
            assert (m.round, m.slot) not in seen
            seen.add((m.round, m.slot))
            planned.append(m)
            results.append(MatchResult(m.round, m.slot, m.entrants, judge(m)))
    raise AssertionError("the bracket never finished")


def seeds_of(entrants: tuple[int, ...]) -> set[int]:
    return {c - 9 for c in entrants}  # id 10 is seed 1 under rating seeding


def test_it_is_registered_by_name() -> None:
    assert FORMATS["single_elimination"] is SE


def test_bracket_placement_for_eight_is_the_classic_seed_order() -> None:
    assert bracket_order(8) == [1, 8, 4, 5, 2, 7, 3, 6]
    assert bracket_order(16) == [1, 16, 8, 9, 4, 13, 5, 12, 2, 15, 7, 10, 3, 14, 6, 11]
    assert bracket_order(2) == [1, 2]


def test_the_first_round_pairs_seeds_in_bracket_order() -> None:
    step = SE.next_step(make_state(8))
    assert [seeds_of(m.entrants) for m in step.matches] == [{1, 8}, {4, 5}, {2, 7}, {3, 6}]
    assert [m.slot for m in step.matches] == [0, 1, 2, 3]
    assert {m.prompt_index for m in step.matches} == {0}
    assert step.planned_total == 7


@pytest.mark.parametrize(
    ("n", "first_round"),
    [
        (5, [{4, 5}]),
        (6, [{4, 5}, {3, 6}]),
        (7, [{4, 5}, {2, 7}, {3, 6}]),
    ],
)
def test_byes_go_to_the_top_seeds(n: int, first_round: list[set[int]]) -> None:
    step = SE.next_step(make_state(n))
    assert [seeds_of(m.entrants) for m in step.matches] == first_round
    assert step.planned_total == n - 1


def test_a_bye_creates_no_match_and_the_seed_plays_the_next_round() -> None:
    state, planned = run(5)
    assert len(planned) == 4
    second_round = [seeds_of(m.entrants) for m in planned if m.round == 1]
    assert second_round == [{1, 4}, {2, 3}]


@pytest.mark.parametrize("n", [4, 5, 8, 11, 16])
def test_the_top_two_seeds_can_only_meet_in_the_final(n: int) -> None:
    def favourite_wins_unless_it_is_seed_one_or_two(m: PlannedMatch) -> Tiers:
        rng = random.Random(str(m))
        a, b = sorted(m.entrants)
        if {a, b} & {10, 11}:
            return ((a,), (b,))
        return ((a,), (b,)) if rng.random() < 0.5 else ((b,), (a,))

    state, planned = run(n, judge=favourite_wins_unless_it_is_seed_one_or_two)
    meetings = [m for m in planned if set(m.entrants) == {10, 11}]
    last_round = max(m.round for m in planned)
    assert [m.round for m in meetings] == [last_round]
    assert SE.standings(state)[:2] == ((10,), (11,))


def test_a_full_run_ends_with_champion_finalist_and_semi_final_losers_by_points_then_seed() -> None:
    state, planned = run(8)
    assert len(planned) == 7
    assert SE.standings(state) == ((10,), (11,), (12,), (13,), (14,), (15,), (16,), (17,))
    assert [m.prompt_index for m in planned] == [0, 0, 0, 0, 1, 1, 2]


def test_the_third_place_match_decides_third_and_fourth() -> None:
    def upset_in_the_third_place_match(m: PlannedMatch) -> Tiers:
        a, b = sorted(m.entrants)
        if m.round == 2 and m.slot == 1:
            return ((b,), (a,))
        return ((a,), (b,))

    state, planned = run(8, {"third_place": True}, upset_in_the_third_place_match)
    final_round = [m for m in planned if m.round == 2]
    assert [(m.slot, seeds_of(m.entrants)) for m in final_round] == [(0, {1, 2}), (1, {3, 4})]
    standings = SE.standings(state)
    assert standings[:4] == ((10,), (11,), (13,), (12,))
    assert SE.next_step(state).planned_total == 8


def test_third_place_is_skipped_when_a_semi_final_was_a_bye() -> None:
    state, planned = run(3, {"third_place": True})
    assert len(planned) == 2
    assert SE.standings(state) == ((10,), (11,), (12,))


def test_losers_of_the_same_round_are_ordered_by_points_then_seed() -> None:
    # Seed 2 (11) draws twice with seed 7 (16) and advances as the higher seed: 16 gets a
    # point from the two ties, more than the other quarter-final losers.
    def ties_between_2_and_7(m: PlannedMatch) -> Tiers:
        if set(m.entrants) == {11, 16}:
            return ((11, 16),)
        return lower_id_wins(m)

    state, planned = run(8, judge=ties_between_2_and_7)
    assert SE.standings(state)[4:] == ((16,), (14,), (15,), (17,))


def test_a_tie_is_rejudged_with_swapped_order_on_the_same_prompt_in_a_later_slot() -> None:
    first = SE.next_step(make_state(4)).matches
    tied = [MatchResult(m.round, m.slot, m.entrants, always_tie(m)) for m in first]
    step = SE.next_step(make_state(4, planned=first, results=tied))
    assert [(m.round, m.slot) for m in step.matches] == [(0, 2), (0, 3)]
    for old, new in zip(first, step.matches, strict=True):
        assert new.entrants == (old.entrants[1], old.entrants[0])
        assert new.prompt_index == old.prompt_index
    assert step.planned_total == 3 + 2


def test_after_max_rejudges_still_tied_the_higher_seed_advances() -> None:
    state, planned = run(4, {"max_rejudges": 2}, always_tie)
    assert Counter(m.round for m in planned) == {0: 6, 1: 3}
    assert [m.slot for m in planned if m.round == 1] == [0, 1, 2]
    assert SE.standings(state) == ((10,), (11,), (12,), (13,))


def test_a_rejudge_that_is_decisive_decides_the_match() -> None:
    def tie_first_then_lower_seed_wins(m: PlannedMatch) -> Tiers:
        a, b = sorted(m.entrants)
        return ((a, b),) if m.slot < 2 else ((b,), (a,))

    state, planned = run(4, {"third_place": False}, tie_first_then_lower_seed_wins)
    final = [m for m in planned if m.round == 1]
    assert set(final[0].entrants) == {13, 12}


def test_the_higher_seed_tie_rule_never_replays() -> None:
    state, planned = run(8, {"tie_rule": "higher_seed"}, always_tie)
    assert len(planned) == 7
    assert SE.standings(state)[0] == (10,)


def test_a_failed_match_sends_the_higher_seed_through_without_a_replay() -> None:
    def fail_then_upset(m: PlannedMatch) -> Tiers | None:
        a, b = sorted(m.entrants)
        return None if m.round == 0 else ((b,), (a,))

    state, planned = run(4, judge=fail_then_upset)
    assert len(planned) == 3
    assert SE.standings(state) == ((11,), (10,), (12,), (13,))


def test_the_same_prompt_option_plays_the_whole_bracket_on_one_prompt() -> None:
    state, planned = run(8, {"prompts": "same"})
    assert len({m.prompt_index for m in planned}) == 1


def test_per_round_prompts_wrap_around_the_prompt_set() -> None:
    ids = tuple(range(1, 9))
    config = SE.validate_config({}, n_contestants=8, n_prompts=2)
    planned: list[PlannedMatch] = []
    results: list[MatchResult] = []
    while not (
        step := SE.next_step(FormatState(ids, 2, config, 3, (*planned,), (*results,)))
    ).finished:
        planned += step.matches
        results += [
            MatchResult(m.round, m.slot, m.entrants, lower_id_wins(m)) for m in step.matches
        ]
    assert sorted({(m.round, m.prompt_index) for m in planned}) == [(0, 0), (1, 1), (2, 0)]


def test_random_seeding_is_fixed_by_the_seed() -> None:
    one = SE.next_step(make_state(8, {"seeding": "random"}, seed=5, rated=False))
    again = SE.next_step(make_state(8, {"seeding": "random"}, seed=5, rated=False))
    assert one == again
    pairings = {
        frozenset(
            frozenset(m.entrants)
            for m in SE.next_step(make_state(8, {"seeding": "random"}, seed=s, rated=False)).matches
        )
        for s in range(6)
    }
    assert len(pairings) > 1


def test_rating_seeding_breaks_rating_ties_by_id_and_puts_unrated_last() -> None:
    ids = (1, 2, 3, 4)
    config = SE.validate_config({"seeding": "rating"}, n_contestants=4, n_prompts=1)
    state = FormatState(ids, 1, config, 0, prior_ratings={4: 1500.0, 3: 1500.0, 2: 1400.0})
    assert [set(m.entrants) for m in SE.next_step(state).matches] == [{3, 1}, {4, 2}]


def test_a_rebuilt_state_gives_the_same_next_step_and_waits_for_open_matches() -> None:
    state, planned = run(8)
    first_round = [m for m in planned if m.round == 0]
    results = [MatchResult(m.round, m.slot, m.entrants, lower_id_wins(m)) for m in first_round]
    resumed = SE.next_step(make_state(8, planned=first_round, results=results))
    assert resumed == SE.next_step(make_state(8, planned=first_round, results=results))
    assert resumed.matches == tuple(m for m in planned if m.round == 1)
    waiting = SE.next_step(make_state(8, planned=first_round, results=results[:3]))
    assert waiting.matches == () and not waiting.finished


def test_matches_the_engine_did_not_create_are_asked_for_again() -> None:
    first = SE.next_step(make_state(8)).matches
    again = SE.next_step(make_state(8, planned=first[:2]))
    assert again.matches == first[2:]


@pytest.mark.parametrize(
    ("config", "n", "field"),
    [
        ({"k": 3}, 8, "k"),
        ({}, 1, "contestants"),
        ({"seeding": "elo"}, 8, "seeding"),
        ({"third_place": "yes"}, 8, "third_place"),
        ({"tie_rule": "coin"}, 8, "tie_rule"),
        ({"max_rejudges": -1}, 8, "max_rejudges"),
        ({"prompts": "all"}, 8, "prompts"),
        ({"rounds": 2}, 8, "rounds"),
        ({"brackets": "per_model"}, 8, "brackets"),
        ({"brackets": "per_prompt", "prompts": "same"}, 8, "prompts"),
        ({"seed_source": "humans"}, 8, "seed_source"),
        ({"seeding": "rating", "seed_source": "judges"}, 8, "seed_source"),
    ],
)
def test_bad_config_names_the_field(config: dict[str, Any], n: int, field: str) -> None:
    with pytest.raises(ConfigError) as error:
        SE.validate_config(config, n_contestants=n, n_prompts=5)
    assert error.value.field == field


def test_defaults_are_filled_in() -> None:
    assert SE.validate_config({}, n_contestants=8, n_prompts=5) == {
        "k": 2,
        "seeding": "random",
        "third_place": False,
        "tie_rule": "rejudge",
        "max_rejudges": 1,
        "brackets": "single",
        "prompts": "per_round",
    }


@settings(max_examples=60, deadline=None)
@given(n=st.integers(2, 20), seed=st.integers(0, 10_000))
def test_without_ties_there_is_one_champion_and_n_minus_1_eliminations(n: int, seed: int) -> None:
    def seeded_judge(m: PlannedMatch) -> Tiers:
        a, b = m.entrants
        return ((a,), (b,)) if random.Random(f"{seed}{m}").random() < 0.5 else ((b,), (a,))

    state, planned = run(n, {"seeding": "random"}, seeded_judge, seed=seed)
    assert len(planned) == n - 1
    losers = Counter(
        m.entrants[1] if seeded_judge(m)[0] == (m.entrants[0],) else m.entrants[0] for m in planned
    )
    assert sorted(losers) == sorted(set(losers)) and len(losers) == n - 1
    champion = set(state.contestants) - set(losers)
    standings = SE.standings(state)
    assert len(standings) == n and standings[0] == tuple(champion)
    assert SE.next_step(state).planned_total == n - 1


@settings(max_examples=40, deadline=None)
@given(n=st.integers(2, 20), seed=st.integers(0, 10_000), third=st.booleans())
def test_with_random_ties_every_bracket_finishes_without_reusing_a_slot(
    n: int, seed: int, third: bool
) -> None:
    def tie_often(m: PlannedMatch) -> Tiers | None:
        roll = random.Random(f"{seed}{m}").random()
        a, b = m.entrants
        if roll < 0.4:
            return ((a, b),)
        if roll < 0.45:
            return None
        return ((a,), (b,)) if roll < 0.7 else ((b,), (a,))

    state, planned = run(n, {"third_place": third, "seeding": "random"}, tie_often, seed=seed)
    standings = SE.standings(state)
    assert sorted(c for tier in standings for c in tier) == list(state.contestants)
    assert all(len(tier) == 1 for tier in standings)

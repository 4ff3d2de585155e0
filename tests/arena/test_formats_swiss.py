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

SW = get_format("swiss")
Judge = Callable[[PlannedMatch], Tiers | None]


def lower_id_wins(m: PlannedMatch) -> Tiers:
    return tuple((c,) for c in sorted(m.entrants))


def seeded_judge(seed: int, tie_rate: float = 0.2) -> Judge:
    def judge(m: PlannedMatch) -> Tiers:
        roll = random.Random(f"{seed}{m}").random()
        a, b = m.entrants
        if roll < tie_rate:
            return ((a, b),)
        return ((a,), (b,)) if roll < (1 + tie_rate) / 2 else ((b,), (a,))

    return judge


def make_state(
    n: int = 8,
    config: dict[str, Any] | None = None,
    seed: int = 1,
    planned: Any = (),
    results: Any = (),
) -> FormatState:
    """Contestants 10, 11, …, seeded by rating in id order (10 is the top seed)."""
    ids = tuple(range(10, 10 + n))
    cfg = SW.validate_config({"seeding": "rating", **(config or {})}, n_contestants=n, n_prompts=3)
    ratings = {c: 2000.0 - c for c in ids}
    return FormatState(ids, 3, cfg, seed, tuple(planned), tuple(results), ratings)


def run(
    n: int = 8, config: dict[str, Any] | None = None, judge: Judge = lower_id_wins, seed: int = 1
) -> tuple[FormatState, list[PlannedMatch], list[str]]:
    planned: list[PlannedMatch] = []
    results: list[MatchResult] = []
    seen: set[tuple[int, int]] = set()
    for _ in range(100):
        state = make_state(n, config, seed, planned, results)
        step = SW.next_step(state)
        if step.finished:
            return state, planned, list(step.notes)
        assert step.matches, "an unfinished step with nothing open must create matches"
        for m in step.matches:
            assert (m.round, m.slot) not in seen
            seen.add((m.round, m.slot))
            planned.append(m)
            results.append(MatchResult(m.round, m.slot, m.entrants, judge(m)))
    raise AssertionError("never finished")


def pairs_in(planned: list[PlannedMatch], r: int) -> list[set[int]]:
    return [set(m.entrants) for m in planned if m.round == r]


def test_it_is_registered_by_name() -> None:
    assert FORMATS["swiss"] is SW


@pytest.mark.parametrize(("n", "rounds"), [(2, 1), (3, 2), (5, 4), (8, 4), (9, 5), (16, 5)])
def test_the_default_is_ceil_log2_n_plus_one_rounds_at_most_n_minus_1(n: int, rounds: int) -> None:
    assert SW.validate_config({}, n_contestants=n, n_prompts=1)["rounds"] == rounds


def test_the_first_round_pairs_neighbours_in_seed_order() -> None:
    step = SW.next_step(make_state(8))
    assert [set(m.entrants) for m in step.matches] == [{10, 11}, {12, 13}, {14, 15}, {16, 17}]
    assert step.planned_total == 4 * 4
    assert {m.prompt_index for m in step.matches} == {step.matches[0].prompt_index}


def test_later_rounds_pair_within_score_groups() -> None:
    state, planned, _ = run(8, {"rounds": 3})
    assert pairs_in(planned, 1) == [{10, 12}, {14, 16}, {11, 13}, {15, 17}]
    assert pairs_in(planned, 2)[0] == {10, 14}  # the two unbeaten ones
    assert len({m.prompt_index for m in planned}) == 3


def test_a_pairing_is_never_repeated_when_it_can_be_avoided() -> None:
    state, planned, notes = run(8, {"rounds": 7}, seeded_judge(3))
    pairs = Counter(frozenset(m.entrants) for m in planned)
    assert max(pairs.values()) == 1 and len(pairs) == 28  # 7 rounds of 8 is a round robin
    assert notes == []


def test_when_a_rematch_is_unavoidable_the_least_recent_one_is_allowed_and_noted() -> None:
    state, planned, notes = run(6, {"rounds": 5}, seeded_judge(2))
    assert notes and "no pairing without a rematch" in notes[0]
    last_met: dict[frozenset[int], int] = {}
    rematch_ages = []
    for m in planned:
        pair = frozenset(m.entrants)
        if pair in last_met:
            rematch_ages.append((m.round, last_met[pair]))
        last_met[pair] = m.round
    assert rematch_ages and all(earlier <= 1 for _, earlier in rematch_ages)


def test_with_odd_n_the_lowest_ranked_without_a_bye_sits_out_for_a_point() -> None:
    state, planned, _ = run(5, {"rounds": 4})
    sat_out = [
        (set(state.contestants) - {c for m in planned if m.round == r for c in m.entrants})
        for r in range(4)
    ]
    assert sat_out[0] == {14}  # the bottom seed
    # after round 0 (10 beat 11, 12 beat 13; 14 had the bye) the bottom is 13, then 11
    assert sat_out[1] == {13}
    assert len({c for s in sat_out for c in s}) == 4  # nobody sits out twice
    assert len(planned) == 8
    assert SW.next_step(state).planned_total == 4 * 2


def test_a_bye_is_worth_one_point() -> None:
    first = SW.next_step(make_state(3, {"rounds": 1})).matches
    assert [set(m.entrants) for m in first] == [{10, 11}]
    results = [MatchResult(0, 0, first[0].entrants, ((10, 11),))]
    state = make_state(3, {"rounds": 1}, planned=first, results=results)
    assert SW.standings(state) == ((12,), (10, 11))


def test_the_contestant_shown_first_less_often_goes_first() -> None:
    state, planned, _ = run(8, {"rounds": 2})
    round_zero_first = {m.entrants[0] for m in planned if m.round == 0}
    for m in (m for m in planned if m.round == 1):
        a, b = m.entrants
        if (a in round_zero_first) != (b in round_zero_first):
            assert a not in round_zero_first


def test_answer_positions_stay_balanced_over_a_run() -> None:
    state, planned, _ = run(8, {"rounds": 6}, seeded_judge(5))
    first = Counter(m.entrants[0] for m in planned)
    second = Counter(m.entrants[1] for m in planned)
    assert all(abs(first[c] - second[c]) <= 2 for c in state.contestants)
    assert sum(abs(first[c] - second[c]) for c in state.contestants) <= 8


def test_standings_go_by_points_then_buchholz() -> None:
    state, planned, _ = run(4, {"rounds": 2})
    # round 0: 10>11, 12>13; round 1: 10>12, 11>13. 11 and 12 have 1 point each;
    # 12's opponents (13, 10) scored 2, 11's (10, 13) also 2: one tier.
    assert pairs_in(planned, 1) == [{10, 12}, {11, 13}]
    assert SW.standings(state) == ((10,), (11, 12), (13,))
    state, planned, _ = run(6, {"rounds": 2})
    # round 1: 10>12, 14 (1 point) drops to meet 11 and loses, 13>15. Points: 10: 2, the
    # rest 1 but 15: 0. Buchholz: 11 and 12 met 10 (3 each), 13 and 14 did not (1 each).
    assert pairs_in(planned, 1) == [{10, 12}, {14, 11}, {13, 15}]
    assert SW.standings(state) == ((10,), (11, 12), (13, 14), (15,))


def test_a_failed_match_scores_nothing_but_still_counts_as_played() -> None:
    first = SW.next_step(make_state(4, {"rounds": 2})).matches
    results = [MatchResult(m.round, m.slot, m.entrants, None) for m in first]
    step = SW.next_step(make_state(4, {"rounds": 2}, planned=first, results=results))
    assert [set(m.entrants) for m in step.matches] == [{10, 12}, {11, 13}]
    state = make_state(4, {"rounds": 2}, planned=first, results=results)
    assert SW.standings(state) == ((10, 11, 12, 13),)


def test_it_waits_for_the_round_and_a_rebuilt_state_gives_the_same_next_step() -> None:
    first = SW.next_step(make_state(8)).matches
    some = [MatchResult(m.round, m.slot, m.entrants, lower_id_wins(m)) for m in first[:3]]
    waiting = SW.next_step(make_state(8, planned=first, results=some))
    assert waiting.matches == () and not waiting.finished
    assert SW.next_step(make_state(8, planned=first[:1])).matches == first[1:]
    every = some + [MatchResult(m.round, m.slot, m.entrants, lower_id_wins(m)) for m in first[3:]]
    one = SW.next_step(make_state(8, planned=first, results=every))
    assert one == SW.next_step(make_state(8, planned=first, results=every))
    assert {m.round for m in one.matches} == {1}


def test_random_seeding_follows_the_seed() -> None:
    def first_pairs(seed: int) -> list[set[int]]:
        cfg = SW.validate_config({}, n_contestants=8, n_prompts=3)
        step = SW.next_step(FormatState(tuple(range(8)), 3, cfg, seed))
        return [set(m.entrants) for m in step.matches]

    assert first_pairs(7) == first_pairs(7)
    assert len({str(first_pairs(s)) for s in range(6)}) > 1


@pytest.mark.parametrize(
    ("config", "n", "field"),
    [
        ({"rounds": 0}, 8, "rounds"),
        ({"rounds": 8}, 8, "rounds"),
        ({"seeding": "elo"}, 8, "seeding"),
        ({"k": 3}, 8, "k"),
        ({"pairing": "dutch"}, 8, "pairing"),
        ({}, 1, "contestants"),
    ],
)
def test_bad_config_names_the_field(config: dict[str, Any], n: int, field: str) -> None:
    with pytest.raises(ConfigError) as error:
        SW.validate_config(config, n_contestants=n, n_prompts=3)
    assert error.value.field == field


@settings(max_examples=80, deadline=None)
@given(n=st.integers(2, 12), seed=st.integers(0, 10_000), data=st.data())
def test_no_rematch_for_up_to_12_players_within_ceil_log2_n_rounds(
    n: int, seed: int, data: st.DataObject
) -> None:
    top = max(1, min((n - 1).bit_length(), n - 1))
    rounds = data.draw(st.integers(1, top))
    state, planned, notes = run(n, {"rounds": rounds}, seeded_judge(seed), seed)
    pairs = Counter(frozenset(m.entrants) for m in planned)
    assert max(pairs.values()) == 1
    assert notes == []
    assert len(planned) == rounds * (n // 2)
    for r in range(rounds):
        played = [c for m in planned if m.round == r for c in m.entrants]
        assert len(played) == len(set(played)) == 2 * (n // 2)
    standings = SW.standings(state)
    assert sorted(c for tier in standings for c in tier) == list(state.contestants)

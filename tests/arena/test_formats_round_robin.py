from __future__ import annotations

import itertools

import pytest

from arena.formats import ConfigError, FormatState, MatchResult, get_format

RR = get_format("round_robin")


def state(n: int = 4, rounds: int = 2, seed: int = 1, planned=(), results=()) -> FormatState:
    config = RR.validate_config({"rounds": rounds}, n_contestants=n, n_prompts=5)
    return FormatState(tuple(range(10, 10 + n)), 5, config, seed, tuple(planned), tuple(results))


def test_first_step_pairs_every_two_contestants_once_on_one_prompt() -> None:
    step = RR.next_step(state(n=5))
    pairs = {frozenset(m.entrants) for m in step.matches}
    assert pairs == {frozenset(p) for p in itertools.combinations(range(10, 15), 2)}
    assert len({m.prompt_index for m in step.matches}) == 1
    assert step.planned_total == 2 * 10


def test_the_next_round_waits_until_every_match_of_this_round_has_a_result() -> None:
    first = RR.next_step(state()).matches
    half = [
        MatchResult(m.round, m.slot, m.entrants, ((m.entrants[0],), (m.entrants[1],)))
        for m in first[:3]
    ]
    assert RR.next_step(state(planned=first, results=half)).matches == ()
    done = half + [MatchResult(m.round, m.slot, m.entrants, None) for m in first[3:]]
    second = RR.next_step(state(planned=first, results=done)).matches
    assert {m.round for m in second} == {1}
    assert second[0].prompt_index != first[0].prompt_index


def test_it_finishes_after_the_configured_rounds() -> None:
    s = state(rounds=1)
    first = RR.next_step(s).matches
    results = [MatchResult(m.round, m.slot, m.entrants, None) for m in first]
    assert RR.next_step(state(rounds=1, planned=first, results=results)).finished


def test_the_same_seed_replays_the_same_pairings_and_positions() -> None:
    assert RR.next_step(state(seed=3)) == RR.next_step(state(seed=3))
    positions = {m.entrants for m in RR.next_step(state(n=8, seed=3)).matches}
    assert positions != {m.entrants for m in RR.next_step(state(n=8, seed=4)).matches}


@pytest.mark.parametrize(
    ("config", "n", "field"),
    [
        ({"k": 1}, 4, "k"),
        ({"k": 3}, 4, "k"),
        ({}, 1, "contestants"),
        ({"rounds": 0}, 4, "rounds"),
        ({"rounds": 9}, 4, "rounds"),
        ({"colour": 1}, 4, "colour"),
        ({"k": "2"}, 4, "k"),
    ],
)
def test_bad_config_names_the_field(config: dict, n: int, field: str) -> None:
    with pytest.raises(ConfigError) as error:
        RR.validate_config(config, n_contestants=n, n_prompts=5)
    assert error.value.field == field


def test_an_unknown_format_is_a_config_error_on_the_format_field() -> None:
    with pytest.raises(ConfigError) as error:
        get_format("knockout-ish")
    assert error.value.field == "format"


def test_standings_give_a_point_a_win_and_half_a_tie_in_tiers_of_equal_points() -> None:
    first = RR.next_step(state(n=4, rounds=1)).matches
    verdicts = {
        frozenset({10, 11}): ((10,), (11,)),
        frozenset({10, 12}): ((10, 12),),
        frozenset({10, 13}): ((13,), (10,)),
        frozenset({11, 12}): ((11,), (12,)),
        frozenset({11, 13}): ((11, 13),),
        frozenset({12, 13}): None,
    }
    results = [
        MatchResult(m.round, m.slot, m.entrants, verdicts[frozenset(m.entrants)]) for m in first
    ]
    # 10: 1 + 1/2 = 3/2; 11: 1 + 1/2 = 3/2; 12: 1/2; 13: 1 + 1/2 = 3/2
    standings = RR.standings(state(n=4, rounds=1, planned=first, results=results))
    assert standings == ((10, 11, 13), (12,))


def test_a_round_created_only_in_part_is_completed_before_the_next_one() -> None:
    first = RR.next_step(state()).matches
    done = [MatchResult(m.round, m.slot, m.entrants, None) for m in first[:2]]
    step = RR.next_step(state(planned=first[:2], results=done))
    assert step.matches == first[2:]

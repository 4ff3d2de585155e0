"""What a bracket tells people: each stored match's role, seeds, places and the champion."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from arena.formats import FormatState, MatchResult, PlannedMatch, Tiers, get_format
from arena.formats.single_elimination import Placings, SingleElimination, byes, slot_role
from tests.arena.test_formats_single_elimination import (
    Judge,
    always_tie,
    lower_id_wins,
    make_state,
    run,
)

SE = get_format("single_elimination")
assert isinstance(SE, SingleElimination)


def placings(state: FormatState) -> Placings:
    assert isinstance(SE, SingleElimination)
    return SE.placings(state)


def test_a_finished_bracket_with_a_third_place_match_places_everyone() -> None:
    state, _ = run(8, {"third_place": True})
    p = placings(state)
    assert p.finished and p.champion == 10
    assert p.seeds == tuple(range(10, 18)) and p.seeds_final
    assert p.seed_of(12) == 3
    assert {c: p.places[c] for c in (10, 11, 12, 13)} == {
        10: (1, 1),
        11: (2, 2),
        12: (3, 3),
        13: (4, 4),
    }
    assert all(p.places[c] == (5, 8) for c in range(14, 18))


def test_without_a_third_place_match_the_semi_final_losers_share_third() -> None:
    state, _ = run(8)
    assert placings(state).places[12] == placings(state).places[13] == (3, 4)


def test_with_byes_the_first_round_losers_share_the_places_left() -> None:
    state, _ = run(6)
    p = placings(state)
    assert p.places[14] == p.places[15] == (5, 6)
    assert p.places[12] == p.places[13] == (3, 4)


def test_places_are_known_as_soon_as_a_contestant_is_out_and_the_champion_at_the_end() -> None:
    first_round = SE.next_step(make_state(8)).matches
    results = [MatchResult(m.round, m.slot, m.entrants, lower_id_wins(m)) for m in first_round]
    p = placings(make_state(8, planned=first_round, results=results[:2]))
    assert p.champion is None and not p.finished
    assert p.places == {17: (5, 8), 14: (5, 8)}
    assert p.winners == {(0, 0): 10, (0, 1): 13}


def test_a_tied_game_goes_to_the_higher_seed_and_its_rejudge_is_attempt_one() -> None:
    state, planned = run(4, {"third_place": True}, judge=always_tie)
    p = placings(state)
    assert p.champion == 10 and p.places[11] == (2, 2)
    roles = [slot_role(state.config, 4, m.round, m.slot) for m in planned]
    assert [(r.stage, r.number, r.name, r.game, r.attempt) for r in roles] == [
        ("bracket", 1, "Semi-finals", 0, 0),
        ("bracket", 1, "Semi-finals", 1, 0),
        ("bracket", 1, "Semi-finals", 0, 1),
        ("bracket", 1, "Semi-finals", 1, 1),
        ("bracket", 2, "Final", 0, 0),
        ("third_place", 2, "Third-place match", 1, 0),
        ("bracket", 2, "Final", 0, 1),
        ("third_place", 2, "Third-place match", 1, 1),
    ]


def test_early_rounds_have_numbers_and_the_last_three_have_names() -> None:
    names = [slot_role({}, 16, r, 0).name for r in range(4)]
    assert names == ["", "Quarter-finals", "Semi-finals", "Final"]
    assert [slot_role({}, 16, r, 0).number for r in range(4)] == [1, 2, 3, 4]
    # Byes count: five players start in a bracket of eight.
    assert slot_role({}, 5, 0, 0).name == "Quarter-finals"


def test_an_anchor_pass_is_its_own_stage_and_the_bracket_counts_from_one_after_it() -> None:
    ids = list(range(10, 18))
    cfg = SE.validate_config(
        {"seeding": "anchor", "anchor": 10, "anchor_rounds": 2},
        n_contestants=8,
        n_prompts=5,
        contestants=ids,
    )
    anchor = slot_role(cfg, 8, 0, 3)
    assert (anchor.stage, anchor.number, anchor.name) == ("anchor", 1, "Anchor pass 1")
    assert slot_role(cfg, 8, 1, 0).name == "Anchor pass 2"
    first = slot_role(cfg, 8, 2, 1)
    assert (first.stage, first.number, first.name) == ("bracket", 1, "Quarter-finals")
    waiting = FormatState(tuple(ids), 5, cfg, 1)
    assert not placings(waiting).seeds_final


def _judged(m: PlannedMatch, rng: random.Random) -> Tiers | None:
    """Fails now and then, ties often."""
    draw = rng.random()
    if draw < 0.05:
        return None
    if draw < 0.3:
        return (tuple(sorted(m.entrants)),)
    return tuple((c,) for c in rng.sample(m.entrants, 2))


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(2, 20),
    seed=st.integers(0, 1000),
    third=st.booleans(),
    judge_seed=st.integers(0, 1000),
)
def test_every_finished_bracket_places_everyone_once_and_its_champion_tops_the_standings(
    n: int, seed: int, third: bool, judge_seed: int
) -> None:
    rng = random.Random(judge_seed)
    judge: Judge = lambda m: _judged(m, rng)  # noqa: E731
    config: dict[str, Any] = {"third_place": third}
    state, planned = run(n, config, judge=judge, seed=seed)
    p = placings(state)
    assert p.champion == SE.standings(state)[0][0]
    assert set(p.places) == set(state.contestants)
    shared = Counter(p.places.values())
    for (best, worst), count in shared.items():
        assert worst - best + 1 == count
    assert sorted(i for best, worst in shared for i in range(best, worst + 1)) == list(
        range(1, n + 1)
    )
    roles = Counter(
        (m.round, slot_role(state.config, n, m.round, m.slot).game)
        for m in planned
        if slot_role(state.config, n, m.round, m.slot).attempt == 0
    )
    assert all(count == 1 for count in roles.values())
    assert set(p.winners) == set(roles)


def test_byes_sit_at_their_bracket_node_and_go_to_the_top_seeds() -> None:
    # Eight positions hold seeds [1, 8, 4, 5, 2, 7, 3, 6]: with six, seeds 1 and 2 sit out.
    assert byes([10, 11, 12, 13, 14, 15]) == {0: 10, 2: 11}
    assert byes(list(range(8))) == {}
    assert byes([10, 11, 12]) == {0: 10}

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from arena.formats import (
    FORMATS,
    ConfigError,
    FormatState,
    MatchResult,
    PlannedMatch,
    Tiers,
    anchor_warning,
    get_format,
)

AN = get_format("anchor")
IDS = (10, 11, 12, 13, 14)


def make_state(
    config: dict[str, Any] | None = None, seed: int = 1, planned: Any = (), results: Any = ()
) -> FormatState:
    cfg = AN.validate_config(
        {"anchor": 12, **(config or {})}, n_contestants=5, n_prompts=4, contestants=IDS
    )
    return FormatState(IDS, 4, cfg, seed, tuple(planned), tuple(results))


def lower_id_wins(m: PlannedMatch) -> Tiers:
    return tuple((c,) for c in sorted(m.entrants))


def run(
    config: dict[str, Any] | None = None, seed: int = 1
) -> tuple[FormatState, list[PlannedMatch], list[str]]:
    planned: list[PlannedMatch] = []
    results: list[MatchResult] = []
    seen: set[tuple[int, int]] = set()
    for _ in range(20):
        state = make_state(config, seed, planned, results)
        step = AN.next_step(state)
        if step.finished:
            return state, planned, list(step.notes)
        assert step.matches
        for m in step.matches:
            assert (m.round, m.slot) not in seen
            seen.add((m.round, m.slot))
            planned.append(m)
            results.append(MatchResult(m.round, m.slot, m.entrants, lower_id_wins(m)))
    raise AssertionError("never finished")


def test_it_is_registered_by_name() -> None:
    assert FORMATS["anchor"] is AN


def test_every_other_contestant_meets_the_anchor_once_per_prompt() -> None:
    step = AN.next_step(make_state({"rounds": 3}))
    assert step.planned_total == 3 * 4 == len(step.matches)
    assert all(12 in m.entrants and len(m.entrants) == 2 for m in step.matches)
    for r in range(3):
        ms = [m for m in step.matches if m.round == r]
        assert [m.slot for m in ms] == [0, 1, 2, 3]
        assert [next(c for c in m.entrants if c != 12) for m in ms] == [10, 11, 13, 14]
        assert len({m.prompt_index for m in ms}) == 1
    assert len({m.prompt_index for m in step.matches}) == 3


def test_answer_positions_alternate_every_round_for_each_contestant() -> None:
    step = AN.next_step(make_state({"rounds": 4}))
    for c in (10, 11, 13, 14):
        sides = [m.entrants.index(12) for m in step.matches if c in m.entrants]
        assert sides in ([0, 1, 0, 1], [1, 0, 1, 0])
    starts = {
        tuple(m.entrants.index(12) for m in AN.next_step(make_state(seed=s)).matches[:4])
        for s in range(8)
    }
    assert len(starts) > 1


def test_a_full_run_ranks_by_score_rate_with_the_anchor_among_them() -> None:
    state, planned, notes = run({"rounds": 2})
    assert len(planned) == 8
    assert AN.standings(state) == ((10, 11), (12,), (13, 14))  # the anchor wins half
    assert notes == []


def test_an_anchor_ranked_best_or_worst_is_flagged() -> None:
    standings = ((10,), (11, 12), (13,))
    assert anchor_warning(standings, 11) is None
    best = anchor_warning(standings, 10)
    worst = anchor_warning(standings, 13)
    assert best is not None and "ranked best" in best and "mid-ranked anchor" in best
    assert worst is not None and "ranked worst" in worst
    assert anchor_warning(standings, 99) is None


def test_the_final_step_carries_the_warning_when_the_anchor_is_best() -> None:
    config = AN.validate_config({"anchor": 10, "rounds": 1}, n_contestants=3, n_prompts=1)
    ms = AN.next_step(FormatState((10, 11, 12), 1, config, 0)).matches
    results = tuple(MatchResult(m.round, m.slot, m.entrants, lower_id_wins(m)) for m in ms)
    step = AN.next_step(FormatState((10, 11, 12), 1, config, 0, ms, results))
    assert step.finished
    assert len(step.notes) == 1 and "ranked best" in step.notes[0]


def test_it_waits_for_open_matches_and_reasks_missing_ones() -> None:
    first = AN.next_step(make_state()).matches
    assert AN.next_step(make_state(planned=first[:5])).matches == first[5:]
    done = [MatchResult(m.round, m.slot, m.entrants, None) for m in first[:5]]
    waiting = AN.next_step(make_state(planned=first, results=done))
    assert waiting.matches == () and not waiting.finished
    assert AN.next_step(make_state(planned=first, results=done)) == waiting


def test_failed_matches_count_for_nobody() -> None:
    first = AN.next_step(make_state({"rounds": 1})).matches
    results = [MatchResult(m.round, m.slot, m.entrants, None) for m in first]
    results[0] = MatchResult(0, 0, first[0].entrants, ((10,), (12,)))
    state = make_state({"rounds": 1}, planned=first, results=results)
    assert AN.standings(state) == ((10,), (12,), (11, 13, 14))
    assert Counter(c for m in first for c in m.entrants)[12] == 4


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({}, "anchor"),
        ({"anchor": 99}, "anchor"),
        ({"anchor": "10"}, "anchor"),
        ({"anchor": True}, "anchor"),
        ({"anchor": 10, "k": 3}, "k"),
        ({"anchor": 10, "rounds": 5}, "rounds"),
        ({"anchor": 10, "baseline": 11}, "baseline"),
    ],
)
def test_bad_config_names_the_field(config: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigError) as error:
        AN.validate_config(config, n_contestants=5, n_prompts=4, contestants=IDS)
    assert error.value.field == field


def test_an_anchor_outside_the_contestants_is_refused_when_planning_too() -> None:
    config = AN.validate_config({"anchor": 99}, n_contestants=5, n_prompts=4)
    with pytest.raises(ConfigError) as error:
        AN.next_step(FormatState(IDS, 4, config, 0))
    assert error.value.field == "anchor"

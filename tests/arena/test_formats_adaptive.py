from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from arena.formats import FORMATS, ConfigError, FormatState, MatchResult, PlannedMatch, Tiers
from arena.formats.adaptive import REPEATING_SAMPLERS, SAMPLERS, Tally, pair_counts_by_gap

AD = FORMATS["adaptive"]
Judge = Callable[[PlannedMatch], Tiers | None]


def bt_judge(strengths: dict[int, float], seed: int) -> Judge:
    def judge(m: PlannedMatch) -> Tiers:
        a, b = m.entrants
        rng = random.Random(f"{seed}:{m.round}:{m.slot}")
        p = 1 / (1 + 10 ** ((strengths[b] - strengths[a]) / 400))
        return ((a,), (b,)) if rng.random() < p else ((b,), (a,))

    return judge


def drive(
    config: dict[str, Any], judge: Judge, n: int = 6, seed: int = 3, steps: int = 10_000
) -> tuple[FormatState, list[Any]]:
    ids = tuple(range(10, 10 + n))
    cfg = AD.validate_config(config, n_contestants=n, n_prompts=5)
    planned: list[PlannedMatch] = []
    results: list[MatchResult] = []
    steps_seen = []
    for _ in range(steps):
        state = FormatState(ids, 5, cfg, seed, tuple(planned), tuple(results))
        step = AD.next_step(state)
        steps_seen.append(step)
        if step.finished:
            return state, steps_seen
        assert step.matches, "the adaptive format must never wait with nothing open"
        for m in step.matches:
            planned.append(m)
            results.append(MatchResult(m.round, m.slot, m.entrants, judge(m)))
    raise AssertionError("never finished")


LINEAR = {10 + k: 100.0 * k for k in range(12)}


@pytest.mark.parametrize("sampler", [s for s in SAMPLERS if s not in REPEATING_SAMPLERS])
def test_a_batch_never_repeats_a_pair_while_unplayed_pairs_remain(sampler: str) -> None:
    config = {"sampler": sampler, "batch": 8, "max_matches": 64}
    state, steps = drive(config, bt_judge(LINEAR, 1))
    for step in steps[:-1]:
        pairs = [frozenset(m.entrants) for m in step.matches]
        assert len(pairs) == len(set(pairs)) == 8


def test_with_more_matches_than_pairs_a_batch_sweeps_all_pairs_evenly() -> None:
    state, steps = drive({"batch": 8, "max_matches": 8}, bt_judge(LINEAR, 1), n=3)
    counts = Counter(frozenset(m.entrants) for m in steps[0].matches)
    assert len(counts) == 3 and sorted(counts.values()) == [2, 3, 3]


def test_it_stops_at_max_matches_exactly_and_reports_the_real_total() -> None:
    state, steps = drive({"batch": 8, "max_matches": 37}, bt_judge(LINEAR, 2))
    assert len(state.planned) == 37
    assert [len(s.matches) for s in steps[:-1]] == [8, 8, 8, 8, 5]
    assert all(s.planned_total == 37 for s in steps)
    assert "max_matches" in steps[-1].notes[0]


@pytest.mark.parametrize("target", [{"target": "adjacent"}, {"target": "top_k", "top_k": 1}])
def test_it_stops_early_once_the_target_is_met_on_an_easy_instance(target: dict[str, Any]) -> None:
    huge = {10 + k: 1200.0 * k for k in range(4)}
    config = {"batch": 4, "max_matches": 1000, **target}
    state, steps = drive(config, bt_judge(huge, 0), n=4)
    assert len(state.planned) < 200
    assert steps[-1].planned_total == len(state.planned)
    assert "reached" in steps[-1].notes[0]
    assert AD.standings(state) == ((13,), (12,), (11,), (10,))


def test_it_runs_to_the_budget_when_the_target_is_out_of_reach() -> None:
    equal = dict.fromkeys(range(10, 14), 0.0)
    state, _ = drive({"max_matches": 120, "target": "adjacent"}, bt_judge(equal, 0), n=4)
    assert len(state.planned) == 120


def test_it_is_deterministic_and_a_rebuilt_state_resumes_with_the_same_matches() -> None:
    config = {"sampler": "ci_reduction", "max_matches": 80}
    first, _ = drive(config, bt_judge(LINEAR, 5))
    again, _ = drive(config, bt_judge(LINEAR, 5))
    assert first.planned == again.planned
    cut = 24  # three batches done, as a restarted worker would read them from the database
    resumed = FormatState(
        first.contestants, 5, first.config, first.seed, first.planned[:cut], first.results[:cut]
    )
    step = AD.next_step(resumed)
    assert step.matches == first.planned[cut : cut + 8]
    with_open = FormatState(
        first.contestants, 5, first.config, first.seed, first.planned[:cut], first.results[:20]
    )
    waiting = AD.next_step(with_open)
    assert waiting.matches == () and not waiting.finished


def test_answer_order_and_prompts_are_balanced() -> None:
    state, _ = drive({"max_matches": 120}, bt_judge(LINEAR, 4))
    shown_first = Counter(m.entrants[0] for m in state.planned)
    played = Counter(c for m in state.planned for c in m.entrants)
    for c in state.contestants:
        assert abs(2 * shown_first[c] - played[c]) <= 2
    prompts = Counter(m.prompt_index for m in state.planned)
    assert set(prompts.values()) == {24}


def test_ci_reduction_spends_more_of_its_matches_on_close_pairs_than_uniform() -> None:
    strengths = {10 + k: 250.0 * k for k in range(8)}

    def mean_gap(sampler: str) -> float:
        state, _ = drive({"sampler": sampler, "max_matches": 400}, bt_judge(strengths, 7), n=8)
        tally = Tally.from_state(state)
        gaps, counts = pair_counts_by_gap(tally, [strengths[c] for c in sorted(strengths)])
        return float(np.sum(gaps * counts) / np.sum(counts))

    uniform, active = mean_gap("uniform"), mean_gap("ci_reduction")
    assert active < 0.85 * uniform
    assert mean_gap("ucb") < 0.9 * uniform


def test_standings_follow_the_bradley_terry_order_and_unplayed_come_last() -> None:
    ids = (1, 2, 3, 4)
    cfg = AD.validate_config({}, n_contestants=4, n_prompts=1)
    m = [PlannedMatch(0, i, 0, e) for i, e in enumerate([(1, 2), (2, 3), (1, 3), (1, 2)])]
    verdicts: list[Tiers] = [((2,), (1,)), ((2,), (3,)), ((1,), (3,)), ((2,), (1,))]
    results = tuple(
        MatchResult(x.round, x.slot, x.entrants, v) for x, v in zip(m, verdicts, strict=True)
    )
    state = FormatState(ids, 1, cfg, 0, tuple(m), results)
    assert AD.standings(state) == ((2,), (1,), (3,), (4,))


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"sampler": "thompson"}, "sampler"),
        ({"target": "top_k"}, "top_k"),
        ({"target": "top_k", "top_k": 6}, "top_k"),
        ({"top_k": 2}, "top_k"),
        ({"batch": 0}, "batch"),
        ({"k": 3}, "k"),
        ({"rounds": 2}, "rounds"),
    ],
)
def test_bad_options_name_their_field(config: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigError) as error:
        AD.validate_config(config, n_contestants=6, n_prompts=3)
    assert error.value.field == field


def test_defaults_are_filled_in() -> None:
    assert AD.validate_config({}, n_contestants=6, n_prompts=3) == {
        "k": 2,
        "sampler": "ci_reduction",
        "batch": 8,
        "max_matches": 120,
        "target": "none",
    }

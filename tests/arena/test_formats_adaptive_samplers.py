"""The adaptive format's information-gain and top-k (LUCB-style) samplers."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arena.formats import FORMATS, ConfigError, FormatState, MatchResult, PlannedMatch, Tiers
from arena.formats.adaptive import Tally, choose_batch, fit

AD = FORMATS["adaptive"]


def judge_by(strengths: dict[int, float], seed: int) -> Any:
    def judge(m: PlannedMatch) -> Tiers:
        a, b = m.entrants
        rng = random.Random(f"{seed}:{m.round}:{m.slot}")
        p = 1 / (1 + 10 ** ((strengths[b] - strengths[a]) / 400))
        return ((a,), (b,)) if rng.random() < p else ((b,), (a,))

    return judge


def drive(config: dict[str, Any], strengths: dict[int, float], seed: int = 3) -> FormatState:
    ids = tuple(sorted(strengths))
    cfg = AD.validate_config(config, n_contestants=len(ids), n_prompts=5)
    planned: list[PlannedMatch] = []
    results: list[MatchResult] = []
    judge = judge_by(strengths, seed)
    for _ in range(10_000):
        state = FormatState(ids, 5, cfg, seed, tuple(planned), tuple(results))
        step = AD.next_step(state)
        if step.finished:
            return state
        for m in step.matches:
            planned.append(m)
            results.append(MatchResult(m.round, m.slot, m.entrants, judge(m)))
    raise AssertionError("never finished")


# a close pair at ranks 3/4 (the top-3 boundary) and far-apart others
STRENGTHS = {10: 600.0, 11: 450.0, 12: 300.0, 13: 240.0, 14: -100.0, 15: -400.0}


def test_the_top_k_sampler_needs_top_k_and_top_k_needs_a_use() -> None:
    with pytest.raises(ConfigError) as error:
        AD.validate_config({"sampler": "top_k"}, n_contestants=6, n_prompts=5)
    assert error.value.field == "top_k"
    cfg = AD.validate_config({"sampler": "top_k", "top_k": 3}, n_contestants=6, n_prompts=5)
    assert cfg["top_k"] == 3 and cfg["target"] == "none"


def test_the_top_k_sampler_spends_most_on_the_contestants_either_side_of_rank_k() -> None:
    state = drive({"sampler": "top_k", "top_k": 3, "max_matches": 600}, STRENGTHS)
    played = Counter(c for m in state.planned[100:] for c in m.entrants)
    boundary = min(played[12], played[13])
    assert all(played[c] < boundary for c in (10, 11, 14, 15))


def test_information_gain_spends_more_on_close_pairs_than_uniform_does() -> None:
    def close_share(sampler: str) -> float:
        state = drive({"sampler": sampler, "max_matches": 400}, STRENGTHS)
        close = sum(1 for m in state.planned[100:] if set(m.entrants) == {12, 13})
        return close / len(state.planned[100:])

    assert close_share("info_gain") > 1.5 * close_share("uniform")


def test_the_top_k_sampler_reaches_the_top_k_target_sooner_than_uniform() -> None:
    def used(sampler: str) -> int:
        config = {"sampler": sampler, "target": "top_k", "top_k": 3, "max_matches": 3000}
        return len(drive(config, STRENGTHS).planned)

    assert used("top_k") < used("uniform")


def test_a_covariance_batch_spreads_over_pairs_instead_of_repeating_the_best_one() -> None:
    tally = Tally(5)
    rng = np.random.default_rng(0)
    for _ in range(60):
        a, b = rng.choice(5, 2, replace=False)
        tally.record([[int(min(a, b))], [int(max(a, b))]])
    config = {"sampler": "info_gain"}
    pairs = choose_batch(tally, config, 10, seed=1, result=fit(tally, intervals=False))
    assert len({frozenset(p) for p in pairs}) == 10  # every pair once before any repeats


@settings(max_examples=40, deadline=None)
@given(
    sampler=st.sampled_from(["info_gain", "top_k"]),
    n=st.integers(2, 7),
    seed=st.integers(0, 10_000),
    batch=st.integers(1, 12),
)
def test_any_batch_is_valid_pairs_and_deterministic_given_the_seed(
    sampler: str, n: int, seed: int, batch: int
) -> None:
    rng = random.Random(seed)
    tally = Tally(n)
    for _ in range(rng.randrange(0, 40)):
        a, b = rng.sample(range(n), 2)
        tally.plan([a, b])
        tally.record([[a], [b]] if rng.random() < 0.8 else [[a, b]])
    config: dict[str, Any] = {"sampler": sampler, "top_k": max(1, n // 2)}
    result = fit(tally, intervals=sampler == "top_k")
    pairs = choose_batch(tally, config, batch, seed, result)
    assert len(pairs) == batch
    assert all(0 <= a < n and 0 <= b < n and a != b for a, b in pairs)
    assert pairs == choose_batch(tally, config, batch, seed, result)


@pytest.mark.parametrize("sampler", ["info_gain", "top_k"])
def test_a_big_batch_rescores_in_steps_and_still_gives_distinct_valid_pairs(sampler: str) -> None:
    n = 14  # 91 pairs; a batch of 80 rescores every 2 picks
    rng = random.Random(5)
    tally = Tally(n)
    for _ in range(300):
        a, b = rng.sample(range(n), 2)
        tally.plan([a, b])
        tally.record([[min(a, b)], [max(a, b)]])
    config: dict[str, Any] = {"sampler": sampler, "top_k": 3}
    result = fit(tally, intervals=sampler == "top_k")
    pairs = choose_batch(tally, config, 80, 9, result)
    assert len(pairs) == 80 and all(a != b for a, b in pairs)
    assert pairs == choose_batch(tally, config, 80, 9, result)
    if sampler == "info_gain":  # probabilities never vanish: no pair twice in one sweep
        assert len({frozenset(p) for p in pairs}) == 80


def test_a_big_top_k_batch_goes_to_the_boundary_even_if_that_repeats_pairs() -> None:
    # ranks 5 and 6 are 10 Elo apart, everyone else far away; 66 pairs, a batch of 66
    strengths = [800.0, 700.0, 600.0, 500.0, 410.0, 400.0, 200.0, 0.0, -200, -400, -600, -800]
    tally = Tally(len(strengths))
    judge = random.Random(2)
    for _ in range(40):
        for a in range(12):
            for b in range(a + 1, 12):
                p = 1 / (1 + 10 ** ((strengths[b] - strengths[a]) / 400))
                tally.plan([a, b])
                tally.record([[a], [b]] if judge.random() < p else [[b], [a]])
    config: dict[str, Any] = {"sampler": "top_k", "top_k": 5}
    pairs = choose_batch(tally, config, 66, 4, fit(tally))
    on_boundary = sum(1 for p in pairs if {4, 5} & set(p))
    # one of each pair would put 21 of 66 picks on contestant 4 or 5
    assert on_boundary > 40
    assert len({frozenset(p) for p in pairs}) < 66

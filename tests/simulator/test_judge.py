"""The simulated judge's prompt x model interaction (issue 20): every model's strength moves
by its own normal offset on each prompt, the same for every strategy and judge stream on a
truth, and the truth stays the models' mean strength."""

from __future__ import annotations

import math

import numpy as np
import pytest

from simulator.judge import ELO, Judge, JudgeModel, PromptEffects
from simulator.runs import Settings, run


def test_the_interaction_has_the_sd_asked_for_by_simulation() -> None:
    """Two equal models judged 2,000 times on each of 600 prompts, no ties: the spread of
    the per-prompt log-odds, less its sampling noise, is that of the difference of two
    offsets, sqrt(2) x 50 Elo."""
    prompts, calls = 600, 2000
    judge = Judge(
        np.zeros(2), JudgeModel(tie_strength=0.0, prompt_sd=50.0), np.random.default_rng(1), 7
    )
    rows = np.repeat(np.arange(prompts), calls)
    verdicts = judge.judge(np.tile(np.array([[0, 1]]), (rows.size, 1)), prompts=rows)
    wins = (verdicts.order[:, 0] == 0).reshape(prompts, calls).mean(axis=1)
    log_odds = np.log(wins / (1 - wins))
    sampling = np.mean(1.0 / (calls * wins * (1 - wins)))
    sd = math.sqrt((np.var(log_odds, ddof=1) - sampling) / 2.0) / ELO
    assert 45.0 < sd < 55.0


def test_the_offsets_average_to_nothing_so_the_truth_is_the_mean_strength() -> None:
    offsets = PromptEffects(5, 50.0, truth_seed=3).of(np.arange(40_000))
    assert offsets.shape == (40_000, 5)
    assert np.all(np.abs(offsets.mean(axis=0)) < 4 * 50.0 / math.sqrt(40_000))
    assert np.allclose(offsets.std(axis=0), 50.0, rtol=0.03)


def test_every_judge_stream_on_a_truth_meets_the_same_prompts() -> None:
    model = JudgeModel(prompt_sd=50.0)
    one = Judge(np.zeros(4), model, np.random.default_rng(1), truth_seed=3)
    other = Judge(np.zeros(4), model, np.random.default_rng(2), truth_seed=3)
    prompts = np.array([0, 5, 300, 5])
    assert np.array_equal(one.prompt_effects.of(prompts), other.prompt_effects.of(prompts))
    elsewhere = Judge(np.zeros(4), model, np.random.default_rng(1), truth_seed=4)
    assert not np.allclose(one.prompt_effects.of(prompts), elsewhere.prompt_effects.of(prompts))


def test_a_prompt_keeps_its_offsets_whichever_prompts_are_asked_with_it() -> None:
    effects = PromptEffects(3, 50.0, truth_seed=0)
    alone = effects.of(np.array([700]))
    fresh = PromptEffects(3, 50.0, truth_seed=0).of(np.array([1, 700, 2]))
    assert np.array_equal(alone[0], fresh[1])


def test_a_judge_with_an_interaction_needs_every_calls_prompt() -> None:
    judge = Judge(np.zeros(2), JudgeModel(prompt_sd=50.0), np.random.default_rng(0))
    with pytest.raises(ValueError, match="prompt"):
        judge.judge(np.array([[0, 1]]))
    with pytest.raises(ValueError, match="1 prompts for 2 calls"):
        judge.judge(np.array([[0, 1], [1, 0]]), prompts=np.array([0]))


def test_a_negative_interaction_sd_is_refused() -> None:
    with pytest.raises(ValueError, match="prompt_sd"):
        JudgeModel(prompt_sd=-1.0)


def test_the_interaction_changes_the_verdicts_and_a_run_stays_reproducible() -> None:
    plain = Settings(n_models=6, max_calls=300)
    prompted = Settings(n_models=6, max_calls=300, judge=JudgeModel(prompt_sd=50.0))
    assert run("per_prompt_brackets_bt", 2, prompted) == run("per_prompt_brackets_bt", 2, prompted)
    assert run("per_prompt_brackets_bt", 2, prompted) != run("per_prompt_brackets_bt", 2, plain)

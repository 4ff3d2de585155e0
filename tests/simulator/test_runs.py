from __future__ import annotations

import dataclasses
import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.estimators import Estimate, PLEstimator
from simulator.judge import Judge, JudgeModel
from simulator.planner import plan
from simulator.runs import Checkpoint, Settings, Trace, checkpoints, evaluate, first_sustained, run
from simulator.strategies import STRATEGIES
from simulator.summaries import calls_by_truth, gain_interval, simulate


def test_a_run_is_deterministic_given_its_seed() -> None:
    settings = Settings(n_models=6, max_calls=300)
    for strategy in ("uniform_bt", "adaptive_ucb", "kwise_random_bt", "swiss_bt"):
        assert run(strategy, 4, settings) == run(strategy, 4, settings)
    assert run("uniform_bt", 4, settings) != run("uniform_bt", 5, settings)


def test_another_judge_stream_draws_other_outcomes_on_the_same_truth() -> None:
    settings = Settings(n_models=6, max_calls=300)
    first = run("kwise_balanced_bt", 4, settings)
    assert run("kwise_balanced_bt", 4, settings, stream=0) == first  # recorded tables hold
    other = run("kwise_balanced_bt", 4, settings, stream=1)
    assert other == run("kwise_balanced_bt", 4, settings, stream=1)
    assert other.seed == first.seed and other.stream == 1
    assert [c.tau for c in other.checkpoints] != [c.tau for c in first.checkpoints]


def test_simulate_pools_every_truth_and_stream_into_one_median() -> None:
    settings = Settings(
        n_models=6, strengths=tuple(150.0 * k for k in range(6)), max_calls=600, budgets=(60,),
        thresholds=(0.9,),
    )  # fmt: skip
    [summary] = simulate(["uniform_bt"], range(3), settings, streams=2)
    traces = [run("uniform_bt", s, settings, j) for s in range(3) for j in range(2)]
    expected = np.median([t.first_sustained(0.9) or math.inf for t in traces])
    assert (summary.seeds, summary.streams, summary.runs) == (3, 2, 6)
    assert summary.calls_to_tau[0.9] == round(expected)
    assert summary.reached_tau[0.9] == sum(t.first_sustained(0.9) is not None for t in traces)
    with pytest.raises(ValueError, match="streams"):
        simulate(["uniform_bt"], range(3), settings, streams=0)


def test_tau_is_kendall_tau_against_the_truth_on_a_toy_case() -> None:
    truth = np.array([30.0, 20.0, 10.0])
    settings = Settings(n_models=3, top=1)

    def tau(scores: list[float]) -> float:
        return evaluate(Estimate(np.array(scores)), truth, {0}, 10, settings).tau

    assert tau([3, 2, 1]) == pytest.approx(1.0)
    assert tau([3, 1, 2]) == pytest.approx(1 / 3)
    assert tau([1, 2, 3]) == pytest.approx(-1.0)
    separated = Estimate(np.array([3.0, 2, 1]), np.array([2.5, 1, 0]), np.array([3.5, 2, 1.5]))
    point = evaluate(separated, truth, {0}, 10, settings)
    assert point.top_found and point.ci_width == pytest.approx(3.5 / 3)


def test_a_threshold_touched_once_then_lost_does_not_count_as_reached() -> None:
    calls = [100, 110, 121, 133, 146, 161, 177, 195, 215]
    touched_once = [0.5, 0.91, 0.8, 0.9, 0.92, 0.95, 0.9, 0.93, 0.94]
    assert first_sustained(calls, touched_once, 0.9) == 133
    dips_late = [0.5, 0.91, 0.8, 0.95, 0.92, 0.95, 0.97, 0.89, 0.95]
    assert first_sustained(calls, dips_late, 0.9) is None  # 195 <= 1.5 * n for every n
    assert first_sustained(calls, [0.95] * 9, 0.9) == 100
    assert first_sustained(calls[:7], touched_once[:7], 0.9) is None  # 177 < 1.5 * 133
    assert first_sustained([100, 120], [0.95, 0.95], 0.9) is None  # never seen up to 150


def test_the_judge_ties_about_a_fifth_of_equal_pairs_and_can_favour_the_first_answer() -> None:
    entrants = np.tile(np.array([[0, 1]]), (20_000, 1))
    judge = Judge(np.zeros(2), JudgeModel(), np.random.default_rng(0))
    order, ties = judge.rank(entrants)
    assert ties.mean() == pytest.approx(0.2, abs=0.01)
    biased = Judge(np.zeros(2), JudgeModel(position_bias=100), np.random.default_rng(0))
    order, ties = biased.rank(entrants)
    first_wins = ((order[:, 0] == 0) & ~ties[:, 0]).mean()
    assert first_wins > 0.5


def test_on_an_easy_instance_every_strategy_reaches_tau_point_nine() -> None:
    settings = Settings(
        n_models=6,
        strengths=tuple(300.0 * k for k in range(6)),
        max_calls=400,
        budgets=(60,),
        thresholds=(0.9,),
        top=2,
    )
    for summary in simulate(list(STRATEGIES), [0], settings):
        assert summary.calls_to_tau[0.9] is not None, summary.strategy
        assert summary.calls_to_tau[0.9] <= 300, summary.strategy


CLUSTERS = tuple(400.0 * c + d for c in range(5) for d in (0.0, 60.0))


def test_active_sampling_needs_fewer_calls_than_uniform_on_a_medium_instance() -> None:
    # Five pairs of close models, far apart: the pairs that decide the ranking are few, so
    # a sampler that finds them should order everything correctly with fewer calls.
    settings = Settings(
        n_models=10, strengths=CLUSTERS, max_calls=3000, budgets=(100,), thresholds=(0.99,),
        batch=16,
    )  # fmt: skip
    uniform, active = simulate(["uniform_bt", "adaptive_ucb"], range(5), settings)
    assert uniform.calls_to_tau[0.99] is not None and active.calls_to_tau[0.99] is not None
    assert active.calls_to_tau[0.99] < 0.8 * uniform.calls_to_tau[0.99]


def test_the_planner_reports_the_simulated_calls_and_their_price() -> None:
    settings = Settings(n_models=6, max_calls=2000, half_width=120.0)
    p = plan("uniform_bt", settings, seeds=range(3), tau=0.9, price_per_call=0.002)
    traces = [run("uniform_bt", s, Settings(**{**settings.__dict__, "thresholds": (0.9, 0.95)}))
              for s in range(3)]  # fmt: skip
    expected = sorted(t.first_sustained(0.9) or math.inf for t in traces)[1]
    assert p.calls_to_tau == expected
    assert p.dollars_to_tau == pytest.approx(expected * 0.002)
    widths = sorted(t.first_half_width(120.0) or math.inf for t in traces)[1]
    assert p.calls_to_half_width == widths
    assert p.dollars_to_half_width == pytest.approx(widths * 0.002)


def test_the_gain_is_the_ratio_of_medians_and_its_interval_brackets_it() -> None:
    baseline = {t: [1000 + 10 * t, 1100 + 10 * t] for t in range(30)}
    other = {t: [200 + 2 * t, 220 + 2 * t] for t in range(30)}
    gain = gain_interval(baseline, other, bars=(4.0, 6.0))
    assert gain.point == pytest.approx(5.0)  # every run needs a fifth of the calls
    assert gain.low == pytest.approx(5.0) == gain.high
    assert gain.at_least == {4.0: 1.0, 6.0: 0.0}
    noisy = {t: [200 + 2 * t, 90 + 9 * t] for t in range(30)}
    spread = gain_interval(baseline, noisy)
    medians = np.median(sum(baseline.values(), [])) / np.median(sum(noisy.values(), []))
    assert spread.point == pytest.approx(medians)
    assert spread.low < spread.point < spread.high


def test_a_run_that_never_got_there_counts_as_infinitely_many_calls() -> None:
    baseline = {0: [None, None], 1: [None, 900], 2: [800, None]}
    other = {0: [100, 100], 1: [100, 100], 2: [100, 100]}
    assert gain_interval(baseline, other).point == math.inf
    assert gain_interval(other, baseline).point == 0.0
    with pytest.raises(ValueError, match="streams"):
        gain_interval({0: [1, 2], 1: [1]}, {0: [1, 2], 1: [1]})
    with pytest.raises(ValueError, match="no truth"):
        gain_interval({0: [1]}, {1: [1]})


def test_calls_by_truth_groups_the_streams_of_each_truth_in_stream_order() -> None:
    def trace(seed: int, stream: int, tau: float) -> Trace:
        points = tuple(Checkpoint(c, tau, math.nan, False, False) for c in (10, 12, 15, 16))
        return Trace("s", seed, 4, 2, points, stream)

    runs = calls_by_truth([trace(1, 1, 0.5), trace(0, 0, 0.95), trace(1, 0, 0.95)], 0.9)
    assert runs == {0: [10], 1: [10, None]}


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.lists(st.integers(1, 10_000), min_size=2, max_size=2), min_size=3, max_size=12),
    st.floats(1.5, 8.0),
)
def test_a_strategy_needing_a_fixed_fraction_of_the_calls_gains_that_factor(
    calls: list[list[int]], factor: float
) -> None:
    baseline = dict(enumerate(calls))
    other = {t: [c / factor for c in runs] for t, runs in baseline.items()}
    gain = gain_interval(baseline, other, rounds=200)  # type: ignore[arg-type]
    assert gain.point == pytest.approx(factor)
    assert gain.low == pytest.approx(factor) and gain.high == pytest.approx(factor)


def test_a_strategy_that_replays_anothers_draws_sees_the_same_votes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = Settings(n_models=8, max_calls=400, budgets=(40,))
    twin = dataclasses.replace(STRATEGIES["uniform_bt"], name="twin", draws="uniform_bt")
    alone = dataclasses.replace(STRATEGIES["uniform_bt"], name="alone")
    monkeypatch.setitem(STRATEGIES, "twin", twin)
    monkeypatch.setitem(STRATEGIES, "alone", alone)
    original = run("uniform_bt", 3, settings).checkpoints
    assert run("twin", 3, settings).checkpoints == original
    assert run("alone", 3, settings).checkpoints != original


def test_the_plackett_luce_refit_of_adaptive_groups_replays_the_bt_refits_votes() -> None:
    spec = STRATEGIES["kwise_adaptive_pl"]
    assert spec.draws == "kwise_adaptive_bt"
    assert spec.build is STRATEGIES["kwise_adaptive_bt"].build
    assert spec.estimator is PLEstimator


def test_checkpoints_are_spaced_by_the_settings_ratio_and_a_ratio_of_one_is_refused() -> None:
    fine = checkpoints(10, 1000, ratio=1.03)
    coarse = checkpoints(10, 1000)
    assert len(fine) > 2.5 * len(coarse)
    assert all(b / a <= 1.03 + 1 / a for a, b in itertools.pairwise(fine))
    assert {10, 1000} <= set(fine)
    with pytest.raises(ValueError, match="ratio must be > 1"):
        checkpoints(10, 1000, ratio=1.0)


def test_a_finer_grid_refits_more_often_on_the_same_votes() -> None:
    coarse = run("uniform_bt", 1, Settings(n_models=8, max_calls=600, budgets=(40,)))
    fine = run(
        "uniform_bt", 1, Settings(n_models=8, max_calls=600, budgets=(40,), checkpoint_ratio=1.03)
    )
    assert len(fine.checkpoints) > 2 * len(coarse.checkpoints)
    taus = {c.calls: c.tau for c in fine.checkpoints}
    # same votes: wherever both grids refit, the fit (and tau) is the same
    shared = [c for c in coarse.checkpoints if c.calls in taus]
    assert len(shared) >= 3
    assert all(taus[c.calls] == pytest.approx(c.tau) for c in shared)

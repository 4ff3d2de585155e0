"""Simulator additions for issue #4: new strategies, calls to the true best, top-only runs,
and the planner's accuracy against the simulated median."""

from __future__ import annotations

from statistics import NormalDist

import pytest

from simulator.planner import PLAN_SEEDS, plan
from simulator.runs import Checkpoint, Settings, Trace, run
from simulator.strategies import STRATEGIES
from simulator.summaries import simulate
from simulator.tables import format_table

NEW = (
    "adaptive_info_gain",
    "adaptive_top_k",
    "kwise_adaptive_bt",
    "single_elimination_anchor_bt",
)


@pytest.mark.parametrize("strategy", NEW)
def test_the_new_strategies_are_registered_and_deterministic_given_the_seed(strategy: str) -> None:
    assert strategy in STRATEGIES
    settings = Settings(n_models=7, max_calls=250)
    assert run(strategy, 2, settings) == run(strategy, 2, settings)


def test_calls_to_the_best_must_hold_from_n_to_one_and_a_half_n() -> None:
    def trace(found: list[bool]) -> Trace:
        calls = [100, 110, 121, 133, 146, 161, 177, 195, 215]
        points = tuple(Checkpoint(c, 0.5, 1.0, False, f) for c, f in zip(calls, found, strict=True))
        return Trace("x", 0, 5, 2, points)

    assert trace([False, True, False] + [True] * 6).first_best() == 133
    assert trace([True] * 9).first_best() == 100


def test_a_top_only_run_stops_once_the_top_k_is_identified() -> None:
    spaced = tuple(400.0 * k for k in range(6))
    top = Settings(n_models=6, strengths=spaced, max_calls=5000, top=2, goal="top", budgets=(30,))
    full = Settings(n_models=6, strengths=spaced, max_calls=5000, top=2, budgets=(30,))
    short, long = run("uniform_bt", 0, top), run("uniform_bt", 0, full)
    assert short.first_top_found() == long.first_top_found() is not None
    assert short.checkpoints[-1].calls <= long.checkpoints[-1].calls
    table = format_table(simulate(["uniform_bt"], [0], top))
    assert "n/m" in table.splitlines()[2]


def test_the_planner_predicts_the_simulated_median_within_30_percent_on_a_fixed_field() -> None:
    # A fixed truth isolates the planner from how lucky a draw of truths is: over random
    # truths 20-seed medians themselves differ by up to 1.5x (benchmarks/README.md).
    m = 12
    truth = tuple(200 * NormalDist().inv_cdf((i + 0.5) / m) for i in range(m))
    settings = Settings(
        n_models=m, strengths=truth, max_calls=300 * m, thresholds=(0.9,), budgets=(10 * m,)
    )
    median = simulate(["uniform_bt"], range(20), settings)[0].calls_to_tau[0.9]
    predicted = plan("uniform_bt", settings, seeds=range(1000, 1020), tau=0.9).calls_to_tau
    assert median is not None and predicted is not None
    assert 0.7 * median <= predicted <= 1.3 * median
    assert set(PLAN_SEEDS).isdisjoint(range(20))  # the default truths are held out

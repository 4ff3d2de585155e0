"""Calls until the true best is first (sustained, like tau's) in the summaries, the tables
and the bootstrap gains, and runs that stop once tau and the best are known."""

from __future__ import annotations

import math

from simulator.runs import Checkpoint, Settings, Trace, run
from simulator.summaries import (
    calls_to_best_by_truth,
    gain_interval,
    simulate,
    summarize,
)
from simulator.tables import format_table

CALLS = (100, 110, 121, 133, 146, 161, 177, 195, 215)


def _trace(seed: int, stream: int, best_from: int | None) -> Trace:
    """A run whose estimated best is the true best from checkpoint ``best_from`` on."""
    points = tuple(
        Checkpoint(c, 0.5, 1.0, False, best_from is not None and i >= best_from)
        for i, c in enumerate(CALLS)
    )
    return Trace("uniform_bt", seed, 5, 2, points, stream)


def test_calls_to_the_best_are_grouped_per_truth_in_stream_order() -> None:
    runs = [_trace(1, 1, None), _trace(0, 0, 0), _trace(1, 0, 3)]
    assert calls_to_best_by_truth(runs) == {0: [100], 1: [133, None]}


def test_the_summary_counts_the_runs_that_found_the_best_and_the_table_says_so() -> None:
    settings = Settings(n_models=5, max_calls=215, budgets=(100,), thresholds=(0.9,))
    summary = summarize(
        "uniform_bt", [_trace(0, 0, 0), _trace(1, 0, 3), _trace(2, 0, None)], settings
    )
    assert summary.best_calls == 133
    assert summary.reached_best == 2
    assert format_table([summary]).splitlines()[2].endswith("| 133 (2/3) |")


def test_a_gain_in_calls_to_the_best_is_the_ratio_of_the_median_calls() -> None:
    baseline = calls_to_best_by_truth([_trace(s, 0, 3) for s in range(5)])  # 133 calls each
    other = calls_to_best_by_truth([_trace(s, 0, 0) for s in range(5)])  # 100 each
    gain = gain_interval(baseline, other, rounds=200)
    assert gain.point == gain.low == gain.high == 1.33


def test_when_neither_ever_gets_there_the_gain_is_unknown() -> None:
    never = {0: [None], 1: [None]}
    gain = gain_interval(never, never, rounds=50)
    assert math.isnan(gain.point) and math.isnan(gain.low) and math.isnan(gain.high)


def test_a_tau_run_stops_once_tau_and_the_best_are_known_and_measures_them_as_a_full_one() -> None:
    # 300 Elo apart but for the 5th and 6th best, 10 apart: tau 0.9 (one swap of 45 pairs
    # allowed) and the best come quickly, a separated top-5 not within the cap
    truth = tuple(300.0 * k + (10.0 if k == 5 else 0.0) for k in [0, 1, 2, 3, 4, 4, 5, 6, 7, 8])
    full = Settings(n_models=10, strengths=truth, max_calls=20_000, thresholds=(0.9,))
    short = Settings(n_models=10, strengths=truth, max_calls=20_000, thresholds=(0.9,), goal="tau")
    whole, cut = run("uniform_bt", 0, full), run("uniform_bt", 0, short)
    assert cut.first_sustained(0.9) == whole.first_sustained(0.9) is not None
    assert cut.first_best() == whole.first_best() is not None
    assert whole.first_top_found() is None
    assert cut.checkpoints[-1].calls < whole.checkpoints[-1].calls == 20_000
    table = format_table(simulate(["uniform_bt"], [0], short))
    assert "| n/m |" in table.splitlines()[2]  # the top-5 is not followed

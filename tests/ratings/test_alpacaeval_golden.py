"""Golden test (issue 19): the CLI reproduces AlpacaEval 2.0's published win rate.

AlpacaEval 2.0 compares FuseChat-Llama-3.2-1B-Instruct with the baseline gpt4_1106_preview
on 805 instructions; its GPT-4-Turbo judge gives a soft preference per instruction, and the
published ``win_rate`` is the mean share of the win credited to the model, in points.
Provenance of the data: golden/alpacaeval/README.md.
"""

from __future__ import annotations

import csv
import json
import math
import statistics
from pathlib import Path
from typing import Any

import pytest

from ratings.__main__ import main

MODEL = "FuseChat-Llama-3.2-1B-Instruct"
BASELINE = "gpt4_1106_preview"
ALPACAEVAL = Path(__file__).parent / "golden" / "alpacaeval"
BATTLES = ALPACAEVAL / f"{MODEL}.battles.csv"
PREFERENCES = ALPACAEVAL / f"{MODEL}.preferences.csv"


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def published() -> dict[str, str]:
    """The model's row of AlpacaEval 2.0's weighted GPT-4-Turbo leaderboard (alpaca_eval 0.6.6)."""
    rows = {row[""]: row for row in read_csv(ALPACAEVAL / "leaderboard.csv")}
    return rows[MODEL]


@pytest.fixture(scope="module")
def preferences() -> list[float]:
    """The judge's preference per instruction, in [1, 2]: 2 means the model's answer won."""
    rows = read_csv(PREFERENCES)
    assert [int(row["index"]) for row in rows] == list(range(805))
    return [float(row["preference"]) for row in rows]


def fit_json(capsys: pytest.CaptureFixture[str], path: Path, *args: str) -> dict[str, Any]:
    assert main(["fit", str(path), *args, "--output", "json"]) == 0
    payload: dict[str, Any] = json.loads(capsys.readouterr().out)
    return payload


def test_the_battle_file_holds_one_soft_battle_per_preference(preferences: list[float]) -> None:
    battles = read_csv(BATTLES)
    assert len(battles) == len(preferences) == 805
    for index, (battle, preference) in enumerate(zip(battles, preferences, strict=True)):
        assert int(battle["question_id"]) == index
        assert (battle["model_a"], battle["model_b"]) == (MODEL, BASELINE)
        assert float(battle["score"]) == pytest.approx(preference - 1, abs=1e-12)
        assert 0.0 <= float(battle["score"]) <= 1.0


def test_the_preferences_count_the_published_wins_losses_and_draws(
    preferences: list[float], published: dict[str, str]
) -> None:
    assert sum(p > 1.5 for p in preferences) == int(published["n_wins"]) == 233
    assert sum(p < 1.5 for p in preferences) == int(published["n_wins_base"]) == 570
    assert sum(p == 1.5 for p in preferences) == int(published["n_draws"]) == 2
    assert len(preferences) == int(published["n_total"])


def test_the_preferences_reproduce_the_published_standard_error(
    preferences: list[float], published: dict[str, str]
) -> None:
    points = [100 * (p - 1) for p in preferences]
    standard_error = statistics.stdev(points) / math.sqrt(len(points))
    assert standard_error == pytest.approx(float(published["standard_error"]), abs=1e-9)


def test_fit_winrate_reports_the_published_win_rate_to_a_hundredth_of_a_point(
    capsys: pytest.CaptureFixture[str], published: dict[str, str]
) -> None:
    payload = fit_json(capsys, BATTLES, "--method", "winrate")
    rates = {row["model"]: row["rating"] for row in payload["ratings"]}
    # The CLI reports a share in [0, 1]; AlpacaEval publishes points (percent).
    assert 100 * rates[MODEL] == pytest.approx(float(published["win_rate"]), abs=0.01)
    assert 100 * rates[MODEL] == pytest.approx(29.9219322658882, abs=1e-9)
    assert rates[MODEL] + rates[BASELINE] == pytest.approx(1.0, abs=1e-12)
    assert {row["model"]: row["matches"] for row in payload["ratings"]} == {
        MODEL: 805,
        BASELINE: 805,
    }


def test_fit_winrate_on_hard_verdicts_reports_the_published_discrete_win_rate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], published: dict[str, str]
) -> None:
    """AlpacaEval's ``discrete_win_rate`` rounds each preference to a win, loss or draw."""

    def winner(score: float) -> str:
        return "tie" if score == 0.5 else "model_a" if score > 0.5 else "model_b"

    hard = tmp_path / "hard.csv"
    with hard.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, ["model_a", "model_b", "winner"])
        writer.writeheader()
        for battle in read_csv(BATTLES):
            writer.writerow(
                {
                    "model_a": battle["model_a"],
                    "model_b": battle["model_b"],
                    "winner": winner(float(battle["score"])),
                }
            )
    payload = fit_json(capsys, hard, "--method", "winrate")
    rates = {row["model"]: row["rating"] for row in payload["ratings"]}
    assert 100 * rates[MODEL] == pytest.approx(float(published["discrete_win_rate"]), abs=1e-9)


def test_fit_bt_ranks_the_model_below_the_baseline_it_beats_less_than_half_the_time(
    capsys: pytest.CaptureFixture[str], published: dict[str, str]
) -> None:
    win_rate = float(published["win_rate"]) / 100
    assert win_rate < 0.5
    payload = fit_json(capsys, BATTLES, "--method", "bt", "--ci", "none")
    assert [row["model"] for row in payload["ratings"]] == [BASELINE, MODEL]
    ratings = {row["model"]: row["rating"] for row in payload["ratings"]}
    # With one pair, the BT MLE on fractional outcomes puts the odds of the win rate in the gap.
    gap = ratings[BASELINE] - ratings[MODEL]
    assert gap == pytest.approx(400 * math.log10((1 - win_rate) / win_rate), abs=1e-3)

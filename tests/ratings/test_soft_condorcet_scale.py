"""Soft Condorcet at ``RATING_SCALE``: converged ratings whose gaps read like Elo points,
on LLMFAO's crowd votes (59 models) and on made-up battles with known strengths.

open_spiel's defaults leave every LLMFAO model within a fraction of a point of the
midpoint (the CLI's SCO used them): the loss is a mean over votes and a model is in about
1/30 of them, so 1000 steps of 0.01 hardly move it.
"""

from __future__ import annotations

import csv
import math
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ratings.metrics import kendall_tau
from ratings.soft_condorcet import ELO_TEMPERATURE, RATING_SCALE, fit_soft_condorcet
from tests.ratings.test_ratings_cli_methods import llmfao_jsonl, run_json

Vote = list[list[str]]


def llmfao_votes(golden_dir: Path) -> list[Vote]:
    """Each crowd vote as a two-entry ranking (a tie is one tier: no preference)."""
    with (golden_dir / "llmfao-crowd-comparisons.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    return [
        [[r["left"], r["right"]]]
        if r["winner"] == "tie"
        else [[r["left"]], [r["right"]]]
        if r["winner"] == "left"
        else [[r["right"]], [r["left"]]]
        for r in rows
    ]


def test_the_elo_temperature_makes_the_sigmoid_the_elo_expected_score() -> None:
    for gap in (0.0, 100.0, 400.0):
        elo = 1 / (1 + 10 ** (-gap / 400))
        assert 1 / (1 + math.exp(-gap / ELO_TEMPERATURE)) == pytest.approx(elo, abs=1e-12)


def test_open_spiels_defaults_leave_llmfao_flat(golden_dir: Path) -> None:
    ratings = fit_soft_condorcet(llmfao_votes(golden_dir)).ratings
    assert float(np.ptp(ratings)) < 1.0


def test_the_cli_orders_llmfao_as_bt_does_over_hundreds_of_points(
    tmp_path: Path, golden_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = llmfao_jsonl(tmp_path, golden_dir)
    sco = run_json(capsys, str(path), "--method", "sco")
    bt = run_json(capsys, str(path), "--method", "bt")
    sco_rating = {r["model"]: r["rating"] for r in sco["ratings"]}
    bt_rating = {r["model"]: r["rating"] for r in bt["ratings"]}
    models = sorted(bt_rating)
    assert len(models) == 59
    # BT counts the 39% ties as half wins; SCO's loss cannot use a tie.
    assert kendall_tau([sco_rating[m] for m in models], [bt_rating[m] for m in models]) >= 0.8
    assert max(sco_rating.values()) - min(sco_rating.values()) >= 100
    assert 0 < sco["params"]["steps_run"] < RATING_SCALE["iterations"]  # it converged
    assert sco["params"]["temperature"] == pytest.approx(ELO_TEMPERATURE)


def test_llmfaos_ratings_spread_well_beyond_what_coin_flips_on_the_same_pairs_give(
    golden_dir: Path,
) -> None:
    votes = llmfao_votes(golden_dir)
    real = fit_soft_condorcet(votes, **RATING_SCALE).ratings
    rng = random.Random(0)
    for _ in range(3):
        flipped = [v if len(v) == 1 else (v if rng.random() < 0.5 else v[::-1]) for v in votes]
        noise = fit_soft_condorcet(flipped, **RATING_SCALE).ratings
        assert float(np.std(real)) > 2 * float(np.std(noise))


def battles(strengths: dict[str, float], n: int, seed: int) -> list[Vote]:
    """Pairs drawn at random, won by the Elo probability, a fifth of them tied."""
    rng = random.Random(seed)
    names = sorted(strengths)
    votes: list[Vote] = []
    for _ in range(n):
        a, b = rng.sample(names, 2)
        if rng.random() < 0.2:
            votes.append([[a, b]])
            continue
        p = 1 / (1 + 10 ** ((strengths[b] - strengths[a]) / 400))
        votes.append([[a], [b]] if rng.random() < p else [[b], [a]])
    return votes


def test_clear_strength_differences_come_out_in_order_with_gaps_of_rating_points() -> None:
    strengths = {f"m{i}": 1000.0 + 100 * i for i in range(8)}
    result = fit_soft_condorcet(battles(strengths, 4000, seed=1), **RATING_SCALE)
    ratings = result.as_dict()
    assert sorted(ratings, key=ratings.__getitem__) == sorted(strengths, key=strengths.__getitem__)
    spread = max(ratings.values()) - min(ratings.values())
    assert 300 < spread < 1400  # the true 700, as rating points (not 0.1, not the bounds)
    assert RATING_SCALE["lower"] < min(ratings.values())
    assert max(ratings.values()) < RATING_SCALE["upper"]


def test_a_few_votes_move_ratings_by_tens_of_points_and_the_priors_pull_fades_with_more() -> None:
    bracket = [["a", "b"], ["c", "d"], ["e", "f"], ["g", "h"], ["a", "c"], ["e", "g"], ["a", "e"]]
    few = fit_soft_condorcet([[[won], [lost]] for won, lost in bracket], **RATING_SCALE)
    assert few.steps_run < RATING_SCALE["iterations"]
    assert few.as_dict()["a"] == max(few.as_dict().values())
    assert 20 < float(np.ptp(few.ratings)) < 150  # BT with its interval says about as much
    strengths = {"a": 1200.0, "b": 1100.0, "c": 1000.0, "d": 900.0}
    votes = battles(strengths, 300, seed=2)
    spreads = [float(np.ptp(fit_soft_condorcet(votes * k, **RATING_SCALE).ratings)) for k in (1, 4)]
    assert spreads[0] < spreads[1] < 1.2 * spreads[0]
    params: dict[str, Any] = few.params()
    assert params["step"] == "normalized" and params["prior"] == RATING_SCALE["prior"]


def test_a_model_with_only_ties_stays_at_the_midpoint_and_bad_settings_are_refused() -> None:
    result = fit_soft_condorcet([[["a"], ["b"]], [["c", "a"]]], **RATING_SCALE)
    assert result.as_dict()["c"] == 1000.0
    with pytest.raises(ValueError, match="step"):
        fit_soft_condorcet([[["a"], ["b"]]], step="newton")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="penalty"):
        fit_soft_condorcet([[["a"], ["b"]]], penalty=-1.0)

"""Golden data shared by the ratings tests (see golden/README.md for provenance)."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ratings.data import Battles, battles_from_arrays

GOLDEN = Path(__file__).parent / "golden"

LEFT_RIGHT_TO_WINNER = {"left": "model_a", "right": "model_b", "tie": "tie"}


def read_left_right_csv(path: Path) -> Battles:
    """evalica/LLMFAO files (left, right, winner in left/right/tie) as battles, in file order."""
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    return battles_from_arrays(
        [r["left"] for r in rows],
        [r["right"] for r in rows],
        [LEFT_RIGHT_TO_WINNER[r["winner"]] for r in rows],
    )


@pytest.fixture(scope="session")
def golden_dir() -> Path:
    return GOLDEN


@pytest.fixture(scope="session")
def vectors() -> dict[str, Any]:
    with (GOLDEN / "test_vectors.json").open() as handle:
        data: dict[str, Any] = json.load(handle)
    return data


@pytest.fixture(scope="session")
def food() -> Battles:
    return read_left_right_csv(GOLDEN / "food.csv")


@pytest.fixture(scope="session")
def simple() -> Battles:
    return read_left_right_csv(GOLDEN / "simple.csv")


@pytest.fixture(scope="session")
def llmfao_crowd() -> Battles:
    return read_left_right_csv(GOLDEN / "llmfao-crowd-comparisons.csv")


def _golden_scores(dataset: str, algorithm: str) -> dict[str, float]:
    with (GOLDEN / f"{dataset}-golden.csv").open(newline="") as handle:
        rows = csv.DictReader(handle)
        return {r["item"]: float(r["score"]) for r in rows if r["algorithm"] == algorithm}


@pytest.fixture(scope="session")
def evalica_golden() -> Callable[[str, str], dict[str, float]]:
    """``evalica_golden("food", "elo")`` -> scores from evalica's own golden files."""
    return _golden_scores

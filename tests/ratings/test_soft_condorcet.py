"""Soft Condorcet Optimization against open_spiel's full-batch numbers."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ratings.soft_condorcet import fit_soft_condorcet

CONFIGS = {
    "python_fullbatch_lb0_ub1000_iters1000_lr0.01_tau1": dict(
        lower=0, upper=1000, iterations=1000, learning_rate=0.01, temperature=1
    ),
    "python_fullbatch_lb-100_ub100_iters10000_lr0.01_tau1": dict(
        lower=-100, upper=100, iterations=10000, learning_rate=0.01, temperature=1
    ),
    "python_fullbatch_lb0_ub100_iters20000_lr1_tau5": dict(
        lower=0, upper=100, iterations=20000, learning_rate=1, temperature=5
    ),
}
CASES = [
    (dataset, config) for dataset in ("meeple_pentathlon", "kwise_rankings") for config in CONFIGS
]


def strict_votes(vectors: dict[str, Any], dataset: str) -> list[list[list[str]]]:
    return [
        [[name] for name in vote]
        for vote in vectors["soft_condorcet_optimization"][dataset]["votes_best_first"]
    ]


@pytest.mark.parametrize(("dataset", "config"), CASES)
def test_sco_matches_open_spiel_full_batch_float64_reimplementation_within_1e_7(
    dataset: str, config: str, vectors: dict[str, Any]
) -> None:
    golden = vectors["soft_condorcet_optimization"][dataset][config]
    result = fit_soft_condorcet(strict_votes(vectors, dataset), **CONFIGS[config])  # type: ignore[arg-type]
    assert list(result.models) == golden["alternatives_order"]
    assert result.as_dict() == pytest.approx(golden["numpy_float64_reimpl"], abs=1e-7)
    assert result.loss == pytest.approx(golden["final_loss_numpy"], abs=1e-7)


@pytest.mark.parametrize(("dataset", "config"), CASES)
def test_sco_matches_open_spiel_float32_ratings_within_1e_2_and_its_ranking(
    dataset: str, config: str, vectors: dict[str, Any]
) -> None:
    # open_spiel accumulates in float32: over 20,000 steps that drifts by up to 8.5e-3
    golden = vectors["soft_condorcet_optimization"][dataset][config]
    result = fit_soft_condorcet(strict_votes(vectors, dataset), **CONFIGS[config])  # type: ignore[arg-type]
    assert result.as_dict() == pytest.approx(golden["open_spiel_ratings_float32"], abs=1e-2)
    order = sorted(result.models, key=lambda m: (-round(result.as_dict()[m], 6), m))
    assert order == golden["ranking"]


def test_sco_puts_meeple_pentathlon_in_kemeny_order_c_a_b(vectors: dict[str, Any]) -> None:
    result = fit_soft_condorcet(
        strict_votes(vectors, "meeple_pentathlon"), lower=-100, upper=100, iterations=10000
    )
    ratings = result.as_dict()
    assert ratings["C"] > ratings["A"] > ratings["B"]


def test_sco_result_records_hyper_parameters_and_starts_at_the_midpoint() -> None:
    result = fit_soft_condorcet([[["a"], ["b"]]], iterations=0, lower=-10, upper=30)
    assert result.ratings.tolist() == [10.0, 10.0]
    assert result.params() == {
        "temperature": 1.0,
        "learning_rate": 0.01,
        "iterations": 0,
        "lower": -10,
        "upper": 30,
    }
    assert result.loss == pytest.approx(0.5)


def test_sco_ignores_ties_inside_a_tier_and_validates_votes() -> None:
    result = fit_soft_condorcet(
        [[["a", "b"], ["c"]]], lower=-10, upper=10, iterations=500, learning_rate=0.5
    )
    assert result.as_dict()["a"] == pytest.approx(result.as_dict()["b"], abs=1e-12)
    assert result.as_dict()["c"] < result.as_dict()["a"]
    with pytest.raises(ValueError, match="vote 1: ranking: model listed twice"):
        fit_soft_condorcet([[["a"], ["b"]], [["a"], ["a"]]])


def test_sco_stays_within_bounds() -> None:
    result = fit_soft_condorcet(
        [[["a"], ["b"]]] * 10, lower=0, upper=1, learning_rate=10.0, iterations=200
    )
    assert np.all((result.ratings >= 0) & (result.ratings <= 1))


@settings(max_examples=40, deadline=None)
@given(
    others=st.lists(st.permutations(["b", "c", "d"]), min_size=3, max_size=9),
    winner_places=st.data(),
)
def test_sco_ranks_a_condorcet_winner_first(
    others: list[list[str]], winner_places: st.DataObject
) -> None:
    """'a' is placed first in a strict majority of votes (so it beats everyone head to head)
    and anywhere in the rest; SCO must rate it highest."""
    n = len(others)
    first_in = winner_places.draw(st.sets(st.integers(0, n - 1), min_size=n // 2 + 1, max_size=n))
    votes = []
    for k, order in enumerate(others):
        position = 0 if k in first_in else winner_places.draw(st.integers(0, 3))
        votes.append([[name] for name in (order[:position] + ["a"] + order[position:])])
    result = fit_soft_condorcet(votes, lower=-100, upper=100, iterations=3000, learning_rate=0.05)
    ratings = result.as_dict()
    assert ratings["a"] == max(ratings.values())
    assert all(ratings["a"] > ratings[m] for m in "bcd")

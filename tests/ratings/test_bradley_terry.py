"""Bradley-Terry MLE (ties as half a win) against FastChat, arena-hard, evalica and choix."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from ratings.bradley_terry import NoMLEError, fit_bradley_terry, log_likelihood
from ratings.data import Battles, aggregate, battles_from_arrays

ELO_PER_NAT = 400 / math.log(10)


def choix_half_win(vectors: dict[str, Any], dataset: str) -> dict[str, float]:
    return vectors[dataset]["choix"]["ties_as_half_wins_duplicated"][
        "on_elo_scale_400_over_ln10_plus_1000"
    ]


def max_gap(ours: dict[str, float], theirs: dict[str, float]) -> float:
    assert ours.keys() == theirs.keys()
    return max(abs(ours[m] - theirs[m]) for m in theirs)


@pytest.mark.parametrize("dataset", ["food", "simple"])
def test_bt_matches_choix_ilsr_with_ties_as_half_wins_within_1e_6_points(
    dataset: str, vectors: dict[str, Any], food: Battles, simple: Battles
) -> None:
    battles = food if dataset == "food" else simple
    ours = fit_bradley_terry(battles).as_dict()
    assert max_gap(ours, choix_half_win(vectors, f"pairwise_{dataset}")) <= 1e-6


@pytest.mark.parametrize("dataset", ["food", "simple"])
def test_bt_matches_arena_hard_compute_mle_elo_within_1e_5_points(
    dataset: str, vectors: dict[str, Any], food: Battles, simple: Battles
) -> None:
    battles = food if dataset == "food" else simple
    expected = vectors[f"pairwise_{dataset}"]["fastchat"]["arena_hard_compute_mle_elo_2024_09"]
    assert max_gap(fit_bradley_terry(battles).as_dict(), expected) <= 1e-5


def test_bt_matches_evalica_on_food_within_1e_3_points(
    vectors: dict[str, Any], food: Battles
) -> None:
    expected = vectors["pairwise_food"]["evalica"]["bradley_terry_on_elo_scale_400log10_plus_1000"]
    assert max_gap(fit_bradley_terry(food).as_dict(), expected) <= 1e-3


def test_bt_matches_evalica_on_simple_within_1_5e_3_points(
    vectors: dict[str, Any], simple: Battles
) -> None:
    # evalica stops its MM iterations at tolerance 1e-6 on the scores; on simple.csv that
    # leaves it 1.4e-3 points from the optimum (see the likelihood test below)
    expected = vectors["pairwise_simple"]["evalica"][
        "bradley_terry_on_elo_scale_400log10_plus_1000"
    ]
    assert max_gap(fit_bradley_terry(simple).as_dict(), expected) <= 1.5e-3


@pytest.mark.parametrize("dataset", ["food", "simple"])
def test_bt_strengths_match_evalica_golden_scores_normalised_to_sum_one(
    dataset: str, food: Battles, simple: Battles, evalica_golden: Any
) -> None:
    result = fit_bradley_terry(food if dataset == "food" else simple)
    strengths = np.exp(result.log_strengths)
    ours = dict(zip(result.models, (strengths / strengths.sum()).tolist(), strict=True))
    assert ours == pytest.approx(evalica_golden(dataset, "bradley_terry"), abs=5e-6)


def test_bt_matches_fastchat_compute_bt_within_1e_3_points_on_simple(
    vectors: dict[str, Any], simple: Battles
) -> None:
    expected = vectors["pairwise_simple"]["fastchat"]["compute_bt_rating_systems"]
    assert max_gap(fit_bradley_terry(simple).as_dict(), expected) <= 1e-3


def test_bt_is_within_3e_3_points_of_fastchat_compute_bt_on_food_which_stops_early(
    vectors: dict[str, Any], food: Battles
) -> None:
    expected = vectors["pairwise_food"]["fastchat"]["compute_bt_rating_systems"]
    assert max_gap(fit_bradley_terry(food).as_dict(), expected) <= 3e-3


@pytest.mark.parametrize(
    ("dataset", "source"),
    [
        ("pairwise_food", ("fastchat", "compute_bt_rating_systems")),
        ("pairwise_food", ("evalica", "bradley_terry_on_elo_scale_400log10_plus_1000")),
        ("pairwise_simple", ("fastchat", "compute_bt_rating_systems")),
        ("pairwise_simple", ("evalica", "bradley_terry_on_elo_scale_400log10_plus_1000")),
    ],
)
def test_bt_likelihood_is_at_least_that_of_other_libraries_answers(
    dataset: str, source: tuple[str, str], vectors: dict[str, Any], food: Battles, simple: Battles
) -> None:
    """Where we differ from FastChat or evalica by more than 1e-4 points, the gap is their
    solver tolerance, not a convention: their answer is less likely than ours."""
    battles = food if dataset == "pairwise_food" else simple
    ours = fit_bradley_terry(battles)
    theirs = vectors[dataset][source[0]][source[1]]
    their_theta = np.array([(theirs[m] - 1000) / ELO_PER_NAT for m in ours.models])
    assert ours.log_likelihood >= log_likelihood(battles, their_theta) - 1e-12
    assert ours.log_likelihood == pytest.approx(
        log_likelihood(battles, ours.log_strengths), abs=1e-12
    )


def ties_dropped(battles: Battles) -> Battles:
    keep = battles.outcome != 1
    return battles.take(np.flatnonzero(keep))


def test_bt_without_ties_matches_choix_ilsr_and_mm_log_strengths_on_food(
    vectors: dict[str, Any], food: Battles
) -> None:
    case = vectors["pairwise_food"]["choix"]
    result = fit_bradley_terry(ties_dropped(food))
    assert list(result.models) == case["item_order"]
    assert result.log_strengths.tolist() == pytest.approx(
        case["ties_dropped"]["ilsr_pairwise_alpha0"], abs=1e-7
    )
    assert result.log_strengths.tolist() == pytest.approx(
        case["ties_dropped"]["mm_pairwise_alpha0"], abs=1e-7
    )


@pytest.mark.parametrize("dataset", ["pairwise_food", "pairwise_simple"])
def test_bt_prior_is_choix_alpha_and_matches_opt_pairwise_alpha_0_1(
    dataset: str, vectors: dict[str, Any], food: Battles, simple: Battles
) -> None:
    battles = ties_dropped(food if dataset == "pairwise_food" else simple)
    expected = vectors[dataset]["choix"]["ties_dropped"]["opt_pairwise_alpha0.1"]
    result = fit_bradley_terry(battles, prior=0.1)
    assert result.log_strengths.tolist() == pytest.approx(expected, abs=1e-6)


def test_bt_raises_a_clear_error_when_the_mle_does_not_exist(simple: Battles) -> None:
    # simple.csv without its ties: model "0" never wins, "4" is never beaten by 0..3 etc.
    with pytest.raises(NoMLEError, match=r"never won: \['0'\].*prior > 0"):
        fit_bradley_terry(ties_dropped(simple))


def test_bt_error_names_models_without_battles() -> None:
    battles = battles_from_arrays(
        ["a", "b"], ["b", "a"], ["model_a", "model_a"], models=["a", "b", "c"]
    )
    with pytest.raises(NoMLEError, match=r"no battles: \['c'\]"):
        fit_bradley_terry(battles)


def test_bt_error_names_split_groups_when_nobody_is_winless() -> None:
    battles = battles_from_arrays(
        ["a", "b", "c", "d", "a"], ["b", "a", "d", "c", "c"], ["model_a"] * 5
    )
    with pytest.raises(NoMLEError, match=r"split into 2 groups"):
        fit_bradley_terry(battles)


def test_bt_with_a_prior_gives_finite_ordered_ratings_when_the_mle_does_not_exist(
    simple: Battles,
) -> None:
    result = fit_bradley_terry(ties_dropped(simple), prior=0.01)
    assert np.all(np.isfinite(result.ratings))
    assert result.as_dict()["0"] == min(result.ratings)


def test_bt_anchor_pins_one_model_and_keeps_all_gaps(food: Battles) -> None:
    free = fit_bradley_terry(food)
    anchored = fit_bradley_terry(food, anchor=("Pizza", 1114.0))
    assert anchored.as_dict()["Pizza"] == pytest.approx(1114.0, abs=1e-9)
    assert np.allclose(anchored.ratings - free.ratings, 1114.0 - free.as_dict()["Pizza"], atol=1e-9)
    assert anchored.params()["anchor"] == {"Pizza": 1114.0}
    with pytest.raises(ValueError, match="anchor: unknown model 'Ramen'"):
        fit_bradley_terry(food, anchor=("Ramen", 1000.0))


def test_bt_result_records_hyper_parameters_and_convergence(food: Battles) -> None:
    result = fit_bradley_terry(food, scale=173.7, base=math.e, init_rating=0.0)
    assert result.params() == {
        "scale": 173.7,
        "base": math.e,
        "init_rating": 0.0,
        "anchor": None,
        "prior": 0.0,
        "tol": 1e-10,
        "solver": "auto",
    }
    assert result.converged and result.n_iterations < 20
    assert result.ratings == pytest.approx(173.7 * result.log_strengths, abs=1e-9)
    assert dict(zip(result.models, result.matches.tolist(), strict=True)) == {
        "Burger": 13,
        "Pasta": 11,
        "Pizza": 11,
        "Sushi": 12,
        "Tacos": 13,
    }


def test_bt_fits_the_same_from_battles_or_cells_and_with_lbfgs(food: Battles) -> None:
    from_battles = fit_bradley_terry(food)
    from_cells = fit_bradley_terry(aggregate(food))
    with_lbfgs = fit_bradley_terry(food, solver="lbfgs", tol=1e-12)
    assert from_cells.ratings.tolist() == pytest.approx(from_battles.ratings.tolist(), abs=1e-9)
    assert with_lbfgs.ratings.tolist() == pytest.approx(from_battles.ratings.tolist(), abs=1e-4)


def test_bt_predicted_win_probability_is_logistic_in_the_rating_gap(food: Battles) -> None:
    result = fit_bradley_terry(food)
    gap = result.as_dict()["Tacos"] - result.as_dict()["Pizza"]
    assert result.win_probability("Tacos", "Pizza") == pytest.approx(
        1 / (1 + 10 ** (-gap / 400)), abs=1e-12
    )


def test_bt_on_llmfao_crowd_votes_ranks_gpt4_first(llmfao_crowd: Battles) -> None:
    result = fit_bradley_terry(llmfao_crowd)
    assert len(result.models) == 59
    best = result.models[int(np.argmax(result.ratings))]
    assert best == "GPT 4"
    assert result.converged


# --------------------------------------------------------------------------- properties

CYCLE = [
    ("m0", "m1", "model_a"),
    ("m1", "m2", "model_a"),
    ("m2", "m3", "model_a"),
    ("m3", "m0", "model_a"),
]

extra_battles = st.lists(
    st.tuples(
        st.integers(0, 3), st.integers(0, 3), st.sampled_from(["model_a", "model_b", "tie"])
    ).filter(lambda row: row[0] != row[1]),
    max_size=30,
)


def league(extra: list[tuple[int, int, str]]) -> list[tuple[str, str, str]]:
    """A 4-model league whose MLE exists (a win cycle) plus arbitrary extra battles."""
    return CYCLE + [(f"m{a}", f"m{b}", w) for a, b, w in extra]


def fit_rows(rows: list[tuple[str, str, str]]) -> dict[str, float]:
    return fit_bradley_terry(battles_from_arrays(*zip(*rows, strict=True))).as_dict()


@settings(max_examples=50, deadline=None)
@given(extra=extra_battles, seed=st.integers(0, 2**32 - 1))
def test_bt_is_invariant_to_battle_order_and_model_relabelling(
    extra: list[tuple[int, int, str]], seed: int
) -> None:
    rows = league(extra)
    base = fit_rows(rows)
    rng = np.random.default_rng(seed)
    shuffled = [rows[k] for k in rng.permutation(len(rows))]
    assert fit_rows(shuffled) == pytest.approx(base, abs=1e-6)
    rename = dict(zip(["m0", "m1", "m2", "m3"], ["zz", "aa", "mm", "bb"], strict=True))
    renamed = fit_rows([(rename[a], rename[b], w) for a, b, w in rows])
    assert {old: renamed[new] for old, new in rename.items()} == pytest.approx(base, abs=1e-6)


@settings(max_examples=50, deadline=None)
@given(extra=extra_battles)
def test_bt_is_invariant_to_swapping_sides_of_a_battle(extra: list[tuple[int, int, str]]) -> None:
    rows = league(extra)
    flip = {"model_a": "model_b", "model_b": "model_a", "tie": "tie"}
    swapped = [(b, a, flip[w]) for a, b, w in rows]
    assert fit_rows(swapped) == pytest.approx(fit_rows(rows), abs=1e-6)


@settings(max_examples=50, deadline=None)
@given(wins=st.integers(1, 5), ties=st.integers(0, 5))
def test_bt_gives_equal_ratings_on_symmetric_data(wins: int, ties: int) -> None:
    rows = []
    for a, b in [("a", "b"), ("a", "c"), ("b", "c")]:
        rows += [(a, b, "model_a")] * wins + [(a, b, "model_b")] * wins + [(a, b, "tie")] * ties
    ratings = fit_rows(rows)
    assert ratings == pytest.approx({"a": 1000.0, "b": 1000.0, "c": 1000.0}, abs=1e-8)


@settings(max_examples=50, deadline=None)
@given(extra=extra_battles, winner=st.integers(0, 3), loser=st.integers(0, 3))
def test_bt_one_more_win_raises_the_winner_against_everyone(
    extra: list[tuple[int, int, str]], winner: int, loser: int
) -> None:
    assume(winner != loser)
    rows = league(extra)
    before = fit_rows(rows)
    after = fit_rows(rows + [(f"m{winner}", f"m{loser}", "model_a")])
    w = f"m{winner}"
    for other in before:
        if other != w:
            assert after[w] - after[other] > before[w] - before[other] - 1e-9

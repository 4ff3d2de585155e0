"""Borda, Copeland and Kemeny-Young aggregation of tiered votes."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ratings.aggregate import borda, copeland, kemeny_young, preference_matrix


def strict(*orders: str) -> list[list[list[str]]]:
    return [[[name] for name in order] for order in orders]


def test_borda_counts_entries_beaten_and_half_of_tie_mates() -> None:
    result = borda([[["a"], ["b", "c"]], [["b"], ["a"], ["c"]]])
    assert result.as_dict() == {"a": 2 + 1, "b": 0.5 + 2, "c": 0.5 + 0}
    assert result.order == ("a", "b", "c")


def test_copeland_scores_head_to_head_majorities() -> None:
    # a beats b 2-1, a beats c 2-1, b beats c 3-0
    result = copeland(strict("abc", "bca", "acb"))
    assert result.as_dict() == {"a": 2.0, "b": 1.0, "c": 0.0}


def test_copeland_gives_everyone_one_in_a_condorcet_cycle(vectors: dict[str, Any]) -> None:
    cycle = vectors["choix_repo_testcases"]["rankings-1"]["data"]
    result = copeland([[[str(x)] for x in vote] for vote in cycle])
    assert result.scores.tolist() == [1.0, 1.0, 1.0]


def test_kemeny_orders_meeple_pentathlon_c_a_b_like_open_spiel(vectors: dict[str, Any]) -> None:
    votes = vectors["soft_condorcet_optimization"]["meeple_pentathlon"]["votes_best_first"]
    result = kemeny_young([[[name] for name in vote] for vote in votes])
    assert result.order == ("C", "A", "B")


def test_kemeny_refuses_too_many_models_for_exact_search() -> None:
    with pytest.raises(ValueError, match="exceed max_models=3"):
        kemeny_young(strict("abcd"), max_models=3)


def test_preference_matrix_counts_weighted_strict_preferences() -> None:
    models, matrix = preference_matrix([[["a"], ["b", "c"]]], weights=[2.0])
    assert models == ("a", "b", "c")
    assert matrix.tolist() == [[0, 2, 2], [0, 0, 0], [0, 0, 0]]


@settings(max_examples=40, deadline=None)
@given(votes=st.lists(st.permutations("abcd"), min_size=1, max_size=7))
def test_kemeny_agreement_equals_the_brute_force_optimum(votes: list[list[str]]) -> None:
    tiers = [[[name] for name in vote] for vote in votes]
    models, matrix = preference_matrix(tiers)
    index = {name: k for k, name in enumerate(models)}

    def agreement(order: tuple[str, ...]) -> float:
        return sum(matrix[index[x], index[y]] for x, y in itertools.combinations(order, 2))

    best = max(agreement(order) for order in itertools.permutations(models))
    assert agreement(kemeny_young(tiers).order) == best


@settings(max_examples=40, deadline=None)
@given(votes=st.lists(st.permutations("bcd"), min_size=1, max_size=6))
def test_a_unanimous_favourite_tops_borda_copeland_and_kemeny(votes: list[list[str]]) -> None:
    tiers = [[["a"]] + [[name] for name in vote] for vote in votes]
    for method in (borda, copeland, kemeny_young):
        assert method(tiers).order[0] == "a"

"""Borda, Copeland, Kemeny-Young and Soft Condorcet aggregation of tiered votes."""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ratings.aggregate import (
    aggregate_all,
    agreement,
    borda,
    copeland,
    kemeny,
    kemeny_local_search,
    kemeny_young,
    method_taus,
    preference_matrix,
    rankings_from_scores,
    soft_condorcet,
)


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
    for method in (borda, copeland, kemeny_young, soft_condorcet):
        assert method(tiers).order[0] == "a"
    assert kemeny(tiers, exact_max=0).order[0] == "a"


# The Tennessee capital example (Wikipedia "Borda count" and "Kemeny-Young method"): 100
# voters in four blocs, each ranking the four cities by distance from home.
TENNESSEE = (
    (42, "Memphis Nashville Chattanooga Knoxville"),
    (26, "Nashville Chattanooga Knoxville Memphis"),
    (15, "Chattanooga Knoxville Nashville Memphis"),
    (17, "Knoxville Chattanooga Nashville Memphis"),
)


def weighted(blocs: tuple[tuple[int, str], ...]) -> tuple[list[list[list[str]]], list[float]]:
    return [[[name] for name in order.split()] for _, order in blocs], [float(n) for n, _ in blocs]


def test_borda_scores_tennessee_as_wikipedia_does() -> None:
    # Memphis 126, Nashville 194, Chattanooga 173, Knoxville 107: Wikipedia's "Borda count"
    # example, as asserted by CPAN Algorithm::RankAggregate::BordaCount t/09_example_of_wikipedia.t
    votes, weights = weighted(TENNESSEE)
    result = borda(votes, weights=weights)
    assert result.as_dict() == {
        "Memphis": 126.0,
        "Nashville": 194.0,
        "Chattanooga": 173.0,
        "Knoxville": 107.0,
    }


def test_kemeny_orders_tennessee_as_open_spiel_with_distance_207() -> None:
    # open_spiel python/voting/kemeny_young_test.py: Nashville, Chattanooga, Knoxville,
    # Memphis; electowiki "Kemeny-Young method": its distance (disagreements) is 207.
    votes, weights = weighted(TENNESSEE)
    for exact_max in (8, 0):  # the exact search, and the local search from Borda/Copeland
        result = kemeny(votes, weights=weights, exact_max=exact_max)
        assert result.order == ("Nashville", "Chattanooga", "Knoxville", "Memphis")
        assert result.params["preferences"] - result.params["agreement"] == 207.0


def test_kemeny_breaks_a_condorcet_cycle_at_its_weakest_majority() -> None:
    # electowiki "Kemeny-Young method": 25 A>B>C, 40 B>C>A, 35 C>A>B gives B>C>A, score 120
    votes, weights = weighted(((25, "A B C"), (40, "B C A"), (35, "C A B")))
    result = kemeny(votes, weights=weights)
    assert result.order == ("B", "C", "A")
    assert result.params["preferences"] - result.params["agreement"] == 120.0


def test_kemeny_says_which_search_ran() -> None:
    votes = strict("abcdefghi", "bacdefghi")
    assert kemeny(votes).params["search"].startswith("local")
    assert kemeny(votes, exact_max=9).params["search"] == "exact"


def test_soft_condorcet_aggregate_puts_the_majority_order_on_a_rating_scale() -> None:
    result = soft_condorcet(strict("abc", "abc", "bac"))
    assert result.order == ("a", "b", "c")
    assert result.method == "sco" and result.params["step"] == "normalized"
    assert 1000 < result.as_dict()["a"] and result.as_dict()["c"] < 1000


def test_scores_become_rankings_per_task_with_ties_and_gaps() -> None:
    scores = {
        "pong": {"dqn": 20.0, "rainbow": 21.0, "random": -20.7},
        "breakout": {"dqn": 400.0, "rainbow": 400.0},
        "skiing": {"random": -17000.0},  # one agent: no preference, left out
    }
    assert rankings_from_scores(scores) == {
        "pong": (("rainbow",), ("dqn",), ("random",)),
        "breakout": (("dqn", "rainbow"),),
    }


def test_method_taus_compare_every_two_methods_on_their_common_models() -> None:
    results = aggregate_all(strict("abcd", "abdc", "bacd"))
    taus = method_taus(results)
    assert set(taus) == {"borda", "copeland", "kemeny", "sco"}
    assert taus["borda"]["kemeny"] == taus["kemeny"]["borda"] == pytest.approx(1.0)
    assert "borda" not in taus["borda"]


def test_aggregate_all_refuses_an_unknown_method() -> None:
    with pytest.raises(ValueError, match="unknown \\['median'\\]"):
        aggregate_all(strict("ab"), methods=("borda", "median"))


tier_votes = st.lists(st.permutations("abcdefg"), min_size=1, max_size=6).map(
    lambda votes: [[[name] for name in vote] for vote in votes]
)
# Partial votes with ties: a random subset of models in random tiers, as tasks an agent
# skipped and equal scores give.
partial_votes = st.lists(
    st.lists(st.tuples(st.sampled_from("abcdef"), st.integers(0, 3)), min_size=2, max_size=6),
    min_size=1,
    max_size=6,
).map(lambda votes: [tiers_of(dict(vote)) for vote in votes if len(dict(vote)) >= 2])


def tiers_of(levels: dict[str, int]) -> list[list[str]]:
    return [
        sorted(name for name, level in levels.items() if level == value)
        for value in sorted(set(levels.values()))
    ]


def insertions(order: list[int]) -> list[list[int]]:
    moved = []
    for i, j in itertools.permutations(range(len(order)), 2):
        other = order[:i] + order[i + 1 :]
        moved.append(other[:j] + [order[i]] + other[j:])
    return moved


@settings(max_examples=60, deadline=None)
@given(votes=partial_votes)
def test_local_search_never_loses_agreement_and_ends_where_no_insertion_helps(
    votes: list[list[list[str]]],
) -> None:
    if not votes:
        return
    models, matrix = preference_matrix(votes)
    start = list(range(len(models)))[::-1]
    order, _ = kemeny_local_search(matrix, start)
    index = {name: k for k, name in enumerate(models)}
    exact = agreement(matrix, [index[name] for name in kemeny_young(votes).order])
    assert agreement(matrix, start) <= agreement(matrix, order) <= exact + 1e-9
    assert all(
        agreement(matrix, other) <= agreement(matrix, order) + 1e-9 for other in insertions(order)
    )


def test_local_search_finds_the_exact_kemeny_order_on_most_small_profiles() -> None:
    rng = np.random.default_rng(20)
    same = 0
    for _ in range(200):
        n = int(rng.integers(4, 9))
        noise = rng.normal(0, 1.5, size=(int(rng.integers(2, 8)), n)) + np.arange(n)[::-1]
        votes = [[[f"m{k}"] for k in np.argsort(-row)] for row in noise]
        models, matrix = preference_matrix(votes)
        index = {name: k for k, name in enumerate(models)}
        exact = agreement(matrix, [index[m] for m in kemeny(votes).order])
        local = kemeny(votes, exact_max=0)
        start = local.params["start_agreement"]
        assert start <= local.params["agreement"] <= exact
        same += math.isclose(local.params["agreement"], exact)
    assert same > 100  # more often than not


@settings(max_examples=60, deadline=None)
@given(votes=partial_votes)
def test_a_condorcet_winner_tops_copeland_and_kemeny(votes: list[list[list[str]]]) -> None:
    if not votes:
        return
    models, matrix = preference_matrix(votes)
    beats_all = [
        models[x]
        for x in range(len(models))
        if all(matrix[x, y] > matrix[y, x] for y in range(len(models)) if y != x)
    ]
    if not beats_all:
        return
    for result in (copeland(votes), kemeny(votes), kemeny(votes, exact_max=0)):
        assert result.order[0] == beats_all[0]


@settings(max_examples=30, deadline=None)
@given(order=st.permutations("abcdefghij"), copies=st.integers(1, 4))
def test_a_unanimous_order_is_every_methods_order(order: list[str], copies: int) -> None:
    votes = [[[name] for name in order]] * copies
    for result in aggregate_all(votes).values():
        assert list(result.order) == order

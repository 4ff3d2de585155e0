"""Online Elo: the web app's one-step helpers and the FastChat-compatible replay."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ratings.data import Battles, battles_from_arrays
from ratings.elo import elo_expected, elo_update, online_elo


def test_elo_expected_is_one_half_for_equal_ratings_and_ten_to_one_at_400_points() -> None:
    assert elo_expected(1000.0, 1000.0) == 0.5
    assert elo_expected(1400.0, 1000.0) == pytest.approx(10 / 11, abs=1e-15)


def test_elo_update_moves_k_times_surprise_and_conserves_points() -> None:
    new_a, new_b = elo_update(1000.0, 1000.0, 1.0)
    assert (new_a, new_b) == (1002.0, 998.0)
    new_a, new_b = elo_update(1100.0, 1000.0, 0.5, k=32.0)
    assert new_a + new_b == pytest.approx(2100.0, abs=1e-12)
    assert new_a < 1100.0


def test_online_elo_equals_fastchat_compute_elo_on_the_hand_checked_example(
    vectors: dict[str, Any],
) -> None:
    case = vectors["elo_tiny_hand_check"]
    battles = battles_from_arrays(*zip(*case["input"], strict=True))
    result = online_elo(battles)
    assert result.as_dict() == pytest.approx(case["fastchat_compute_elo"], abs=1e-9)


@pytest.mark.parametrize("dataset", ["pairwise_food", "pairwise_simple"])
def test_online_elo_is_bit_for_bit_fastchat_compute_elo_on_food_and_simple(
    dataset: str, vectors: dict[str, Any], food: Battles, simple: Battles
) -> None:
    battles = food if dataset == "pairwise_food" else simple
    expected = vectors[dataset]["fastchat"]["compute_elo_online_K4_rating_systems"]
    ours = online_elo(battles).as_dict()
    # the golden file stores 10 decimals, so "bit for bit" is checked at that precision,
    # and exactly against an in-test replay of FastChat's loop below
    assert ours == pytest.approx(expected, abs=1e-10, rel=0)
    assert ours == fastchat_compute_elo_replay(battles)


def fastchat_compute_elo_replay(battles: Battles) -> dict[str, float]:
    """FastChat's compute_elo loop, transcribed literally (K=4, SCALE=400, BASE=10, INIT=1000)."""
    rating: dict[str, float] = {}
    for a, b, o in zip(battles.model_a, battles.model_b, battles.outcome, strict=True):
        model_a, model_b = battles.models[a], battles.models[b]
        ra = rating.setdefault(model_a, 1000)
        rb = rating.setdefault(model_b, 1000)
        ea = 1 / (1 + 10 ** ((rb - ra) / 400))
        eb = 1 / (1 + 10 ** ((ra - rb) / 400))
        sa = {2: 1, 0: 0}.get(int(o), 0.5)
        rating[model_a] += 4 * (sa - ea)
        rating[model_b] += 4 * (1 - sa - eb)
    return rating


def test_online_elo_matches_evalica_elo_golden_on_food(food: Battles, evalica_golden: Any) -> None:
    assert online_elo(food).as_dict() == pytest.approx(evalica_golden("food", "elo"), abs=1e-9)


def test_online_elo_replays_battles_in_timestamp_order() -> None:
    shuffled = battles_from_arrays(
        ["a", "b", "a"], ["b", "c", "c"], ["model_a", "model_b", "tie"], timestamp=[3.0, 1.0, 2.0]
    )
    in_order = battles_from_arrays(["b", "a", "a"], ["c", "c", "b"], ["model_b", "tie", "model_a"])
    assert online_elo(shuffled).as_dict() == online_elo(in_order).as_dict()
    unordered = online_elo(shuffled, order_by_timestamp=False)
    assert unordered.as_dict() != online_elo(in_order).as_dict()
    assert unordered.ordered_by_timestamp is False


def test_online_elo_result_records_its_hyper_parameters() -> None:
    result = online_elo(battles_from_arrays(["a"], ["b"], ["tie"]), k=16.0, init_rating=1500.0)
    assert result.params() == {
        "k": 16.0,
        "base": 10.0,
        "scale": 400.0,
        "init_rating": 1500.0,
        "ordered_by_timestamp": False,
    }
    assert result.ratings.tolist() == [1500.0, 1500.0]
    assert result.matches.tolist() == [1, 1]


def test_online_elo_rejects_nonsense_hyper_parameters() -> None:
    with pytest.raises(ValueError, match="k > 0"):
        online_elo(battles_from_arrays(["a"], ["b"], ["tie"]), k=0.0)


@settings(max_examples=50, deadline=None)
@given(outcomes=st.lists(st.sampled_from(["model_a", "model_b", "tie"]), min_size=1, max_size=40))
def test_online_elo_conserves_total_rating_in_a_two_player_league(outcomes: list[str]) -> None:
    battles = battles_from_arrays(["a"] * len(outcomes), ["b"] * len(outcomes), outcomes)
    assert sum(online_elo(battles).ratings) == pytest.approx(2000.0, abs=1e-9)


@settings(max_examples=50, deadline=None)
@given(n_wins=st.integers(1, 30))
def test_online_elo_winner_of_every_battle_ends_above_the_loser(n_wins: int) -> None:
    battles = battles_from_arrays(["a"] * n_wins, ["b"] * n_wins, ["model_b"] * n_wins)
    ratings = online_elo(battles).as_dict()
    assert ratings["b"] > 1000.0 > ratings["a"]

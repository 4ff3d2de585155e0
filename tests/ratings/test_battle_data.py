"""Input types: battles as arrays, tiered rankings, aggregation into cells."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ratings.data import (
    Outcome,
    aggregate,
    battles_from_arrays,
    battles_from_rankings,
    battles_from_records,
    ranking_to_pairs,
)


def test_models_are_sorted_and_indices_point_at_their_names() -> None:
    battles = battles_from_arrays(["zeta", "alpha"], ["alpha", "mid"], ["model_a", "tie"])
    assert battles.models == ("alpha", "mid", "zeta")
    assert [battles.models[i] for i in battles.model_a] == ["zeta", "alpha"]
    assert [battles.models[i] for i in battles.model_b] == ["alpha", "mid"]


def test_fastchat_winner_labels_map_to_outcomes_and_scores() -> None:
    battles = battles_from_arrays(
        ["a", "a", "a", "a"], ["b", "b", "b", "b"], ["model_a", "model_b", "tie", "tie (bothbad)"]
    )
    assert battles.outcome.tolist() == [
        Outcome.A_WINS,
        Outcome.B_WINS,
        Outcome.TIE,
        Outcome.TIE_BOTHBAD,
    ]
    assert battles.score_a.tolist() == [1.0, 0.0, 0.5, 0.5]


def test_weights_default_to_one_and_timestamps_are_optional() -> None:
    battles = battles_from_arrays(["a"], ["b"], ["model_a"])
    assert battles.weight.tolist() == [1.0]
    assert battles.timestamp is None


def test_unknown_winner_label_is_an_error_naming_row_and_field() -> None:
    with pytest.raises(ValueError, match=r"row 1: field 'winner': 'left' is not one of"):
        battles_from_arrays(["a", "a"], ["b", "b"], ["model_a", "left"])


def test_a_model_battling_itself_is_an_error_naming_the_row() -> None:
    with pytest.raises(ValueError, match=r"row 2: model_a and model_b are the same model 'x'"):
        battles_from_arrays(["a", "a", "x"], ["b", "c", "x"], ["tie", "tie", "tie"])


def test_columns_of_different_lengths_are_an_error_naming_the_field() -> None:
    with pytest.raises(ValueError, match=r"field 'model_b': expected 2 values, got 1"):
        battles_from_arrays(["a", "b"], ["c"], ["tie", "tie"])


def test_negative_or_non_finite_weights_are_errors_naming_the_row() -> None:
    with pytest.raises(ValueError, match=r"row 1: field 'weight': must be >= 0"):
        battles_from_arrays(["a", "a"], ["b", "b"], ["tie", "tie"], weight=[1.0, -2.0])
    with pytest.raises(ValueError, match=r"row 0: field 'timestamp': not a finite number"):
        battles_from_arrays(["a"], ["b"], ["tie"], timestamp=[float("nan")])


def test_empty_model_name_is_an_error_naming_the_row() -> None:
    with pytest.raises(ValueError, match=r"row 1: field 'model_a' must be a non-empty string"):
        battles_from_arrays(["a", ""], ["b", "b"], ["tie", "tie"])


def test_explicit_model_universe_keeps_models_without_battles_and_rejects_strangers() -> None:
    battles = battles_from_arrays(["a"], ["b"], ["tie"], models=["c", "b", "a"])
    assert battles.models == ("a", "b", "c")
    assert battles.matches_per_model().tolist() == [1, 1, 0]
    with pytest.raises(ValueError, match=r"row 0: field 'model_b': unknown model 'z'"):
        battles_from_arrays(["a"], ["z"], ["tie"], models=["a", "b"])


def test_records_need_the_three_fastchat_fields() -> None:
    battles = battles_from_records(
        [{"model_a": "a", "model_b": "b", "winner": "model_b", "tstamp": 3.0}]
    )
    assert battles.outcome.tolist() == [Outcome.B_WINS]
    assert battles.timestamp is not None and battles.timestamp.tolist() == [3.0]
    with pytest.raises(ValueError, match=r"row 1: missing field 'winner'"):
        battles_from_records(
            [{"model_a": "a", "model_b": "b", "winner": "tie"}, {"model_a": "a", "model_b": "b"}]
        )


def test_time_order_is_stable_for_equal_timestamps() -> None:
    battles = battles_from_arrays(
        ["a", "b", "c", "a"], ["b", "c", "a", "c"], ["tie"] * 4, timestamp=[2.0, 1.0, 2.0, 1.0]
    )
    assert battles.time_order().tolist() == [1, 3, 0, 2]


def test_a_ranking_of_k_entries_decomposes_into_k_choose_2_pairs() -> None:
    pairs = ranking_to_pairs([["m3"], ["m1", "m4"], ["m2"]])
    assert pairs == [
        ("m3", "m1", Outcome.A_WINS),
        ("m3", "m4", Outcome.A_WINS),
        ("m3", "m2", Outcome.A_WINS),
        ("m1", "m4", Outcome.TIE),
        ("m1", "m2", Outcome.A_WINS),
        ("m4", "m2", Outcome.A_WINS),
    ]


@pytest.mark.parametrize(
    ("ranking", "message"),
    [
        ([["a"]], "at least two entries"),
        ([["a"], []], "empty tier"),
        ([["a"], ["a"]], "listed twice"),
        (["ab", "c"], "not a string"),
        ([["a"], [["b"]]], "non-empty strings"),  # unhashable: checked outside the cache
    ],
)
def test_malformed_rankings_are_rejected_with_a_reason(
    ranking: list[list[str]], message: str
) -> None:
    for _ in range(2):  # and again: a refusal is not cached as a result
        with pytest.raises(ValueError, match=message):
            ranking_to_pairs(ranking)


def test_the_pairs_of_a_ranking_are_a_fresh_list_each_time() -> None:
    """Rankings are checked and decomposed once each (a cache), and callers may still
    change what they get."""
    first = ranking_to_pairs([["a"], ["b"]])
    first.append(("x", "y", Outcome.TIE))
    assert ranking_to_pairs([["a"], ["b"]]) == [("a", "b", Outcome.A_WINS)]


def test_rankings_become_weighted_battles_unit_or_per_ranking() -> None:
    rankings = [[["a"], ["b"], ["c"]], [["b", "c"]]]
    unit = battles_from_rankings(rankings)
    assert len(unit) == 4
    assert unit.weight.tolist() == [1.0, 1.0, 1.0, 1.0]
    shared = battles_from_rankings(rankings, pair_weighting="per_ranking", weights=[3.0, 1.0])
    assert shared.weight.tolist() == pytest.approx([1.0, 1.0, 1.0, 1.0])
    assert shared.outcome.tolist()[-1] == Outcome.TIE


def test_a_bad_ranking_in_a_list_is_named_by_its_index() -> None:
    with pytest.raises(ValueError, match=r"ranking 1: ranking: model listed twice"):
        battles_from_rankings([[["a"], ["b"]], [["a", "a"]]])


def test_aggregation_counts_battles_per_unique_cell_and_merges_bothbad_ties() -> None:
    battles = battles_from_arrays(
        ["a", "a", "a", "b", "a"],
        ["b", "b", "b", "a", "b"],
        ["model_a", "model_a", "tie (bothbad)", "model_a", "tie"],
        weight=[1.0, 2.0, 1.0, 1.0, 1.0],
    )
    cells = aggregate(battles)
    table = {
        (cells.models[a], cells.models[b], int(o)): (c, n)
        for a, b, o, c, n in zip(
            cells.model_a, cells.model_b, cells.outcome, cells.count, cells.n_battles, strict=True
        )
    }
    assert table == {
        ("a", "b", Outcome.A_WINS): (3.0, 2),
        ("a", "b", Outcome.TIE): (2.0, 2),
        ("b", "a", Outcome.A_WINS): (1.0, 1),
    }
    kept = aggregate(battles, merge_bothbad=False)
    assert Outcome.TIE_BOTHBAD in kept.outcome.tolist()


battle_rows = st.lists(
    st.tuples(
        st.integers(0, 5),
        st.integers(0, 5),
        st.sampled_from(["model_a", "model_b", "tie", "tie (bothbad)"]),
    ).filter(lambda row: row[0] != row[1]),
    min_size=1,
    max_size=60,
)


@settings(max_examples=50, deadline=None)
@given(rows=battle_rows)
def test_aggregation_preserves_total_weight_and_per_model_match_counts(
    rows: list[tuple[int, int, str]],
) -> None:
    battles = battles_from_arrays(
        [f"m{a}" for a, _, _ in rows], [f"m{b}" for _, b, _ in rows], [w for _, _, w in rows]
    )
    cells = aggregate(battles)
    assert cells.count.sum() == pytest.approx(len(rows))
    assert cells.matches_per_model().tolist() == battles.matches_per_model().tolist()
    keys = np.stack([cells.model_a, cells.model_b, cells.outcome])
    assert len({tuple(col) for col in keys.T}) == len(cells)


def test_large_model_universe_falls_back_to_sparse_aggregation() -> None:
    names = [f"m{i}" for i in range(2000)]
    battles = battles_from_arrays(names[:-1], names[1:], ["model_a"] * 1999)
    cells = aggregate(battles)
    assert len(cells) == 1999
    assert cells.count.sum() == 1999.0


def test_numpy_string_columns_encode_exactly_like_python_lists() -> None:
    rng = np.random.default_rng(0)
    names = np.array([f"m{k}" for k in rng.permutation(30)], dtype="U8")
    n = 100_000
    a = rng.integers(0, 30, n)
    b = (a + rng.integers(1, 30, n)) % 30
    model_a, model_b = names[a], names[b]
    model_a[-1], model_b[-2] = "late-a", "late-b"  # first seen after the sampled head rows
    winner = rng.choice(["model_a", "model_b", "tie"], n)
    fast = battles_from_arrays(model_a, model_b, winner)
    slow = battles_from_arrays(model_a.tolist(), model_b.tolist(), winner.tolist())
    assert fast.models == slow.models and "late-a" in fast.models and "late-b" in fast.models
    assert np.array_equal(fast.model_a, slow.model_a)
    assert np.array_equal(fast.model_b, slow.model_b)


def test_numpy_string_columns_report_unknown_empty_and_self_battles_by_row() -> None:
    with pytest.raises(ValueError, match="row 1: field 'model_b': unknown model 'z'"):
        battles_from_arrays(
            np.array(["a", "a"]), np.array(["b", "z"]), ["tie"] * 2, models=["a", "b"]
        )
    with pytest.raises(ValueError, match="row 0: field 'model_a' must be a non-empty string"):
        battles_from_arrays(np.array(["", "a"]), np.array(["b", "c"]), ["tie"] * 2)
    with pytest.raises(ValueError, match="row 1: model_a and model_b are the same model 'b'"):
        battles_from_arrays(np.array(["a", "b"]), np.array(["b", "b"]), ["tie"] * 2)

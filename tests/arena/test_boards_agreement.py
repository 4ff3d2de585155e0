"""A judge's agreement with the human plurality on the same prompt and pair, computed as
columns, equals the item-by-item reading of the same rows."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arena.boards import agreement_from_rows
from judges.quality import agreement_of

SOURCES = ("humans", "judge:1", "judge:2")


def by_item(rows: list[tuple]) -> dict:
    """The reading item by item: the humans' most frequent label (none on a tie for the
    most), then each judge's labels added to the column of that label."""
    humans, judged = {}, defaultdict(dict)
    for p, a, b, source, *counts in rows:  # a row per tournament: summed per item
        if source == "humans":
            humans[(p, a, b)] = humans.get((p, a, b), 0) + np.array(counts)
        else:
            judged[(p, a, b)][source] = judged[(p, a, b)].get(source, 0) + np.array(counts)
    matrices = defaultdict(lambda: np.zeros((3, 3), dtype=np.int64))
    for key, sources in judged.items():
        crowd = humans.get(key)
        if crowd is None or not crowd.any() or (crowd == crowd.max()).sum() != 1:
            continue
        for source, labels in sources.items():
            matrices[source][:, int(crowd.argmax())] += labels
    return {s: agreement_of(m) for s, m in matrices.items() if m.sum()}


rows = st.lists(
    st.tuples(
        st.integers(1, 3),
        st.integers(1, 3),
        st.integers(4, 5),
        st.sampled_from(SOURCES),
        st.integers(0, 3),
        st.integers(0, 3),
        st.integers(0, 2),
    ),  # fmt: skip
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(rows)
def test_the_columns_agree_with_the_item_by_item_reading(found: list[tuple]) -> None:
    expected, got = by_item(found), agreement_from_rows(found)
    assert set(got) == set(expected)
    for source, agreement in expected.items():
        assert got[source].n == agreement.n
        assert got[source].accuracy == pytest.approx(agreement.accuracy)
        assert got[source].kappa == pytest.approx(agreement.kappa)


def test_a_judge_on_items_the_humans_split_evenly_has_no_agreement() -> None:
    split = [(1, 1, 2, "humans", 1, 1, 0), (1, 1, 2, "judge:1", 1, 0, 0)]
    assert agreement_from_rows(split) == {}
    assert agreement_from_rows([]) == {}

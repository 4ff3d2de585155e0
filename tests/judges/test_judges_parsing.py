"""parse_pairwise_verdict: tolerant of formatting, strict about meaning, never raising.

The forms judges write in their own words are in test_judges_verdict_forms.py and the
corpus of real and paraphrased judge outputs in test_judges_verdict_corpus.py."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from judges.parsing import parse_pairwise_verdict

LABELS = {
    "[[A]]": "A",
    "[[B]]": "B",
    "[[C]]": "tie",
    "[[ A ]]": "A",
    "[[b]]": "B",
    "[[**C**]]": "tie",
    "[[Tie]]": "tie",
    "[[\tB\n]]": "B",
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[[A]]", "A"),
        ("Final verdict: [[B]]", "B"),
        ("Both answers are equally good.\n\n[[C]]", "tie"),
        ("Assistant A wins: [[ A ]].", "A"),
        ("**Final verdict:** [[**B**]]", "B"),
        ("I would say [[A]] at first, but on reflection [[B]]", "B"),
        ("[[C]] is tempting, yet [[A]] it is", "A"),
        ("[[\uff21]]", "A"),  # fullwidth A, as judges writing CJK text put it
    ],
)
def test_the_last_verdict_label_in_the_text_is_the_verdict(text: str, expected: str) -> None:
    assert parse_pairwise_verdict(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "[A]",
        "[[D]]",
        "[[AB]]",
        "[[A]",
        "[ [B] ]",
        "[[t\u0130e]]",  # Turkish dotted I folds to "i" under Unicode rules; not a label
    ],
)
def test_text_without_a_well_formed_label_has_no_verdict(text: str) -> None:
    assert parse_pairwise_verdict(text) is None


@given(st.text())
def test_parsing_never_raises_on_arbitrary_text(text: str) -> None:
    assert parse_pairwise_verdict(text) in {"A", "B", "tie", None}


@given(st.text(), st.sampled_from(sorted(LABELS)))
def test_a_text_ending_in_a_final_verdict_line_always_parses_to_that_label(
    prefix: str, label: str
) -> None:
    assert parse_pairwise_verdict(f"{prefix}\n\nFinal verdict: {label}") == LABELS[label]


NO_NAMES = st.characters(
    exclude_categories=["Cs"],
    exclude_characters="".join(
        [*map(chr, range(ord("0"), ord("9") + 1))]
        + [*map(chr, range(ord("A"), ord("Z") + 1))]
        + [*map(chr, range(ord("a"), ord("z") + 1))]
        + [*map(chr, range(0xFF10, 0xFF5B))]  # their fullwidth forms
    ),
)


@given(st.text(alphabet=NO_NAMES))
def test_text_without_letters_or_digits_never_yields_a_verdict(text: str) -> None:
    assert parse_pairwise_verdict(text) is None


@given(st.text(max_size=12))
def test_anything_between_double_brackets_parses_or_gives_none_without_raising(
    inside: str,
) -> None:
    assert parse_pairwise_verdict(f"Verdict: [[{inside}]]") in {"A", "B", "tie", None}

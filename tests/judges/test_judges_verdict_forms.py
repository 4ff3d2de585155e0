"""The forms judges write verdicts in, what wins when a reply holds several, and what is refused.

One test per form; the corpus (test_judges_verdict_corpus.py) holds real and paraphrased
replies from judge benchmarks with their sources."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from judges.parsing import (
    FiveWayVerdict,
    LetterRanking,
    PairwiseVerdict,
    find_pairwise_label,
    format_five_way_verdict,
    format_pairwise_verdict,
    format_ranking,
    parse_five_way_verdict,
    parse_listwise_ranking,
    parse_pairwise_verdict,
)

ABCD = ("A", "B", "C", "D")
C_A_D_B = (("C",), ("A",), ("D",), ("B",))


def test_bracketed_labels_are_read_as_mt_bench_and_arena_hard_write_them() -> None:
    assert parse_pairwise_verdict("[[A]]") == "A"
    assert parse_pairwise_verdict("[[C]]") == "tie"
    assert parse_pairwise_verdict("[[tie]]") == "tie"
    assert parse_pairwise_verdict("[[A>B]]") == "A"
    assert parse_five_way_verdict("[[A>>B]]") == "A>>B"
    assert parse_five_way_verdict("[[A=B]]") == "A=B"
    assert parse_listwise_ranking("[[RANKING: C > A > D > B]]", ABCD) == C_A_D_B


def test_chains_are_read_with_or_without_brackets_and_with_ties() -> None:
    assert parse_listwise_ranking("[[A]] > [[C]] > [[B]] > [[D]]", ABCD) == (
        ("A",),
        ("C",),
        ("B",),
        ("D",),
    )
    assert parse_listwise_ranking("A = C > B > D", ABCD) == (("A", "C"), ("B",), ("D",))
    assert parse_listwise_ranking("[2] > [3] > [1] > [4]", ABCD) == (
        ("B",),
        ("C",),
        ("A",),
        ("D",),
    )
    assert parse_five_way_verdict("B>>A") == "B>>A"


def test_a_list_after_a_ranking_cue_is_a_ranking() -> None:
    assert parse_listwise_ranking("Ranking: C, A, D, B", ABCD) == C_A_D_B
    numbered = "Final ranking:\n1. Answer C\n2. Answer A = Answer D\n3. Answer B"
    assert parse_listwise_ranking(numbered, ABCD) == (("C",), ("A", "D"), ("B",))


def test_json_objects_and_arrays_are_read_fenced_or_not() -> None:
    assert parse_listwise_ranking('{"ranking": ["C", "A", "D", "B"]}', ABCD) == C_A_D_B
    tiers = '```json\n[["A"], ["C", "B"], ["D"]]\n```'
    assert parse_listwise_ranking(tiers, ABCD) == (("A",), ("C", "B"), ("D",))
    assert parse_pairwise_verdict('{"winner": "A"}') == "A"
    assert parse_pairwise_verdict('{"verdict": "tie"}') == "tie"
    assert parse_pairwise_verdict('["B", "A"]') == "B"
    assert parse_five_way_verdict('{"choice": "A++"}') == "A>>B"


def test_the_issue_reply_is_read_as_the_ranking_it_states_twice() -> None:
    reply = 'Ranking: [[A]] > [[C]] > [[B]] > [[D]]\n{"ranking": ["A", "C", "B", "D"]}'

    assert parse_listwise_ranking(reply, ABCD) == (("A",), ("C",), ("B",), ("D",))


@pytest.mark.parametrize(
    ("text", "verdict"),
    [
        ("Answer A", "A"),
        ("Assistant B is better.", "B"),
        ("Response A is significantly better than Response B.", "A"),
        ("Output (b)", "B"),
        ("the first response is better", "A"),
        ("So, the final decision is Response 2", "B"),
        ("Feedback: both fluent. [RESULT] A", "A"),
        ('{"winner": "model_b"}', "B"),
        ("I prefer Response A.", "A"),
    ],
)
def test_answers_are_named_the_ways_judges_name_them(text: str, verdict: str) -> None:
    assert parse_pairwise_verdict(text) == verdict


@pytest.mark.parametrize(
    "text",
    ["Tie", "It's a tie.", "Both are equally good.", "Verdict: neither", "[[C]]", "Tie\n\nBoth."],
)
def test_a_tie_can_be_said_in_words(text: str) -> None:
    assert parse_pairwise_verdict(text) == "tie"


@pytest.mark.parametrize("cue", ["Final verdict:", "Verdict:", "Winner:", "**Final Verdict:**"])
def test_a_verdict_line_after_reasoning_is_the_verdict(cue: str) -> None:
    reasoning = "Assistant A is better at tone, while Assistant B is better in accuracy."

    assert parse_pairwise_verdict(f"{reasoning}\n\n{cue} B") == "B"


def test_quoted_instructions_never_decide_the_verdict() -> None:
    instructions = (
        'Output your final verdict: "[[A]]" if assistant A is better, "[[B]]" if assistant B '
        'is better, and "[[C]]" for a tie.'
    )

    assert parse_pairwise_verdict(instructions) is None
    assert parse_pairwise_verdict(f"{instructions}\nI find Assistant A is better.") == "A"
    assert parse_pairwise_verdict("The options are [[A]], [[B]] or [[C]].") is None


def test_the_last_explicit_verdict_wins_over_earlier_ones_and_over_sentences() -> None:
    assert parse_pairwise_verdict("My verdict: [[A]]. Correction: [[B]]") == "B"
    assert parse_pairwise_verdict("Assistant A is better in style.\n\nVerdict: [[B]]") == "B"
    assert parse_five_way_verdict("My final verdict is [[A>B]], so [[A]].") == "A>B"


def test_a_verdict_contradicted_afterwards_is_refused() -> None:
    assert parse_pairwise_verdict("[[A]]\n\nActually, Assistant B is better.") is None
    assert parse_pairwise_verdict("Assistant A is better. No: Assistant B is better.") is None


def test_a_verdict_naming_an_answer_that_does_not_exist_is_refused() -> None:
    assert parse_pairwise_verdict("Final verdict: [[D]]") is None
    assert parse_listwise_ranking("[[RANKING: C > A > D > E]]", ABCD) is None
    assert parse_listwise_ranking("[1] > [2] > [3] > [5]", ABCD) is None
    # Even after a valid one: the judge's last word is not a verdict we can use.
    assert (
        parse_listwise_ranking("[[RANKING: C > A > D > B]] [[RANKING: C > A > D > E]]", ABCD)
        is None
    )


def test_a_ranking_that_leaves_an_answer_out_or_repeats_one_is_refused() -> None:
    assert parse_listwise_ranking("[[RANKING: C > A > B]]", ABCD) is None
    assert parse_listwise_ranking("[2] > [3] > [1]", ABCD) is None
    assert parse_listwise_ranking("C > A > D > B > A", ABCD) is None


def test_a_five_way_verdict_without_a_margin_is_refused() -> None:
    assert parse_five_way_verdict("[[A]]") is None
    assert parse_five_way_verdict("Assistant A is better.") is None
    assert parse_five_way_verdict("Assistant A is slightly better.") == "A>B"


@pytest.mark.parametrize(
    ("text", "letter"),
    [("ok [[A]]", "A"), ("Final verdict: B", "B"), ("Verdict: Tie", "T"), ("Output (b)", "b")],
)
def test_the_label_offset_points_at_the_verdict_letter(text: str, letter: str) -> None:
    found = find_pairwise_label(text)

    assert found is not None and text[found[1]] == letter


def test_a_long_adversarial_reply_is_parsed_quickly() -> None:
    for text in ("[" * 20000, "[[A" * 7000, '{"' * 10000, "1. [[A]]\n" * 5000, "A > " * 5000):
        parse_pairwise_verdict(text)
        parse_listwise_ranking(text, ABCD)


# -- properties --------------------------------------------------------------------------------

LABEL_SETS = st.integers(min_value=2, max_value=8).map(lambda k: tuple("ABCDEFGH"[:k]))


@st.composite
def rankings(draw: st.DrawFn) -> tuple[tuple[str, ...], LetterRanking]:
    labels = draw(LABEL_SETS)
    order = draw(st.permutations(labels))
    cuts = draw(st.lists(st.booleans(), min_size=len(order) - 1, max_size=len(order) - 1))
    tiers: list[list[str]] = [[order[0]]]
    for label, new_tier in zip(order[1:], cuts, strict=True):
        if new_tier:
            tiers.append([label])
        else:
            tiers[-1].append(label)
    return labels, tuple(tuple(t) for t in tiers)


@given(rankings())
def test_any_ranking_written_canonically_reads_back_in_every_form(
    drawn: tuple[tuple[str, ...], LetterRanking],
) -> None:
    labels, tiers = drawn
    chain = format_ranking(tiers)

    assert parse_listwise_ranking(chain, labels) == tiers
    assert parse_listwise_ranking(f"[[RANKING: {chain}]]", labels) == tiers
    assert (
        parse_listwise_ranking(json.dumps({"ranking": [list(t) for t in tiers]}), labels) == tiers
    )


FRAGMENTS = st.sampled_from(
    [
        "[[", "]]", "[", "]", "RANKING:", "Ranking:", "Final verdict:", " > ", " >> ", " = ",
        ", ", "\n", "\n1. ", "A", "B", "C", "D", "E", "1", "3", "Answer ", "Assistant ",
        '{"ranking": ', '["', '"]', '", "', "}", " is better", " if ", "tie", "not ", "**",
    ]
)  # fmt: skip
TEXTS = st.lists(st.one_of(FRAGMENTS, st.text(max_size=4)), max_size=24).map("".join)


@given(TEXTS, LABEL_SETS)
def test_any_ranking_the_parser_emits_is_complete_and_round_trips(
    text: str, labels: tuple[str, ...]
) -> None:
    tiers = parse_listwise_ranking(text, labels)
    if tiers is None:
        return
    assert sorted(label for tier in tiers for label in tier) == sorted(labels)
    assert parse_listwise_ranking(format_ranking(tiers), labels) == tiers


@given(TEXTS)
def test_any_pairwise_verdict_the_parser_emits_round_trips(text: str) -> None:
    three: PairwiseVerdict | None = parse_pairwise_verdict(text)
    five: FiveWayVerdict | None = parse_five_way_verdict(text)
    if three is not None:
        assert parse_pairwise_verdict(format_pairwise_verdict(three)) == three
    if five is not None:
        assert parse_five_way_verdict(format_five_way_verdict(five)) == five
        assert three in {"A", "B", "tie"}  # a 5-way verdict is always a 3-way one too


@given(st.text())
def test_parsing_never_raises(text: str) -> None:
    assert parse_pairwise_verdict(text) in {"A", "B", "tie", None}
    assert parse_five_way_verdict(text) in {"A>>B", "A>B", "A=B", "B>A", "B>>A", None}
    result = parse_listwise_ranking(text, ABCD)
    assert result is None or sorted(x for tier in result for x in tier) == list(ABCD)

"""5-way verdicts ([[A>>B]] .. [[B>>A]]): parsing, margins, both orders, length control."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from judges.backends.base import Answer, PermanentError
from judges.backends.openai_judge import OpenAICompatJudge, UnparseableVerdictError
from judges.fiveway import (
    FiveWayOutcome,
    apply_length_penalty,
    combined_score,
    outcome_of,
    unswap_five_way,
)
from judges.parsing import parse_five_way_verdict
from tests.judges.fake_openai import FakeOpenAIServer

QUESTION = "Name a prime number."
SHORT = Answer(text="7.", author="terse")
LONG = Answer(text="7. " + "Primes have exactly two divisors. " * 30, author="verbose")
FIVE = ["A>>B", "A>B", "A=B", "B>A", "B>>A"]


def make_judge(server: FakeOpenAIServer, **settings: object) -> OpenAICompatJudge:
    return OpenAICompatJudge(
        base_url=server.base_url,
        model="judge-5",
        settings={"template": "pairwise_5way", **settings},
    )


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("[[A>>B]]", "A>>B"),
        ("Final: [[ A > B ]]", "A>B"),
        ("[[**B>>A**]]", "B>>A"),
        ("[[b>a]]", "B>A"),
        ("[[A=B]]", "A=B"),
        ("[[B=A]]", "A=B"),
        ("Not [[A>>B]] but rather [[B>A]]", "B>A"),
        ("[[B>A]] then a malformed [[A>A]]", "B>A"),
        ("A>>B", "A>>B"),  # no brackets
    ],
)
def test_the_last_well_formed_five_way_label_is_the_verdict(text: str, label: str) -> None:
    assert parse_five_way_verdict(text) == label


@pytest.mark.parametrize("text", ["", "[[A]]", "[[A>>A]]", "[[A<B]]", "[[A>>>B]]", "A is better"])
def test_text_without_a_five_way_label_has_no_verdict(text: str) -> None:
    assert parse_five_way_verdict(text) is None


@given(st.text())
def test_five_way_parsing_never_raises(text: str) -> None:
    assert parse_five_way_verdict(text) in {*FIVE, None}


@pytest.mark.parametrize(
    ("output", "ranking", "margin"),
    [
        ("A is far better [[A>>B]]", ((0,), (1,)), "strong"),
        ("A is a bit better [[A>B]]", ((0,), (1,)), "slight"),
        ("Equal [[A=B]]", ((0, 1),), "tie"),
        ("B a bit [[B>A]]", ((1,), (0,)), "slight"),
        ("B far [[B>>A]]", ((1,), (0,)), "strong"),
    ],
)
def test_each_five_way_label_maps_to_a_ranking_and_a_margin(
    fake_openai: FakeOpenAIServer, output: str, ranking: object, margin: str
) -> None:
    fake_openai.reply_with(output)

    verdict = make_judge(fake_openai).compare(QUESTION, (SHORT, LONG))

    assert verdict.ranking == ranking
    assert verdict.extra["margin"] == margin
    assert verdict.extra["template"] == "pairwise_5way"
    system = fake_openai.chat_requests[0]["messages"][0]["content"]
    assert all(f"[[{label}]]" in system for label in FIVE)


def test_an_unreadable_five_way_verdict_is_repaired_once_then_fails(
    fake_openai: FakeOpenAIServer,
) -> None:
    fake_openai.reply_with("A is better. [[A]]", "still [[A]]")

    with pytest.raises(UnparseableVerdictError):
        make_judge(fake_openai).compare(QUESTION, (SHORT, LONG))

    repair = fake_openai.chat_requests[1]["messages"][-1]["content"]
    assert "[[A>>B]]" in repair and "[[B>>A]]" in repair


@pytest.mark.parametrize("label", FIVE)
def test_swapping_twice_gives_back_the_label(label: str) -> None:
    assert unswap_five_way(unswap_five_way(label)) == label  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("first", "second", "ranking", "margin"),
    [
        ("A>>B", "B>>A", ((0,), (1,)), "strong"),  # consistent and sure both times
        ("A>>B", "B>A", ((0,), (1,)), "slight"),  # consistent, less sure once
        ("A>B", "B=A", ((0,), (1,)), "slight"),
        ("A>>B", "A>B", ((0, 1),), "tie"),  # each time the first shown: position bias
        ("A=B", "A=B", ((0, 1),), "tie"),
    ],
)
def test_both_orders_combine_order_corrected_scores(
    fake_openai: FakeOpenAIServer, first: str, second: str, ranking: object, margin: str
) -> None:
    fake_openai.reply_with(f"[[{first}]]", f"[[{second}]]")

    verdict = make_judge(fake_openai, both_orders=True).compare(QUESTION, (SHORT, LONG))

    assert (verdict.ranking, verdict.extra["margin"]) == (ranking, margin)


def test_order_disagreement_average_keeps_the_lean_of_a_lopsided_disagreement(
    fake_openai: FakeOpenAIServer,
) -> None:
    # Order-corrected: A>>B (+2) then "A>B" seen swapped = B>A (-1): mean +0.5.
    fake_openai.reply_with("[[A>>B]]", "[[A>B]]", "[[A>>B]]", "[[A>B]]")
    settings = {"both_orders": True}

    as_tie = make_judge(fake_openai, **settings).compare(QUESTION, (SHORT, LONG))
    averaged = make_judge(fake_openai, order_disagreement="average", **settings).compare(
        QUESTION, (SHORT, LONG)
    )

    assert as_tie.ranking == ((0, 1),)
    assert (averaged.ranking, averaged.extra["margin"]) == (((0,), (1,)), "slight")


def test_combined_score_is_the_mean_and_cancels_opposite_votes_under_tie() -> None:
    assert combined_score(["A>>B", "A>B"], "tie") == 1.5
    assert combined_score(["A>>B", "B>A"], "tie") == 0
    assert combined_score(["A>>B", "B>A"], "average") == 0.5
    assert outcome_of(-2).margin == "strong" and outcome_of(-1.5).margin == "slight"


# -- length control (WildBench) ----------------------------------------------------------


def test_a_slight_win_of_a_much_longer_answer_becomes_a_tie(fake_openai: FakeOpenAIServer) -> None:
    fake_openai.reply_with("[[B>A]]")  # LONG (answer 1) slightly better

    verdict = make_judge(fake_openai, length_penalty_chars=500).compare(QUESTION, (SHORT, LONG))

    assert len(LONG.text) - len(SHORT.text) > 500
    assert verdict.ranking == ((0, 1),)
    assert verdict.extra["margin"] == "tie"
    assert verdict.extra["length_penalty_applied"] is True


@pytest.mark.parametrize(
    ("label", "limit", "ranking"),
    [
        ("B>>A", 500, ((1,), (0,))),  # strong wins stand
        ("B>A", 5000, ((1,), (0,))),  # within the allowance
        ("B>A", None, ((1,), (0,))),  # off by default
        ("A>B", 0, ((0,), (1,))),  # the shorter answer's slight win stands
    ],
)
def test_length_control_leaves_other_wins_alone(
    fake_openai: FakeOpenAIServer, label: str, limit: int | None, ranking: object
) -> None:
    fake_openai.reply_with(f"[[{label}]]")

    verdict = make_judge(fake_openai, length_penalty_chars=limit).compare(QUESTION, (SHORT, LONG))

    assert verdict.ranking == ranking
    assert verdict.extra["length_penalty_applied"] is False


def test_length_control_counts_the_difference_strictly_above_k() -> None:
    slight_a = FiveWayOutcome(ranking=((0,), (1,)), margin="slight")

    assert apply_length_penalty(slight_a, (110, 100), 10).margin == "slight"
    assert apply_length_penalty(slight_a, (111, 100), 10).margin == "tie"


@pytest.mark.parametrize(
    "settings",
    [
        {"length_penalty_chars": -1},
        {"length_penalty_chars": "500"},
        {"length_penalty_chars": True},
        {"template": "pairwise_3way", "length_penalty_chars": 500},
        {"order_disagreement": "coin"},
        {"template": "listwise"},
    ],
)
def test_inconsistent_five_way_settings_are_refused(
    fake_openai: FakeOpenAIServer, settings: dict[str, object]
) -> None:
    with pytest.raises(PermanentError, match="judge setting"):
        make_judge(fake_openai, **settings)

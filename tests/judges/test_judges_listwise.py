"""K-wise listwise judging: [[RANKING: C > A = D > B]] parsed, repaired, mapped back."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from judges.backends.base import Answer, PermanentError
from judges.backends.openai_judge import OpenAICompatJudge, UnparseableVerdictError
from judges.listwise import presentation_order, ranking_from_letters
from judges.parsing import parse_listwise_ranking
from tests.judges.fake_openai import FakeOpenAIServer

QUESTION = "Give a haiku about autumn."
ANSWERS = tuple(Answer(text=f"haiku number {i}", author=f"poet-{i}") for i in range(4))
ABCD = ("A", "B", "C", "D")


def make_judge(server: FakeOpenAIServer, **settings: object) -> OpenAICompatJudge:
    return OpenAICompatJudge(base_url=server.base_url, model="judge-k", settings=settings)


@pytest.mark.parametrize(
    ("text", "tiers"),
    [
        ("[[RANKING: C > A = D > B]]", (("C",), ("A", "D"), ("B",))),
        ("Final:\n[[ranking: b>a>d>c]]", (("B",), ("A",), ("D",), ("C",))),
        ("[[RANKING: **A** > B = C = D]]", (("A",), ("B", "C", "D"))),
        ("[[RANKING: A = B = C = D]]", (("A", "B", "C", "D"),)),
        (
            "Draft [[RANKING: A > B > C > D]] ... final [[RANKING: D > C > B > A]]",
            (("D",), ("C",), ("B",), ("A",)),
        ),
        ("C > A > D > B", (("C",), ("A",), ("D",), ("B",))),  # no brackets
    ],
)
def test_a_ranking_line_is_read_as_tiers_of_labels(text: str, tiers: object) -> None:
    assert parse_listwise_ranking(text, ABCD) == tiers


@pytest.mark.parametrize(
    "text",
    [
        "[[RANKING: C > A > B]]",  # D missing
        "[[RANKING: C > A > D > B > A]]",  # A twice
        "[[RANKING: C > A > D > E]]",  # no answer E
        "[[RANKING: C > > A > D > B]]",  # empty tier
        "[[RANKING: Claude > A > D > B]]",  # names are not labels
        "[[RANKING: 3 > 1 > 4 > 2]]",
    ],
)
def test_a_ranking_that_drops_repeats_or_invents_an_answer_is_not_read(text: str) -> None:
    assert parse_listwise_ranking(text, ABCD) is None


@given(st.text(max_size=40))
def test_listwise_parsing_never_raises(inside: str) -> None:
    result = parse_listwise_ranking(f"[[RANKING: {inside}]]", ABCD)
    assert result is None or sorted(x for tier in result for x in tier) == list(ABCD)


def test_the_judge_ranks_k_answers_in_one_call_mapping_letters_to_indices(
    fake_openai: FakeOpenAIServer,
) -> None:
    fake_openai.reply_with("C is vivid, B is flat.\n[[RANKING: C > A = D > B]]")

    verdict = make_judge(fake_openai).compare(QUESTION, ANSWERS)

    assert verdict.ranking == ((2,), (0, 3), (1,))
    assert verdict.extra["letter_ranking"] == "C > A = D > B"
    assert verdict.extra["template"] == "listwise"
    [sent] = fake_openai.chat_requests
    prompt = sent["messages"][1]["content"]
    [code] = set(re.findall(r"<<<ANSWER A ([0-9a-f]+)>>>", prompt))
    for label, answer in zip(ABCD, ANSWERS, strict=True):
        block = f"<<<ANSWER {label} {code}>>>\n{answer.text}\n<<<END ANSWER {label} {code}>>>"
        assert block in prompt
        assert answer.author not in str(sent)
    assert "A, B, C, D" in sent["messages"][0]["content"]


def test_an_invalid_ranking_is_repaired_once_naming_the_labels(
    fake_openai: FakeOpenAIServer,
) -> None:
    fake_openai.reply_with("[[RANKING: C > A > B]]", "[[RANKING: C > A > B > D]]")

    verdict = make_judge(fake_openai).compare(QUESTION, ANSWERS)

    assert verdict.ranking == ((2,), (0,), (1,), (3,))
    repair = fake_openai.chat_requests[1]["messages"]
    assert repair[2] == {"role": "assistant", "content": "[[RANKING: C > A > B]]"}
    assert "A, B, C, D" in repair[3]["content"]
    assert "--- repair ---" in verdict.raw_output


def test_a_ranking_still_invalid_after_repair_is_a_permanent_error(
    fake_openai: FakeOpenAIServer,
) -> None:
    fake_openai.reply_with("A is best", "[[RANKING: A > A > B > C]]")

    with pytest.raises(UnparseableVerdictError) as caught:
        make_judge(fake_openai).compare(QUESTION, ANSWERS)

    assert isinstance(caught.value, PermanentError)
    assert [(o.call, o.text) for o in caught.value.raw_outputs] == [
        ("judge", "A is best"),
        ("repair", "[[RANKING: A > A > B > C]]"),
    ]
    assert len(fake_openai.requests) == 2


def test_shuffled_presentation_is_mapped_back_to_the_callers_indices(
    fake_openai: FakeOpenAIServer,
) -> None:
    fake_openai.reply_with("[[RANKING: A > B > C > D]]")

    verdict = make_judge(fake_openai, shuffle=True, seed=7).compare(QUESTION, ANSWERS)

    order = verdict.extra["presentation_order"]
    assert sorted(order) == [0, 1, 2, 3] and order != [0, 1, 2, 3]
    # The judge ranked by position, so the ranking is the presentation order itself.
    assert verdict.ranking == tuple((i,) for i in order)
    prompt = fake_openai.chat_requests[0]["messages"][1]["content"]
    positions = [prompt.index(ANSWERS[i].text) for i in order]
    assert positions == sorted(positions)


def test_the_shuffle_is_reproducible_and_differs_between_seeds_and_matches() -> None:
    texts = [a.text for a in ANSWERS]
    orders = {
        (seed, question): tuple(presentation_order(question, texts, shuffle=True, seed=seed))
        for seed in range(6)
        for question in ("q1", "q2")
    }

    assert presentation_order("q1", texts, shuffle=True, seed=3) == list(orders[(3, "q1")])
    assert len(set(orders.values())) > 3
    assert presentation_order("q1", texts, shuffle=False, seed=3) == [0, 1, 2, 3]


def test_ranking_from_letters_uses_the_presentation_order() -> None:
    # Position A showed answer 2, B showed 0, C showed 1.
    assert ranking_from_letters((("B", "C"), ("A",)), [2, 0, 1]) == ((0, 1), (2,))


def test_eight_answers_use_labels_a_to_h(fake_openai: FakeOpenAIServer) -> None:
    eight = [Answer(text=f"answer {i}") for i in range(8)]
    fake_openai.reply_with("[[RANKING: H > G > F > E > D > C > B > A]]")

    verdict = make_judge(fake_openai).compare(QUESTION, eight)

    assert verdict.ranking == tuple((i,) for i in reversed(range(8)))


def test_listwise_verdicts_carry_usage_and_cost(fake_openai: FakeOpenAIServer) -> None:
    fake_openai.reply_with("[[RANKING: A > B > C > D]]")

    verdict = make_judge(fake_openai, price_in=1.0, price_out=2.0).compare(QUESTION, ANSWERS)

    assert verdict.prompt_tokens > 0 and verdict.completion_tokens == 8
    assert verdict.cost == pytest.approx(
        (verdict.prompt_tokens * 1.0 + verdict.completion_tokens * 2.0) / 1e6
    )


@pytest.mark.parametrize(
    "settings",
    [{"listwise_template": "pairwise_3way"}, {"shuffle": "yes"}, {"seed": 1.5}],
)
def test_bad_listwise_settings_are_refused(
    fake_openai: FakeOpenAIServer, settings: dict[str, object]
) -> None:
    with pytest.raises(PermanentError, match="judge setting"):
        make_judge(fake_openai, **settings)


def test_a_judge_answering_in_its_own_words_is_read_without_a_repair_call(
    fake_openai: FakeOpenAIServer,
) -> None:
    # The reply that failed every match of a K-wise tournament (issue "Automated judge
    # tournaments that tell the truth", item 1): a chain of labels, then the same as JSON.
    fake_openai.reply_with(
        'Ranking: [[A]] > [[C]] > [[B]] > [[D]]\n{"ranking": ["A", "C", "B", "D"]}'
    )

    verdict = make_judge(fake_openai).compare(QUESTION, ANSWERS)

    assert verdict.ranking == ((0,), (2,), (1,), (3,))
    assert len(fake_openai.requests) == 1


def test_a_ranking_naming_an_answer_that_does_not_exist_goes_to_the_repair_prompt(
    fake_openai: FakeOpenAIServer,
) -> None:
    fake_openai.reply_with("Ranking: A > C > E > B", "[[RANKING: A > C > D > B]]")

    verdict = make_judge(fake_openai).compare(QUESTION, ANSWERS)

    assert verdict.ranking == ((0,), (2,), (3,), (1,))
    assert len(fake_openai.requests) == 2

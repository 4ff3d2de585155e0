"""OpenAICompatJudge against the FAKE server: verdicts, repair, position swap, blindness."""

from __future__ import annotations

import hashlib
import json
from importlib import resources

import pytest

from judges.backends.base import Answer, PermanentError, RawOutput, TransientError
from judges.backends.openai_judge import OpenAICompatJudge, UnparseableVerdictError
from tests.judges.fake_openai import FakeOpenAIServer, Scripted, error_body

QUESTION = "Which is larger, 9.11 or 9.9?"
ANSWERS = (
    Answer(text="9.9 is larger, since 0.90 > 0.11.", author="secret-model-alpha"),
    Answer(text="9.11 is larger because 11 > 9.", author="secret-model-beta"),
)


def make_judge(server: FakeOpenAIServer, **settings: object) -> OpenAICompatJudge:
    return OpenAICompatJudge(base_url=server.base_url, model="judge-1", settings=settings)


def user_prompt(request: dict[str, object]) -> str:
    messages = request["messages"]
    assert isinstance(messages, list)
    return str(messages[1]["content"])


@pytest.mark.parametrize(
    ("output", "ranking"),
    [
        ("A is correct, B is not.\n\n[[A]]", ((0,), (1,))),
        ("B explains more.\nFinal verdict: [[B]]", ((1,), (0,))),
        ("Both are equally good. [[C]]", ((0, 1),)),
        ("Hard call... [[ B ]]", ((1,), (0,))),
    ],
)
def test_the_judge_turns_its_final_label_into_a_ranking_of_answer_indices(
    fake_openai: FakeOpenAIServer, output: str, ranking: tuple[tuple[int, ...], ...]
) -> None:
    fake_openai.reply_with(output)

    verdict = make_judge(fake_openai).compare(QUESTION, ANSWERS)

    assert verdict.ranking == ranking
    assert verdict.raw_output == output
    assert len(fake_openai.requests) == 1


def test_the_last_label_in_the_judge_output_wins(fake_openai: FakeOpenAIServer) -> None:
    fake_openai.reply_with("One could argue for [[A]] on style, but correctness decides: [[B]]")

    verdict = make_judge(fake_openai).compare(QUESTION, ANSWERS)

    assert verdict.ranking == ((1,), (0,))


def test_the_judge_prompt_holds_the_question_and_both_answers_in_order(
    fake_openai: FakeOpenAIServer,
) -> None:
    fake_openai.reply_with("[[A]]")

    make_judge(fake_openai).compare(QUESTION, ANSWERS)

    [sent] = fake_openai.chat_requests
    assert sent["model"] == "judge-1"
    assert sent["temperature"] == 0 and sent["max_tokens"] == 1024  # the defaults
    assert sent["messages"][0]["role"] == "system"
    assert "[[C]]" in sent["messages"][0]["content"]
    prompt = user_prompt(sent)
    assert QUESTION in prompt
    assert prompt.index(ANSWERS[0].text) < prompt.index(ANSWERS[1].text)


def test_answers_with_braces_are_inserted_verbatim(fake_openai: FakeOpenAIServer) -> None:
    tricky = (Answer(text="use {answer_b} and {0}"), Answer(text="dict: {'a': 1}"))
    fake_openai.reply_with("[[C]]")

    make_judge(fake_openai).compare("Explain {question}", tricky)

    prompt = user_prompt(fake_openai.chat_requests[0])
    assert "use {answer_b} and {0}" in prompt
    assert "dict: {'a': 1}" in prompt
    assert "Explain {question}" in prompt


def test_an_unreadable_verdict_is_repaired_once_in_the_same_conversation(
    fake_openai: FakeOpenAIServer,
) -> None:
    fake_openai.reply_with("Both have merit, it is hard to say.", "[[A]]")

    verdict = make_judge(fake_openai).compare(QUESTION, ANSWERS)

    assert verdict.ranking == ((0,), (1,))
    first, repair = fake_openai.chat_requests
    assert repair["messages"][:2] == first["messages"]
    assert repair["messages"][2] == {
        "role": "assistant",
        "content": "Both have merit, it is hard to say.",
    }
    assert "exactly one of [[A]], [[B]], [[C]]" in repair["messages"][3]["content"]
    assert "Both have merit" in verdict.raw_output and verdict.raw_output.endswith("[[A]]")


def test_token_usage_is_summed_over_the_call_and_its_repair(fake_openai: FakeOpenAIServer) -> None:
    fake_openai.reply_with("no label here", "[[B]]")

    verdict = make_judge(fake_openai).compare(QUESTION, ANSWERS)

    words = [
        sum(len(str(m["content"]).split()) for m in request["messages"])
        for request in fake_openai.chat_requests
    ]
    assert verdict.prompt_tokens == sum(words)
    assert verdict.completion_tokens == len("no label here".split()) + 1


def test_a_verdict_still_unreadable_after_repair_is_a_permanent_error_not_a_tie(
    fake_openai: FakeOpenAIServer,
) -> None:
    fake_openai.reply_with("I cannot decide.", "Really, I cannot.")

    with pytest.raises(UnparseableVerdictError) as caught:
        make_judge(fake_openai).compare(QUESTION, ANSWERS)

    assert isinstance(caught.value, PermanentError)
    assert caught.value.raw_outputs == (
        RawOutput("judge", "I cannot decide."),
        RawOutput("repair", "Really, I cannot."),
    )
    assert len(fake_openai.requests) == 2  # one call, one repair, no more


def test_an_unreadable_swapped_order_keeps_what_the_judge_said_in_both_orders(
    fake_openai: FakeOpenAIServer,
) -> None:
    fake_openai.reply_with("first is right [[A]]", "Both, perhaps.", "I still cannot say.")

    with pytest.raises(UnparseableVerdictError) as caught:
        make_judge(fake_openai, both_orders=True).compare(QUESTION, ANSWERS)

    assert str(caught.value).startswith("answers swapped: judge output has no")
    assert caught.value.raw_outputs == (
        RawOutput("answers in order", "first is right [[A]]"),
        RawOutput("answers swapped: judge", "Both, perhaps."),
        RawOutput("answers swapped: repair", "I still cannot say."),
    )


def test_both_orders_agreeing_keeps_the_verdict_and_swaps_the_answers(
    fake_openai: FakeOpenAIServer,
) -> None:
    # The second call sees the answers swapped, so its [[B]] means the first answer.
    fake_openai.reply_with("first is right [[A]]", "second is right [[B]]")

    verdict = make_judge(fake_openai, both_orders=True).compare(QUESTION, ANSWERS)

    assert verdict.ranking == ((0,), (1,))
    assert verdict.extra["votes"] == ["A", "A"]
    original, swapped = (user_prompt(r) for r in fake_openai.chat_requests)
    assert original.index(ANSWERS[0].text) < original.index(ANSWERS[1].text)
    assert swapped.index(ANSWERS[1].text) < swapped.index(ANSWERS[0].text)


def test_both_orders_disagreeing_is_a_tie_and_keeps_both_raw_outputs(
    fake_openai: FakeOpenAIServer,
) -> None:
    # [[A]] twice: the judge preferred whichever answer came first, i.e. position bias.
    fake_openai.reply_with("the first one [[A]]", "again the first one [[A]]")

    verdict = make_judge(fake_openai, both_orders=True).compare(QUESTION, ANSWERS)

    assert verdict.ranking == ((0, 1),)
    assert verdict.extra["votes"] == ["A", "B"]
    assert "the first one [[A]]" in verdict.raw_output
    assert "again the first one [[A]]" in verdict.raw_output
    assert verdict.completion_tokens == 4 + 5


def test_answer_authors_never_reach_the_judge(fake_openai: FakeOpenAIServer) -> None:
    fake_openai.reply_with("no verdict yet", "[[A]]", "[[B]]")

    make_judge(fake_openai, both_orders=True).compare(QUESTION, ANSWERS)

    assert len(fake_openai.requests) == 3  # both orders and a repair
    everything_sent = json.dumps([r.json for r in fake_openai.requests])
    for answer in ANSWERS:
        assert answer.text[:10] in everything_sent
        assert answer.author not in everything_sent


@pytest.mark.parametrize("count", [0, 1, 9])
def test_the_judge_refuses_fewer_than_two_or_more_than_eight_answers(
    fake_openai: FakeOpenAIServer, count: int
) -> None:
    answers = [Answer(text=f"answer {i}") for i in range(count)]

    with pytest.raises(PermanentError, match=f"got {count}"):
        make_judge(fake_openai).compare(QUESTION, answers)

    assert fake_openai.requests == []


def test_an_unknown_judge_setting_is_rejected_naming_it(fake_openai: FakeOpenAIServer) -> None:
    with pytest.raises(PermanentError, match="both_order"):
        make_judge(fake_openai, both_order=True)


def test_both_orders_given_as_a_string_is_rejected(fake_openai: FakeOpenAIServer) -> None:
    with pytest.raises(PermanentError, match="both_orders"):
        make_judge(fake_openai, both_orders="false")


def test_judge_settings_are_sent_with_each_call(fake_openai: FakeOpenAIServer) -> None:
    fake_openai.reply_with("[[C]]")

    make_judge(fake_openai, temperature=0.3, max_tokens=64).compare(QUESTION, ANSWERS)

    [sent] = fake_openai.chat_requests
    assert (sent["temperature"], sent["max_tokens"]) == (0.3, 64)


def test_the_template_hash_is_the_sha256_of_the_template_file(
    fake_openai: FakeOpenAIServer,
) -> None:
    raw = resources.files("judges.prompts").joinpath("pairwise_3way.txt").read_bytes()
    fake_openai.reply_with("[[A]]")

    judge = make_judge(fake_openai)
    verdict = judge.compare(QUESTION, ANSWERS)

    assert judge.template_name == "pairwise_3way"
    assert judge.template_hash == hashlib.sha256(raw).hexdigest()
    assert verdict.extra["template_hash"] == judge.template_hash


@pytest.mark.parametrize("name", ["no_such_template", "../backends/base", "Pairwise"])
def test_a_template_name_outside_the_prompts_folder_is_rejected(
    fake_openai: FakeOpenAIServer, name: str
) -> None:
    with pytest.raises(PermanentError, match="template"):
        make_judge(fake_openai, template=name)


def test_a_rate_limited_judge_raises_a_transient_error(fake_openai: FakeOpenAIServer) -> None:
    fake_openai.enqueue(Scripted(status=429, body=error_body("busy"), headers={"retry-after": "3"}))

    with pytest.raises(TransientError) as caught:
        make_judge(fake_openai).compare(QUESTION, ANSWERS)

    assert caught.value.retry_after == 3.0


def test_a_failure_after_a_paid_reply_carries_that_reply_s_cost(
    fake_openai: FakeOpenAIServer,
) -> None:
    fake_openai.enqueue(
        Scripted(content="[[A]]"),  # the first order, paid for
        Scripted(status=503, body=error_body("busy", kind="server_error")),
    )
    judge = make_judge(fake_openai, both_orders=True, price_in=1_000_000, price_out=1_000_000)

    with pytest.raises(TransientError) as failed:
        judge.compare(QUESTION, ANSWERS)

    ((_, prompt_tokens, completion_tokens),) = fake_openai.usage
    assert failed.value.cost == prompt_tokens + completion_tokens


def test_an_unreadable_verdict_carries_the_cost_of_the_question_and_the_repair(
    fake_openai: FakeOpenAIServer,
) -> None:
    fake_openai.reply_with("I cannot decide.", "Still undecided.")
    judge = make_judge(fake_openai, price_in=1_000_000, price_out=1_000_000)

    with pytest.raises(UnparseableVerdictError) as failed:
        judge.compare(QUESTION, ANSWERS)

    assert len(fake_openai.usage) == 2
    assert failed.value.cost == sum(p + c for _, p, c in fake_openai.usage)

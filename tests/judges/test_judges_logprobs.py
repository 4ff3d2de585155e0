"""Verdict probabilities from token logprobs, through real HTTP and the openai SDK."""

from __future__ import annotations

import math

import pytest

from judges.backends.base import Answer, PermanentError
from judges.backends.openai_judge import OpenAICompatJudge
from judges.logprobs import (
    TokenLogprob,
    average_probabilities,
    label_probabilities,
    most_likely,
    swap_probabilities,
)
from tests.judges.fake_openai import FakeOpenAIServer, with_logprobs

QUESTION = "Is 91 prime?"
ANSWERS = (Answer(text="No: 91 = 7 x 13.", author="m1"), Answer(text="Yes.", author="m2"))


def verdict_reply(letter: str, alternatives: dict[str, float], prefix: str = "Reasoning. "):
    # Tokenised the usual way: "[[", letter, "]]"; alternatives only at the letter.
    return with_logprobs(prefix, "[[", (letter, alternatives), "]]")


def make_judge(server: FakeOpenAIServer, **settings: object) -> OpenAICompatJudge:
    return OpenAICompatJudge(
        base_url=server.base_url, model="judge-lp", settings={"logprobs": True, **settings}
    )


def assert_close(actual: dict[str, float] | None, expected: dict[str, float]) -> None:
    assert actual is not None
    assert actual.keys() == expected.keys()
    for key in expected:
        assert actual[key] == pytest.approx(expected[key], abs=1e-9), key


def test_logprobs_are_requested_with_five_alternatives(fake_openai: FakeOpenAIServer) -> None:
    fake_openai.enqueue(verdict_reply("A", {"A": 0.7, "B": 0.2, "C": 0.1}))

    make_judge(fake_openai).compare(QUESTION, ANSWERS)

    [sent] = fake_openai.chat_requests
    assert (sent["logprobs"], sent["top_logprobs"]) == (True, 5)


def test_without_the_setting_no_logprobs_are_requested(fake_openai: FakeOpenAIServer) -> None:
    fake_openai.reply_with("[[A]]")

    verdict = OpenAICompatJudge(base_url=fake_openai.base_url, model="j").compare(QUESTION, ANSWERS)

    assert "logprobs" not in fake_openai.chat_requests[0]
    assert verdict.probabilities is None


def test_probabilities_come_from_the_verdict_tokens_alternatives(
    fake_openai: FakeOpenAIServer,
) -> None:
    # Non-label alternatives (" The") are dropped and the rest renormalised: 0.6+0.2+0.1.
    fake_openai.enqueue(verdict_reply("A", {"A": 0.6, "B": 0.2, "C": 0.1, " The": 0.1}))

    verdict = make_judge(fake_openai).compare(QUESTION, ANSWERS)

    assert verdict.ranking == ((0,), (1,))
    assert_close(verdict.probabilities, {"A": 0.6 / 0.9, "tie": 0.1 / 0.9, "B": 0.2 / 0.9})


def test_spelling_variants_of_one_label_add_up(fake_openai: FakeOpenAIServer) -> None:
    fake_openai.enqueue(verdict_reply("B", {"B": 0.5, " B": 0.1, "A": 0.3, "tie": 0.1}))

    verdict = make_judge(fake_openai).compare(QUESTION, ANSWERS)

    assert_close(verdict.probabilities, {"A": 0.3, "tie": 0.1, "B": 0.6})


def test_a_label_quoted_before_the_final_one_is_not_where_probabilities_are_read(
    fake_openai: FakeOpenAIServer,
) -> None:
    fake_openai.enqueue(
        with_logprobs(
            "One could say ",
            "[[",
            ("A", {"A": 0.99, "B": 0.01}),
            "]] but finally ",
            "[[",
            ("B", {"B": 0.8, "A": 0.2}),
            "]]",
        )
    )

    verdict = make_judge(fake_openai).compare(QUESTION, ANSWERS)

    assert verdict.ranking == ((1,), (0,))
    assert_close(verdict.probabilities, {"A": 0.2, "tie": 0.0, "B": 0.8})


def test_both_orders_average_order_corrected_probabilities(fake_openai: FakeOpenAIServer) -> None:
    fake_openai.enqueue(
        verdict_reply("A", {"A": 0.8, "B": 0.1, "C": 0.1}),
        # Swapped: the second call's "B" is the first answer.
        verdict_reply("B", {"B": 0.6, "A": 0.2, "C": 0.2}),
    )

    verdict = make_judge(fake_openai, both_orders=True).compare(QUESTION, ANSWERS)

    assert verdict.ranking == ((0,), (1,))
    assert verdict.extra["votes"] == ["A", "A"]
    assert_close(verdict.probabilities, {"A": 0.7, "tie": 0.15, "B": 0.15})


def disagreeing_orders(server: FakeOpenAIServer) -> None:
    # Both calls pick whichever answer is shown first (position bias), but the first call
    # is far surer: order-corrected, A: (0.9 + 0.45) / 2 against B: (0.05 + 0.5) / 2.
    server.enqueue(
        verdict_reply("A", {"A": 0.9, "B": 0.05, "C": 0.05}),
        verdict_reply("A", {"A": 0.5, "B": 0.45, "C": 0.05}),
    )


def test_order_disagreement_tie_gives_a_tie_but_keeps_the_averaged_probabilities(
    fake_openai: FakeOpenAIServer,
) -> None:
    disagreeing_orders(fake_openai)

    verdict = make_judge(fake_openai, both_orders=True).compare(QUESTION, ANSWERS)

    assert verdict.ranking == ((0, 1),)
    assert_close(verdict.probabilities, {"A": 0.675, "tie": 0.05, "B": 0.275})


def test_order_disagreement_average_ranks_by_the_averaged_probabilities(
    fake_openai: FakeOpenAIServer,
) -> None:
    disagreeing_orders(fake_openai)

    verdict = make_judge(fake_openai, both_orders=True, order_disagreement="average").compare(
        QUESTION, ANSWERS
    )

    assert verdict.ranking == ((0,), (1,))
    assert verdict.extra["votes"] == ["A", "B"]


def test_a_verdict_without_logprobs_from_the_server_has_no_probabilities(
    fake_openai: FakeOpenAIServer,
) -> None:
    fake_openai.reply_with("[[A]]")  # a server that ignores logprobs=True

    verdict = make_judge(fake_openai).compare(QUESTION, ANSWERS)

    assert verdict.ranking == ((0,), (1,))
    assert verdict.probabilities is None
    assert verdict.extra["probabilities_missing"] is True


def test_probabilities_are_read_from_the_repaired_reply(fake_openai: FakeOpenAIServer) -> None:
    fake_openai.reply_with("Hard to say.")
    fake_openai.enqueue(with_logprobs("[[", ("C", {"C": 0.5, "A": 0.25, "B": 0.25}), "]]"))

    verdict = make_judge(fake_openai).compare(QUESTION, ANSWERS)

    assert verdict.ranking == ((0, 1),)
    assert_close(verdict.probabilities, {"A": 0.25, "tie": 0.5, "B": 0.25})


# -- the pure functions ------------------------------------------------------------------


def tokens(*pieces: tuple[str, dict[str, float]] | str) -> list[TokenLogprob]:
    out = []
    for piece in pieces:
        token, alternatives = (piece, {piece: 1.0}) if isinstance(piece, str) else piece
        top = tuple((t, math.log(p)) for t, p in alternatives.items())
        out.append(TokenLogprob(token, math.log(alternatives.get(token, 1.0)), top))
    return out


def test_a_letter_fused_with_its_brackets_is_still_read() -> None:
    fused = tokens("ok ", ("[[A", {"[[A": 0.75, "[[B": 0.25}), "]]")

    assert label_probabilities(fused, "ok [[A]]") == {"A": 0.75, "tie": 0.0, "B": 0.25}


def test_a_letter_sharing_a_token_with_prose_gives_no_probabilities() -> None:
    merged = tokens("Answer [[", ("A]] wins", {"A]] wins": 1.0}))

    assert label_probabilities(merged, "Answer [[A]] wins") is None


def test_text_without_a_label_gives_no_probabilities() -> None:
    assert label_probabilities(tokens("no label"), "no label") is None


def test_swap_average_and_argmax() -> None:
    p = {"A": 0.6, "tie": 0.1, "B": 0.3}

    assert swap_probabilities(p) == {"A": 0.3, "tie": 0.1, "B": 0.6}
    assert average_probabilities([p, swap_probabilities(p)]) == pytest.approx(
        {"A": 0.45, "tie": 0.1, "B": 0.45}
    )
    assert most_likely({"A": 0.45, "tie": 0.1, "B": 0.45}) == "tie"
    assert most_likely(p) == "A"


@pytest.mark.parametrize(
    "settings",
    [
        {"logprobs": "true"},
        {"template": "pairwise_5way"},  # 5-way labels span several tokens
        {"logprobs": False, "order_disagreement": "average"},  # nothing to average
    ],
)
def test_logprob_settings_that_cannot_work_are_refused(
    fake_openai: FakeOpenAIServer, settings: dict[str, object]
) -> None:
    with pytest.raises(PermanentError, match="judge setting"):
        make_judge(fake_openai, **settings)

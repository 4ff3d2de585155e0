"""A retried comparison (same scope: the same match) is served from the verdict cache,
without a second call; another comparison of the same answers is a new sample."""

from __future__ import annotations

from typing import Any

import pytest

from judges.backends.base import Answer, TransientError
from judges.backends.openai_judge import OpenAICompatJudge
from judges.cache import LRUVerdictCache, cache_key
from tests.judges.fake_openai import FakeOpenAIServer, Scripted, error_body

QUESTION = "Which is larger, 9.11 or 9.9?"
ANSWERS = (Answer("9.9 is larger.", author="m1"), Answer("9.11 is larger.", author="m2"))


@pytest.fixture
def server(fake_openai: FakeOpenAIServer) -> FakeOpenAIServer:
    # Readable by both the 3-way ([[A]]) and the 5-way ([[A>B]]) parsers.
    fake_openai.responder = lambda request: "Verdict: [[A>B]] so [[A]]"
    return fake_openai


def judge(
    server: FakeOpenAIServer, model: str = "judge-1", scope: str | None = "match:1", **settings: Any
) -> OpenAICompatJudge:
    return OpenAICompatJudge(
        base_url=server.base_url, model=model, settings=settings, cache_scope=scope
    )


def calls(server: FakeOpenAIServer) -> int:
    return len(server.chat_requests)


def test_a_retried_comparison_makes_no_request_and_gives_the_same_verdict(
    server: FakeOpenAIServer,
) -> None:
    first = judge(server).compare(QUESTION, ANSWERS)
    again = judge(server).compare(QUESTION, ANSWERS)  # the retry builds its judge again

    assert calls(server) == 1
    assert again.ranking == first.ranking == ((0,), (1,))
    assert again.raw_output == first.raw_output
    assert again.extra["cached"] is True
    assert "cached" not in first.extra
    # Nothing was spent on the hit, so summed usage still matches the server's.
    assert first.prompt_tokens > 0
    assert (again.prompt_tokens, again.completion_tokens, again.cost) == (0, 0, 0.0)


def test_another_comparison_of_the_same_answers_is_a_new_sample(server: FakeOpenAIServer) -> None:
    judge(server, scope="match:1").compare(QUESTION, ANSWERS)
    second = judge(server, scope="match:2").compare(QUESTION, ANSWERS)

    assert calls(server) == 2
    assert "cached" not in second.extra and second.prompt_tokens > 0


def test_a_judge_built_without_a_scope_calls_the_model_every_time(
    server: FakeOpenAIServer,
) -> None:
    unscoped = judge(server, scope=None)

    unscoped.compare(QUESTION, ANSWERS)
    unscoped.compare(QUESTION, ANSWERS)

    assert calls(server) == 2


def test_a_verdict_read_by_another_parser_version_is_not_served(
    server: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from judges.backends import openai_judge

    judge(server).compare(QUESTION, ANSWERS)
    monkeypatch.setattr(openai_judge, "PARSER_VERSION", openai_judge.PARSER_VERSION + 1)
    judge(server).compare(QUESTION, ANSWERS)

    assert calls(server) == 2


def test_authors_are_not_part_of_the_key_because_the_judge_never_sees_them(
    server: FakeOpenAIServer,
) -> None:
    judge(server).compare(QUESTION, ANSWERS)
    renamed = (Answer(ANSWERS[0].text, author="x"), Answer(ANSWERS[1].text, author="y"))

    judge(server).compare(QUESTION, renamed)

    assert calls(server) == 1


def test_limits_do_not_change_the_key(server: FakeOpenAIServer) -> None:
    judge(server).compare(QUESTION, ANSWERS)
    judge(server, rpm=600, max_concurrency=3).compare(QUESTION, ANSWERS)

    assert calls(server) == 1


@pytest.mark.parametrize(
    ("change", "model", "settings", "question", "answers"),
    [
        ("prompt", "judge-1", {}, "Another question?", ANSWERS),
        ("answer text", "judge-1", {}, QUESTION, (ANSWERS[0], Answer("9.11, surely."))),
        ("answer order", "judge-1", {}, QUESTION, ANSWERS[::-1]),
        ("model", "judge-2", {}, QUESTION, ANSWERS),
        ("template", "judge-1", {"template": "pairwise_5way"}, QUESTION, ANSWERS),
        ("seed", "judge-1", {"seed": 7}, QUESTION, ANSWERS),
        ("temperature", "judge-1", {"temperature": 0.7}, QUESTION, ANSWERS),
        ("both orders", "judge-1", {"both_orders": True}, QUESTION, ANSWERS),
        ("price", "judge-1", {"price_in": 1.0}, QUESTION, ANSWERS),
    ],
)
def test_changing_any_part_of_the_request_misses_the_cache(
    server: FakeOpenAIServer,
    change: str,
    model: str,
    settings: dict[str, Any],
    question: str,
    answers: tuple[Answer, ...],
) -> None:
    judge(server).compare(QUESTION, ANSWERS)
    before = calls(server)

    judge(server, model, **settings).compare(question, answers)

    assert calls(server) > before, change


def test_an_explicit_default_setting_is_the_same_request_as_an_omitted_one(
    server: FakeOpenAIServer,
) -> None:
    assert judge(server).cache_key(QUESTION, ANSWERS) == judge(
        server, seed=0, temperature=0.0
    ).cache_key(QUESTION, ANSWERS)


def test_cache_false_calls_the_model_every_time(server: FakeOpenAIServer) -> None:
    uncached = judge(server, cache=False)

    uncached.compare(QUESTION, ANSWERS)
    uncached.compare(QUESTION, ANSWERS)
    judge(server).compare(QUESTION, ANSWERS)  # and it did not fill the cache either

    assert calls(server) == 3


def test_the_cache_setting_must_be_a_boolean(server: FakeOpenAIServer) -> None:
    with pytest.raises(Exception, match="cache"):
        judge(server, cache="false")


def test_failures_are_not_cached(server: FakeOpenAIServer) -> None:
    server.enqueue(Scripted(status=503, body=error_body("busy", kind="server_error")))

    with pytest.raises(TransientError):
        judge(server).compare(QUESTION, ANSWERS)
    verdict = judge(server).compare(QUESTION, ANSWERS)

    assert calls(server) == 2
    assert "cached" not in verdict.extra


def test_a_judge_can_be_given_its_own_cache_which_evicts_the_least_recently_used(
    server: FakeOpenAIServer,
) -> None:
    own = LRUVerdictCache(maxsize=1)
    j = OpenAICompatJudge(base_url=server.base_url, model="judge-1", cache=own, cache_scope="m")

    j.compare(QUESTION, ANSWERS)
    j.compare("Second question?", ANSWERS)  # evicts the first
    j.compare(QUESTION, ANSWERS)

    assert calls(server) == 3
    assert len(own) == 1


def test_the_key_is_a_sha256_of_a_canonical_json() -> None:
    assert cache_key({"b": 1, "a": "é"}) == cache_key({"a": "é", "b": 1})
    assert len(cache_key({})) == 64

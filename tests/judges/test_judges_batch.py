"""The async batch path: many calls in flight from one thread, results in input order."""

from __future__ import annotations

import random
import threading
import time
from typing import Any

from judges.backends.base import (
    Answer,
    Generation,
    PermanentError,
    TransientError,
    Verdict,
)
from judges.backends.openai_compat import OpenAICompatJudge
from judges.batch import RetryPolicy, compare_many, generate_many
from tests.judges.fake_openai import FakeOpenAIServer, Scripted, error_body

ANSWERS = (Answer("first answer"), Answer("second answer"))


def judge_config(server: FakeOpenAIServer, **settings: Any) -> dict[str, Any]:
    return {"base_url": server.base_url, "model": "judge-1", "settings": settings}


def by_question(request: dict[str, Any]) -> str:
    # Question "qN": the judge prefers A for even N, B for odd N.
    content = request["messages"][-1]["content"]
    number = int(content.split("q", 1)[1].split()[0].rstrip(".?<>\n"))
    return "[[A]]" if number % 2 == 0 else "[[B]]"


def test_a_batch_keeps_concurrency_calls_in_flight_and_returns_verdicts_in_order(
    fake_openai: FakeOpenAIServer,
) -> None:
    # Each reply waits until 8 requests are being answered at once: the batch passes
    # only if it really keeps 8 in flight (a sequential one would time out the barrier).
    wave = threading.Barrier(8, timeout=10)

    def reply(request: dict[str, Any]) -> str:
        wave.wait()
        return by_question(request)

    fake_openai.responder = reply
    items = [(f"q{i} ", ANSWERS) for i in range(16)]
    seen: list[int] = []

    results = compare_many(
        judge_config(fake_openai), items, concurrency=8, on_result=lambda i, r: seen.append(i)
    )

    assert fake_openai.max_in_flight == 8
    assert [r.ranking for r in results] == [  # type: ignore[union-attr]
        ((0,), (1,)) if i % 2 == 0 else ((1,), (0,)) for i in range(16)
    ]
    assert sorted(seen) == list(range(16))


def test_the_batch_gives_the_same_verdict_as_the_sync_judge(
    fake_openai: FakeOpenAIServer,
) -> None:
    fake_openai.responder = lambda request: "Both fine. [[C]]"
    settings = {"both_orders": True, "cache": False, "price_in": 2.0, "price_out": 4.0}
    sync = OpenAICompatJudge(base_url=fake_openai.base_url, model="judge-1", settings=settings)

    expected = sync.compare("q0", ANSWERS)
    [batched] = compare_many(judge_config(fake_openai, **settings), [("q0", ANSWERS)])

    assert isinstance(batched, Verdict)
    assert (batched.ranking, batched.raw_output, batched.extra["votes"]) == (
        expected.ranking,
        expected.raw_output,
        expected.extra["votes"],
    )
    assert (batched.prompt_tokens, batched.completion_tokens, batched.cost) == (
        expected.prompt_tokens,
        expected.completion_tokens,
        expected.cost,
    )
    assert len(fake_openai.chat_requests) == 4  # both orders, twice


def test_a_429_is_retried_after_what_retry_after_says(fake_openai: FakeOpenAIServer) -> None:
    fake_openai.enqueue(
        Scripted(status=429, body=error_body("slow down"), headers={"retry-after-ms": "300"})
    )
    fake_openai.responder = lambda request: "[[B]]"

    started = time.perf_counter()
    [verdict] = compare_many(judge_config(fake_openai), [("q1", ANSWERS)])

    assert isinstance(verdict, Verdict)
    assert verdict.ranking == ((1,), (0,))
    assert time.perf_counter() - started >= 0.3
    assert len(fake_openai.chat_requests) == 2


def test_failures_come_back_in_place_and_do_not_lose_the_batch(
    fake_openai: FakeOpenAIServer,
) -> None:
    def reply(request: dict[str, Any]) -> str | Scripted:
        content = request["messages"][-1]["content"]
        if "bad" in content:
            return Scripted(status=400, body=error_body("bad request"))
        if "down" in content:
            return Scripted(status=503, body=error_body("down", kind="server_error"))
        return "answer"

    fake_openai.responder = reply
    config = {"base_url": fake_openai.base_url, "model": "gen-1"}
    policy = RetryPolicy(max_attempts=3, base_delay=0.01, rng=random.Random(0))

    ok, bad, down = generate_many(config, ["fine", "bad", "down"], retry=policy)

    assert isinstance(ok, Generation) and ok.text == "answer"
    assert isinstance(bad, PermanentError)
    assert isinstance(down, TransientError)
    requests = [r["messages"][-1]["content"] for r in fake_openai.chat_requests]
    assert sorted(requests) == ["bad", "down", "down", "down", "fine"]  # 3 attempts, 1 for 400


def test_generations_report_the_usage_the_server_reported(fake_openai: FakeOpenAIServer) -> None:
    fake_openai.responder = lambda request: "two words"
    config = {
        "base_url": fake_openai.base_url,
        "model": "gen-1",
        "generation": {"price_in": 1.0, "price_out": 2.0},
    }

    results = generate_many(config, ["one", "one two", "one two three"], concurrency=3)

    assert [(r.prompt_tokens, r.completion_tokens) for r in results] == [  # type: ignore[union-attr]
        (1, 2),
        (2, 2),
        (3, 2),
    ]
    assert results[2].cost == (3 * 1.0 + 2 * 2.0) / 1_000_000  # type: ignore[union-attr]

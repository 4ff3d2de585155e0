"""Per-endpoint limits: concurrency, requests/min and tokens/min shared by every client."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from judges.backends.base import Answer, PermanentError, TransientError
from judges.backends.openai_http import OpenAICompatGenerator
from judges.backends.openai_judge import OpenAICompatJudge
from judges.limits import LIMITERS, EndpointLimiter, EndpointLimits, TokenBucket
from tests.judges.fake_openai import FakeOpenAIServer, Scripted, error_body


class FakeTime:
    """A clock that only moves when someone sleeps, and a record of every sleep."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []
        self.on_sleep: Any = None

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        if self.on_sleep is not None:
            self.on_sleep()
        self.sleeps.append(seconds)
        self.now += seconds


def install_limiter(
    server: FakeOpenAIServer, model: str, **limits: Any
) -> tuple[EndpointLimiter, FakeTime]:
    fake = FakeTime()
    limiter = EndpointLimiter(EndpointLimits(**limits), clock=fake.clock, sleep=fake.sleep)
    LIMITERS.install(server.base_url, model, limiter)
    return limiter, fake


def generator(server: FakeOpenAIServer, model: str = "gen-1", **generation: Any) -> Any:
    return OpenAICompatGenerator(base_url=server.base_url, model=model, generation=generation)


# -- settings -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("max_concurrency", 0),
        ("max_concurrency", 2.5),
        ("max_concurrency", True),
        ("max_concurrency", "4"),
        ("rpm", 0),
        ("rpm", -5),
        ("rpm", float("nan")),
        ("rpm", "60"),
        ("tpm", False),
        ("tpm", float("inf")),
    ],
)
def test_bad_limit_values_are_refused_by_generators_and_judges(key: str, value: object) -> None:
    with pytest.raises(PermanentError, match=key):
        OpenAICompatGenerator(base_url="http://127.0.0.1:9/v1", model="m", generation={key: value})
    with pytest.raises(PermanentError, match=key):
        OpenAICompatJudge(base_url="http://127.0.0.1:9/v1", model="m", settings={key: value})


def test_limit_keys_pace_the_calls_but_are_never_sent(fake_openai: FakeOpenAIServer) -> None:
    gen = generator(fake_openai, max_concurrency=4, rpm=600, tpm=100_000.5, temperature=0.2)
    judge = OpenAICompatJudge(
        base_url=fake_openai.base_url, model="judge-1", settings={"rpm": 60, "tpm": 10_000}
    )
    fake_openai.reply_with("hello", "[[A]]")

    gen.generate("hi")
    judge.compare("q", (Answer("a"), Answer("b")))

    for request in fake_openai.chat_requests:
        assert not {"max_concurrency", "rpm", "tpm"} & set(request)
    assert fake_openai.chat_requests[0]["temperature"] == 0.2
    assert LIMITERS.get(fake_openai.base_url, "gen-1") is not None
    assert LIMITERS.get(fake_openai.base_url + "/", "judge-1") is not None


# -- token buckets ----------------------------------------------------------------------------


def test_a_bucket_allows_a_minutes_burst_then_one_unit_per_refill_interval() -> None:
    bucket = TokenBucket(60, now=0.0)

    waits = [bucket.reserve(1, now=0.0) for _ in range(62)]

    assert waits[:60] == [0.0] * 60
    assert waits[60:] == pytest.approx([1.0, 2.0])
    # Half a minute repays the debt of 2 and refills 28 more.
    assert bucket.reserve(1, now=30.0) == 0.0
    assert bucket.level == pytest.approx(27.0)


def test_requests_beyond_rpm_wait_for_the_bucket_without_sending_early(
    fake_openai: FakeOpenAIServer,
) -> None:
    limiter, fake = install_limiter(fake_openai, "gen-1", rpm=2)
    gen = generator(fake_openai)

    for _ in range(4):
        gen.generate("hi")

    # 2 per minute: a burst of 2, then one every 30 s.
    assert fake.sleeps == pytest.approx([30.0, 30.0])
    assert len(fake_openai.chat_requests) == 4


def test_a_call_sleeping_for_its_rate_holds_no_concurrency_slot(
    fake_openai: FakeOpenAIServer,
) -> None:
    limiter, fake = install_limiter(fake_openai, "gen-1", rpm=1, max_concurrency=1)
    slots_held_while_sleeping: list[int] = []
    fake.on_sleep = lambda: slots_held_while_sleeping.append(limiter.in_flight)
    gen = generator(fake_openai)

    gen.generate("one")
    gen.generate("two")

    assert fake.sleeps == pytest.approx([60.0])
    assert slots_held_while_sleeping == [0]
    assert limiter.in_flight == 0


def test_tokens_are_charged_by_estimate_then_corrected_to_the_reported_usage(
    fake_openai: FakeOpenAIServer,
) -> None:
    limiter, _ = install_limiter(fake_openai, "gen-1", tpm=10_000)
    gen = generator(fake_openai, max_tokens=500)
    estimates: list[float | None] = []
    fake_openai.responder = lambda request: (
        estimates.append(limiter.available()[1]) or "four words of answer"
    )

    generation = gen.generate("a prompt of six words here")

    used = generation.prompt_tokens + generation.completion_tokens
    assert used == 10  # the fake server counts whitespace words: 6 + 4
    # While in flight: the estimate (26 chars / 4 + 1 + max_tokens 500) was charged.
    assert estimates == [10_000 - (26 // 4 + 1 + 500)]
    assert limiter.available()[1] == 10_000 - used


def test_a_failed_call_is_refunded_its_tokens_but_still_counts_as_a_request(
    fake_openai: FakeOpenAIServer,
) -> None:
    limiter, _ = install_limiter(fake_openai, "gen-1", rpm=100, tpm=10_000)
    fake_openai.enqueue(Scripted(status=500, body=error_body("boom", kind="server_error")))

    with pytest.raises(TransientError):
        generator(fake_openai, max_tokens=100).generate("hello")

    assert limiter.available() == (99, 10_000)
    assert limiter.in_flight == 0


def test_a_429_retry_after_pauses_every_client_of_the_endpoint(
    fake_openai: FakeOpenAIServer,
) -> None:
    limiter, fake = install_limiter(fake_openai, "gen-1", rpm=1000)
    fake_openai.enqueue(
        Scripted(status=429, body=error_body("slow down"), headers={"retry-after": "7"})
    )
    first, second = generator(fake_openai), generator(fake_openai, temperature=0.5)

    with pytest.raises(TransientError) as caught:
        first.generate("hi")
    second.generate("hi")

    assert caught.value.retry_after == 7.0
    assert fake.sleeps == pytest.approx([7.0])


# -- concurrency, with real threads and a real (fake) server ---------------------------------


def slow(server: FakeOpenAIServer, seconds: float) -> None:
    server.responder = lambda request: Scripted(content="[[A]]", delay_s=seconds)


def test_max_concurrency_is_shared_by_every_client_of_the_same_endpoint(
    fake_openai: FakeOpenAIServer,
) -> None:
    slow(fake_openai, 0.15)
    clients = [
        generator(fake_openai, "shared", max_concurrency=2),
        generator(fake_openai, "shared", temperature=0.1),
        OpenAICompatJudge(base_url=fake_openai.base_url, model="shared", settings={"cache": False}),
    ]

    def call(i: int) -> None:
        client = clients[i % 3]
        if isinstance(client, OpenAICompatJudge):
            client.compare(f"q{i}", (Answer("a"), Answer("b")))
        else:
            client.generate(f"p{i}")

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(call, range(8)))

    assert len(fake_openai.chat_requests) == 8
    assert fake_openai.max_in_flight == 2


def test_another_model_on_the_same_server_has_its_own_budget(
    fake_openai: FakeOpenAIServer,
) -> None:
    # Each reply waits until all 4 are being answered: a limit of 1 would time it out.
    everyone = threading.Barrier(4, timeout=10)
    fake_openai.responder = lambda request: everyone.wait() and "ok" or "ok"
    generator(fake_openai, "limited", max_concurrency=1)
    free = generator(fake_openai, "free")

    def call(i: int) -> None:
        free.generate(f"p{i}")

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(call, range(4)))

    assert fake_openai.max_in_flight == 4


def test_a_client_without_limit_keys_keeps_to_the_limit_of_its_endpoint(
    fake_openai: FakeOpenAIServer,
) -> None:
    slow(fake_openai, 0.1)
    generator(fake_openai, "gen-1", max_concurrency=3)  # e.g. the contestant's own client
    unlimited = generator(fake_openai, "gen-1")

    with ThreadPoolExecutor(max_workers=9) as pool:
        results = list(pool.map(unlimited.generate, [f"p{i}" for i in range(9)]))

    assert all(r.text == "[[A]]" for r in results)
    assert fake_openai.max_in_flight == 3
    assert LIMITERS.get(fake_openai.base_url, "gen-1").in_flight == 0  # type: ignore[union-attr]

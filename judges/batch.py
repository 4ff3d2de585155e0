"""Many model calls at once from one thread: an asyncio path for batches.

A Celery worker with the default prefork pool makes one call at a time per process, and
a judge call spends nearly all of its time waiting for the server. Two ways to keep many
requests in flight from one worker process (both measured in
benchmarks/judge_throughput.py):

- this module: ``async_compare_many`` / ``async_generate_many`` run up to ``concurrency``
  calls at once through ``openai.AsyncOpenAI``, with the same request building, error
  mapping, verdict cache and per-endpoint limits (judges.limits) as the sync clients. A
  sync caller (a Celery task) uses ``compare_many`` / ``generate_many``, which run the
  batch in a fresh event loop;
- the sync clients from a thread pool, e.g. a worker started with
  ``celery worker --pool threads -c 64``: the clients are thread-safe, and every thread
  shares the endpoint's limiter.

On the 2-core test machine at C = 64 the thread pool reached 84% of the ideal C / latency
and this async path 33–64%: one event loop needs most of a core at that rate, which a
busy machine does not give one thread (benchmarks/README.md, "Judge throughput").

Results come back in input order; a call that failed for good is returned in place as its
:class:`~judges.backends.base.BackendError` rather than raised, so one bad item does not
lose the batch. Transient errors (timeouts, 429, 5xx) are retried up to ``max_attempts``
times, waiting what the server's Retry-After says, else exponential backoff with full
jitter; a call waiting to retry gives its place to the next one.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

from judges.backends.base import Answer, BackendError, Generation, TransientError, Verdict
from judges.backends.openai_compat import OpenAICompatGenerator, OpenAICompatJudge

__all__ = [
    "RetryPolicy",
    "async_compare_many",
    "async_generate_many",
    "compare_many",
    "generate_many",
]

_R = TypeVar("_R")

# (index in the input, result or final error) as each call finishes: the hook where a
# caller stores results as they come instead of waiting for the whole batch.
OnResult = Callable[[int, Any], None]

CompareItem = tuple[str, Sequence[Answer]]


class RetryPolicy:
    def __init__(
        self,
        max_attempts: int = 3,
        base_delay: float = 0.5,
        max_delay: float = 30.0,
        rng: random.Random | None = None,
    ) -> None:
        if max_attempts < 1:
            raise ValueError(f"max_attempts must be >= 1, got {max_attempts}")
        self.max_attempts = max_attempts
        self.base_delay = base_delay
        self.max_delay = max_delay
        self._rng = rng or random.Random()

    def delay(self, attempt: int, error: TransientError) -> float:
        if error.retry_after is not None:
            return min(error.retry_after, self.max_delay)
        return self._rng.uniform(0, min(self.max_delay, self.base_delay * 2 ** (attempt - 1)))


async def _call_with_retries(
    call: Callable[[], Awaitable[_R]], slots: asyncio.Semaphore, policy: RetryPolicy
) -> _R | BackendError:
    attempt = 1
    while True:
        async with slots:
            try:
                return await call()
            except TransientError as exc:
                if attempt >= policy.max_attempts:
                    return exc
                wait = policy.delay(attempt, exc)
            except BackendError as exc:
                return exc
        # Outside the slot: a call waiting to retry does not block a ready one.
        await asyncio.sleep(wait)
        attempt += 1


async def _run_all(
    calls: Sequence[Callable[[], Awaitable[_R]]],
    concurrency: int,
    policy: RetryPolicy,
    on_result: OnResult | None,
) -> list[_R | BackendError]:
    if concurrency < 1:
        raise ValueError(f"concurrency must be >= 1, got {concurrency}")
    slots = asyncio.Semaphore(concurrency)

    async def one(index: int, call: Callable[[], Awaitable[_R]]) -> _R | BackendError:
        result = await _call_with_retries(call, slots, policy)
        if on_result is not None:
            on_result(index, result)
        return result

    return list(await asyncio.gather(*(one(i, c) for i, c in enumerate(calls))))


def _judge(config: OpenAICompatJudge | Mapping[str, Any]) -> OpenAICompatJudge:
    return config if isinstance(config, OpenAICompatJudge) else OpenAICompatJudge(**config)


def _generator(config: OpenAICompatGenerator | Mapping[str, Any]) -> OpenAICompatGenerator:
    if isinstance(config, OpenAICompatGenerator):
        return config
    return OpenAICompatGenerator(**config)


async def async_compare_many(
    judge_config: OpenAICompatJudge | Mapping[str, Any],
    items: Sequence[CompareItem],
    concurrency: int = 16,
    *,
    retry: RetryPolicy | None = None,
    on_result: OnResult | None = None,
) -> list[Verdict | BackendError]:
    """Judge every (prompt, answers) item, up to ``concurrency`` calls at once.

    ``judge_config`` is a judge or the keyword arguments of ``OpenAICompatJudge``
    (base_url, model, api_key_env, settings, timeout)."""
    judge = _judge(judge_config)
    endpoint = judge.async_endpoint(concurrency)
    try:
        calls = [
            (lambda p=prompt, a=answers: judge.compare_async(p, a, endpoint))
            for prompt, answers in items
        ]
        return await _run_all(calls, concurrency, retry or RetryPolicy(), on_result)
    finally:
        await endpoint.aclose()


async def async_generate_many(
    generator_config: OpenAICompatGenerator | Mapping[str, Any],
    prompts: Sequence[str],
    concurrency: int = 16,
    *,
    retry: RetryPolicy | None = None,
    on_result: OnResult | None = None,
) -> list[Generation | BackendError]:
    """Answer every prompt, up to ``concurrency`` calls at once.

    ``generator_config`` is a generator or the keyword arguments of
    ``OpenAICompatGenerator`` (base_url, model, api_key_env, generation, timeout)."""
    generator = _generator(generator_config)
    endpoint = generator.async_endpoint(concurrency)
    try:
        calls = [(lambda p=prompt: generator.generate_async(p, endpoint)) for prompt in prompts]
        return await _run_all(calls, concurrency, retry or RetryPolicy(), on_result)
    finally:
        await endpoint.aclose()


def compare_many(
    judge_config: OpenAICompatJudge | Mapping[str, Any],
    items: Sequence[CompareItem],
    concurrency: int = 16,
    *,
    retry: RetryPolicy | None = None,
    on_result: OnResult | None = None,
) -> list[Verdict | BackendError]:
    """:func:`async_compare_many` for sync callers (a Celery task): runs its own loop."""
    return asyncio.run(
        async_compare_many(judge_config, items, concurrency, retry=retry, on_result=on_result)
    )


def generate_many(
    generator_config: OpenAICompatGenerator | Mapping[str, Any],
    prompts: Sequence[str],
    concurrency: int = 16,
    *,
    retry: RetryPolicy | None = None,
    on_result: OnResult | None = None,
) -> list[Generation | BackendError]:
    """:func:`async_generate_many` for sync callers: runs its own event loop."""
    return asyncio.run(
        async_generate_many(
            generator_config, prompts, concurrency, retry=retry, on_result=on_result
        )
    )

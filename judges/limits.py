"""Per-endpoint limits: concurrency, requests per minute and tokens per minute.

Providers limit an API key per model, and a local server (vLLM, llama.cpp) has a number of
slots; every client of the same endpoint (base_url + model) in one process must share one
budget, whichever client (a contestant's generator, a judge) and thread calls. So
clients register the limits from their settings here and look the endpoint's limiter up
at every call.

Settings keys (generation settings of a generator, judge settings of a judge), all
optional, ``None`` meaning "no limit":

- ``max_concurrency`` (int >= 1): requests in flight at once;
- ``rpm`` (number > 0): requests per minute;
- ``tpm`` (number > 0): tokens (prompt + completion) per minute. Each call is charged an
  estimate before it is sent (prompt characters / 4 + ``max_tokens``) and corrected by the
  usage the server reports after it (a failed call is refunded).

When two clients of the same endpoint configure different limits, the latest one wins
(applied in place, so requests in flight stay counted); a client without limit keys uses
whatever the endpoint has.

RPM and TPM are token buckets that hold one minute's worth (a full bucket allows a burst
of ``rpm`` requests, as a provider's rolling minute does) and refill continuously. They
work by reservation: a call takes its share at once, possibly into debt, and waits until
the debt is repaid. That wait happens BEFORE the concurrency slot is taken, so a call
sleeping for its rate never holds a slot that a ready call could use. A 429 whose
Retry-After says how long to wait pauses the whole endpoint for that long.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from judges.backends.base import PermanentError

__all__ = [
    "LIMIT_KEYS",
    "LIMITERS",
    "EndpointLimiter",
    "EndpointLimits",
    "LimiterRegistry",
    "TokenBucket",
    "estimate_tokens",
    "limits_from_settings",
]

LIMIT_KEYS = ("max_concurrency", "rpm", "tpm")

Clock = Callable[[], float]

# Characters per token: the usual rule of thumb for English with BPE tokenizers. The
# estimate only has to be in the right range; the reported usage corrects it.
_CHARS_PER_TOKEN = 4


@dataclass(frozen=True)
class EndpointLimits:
    max_concurrency: int | None = None
    rpm: float | None = None
    tpm: float | None = None

    @property
    def configured(self) -> bool:
        return any(v is not None for v in (self.max_concurrency, self.rpm, self.tpm))


def _positive_number(settings: Mapping[str, Any], key: str, what: str) -> float | None:
    value = settings.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PermanentError(f"{what} {key!r} must be a number per minute")
    if not math.isfinite(value) or value <= 0:
        raise PermanentError(f"{what} {key!r} must be a finite number > 0, got {value!r}")
    return float(value)


def limits_from_settings(settings: Mapping[str, Any], what: str = "setting") -> EndpointLimits:
    """The limits in a settings mapping; ``what`` names the kind of setting in errors."""
    concurrency = settings.get("max_concurrency")
    if concurrency is not None:
        if isinstance(concurrency, bool) or not isinstance(concurrency, int):
            raise PermanentError(f"{what} 'max_concurrency' must be an integer")
        if concurrency < 1:
            raise PermanentError(f"{what} 'max_concurrency' must be >= 1, got {concurrency}")
    return EndpointLimits(
        max_concurrency=concurrency,
        rpm=_positive_number(settings, "rpm", what),
        tpm=_positive_number(settings, "tpm", what),
    )


def estimate_tokens(messages: Sequence[Mapping[str, str]], params: Mapping[str, Any]) -> int:
    """Tokens a chat call will count against TPM, before it is made."""
    chars = sum(len(str(m.get("content", ""))) for m in messages)
    completion = params.get("max_tokens") or params.get("max_completion_tokens") or 0
    return chars // _CHARS_PER_TOKEN + 1 + int(completion)


class TokenBucket:
    """A bucket of one minute's worth of units, refilled continuously, that may go into
    debt: ``reserve`` takes the units now and says how long to wait until they exist."""

    def __init__(self, per_minute: float, now: float) -> None:
        self.capacity = per_minute
        self.level = per_minute
        self._updated = now

    @property
    def rate(self) -> float:
        return self.capacity / 60.0

    def _refill(self, now: float) -> None:
        elapsed = max(now - self._updated, 0.0)
        self.level = min(self.capacity, self.level + elapsed * self.rate)
        self._updated = now

    def reserve(self, amount: float, now: float) -> float:
        self._refill(now)
        self.level -= amount
        return 0.0 if self.level >= 0 else -self.level / self.rate

    def adjust(self, delta: float, now: float) -> None:
        """Charge ``delta`` more units (or refund them, if negative), without waiting."""
        self._refill(now)
        self.level = min(self.capacity, self.level - delta)

    def reconfigure(self, per_minute: float, now: float) -> None:
        self._refill(now)
        self.level = min(self.level, per_minute)
        self.capacity = per_minute


class _Slots:
    """A counting semaphore for threads, FIFO, whose limit may change while slots are held.

    A waiting thread waits on its own event, taken off the queue when granted."""

    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self.in_use = 0
        self._waiters: deque[threading.Event] = deque()
        self._lock = threading.Lock()

    def acquire(self) -> None:
        with self._lock:
            if self.limit is None or (self.in_use < self.limit and not self._waiters):
                self.in_use += 1
                return
            waiter = threading.Event()
            self._waiters.append(waiter)
        waiter.wait()

    def release(self) -> None:
        with self._lock:
            self.in_use -= 1
            self._grant_waiting()

    def set_limit(self, limit: int | None) -> None:
        with self._lock:
            self.limit = limit
            self._grant_waiting()

    def _grant_waiting(self) -> None:
        # Under the lock. A granted waiter owns its slot from here on.
        while self._waiters and (self.limit is None or self.in_use < self.limit):
            self.in_use += 1
            self._waiters.popleft().set()


class EndpointLimiter:
    """The shared budget of one endpoint. ``clock`` and ``sleep`` are injectable so that
    tests can drive minutes of rate limiting in microseconds."""

    def __init__(
        self,
        limits: EndpointLimits,
        *,
        clock: Clock = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._slots = _Slots(None)
        self._requests: TokenBucket | None = None
        self._tokens: TokenBucket | None = None
        self._paused_until = -math.inf
        self.limits = EndpointLimits()
        self.configure(limits)

    def configure(self, limits: EndpointLimits) -> None:
        with self._lock:
            now = self._clock()
            self._requests = self._bucket(self._requests, limits.rpm, now)
            self._tokens = self._bucket(self._tokens, limits.tpm, now)
            self.limits = limits
        self._slots.set_limit(limits.max_concurrency)

    @staticmethod
    def _bucket(
        bucket: TokenBucket | None, per_minute: float | None, now: float
    ) -> TokenBucket | None:
        if per_minute is None:
            return None
        if bucket is None:
            return TokenBucket(per_minute, now)
        bucket.reconfigure(per_minute, now)
        return bucket

    @property
    def in_flight(self) -> int:
        return self._slots.in_use

    def available(self) -> tuple[float | None, float | None]:
        """(requests, tokens) left in the buckets now; None where there is no such limit."""
        with self._lock:
            now = self._clock()
            return self._level(self._requests, now), self._level(self._tokens, now)

    @staticmethod
    def _level(bucket: TokenBucket | None, now: float) -> float | None:
        if bucket is None:
            return None
        bucket.adjust(0, now)  # refilled up to now
        return bucket.level

    def reserve(self, tokens: int) -> float:
        """Take one request and ``tokens`` from the buckets; seconds to wait before sending."""
        with self._lock:
            now = self._clock()
            wait = max(self._paused_until - now, 0.0)
            if self._requests is not None:
                wait = max(wait, self._requests.reserve(1, now))
            if self._tokens is not None:
                wait = max(wait, self._tokens.reserve(tokens, now))
            return wait

    def acquire(self, tokens: int) -> None:
        # Rate first, slot second: never sleep on the rate while holding a slot.
        wait = self.reserve(tokens)
        if wait > 0:
            self._sleep(wait)
        self._slots.acquire()

    def release(self, *, estimated: int, used: int) -> None:
        """Free the slot and correct the token charge to what the call really used."""
        if self._tokens is not None and used != estimated:
            with self._lock:
                self._tokens.adjust(used - estimated, self._clock())
        self._slots.release()

    def pause(self, seconds: float) -> None:
        """No new request before ``seconds`` from now (a 429's Retry-After)."""
        with self._lock:
            self._paused_until = max(self._paused_until, self._clock() + seconds)


class LimiterRegistry:
    """Endpoint limiters of one process, by (base_url, model)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._limiters: dict[tuple[str, str], EndpointLimiter] = {}

    @staticmethod
    def _key(base_url: str, model: str) -> tuple[str, str]:
        return (base_url.rstrip("/"), model)

    def configure(self, base_url: str, model: str, limits: EndpointLimits) -> None:
        """Apply a client's limits to its endpoint; no-op for a client without limits."""
        if not limits.configured:
            return
        key = self._key(base_url, model)
        with self._lock:
            limiter = self._limiters.get(key)
            if limiter is None:
                self._limiters[key] = EndpointLimiter(limits)
                return
        if limiter.limits != limits:
            limiter.configure(limits)

    def install(self, base_url: str, model: str, limiter: EndpointLimiter) -> None:
        """Use this limiter for the endpoint (tests inject one with a fake clock)."""
        with self._lock:
            self._limiters[self._key(base_url, model)] = limiter

    def get(self, base_url: str, model: str) -> EndpointLimiter | None:
        with self._lock:
            return self._limiters.get(self._key(base_url, model))

    def clear(self) -> None:
        with self._lock:
            self._limiters.clear()


LIMITERS = LimiterRegistry()

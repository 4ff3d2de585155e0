"""The HTTP half of the OpenAI-compatible backends: one chat call to any server, and the
contestant that is one such call.

One code path serves OpenAI itself and local servers (vLLM, llama.cpp, Ollama, ...): only
``base_url`` differs. Calls are synchronous because Celery tasks make them, and the SDK's
own retries are off by default: the tasks own the retry policy (backoff, jitter, budget),
so this module only sorts failures into transient and permanent. How a judge is asked,
repaired and read is judges.backends.openai_judge, which drives any ``ChatEndpoint``.

Secrets: a backend is configured with the NAME of the environment variable that holds its
key, never the key. The key is read when the first request is made, so a web process can
build a backend to validate its settings without holding the key, and it is scrubbed from
every error message this module raises.
"""

from __future__ import annotations

import email.utils
import functools
import importlib
import itertools
import math
import os
import ssl
import threading
import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

import openai

from judges.backends.base import BackendError, Generation, PermanentError, TransientError
from judges.costs import PRICE_KEYS, Price, price_from_settings
from judges.limits import LIMIT_KEYS, LIMITERS, estimate_tokens, limits_from_settings
from judges.logprobs import TokenLogprob

__all__ = [
    "GENERATION_KEYS",
    "ChatReply",
    "HTTPChatEndpoint",
    "OpenAICompatGenerator",
    "retry_after_seconds",
    "translate_error",
]

_EMPTY: Mapping[str, Any] = MappingProxyType({})

# Local servers ignore Authorization, but the SDK refuses to build a client without a key.
_NO_KEY = "no-key-needed"

# Sampling parameters passed straight to chat.completions. "system" becomes a system
# message and "extra_body" carries server-specific knobs (vLLM's top_k, min_p, ...).
# Anything else is refused: a typo like "temprature" must not silently run with defaults.
GENERATION_KEYS = frozenset(
    {
        "temperature",
        "top_p",
        "max_tokens",
        "max_completion_tokens",
        "seed",
        "stop",
        "presence_penalty",
        "frequency_penalty",
        "logit_bias",
        "reasoning_effort",
        "system",
        "extra_body",
    }
)

# 408 and 409 (lock contention) are worth another try, like 429 and any 5xx.
_TRANSIENT_STATUSES = frozenset({408, 409, 429})

_MAX_MESSAGE_CHARS = 500

_CHAT_PATH = "/chat/completions"


def _reject_unknown(settings: Mapping[str, Any], allowed: Collection[str], what: str) -> None:
    unknown = sorted(set(settings) - set(allowed))
    if unknown:
        names = ", ".join(repr(k) for k in unknown)
        raise PermanentError(f"unknown {what} {names}; allowed: {', '.join(sorted(allowed))}")


def _read_api_key(env_name: str) -> str:
    if not env_name:
        return _NO_KEY
    value = os.environ.get(env_name, "")
    if not value:
        # Name the variable, which is configuration; the value never appears anywhere.
        raise PermanentError(f"API key environment variable {env_name} is not set or empty")
    return value


def _as_seconds(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return max(seconds, 0.0) if math.isfinite(seconds) else None


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait according to the response headers, or None if they do not say.

    OpenAI sends the non-standard ``retry-after-ms``; HTTP allows ``Retry-After`` as
    seconds or as an HTTP date (RFC 9110, section 10.2.3)."""
    millis = _as_seconds(headers.get("retry-after-ms"))
    if millis is not None:
        return millis / 1000
    raw = headers.get("retry-after")
    seconds = _as_seconds(raw)
    if seconds is not None or raw is None:
        return seconds
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - datetime.now(UTC)).total_seconds(), 0.0)


def _scrub(text: str, secret: str) -> str:
    # Some providers echo (part of) a rejected key in their 401 body.
    if secret and secret != _NO_KEY:
        text = text.replace(secret, "***")
    return text[:_MAX_MESSAGE_CHARS]


def translate_error(exc: openai.OpenAIError, *, secret: str = "") -> BackendError:
    """Sort an SDK exception into transient (retry later) or permanent."""
    message = _scrub(f"{type(exc).__name__}: {exc}", secret)
    if isinstance(exc, openai.APIConnectionError):  # also covers APITimeoutError
        return TransientError(message)
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        if status in _TRANSIENT_STATUSES or status >= 500:
            return TransientError(message, retry_after=retry_after_seconds(exc.response.headers))
    # 400, 401, 403, 404, 422, other 4xx, invalid responses, client misconfiguration.
    return PermanentError(message)


@dataclass(frozen=True)
class ChatReply:
    """One reply of a chat endpoint: this module's, or one that is not HTTP
    (transformers_local)."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    latency_ms: int
    logprobs: tuple[TokenLogprob, ...] = ()
    usage_reported: bool = True

    def generation(self, price: Price) -> Generation:
        """This reply as a contestant's answer, costed at ``price``."""
        return Generation(
            text=self.text,
            prompt_tokens=self.prompt_tokens,
            completion_tokens=self.completion_tokens,
            latency_ms=self.latency_ms,
            cost=price.cost(self.prompt_tokens, self.completion_tokens),
        )


def _token_logprobs(choice: Mapping[str, Any]) -> tuple[TokenLogprob, ...]:
    # Absent unless requested, and some servers return logprobs: null even then.
    content = (choice.get("logprobs") or {}).get("content") or ()
    return tuple(
        TokenLogprob(
            token=entry["token"],
            logprob=entry["logprob"],
            top=tuple((alt["token"], alt["logprob"]) for alt in (entry.get("top_logprobs") or ())),
        )
        for entry in content
    )


def _reply_from(model: str, completion: Any, latency_ms: int) -> ChatReply:
    # The body as parsed JSON, unvalidated: a body of the wrong shape (or not a JSON object
    # at all) surfaces here as key, index or type errors.
    try:
        choice = completion["choices"][0]
        message = choice["message"]
        usage = completion.get("usage")
        return ChatReply(
            # A refusal or a tool call has no content: as an answer, that is empty.
            text=message.get("content") or "",
            prompt_tokens=(usage.get("prompt_tokens") or 0) if usage else 0,
            completion_tokens=(usage.get("completion_tokens") or 0) if usage else 0,
            latency_ms=latency_ms,
            logprobs=_token_logprobs(choice),
            usage_reported=usage is not None,
        )
    except (AttributeError, IndexError, KeyError, TypeError) as exc:
        raise PermanentError(f"{model}: the response is not a chat completion") from exc


def _request_body(
    model: str, messages: Sequence[Mapping[str, str]], params: Mapping[str, Any]
) -> dict[str, Any]:
    """The JSON body ``chat.completions.create`` would send for these arguments.

    Built here and posted with ``client.post`` because ``create`` first walks the whole
    request through the SDK's TypedDict transformer, which was the largest single CPU cost
    of a judge call in benchmarks/judge_throughput.py (see benchmarks/README.md, "Judge
    throughput"). Our params are plain JSON already, so there is nothing to transform;
    ``extra_body`` is merged in as ``create`` does."""
    body: dict[str, Any] = {"model": model, "messages": list(messages), **params}
    extra = body.pop("extra_body", None)
    if extra:
        body.update(extra)
    return body


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """One TLS context for every SDK client of the process.

    Each client otherwise builds its own, loading the whole CA bundle: most of the CPU
    cost of a new client (paid by every match before clients were shared).
    An SSLContext may serve many connections and threads. Built the way the SDK's HTTP
    library builds its default."""
    # By name: only one of the two may be installed, and mypy must pass with either.
    try:
        http = importlib.import_module("httpx2")  # what openai >= 3 is built on
    except ImportError:  # pragma: no cover - older openai releases use httpx
        http = importlib.import_module("httpx")
    context: ssl.SSLContext = http.create_ssl_context()
    return context


def _sync_client(*, base_url: str, api_key: str, timeout: float, max_retries: int) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=base_url,
        api_key=api_key,
        timeout=timeout,
        max_retries=max_retries,
        http_client=openai.DefaultHttpxClient(verify=_tls_context()),
    )


class _Limited:
    """One call's passage through its endpoint's limiter (judges.limits), if it has one."""

    def __init__(
        self, base_url: str, model: str, messages: Sequence[Mapping[str, str]], params: Any
    ) -> None:
        self.limiter = LIMITERS.get(base_url, model)
        self.estimate = estimate_tokens(messages, params) if self.limiter else 0

    def done(self, reply: ChatReply | None, error: BaseException | None) -> None:
        if self.limiter is None:
            return
        if isinstance(error, TransientError) and error.retry_after:
            self.limiter.pause(error.retry_after)
        if reply is None:
            used = 0  # a failed call has no usage: refund its estimate
        elif reply.usage_reported:
            used = reply.prompt_tokens + reply.completion_tokens
        else:
            used = self.estimate
        self.limiter.release(estimated=self.estimate, used=used)


# Threads of one process share this many connection pools per endpoint. httpcore's pool
# holds one lock while it scans all its connections (a poll() each) for every request and
# every response; 64 threads on one pool spent most of their time waiting for that lock
# (benchmarks/README.md, "Judge throughput"). Threads are dealt to the pools in turn, so a
# process with one thread (a prefork Celery worker) keeps using one pool.
_SYNC_POOLS_PER_ENDPOINT = 8

_thread_slot = threading.local()
_next_slot = itertools.count()


def _pool_of_this_thread() -> int:
    slot: int | None = getattr(_thread_slot, "value", None)
    if slot is None:
        slot = _thread_slot.value = next(_next_slot) % _SYNC_POOLS_PER_ENDPOINT
    return slot


class _SharedClients:
    """Sync SDK clients of this process, per (server, key, timeout, retries, pool).

    A Celery task builds a fresh judge or contestant backend for every match
    (arena.services.backends), so a client per backend object meant a new connection
    pool, a new TCP (and TLS) handshake and no keep-alive for every single call. Sharing
    the clients keeps the connections warm across matches. Keyed by process id too: a
    client made before a fork (Celery's prefork pool) must not be used by the children,
    whose copies of its sockets would interleave with the parent's."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._clients: dict[tuple[int, str, str, float, int, int], openai.OpenAI] = {}

    def get(
        self, *, base_url: str, api_key: str, timeout: float, max_retries: int
    ) -> openai.OpenAI:
        key = (
            os.getpid(),
            base_url.rstrip("/"),
            api_key,
            timeout,
            max_retries,
            _pool_of_this_thread(),
        )
        client = self._clients.get(key)  # the common case, without taking the lock
        if client is None:
            with self._lock:
                client = self._clients.get(key)
                if client is None:
                    client = _sync_client(
                        base_url=base_url,
                        api_key=api_key,
                        timeout=timeout,
                        max_retries=max_retries,
                    )
                    self._clients[key] = client
        return client

    def clear(self) -> None:
        """Close every client (tests, and a process that is shutting down)."""
        with self._lock:
            clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            client.close()


_SYNC_CLIENTS = _SharedClients()


class HTTPChatEndpoint:
    """One model on one server; the SDK clients come from _SYNC_CLIENTS (see there)."""

    def __init__(
        self, *, base_url: str, model: str, api_key_env: str, timeout: float, max_retries: int
    ) -> None:
        self.base_url = base_url
        self.model = model
        self.api_key_env = api_key_env
        self.timeout = timeout
        self.max_retries = max_retries
        self._secret: str | None = None

    def _get_client(self) -> openai.OpenAI:
        # Looked up at every call: the calling thread picks its pool (see _SYNC_CLIENTS).
        if self._secret is None:
            self._secret = _read_api_key(self.api_key_env)
        return _SYNC_CLIENTS.get(
            base_url=self.base_url,
            api_key=self._secret,
            timeout=self.timeout,
            max_retries=self.max_retries,
        )

    def complete(
        self, messages: Sequence[Mapping[str, str]], params: Mapping[str, Any]
    ) -> ChatReply:
        client = self._get_client()
        limited = _Limited(self.base_url, self.model, messages, params)
        if limited.limiter is not None:
            limited.limiter.acquire(limited.estimate)
        reply: ChatReply | None = None
        error: BaseException | None = None
        try:
            reply = self._call(client, messages, params)
            return reply
        except BaseException as exc:
            error = exc
            raise
        finally:
            limited.done(reply, error)

    def _call(
        self,
        client: openai.OpenAI,
        messages: Sequence[Mapping[str, str]],
        params: Mapping[str, Any],
    ) -> ChatReply:
        body = _request_body(self.model, messages, params)
        started = time.perf_counter()
        try:
            # cast_to=object: the parsed JSON as is, without building pydantic models.
            completion = client.post(_CHAT_PATH, body=body, cast_to=object)
        except openai.OpenAIError as exc:
            # "from None": the SDK exception holds the request, whose headers hold the key;
            # a chained traceback in a worker log is exactly where it would leak.
            raise translate_error(exc, secret=self._secret or "") from None
        except ValueError as exc:
            # A 200 whose body is not JSON: base_url points at something else (a web page,
            # a proxy's login form). Retrying will not change where it points.
            raise PermanentError(f"{self.model}: the response body is not JSON") from exc
        latency_ms = round((time.perf_counter() - started) * 1000)
        return _reply_from(self.model, completion, latency_ms)

    def close(self) -> None:
        """Nothing to close: the clients are shared with every other endpoint object of
        the same server in this process (see _SharedClients) and stay for the next one."""


class OpenAICompatGenerator:
    """A contestant: one prompt in, one answer out.

    ``generation`` holds sampling parameters (GENERATION_KEYS), prices (``price_in``,
    ``price_out``) and the endpoint's limits (``max_concurrency``, ``rpm``, ``tpm``;
    see judges.limits), which are not sent to the server."""

    def __init__(
        self,
        *,
        base_url: str,
        model: str,
        api_key_env: str = "",
        generation: Mapping[str, Any] = _EMPTY,
        timeout: float = 60.0,
        max_retries: int = 0,
    ) -> None:
        _reject_unknown(
            generation, GENERATION_KEYS | set(PRICE_KEYS) | set(LIMIT_KEYS), "generation setting"
        )
        # Prices describe the call and limits pace it; neither is a request parameter.
        self.price = price_from_settings(generation)
        self.limits = limits_from_settings(generation, "generation setting")
        params = {
            k: v for k, v in generation.items() if k not in PRICE_KEYS and k not in LIMIT_KEYS
        }
        self.system_prompt: str | None = params.pop("system", None)
        if "extra_body" in params and not isinstance(params["extra_body"], Mapping):
            raise PermanentError("generation setting 'extra_body' must be a mapping")
        self.params: Mapping[str, Any] = MappingProxyType(params)
        self._endpoint = HTTPChatEndpoint(
            base_url=base_url,
            model=model,
            api_key_env=api_key_env,
            timeout=timeout,
            max_retries=max_retries,
        )
        LIMITERS.configure(base_url, model, self.limits)

    def _messages(self, prompt: str) -> list[dict[str, str]]:
        messages = [{"role": "user", "content": prompt}]
        if self.system_prompt:
            messages.insert(0, {"role": "system", "content": self.system_prompt})
        return messages

    def generate(self, prompt: str) -> Generation:
        return self._endpoint.complete(self._messages(prompt), self.params).generation(self.price)

    def close(self) -> None:
        self._endpoint.close()

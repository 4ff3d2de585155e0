"""Contestants and judges behind any OpenAI-compatible chat completions API.

One code path serves OpenAI itself and local servers (vLLM, llama.cpp, Ollama, ...): only
``base_url`` differs. Calls are synchronous because Celery tasks make them, and the SDK's
own retries are off by default: the tasks own the retry policy (backoff, jitter, budget),
so this module only sorts failures into transient and permanent.

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
from collections.abc import Callable, Collection, Generator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, Protocol, TypeVar, cast

import openai

from judges.backends.base import (
    Answer,
    BackendError,
    Generation,
    PermanentError,
    Ranking,
    RawOutput,
    TransientError,
    Verdict,
)
from judges.cache import VerdictCache, cache_key, default_verdict_cache, served_from_cache
from judges.costs import PRICE_KEYS, price_from_settings
from judges.fiveway import (
    apply_length_penalty,
    combined_score,
    outcome_of,
    unswap_five_way,
)
from judges.judge_settings import JUDGE_DEFAULTS, NON_SEMANTIC_KEYS, parse_judge_settings
from judges.limits import LIMIT_KEYS, LIMITERS, estimate_tokens, limits_from_settings
from judges.listwise import (
    MAX_ANSWERS,
    labels_for,
    presentation_order,
    ranking_from_letters,
    render_listwise,
    repair_message,
)
from judges.logprobs import (
    TokenLogprob,
    average_probabilities,
    label_probabilities,
    most_likely,
    swap_probabilities,
)
from judges.pairwise import combine_votes, ranking_of, render_pairwise, unswap
from judges.parsing import (
    PARSER_VERSION,
    FiveWayVerdict,
    PairwiseVerdict,
    parse_five_way_verdict,
    parse_listwise_ranking,
    parse_pairwise_verdict,
)
from judges.prompts import PromptTemplate, load_template

__all__ = [
    "JUDGE_DEFAULTS",
    "ChatEndpoint",
    "ChatReply",
    "OpenAICompatGenerator",
    "OpenAICompatJudge",
    "UnparseableVerdictError",
    "retry_after_seconds",
    "translate_error",
]

_T = TypeVar("_T")

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


class UnparseableVerdictError(PermanentError):
    """The judge gave no readable verdict, even after the repair prompt.

    Carries the judge's replies (``raw_outputs``: its first, then the repair's) so that the
    match can record what was said."""


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
class _Reply:
    text: str
    prompt_tokens: int
    completion_tokens: int
    latency_ms: int
    logprobs: tuple[TokenLogprob, ...] = ()
    usage_reported: bool = True


# One reply of a chat endpoint; public for endpoints that are not HTTP (transformers_local).
ChatReply = _Reply


class ChatEndpoint(Protocol):
    """What a judge's conversation plan needs: one chat call, and a way to let go."""

    def complete(
        self, messages: Sequence[Mapping[str, str]], params: Mapping[str, Any]
    ) -> _Reply: ...

    def close(self) -> None: ...


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


def _reply_from(model: str, completion: Any, latency_ms: int) -> _Reply:
    # The body as parsed JSON, unvalidated: a body of the wrong shape (or not a JSON object
    # at all) surfaces here as key, index or type errors.
    try:
        choice = completion["choices"][0]
        message = choice["message"]
        usage = completion.get("usage")
        return _Reply(
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

    Each client otherwise builds its own, loading the whole CA bundle: about 25 ms of CPU,
    most of the cost of a new client (paid by every match before clients were shared).
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

    def done(self, reply: _Reply | None, error: BaseException | None) -> None:
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


class _ChatEndpoint:
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

    def complete(self, messages: Sequence[Mapping[str, str]], params: Mapping[str, Any]) -> _Reply:
        client = self._get_client()
        limited = _Limited(self.base_url, self.model, messages, params)
        if limited.limiter is not None:
            limited.limiter.acquire(limited.estimate)
        reply: _Reply | None = None
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
    ) -> _Reply:
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
        self._endpoint = _ChatEndpoint(
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

    def _generation(self, reply: _Reply) -> Generation:
        return Generation(
            text=reply.text,
            prompt_tokens=reply.prompt_tokens,
            completion_tokens=reply.completion_tokens,
            latency_ms=reply.latency_ms,
            cost=self.price.cost(reply.prompt_tokens, reply.completion_tokens),
        )

    def generate(self, prompt: str) -> Generation:
        return self._generation(self._endpoint.complete(self._messages(prompt), self.params))

    def close(self) -> None:
        self._endpoint.close()


# A judge's conversation as a generator: it yields the messages of each call it needs,
# is sent back the reply, and returns its result. ``compare`` drives it through whatever
# endpoint the judge has (HTTP, or an in-process model), so the conversation is written
# once, apart from the transport.
_Plan = Generator[list[dict[str, str]], _Reply, _T]


@dataclass(frozen=True)
class _Reading:
    """One judge call (plus its repair, if any), mapped to the caller's answer order.

    ``vote`` is a 3-way or 5-way label depending on the template; ``probabilities`` are
    there only with logprobs on and the verdict letter found among the top alternatives."""

    vote: str
    raw_output: str
    prompt_tokens: int
    completion_tokens: int
    latency_ms: int
    probabilities: dict[str, float] | None = None


def _usage(replies: Sequence[_Reply]) -> dict[str, int]:
    return {
        "prompt_tokens": sum(r.prompt_tokens for r in replies),
        "completion_tokens": sum(r.completion_tokens for r in replies),
        "latency_ms": sum(r.latency_ms for r in replies),
    }


class OpenAICompatJudge:
    """An LLM judge behind an OpenAI-compatible API; answers are judged blind and fenced.

    Two answers: a pairwise template, 3-way ([[A]]/[[B]]/[[C]], MT-Bench style) or 5-way
    ([[A>>B]] ... [[B>>A]], Arena-Hard style). With ``both_orders`` the pair is judged twice
    with the answers swapped, the usual remedy for position bias (Zheng et al. 2023); a
    disagreement counts as a tie unless ``order_disagreement`` is "average".
    Three to eight answers: a listwise template ranking them in tiers in one call.
    The settings keys and their defaults are ``judges.judge_settings.JUDGE_DEFAULTS``."""

    def __init__(
        self,
        *,
        base_url: str,
        model: str,
        api_key_env: str = "",
        settings: Mapping[str, Any] = _EMPTY,
        timeout: float = 120.0,
        cache: VerdictCache | None = None,
        cache_scope: str | None = None,
        endpoint: ChatEndpoint | None = None,
    ) -> None:
        """``endpoint`` replaces the HTTP endpoint (an in-process model, say); the
        conversation, parsing and caching stay the same. ``cache_scope`` names the one
        comparison this judge is built for (a match), whose retry the verdict cache may
        answer; without it every comparison calls the model (judges.cache)."""
        self.settings = parse_judge_settings(settings)
        self.base_url = base_url
        self.model = model
        # What determines a verdict, for the cache key: the settings as they take effect
        # (defaults filled in, so an explicit default and an omitted key are the same).
        self._semantic_settings = {
            k: v for k, v in {**JUDGE_DEFAULTS, **settings}.items() if k not in NON_SEMANTIC_KEYS
        }
        self._cache = cache
        self.cache_scope = cache_scope
        self.template = load_template(self.settings.template)
        self.listwise_template = load_template(self.settings.listwise_template)
        self._check_templates()
        self.both_orders: bool = self.settings.both_orders
        self.params: Mapping[str, Any] = MappingProxyType(self.settings.request_params())
        self._endpoint: ChatEndpoint = endpoint or _ChatEndpoint(
            base_url=base_url, model=model, api_key_env=api_key_env, timeout=timeout, max_retries=0
        )
        LIMITERS.configure(base_url, model, self.settings.limits)

    def _params_for(self, answers: Sequence[Answer]) -> Mapping[str, Any]:
        """Request parameters for this comparison (a subclass may vary them)."""
        return self.params

    def _check_templates(self) -> None:
        # Combinations that would silently do nothing are refused when the judge is built.
        pairwise = self.template.verdict_format
        if pairwise not in ("pairwise_3way", "pairwise_5way"):
            raise PermanentError(f"judge setting 'template': {self.template.name} is not pairwise")
        if self.listwise_template.verdict_format != "listwise":
            raise PermanentError(
                f"judge setting 'listwise_template': {self.listwise_template.name} is not listwise"
            )
        if self.settings.logprobs and pairwise != "pairwise_3way":
            raise PermanentError("judge setting 'logprobs' needs a 3-way template")
        if self.settings.length_penalty_chars is not None and pairwise != "pairwise_5way":
            # Only a 5-way verdict knows a slight win from a strong one.
            raise PermanentError("judge setting 'length_penalty_chars' needs a 5-way template")
        averaging = self.settings.order_disagreement == "average"
        if averaging and pairwise == "pairwise_3way" and not self.settings.logprobs:
            raise PermanentError(
                "judge setting 'order_disagreement': 'average' needs 'logprobs' "
                "or a 5-way template (a 3-way vote has nothing to average)"
            )

    @property
    def template_name(self) -> str:
        return self.template.name

    @property
    def template_hash(self) -> str:
        """sha256 of the pairwise template file, for a tournament to record what its judge saw."""
        return self.template.sha256

    @property
    def listwise_template_hash(self) -> str:
        return self.listwise_template.sha256

    def compare(self, prompt: str, answers: Sequence[Answer]) -> Verdict:
        plan = self._plan(prompt, answers)
        key = self.cache_key(prompt, answers)
        cache = self._active_cache()
        hit = cache.get(key) if cache is not None else None
        if hit is not None:
            return served_from_cache(hit)
        params = self._params_for(answers)
        replies: list[_Reply] = []
        try:
            request = next(plan)
            while True:
                replies.append(self._endpoint.complete(request, params))
                request = plan.send(replies[-1])
        except StopIteration as done:
            verdict: Verdict = done.value
        except BackendError as error:
            error.cost += self._cost(replies)
            raise
        if cache is not None:
            cache.set(key, verdict)
        return verdict

    def _cost(self, replies: Sequence[_Reply]) -> float:
        usage = _usage(replies)
        return self.settings.price.cost(usage["prompt_tokens"], usage["completion_tokens"])

    def _active_cache(self) -> VerdictCache | None:
        if not self.settings.cache or self.cache_scope is None:
            return None
        return self._cache if self._cache is not None else default_verdict_cache()

    def cache_key(self, prompt: str, answers: Sequence[Answer]) -> str:
        """The verdict cache key of this request (see judges.cache)."""
        return cache_key(
            {
                "v": 2,
                "scope": self.cache_scope,
                "parser": PARSER_VERSION,
                "base_url": self.base_url.rstrip("/"),
                "model": self.model,
                "prompt": prompt,
                # Authors never reach the judge, so they do not change its verdict.
                "answers": [a.text for a in answers],
                "template": self.template.sha256,
                "listwise_template": self.listwise_template.sha256,
                "settings": self._semantic_settings,
            }
        )

    def _plan(self, prompt: str, answers: Sequence[Answer]) -> _Plan[Verdict]:
        # Checked before the plan starts, so that a bad request fails without a call.
        if len(answers) == 2:
            return self._compare_pair(prompt, answers[0], answers[1])
        if 2 < len(answers) <= MAX_ANSWERS:
            return self._compare_list(prompt, answers)
        raise PermanentError(f"this judge compares 2 to {MAX_ANSWERS} answers, got {len(answers)}")

    # -- the conversation ---------------------------------------------------------------

    def _ask(
        self,
        messages: list[dict[str, str]],
        parse: Callable[[str], _T | None],
        repair_text: str,
        expected: str,
    ) -> _Plan[tuple[_T, list[_Reply]]]:
        """One call, and one repair turn if its verdict cannot be read; else an error."""
        replies = [(yield messages)]
        parsed = parse(replies[0].text)
        if parsed is None:
            # In the same conversation, so the judge keeps its reasoning.
            repair = [
                *messages,
                {"role": "assistant", "content": replies[0].text},
                {"role": "user", "content": repair_text},
            ]
            replies.append((yield repair))
            parsed = parse(replies[-1].text)
        if parsed is None:
            raise UnparseableVerdictError(
                f"judge output has no {expected} after one repair prompt",
                raw_outputs=[
                    RawOutput(call, reply.text)
                    for call, reply in zip(("judge", "repair"), replies, strict=True)
                ],
            )
        return parsed, replies

    @staticmethod
    def _raw(replies: Sequence[_Reply]) -> str:
        return "\n--- repair ---\n".join(r.text for r in replies)

    def _verdict(
        self, ranking: Ranking, replies_usage: Mapping[str, int], **fields: Any
    ) -> Verdict:
        return Verdict(
            ranking=ranking,
            prompt_tokens=replies_usage["prompt_tokens"],
            completion_tokens=replies_usage["completion_tokens"],
            latency_ms=replies_usage["latency_ms"],
            cost=self.settings.price.cost(
                replies_usage["prompt_tokens"], replies_usage["completion_tokens"]
            ),
            **fields,
        )

    # -- pairwise -------------------------------------------------------------------------

    @property
    def _five_way(self) -> bool:
        return self.template.verdict_format == "pairwise_5way"

    def _compare_pair(self, prompt: str, first: Answer, second: Answer) -> _Plan[Verdict]:
        # Only the texts go in: Answer.author must never reach the judge.
        readings = [(yield from self._read(prompt, first.text, second.text, swapped=False))]
        if self.both_orders:
            try:
                swapped = yield from self._read(prompt, second.text, first.text, swapped=True)
            except UnparseableVerdictError as error:
                # What the judge said in the first order is part of the story: keep it too.
                swapped_outputs = [
                    RawOutput(f"answers swapped: {o.call}", o.text) for o in error.raw_outputs
                ]
                raise UnparseableVerdictError(
                    f"answers swapped: {error}",
                    raw_outputs=[
                        RawOutput("answers in order", readings[0].raw_output),
                        *swapped_outputs,
                    ],
                ) from None
            readings.append(swapped)
        extra: dict[str, object] = {
            "votes": [r.vote for r in readings],
            "template": self.template.name,
            "template_hash": self.template.sha256,
        }
        if self._five_way:
            ranking, probabilities = self._five_way_ranking(readings, first, second, extra), None
        else:
            ranking, probabilities = self._three_way_ranking(readings, extra)
        usage = {
            key: sum(getattr(r, key) for r in readings)
            for key in ("prompt_tokens", "completion_tokens", "latency_ms")
        }
        return self._verdict(
            ranking,
            usage,
            probabilities=probabilities,
            raw_output=self._join_raw(readings),
            extra=extra,
        )

    def _five_way_ranking(
        self,
        readings: Sequence[_Reading],
        first: Answer,
        second: Answer,
        extra: dict[str, object],
    ) -> Ranking:
        votes = [cast(FiveWayVerdict, r.vote) for r in readings]
        outcome = outcome_of(combined_score(votes, self.settings.order_disagreement))
        outcome = apply_length_penalty(
            outcome, (len(first.text), len(second.text)), self.settings.length_penalty_chars
        )
        extra["margin"] = outcome.margin
        extra["length_penalty_applied"] = outcome.length_penalty_applied
        return outcome.ranking

    def _three_way_ranking(
        self, readings: Sequence[_Reading], extra: dict[str, object]
    ) -> tuple[Ranking, dict[str, float] | None]:
        votes = [cast(PairwiseVerdict, r.vote) for r in readings]
        vote = votes[0] if len(votes) == 1 else combine_votes(votes[0], votes[1])
        if not self.settings.logprobs:
            return ranking_of(vote), None
        found = [r.probabilities for r in readings if r.probabilities is not None]
        if len(found) != len(readings):
            # Half a distribution would be biased towards the order that reported one.
            extra["probabilities_missing"] = True
            return ranking_of(vote), None
        probabilities = average_probabilities(found)
        if len(readings) == 2 and self.settings.order_disagreement == "average":
            vote = cast(PairwiseVerdict, most_likely(probabilities))
        return ranking_of(vote), probabilities

    def _read(
        self, question: str, answer_a: str, answer_b: str, *, swapped: bool
    ) -> _Plan[_Reading]:
        messages = render_pairwise(
            self.template, question=question, answer_a=answer_a, answer_b=answer_b
        )
        vote: str
        if self._five_way:
            found, replies = yield from self._ask(
                messages, parse_five_way_verdict, self.template.repair, "[[A>>B]]..[[B>>A]] verdict"
            )
            five = cast(FiveWayVerdict, found)  # mypy widens the Literal through the TypeVar
            vote = unswap_five_way(five) if swapped else five
            probabilities = None
        else:
            said, replies = yield from self._ask(
                messages, parse_pairwise_verdict, self.template.repair, "[[A]]/[[B]]/[[C]] verdict"
            )
            three = cast(PairwiseVerdict, said)
            vote = unswap(three) if swapped else three
            probabilities = self._probabilities(replies[-1], swapped=swapped)
        return _Reading(
            vote=vote,
            raw_output=self._raw(replies),
            probabilities=probabilities,
            **_usage(replies),
        )

    def _probabilities(self, reply: _Reply, *, swapped: bool) -> dict[str, float] | None:
        if not self.settings.logprobs:
            return None
        probabilities = label_probabilities(reply.logprobs, reply.text)
        if probabilities is not None and swapped:
            probabilities = swap_probabilities(probabilities)
        return probabilities

    @staticmethod
    def _join_raw(readings: Sequence[_Reading]) -> str:
        if len(readings) == 1:
            return readings[0].raw_output
        original, swapped = readings
        return (
            "=== order A,B ===\n"
            f"{original.raw_output}\n"
            "=== order B,A (answers swapped) ===\n"
            f"{swapped.raw_output}"
        )

    # -- listwise -------------------------------------------------------------------------

    def _compare_list(self, prompt: str, answers: Sequence[Answer]) -> _Plan[Verdict]:
        texts = [a.text for a in answers]
        order = presentation_order(
            prompt, texts, shuffle=self.settings.shuffle, seed=self.settings.seed
        )
        template: PromptTemplate = self.listwise_template
        messages = render_listwise(
            template, question=prompt, texts_in_order=[texts[i] for i in order]
        )
        labels = labels_for(len(answers))
        tiers, replies = yield from self._ask(
            messages,
            lambda text: parse_listwise_ranking(text, labels),
            repair_message(template, len(answers)),
            "[[RANKING: ...]] line naming every answer once",
        )
        return self._verdict(
            ranking_from_letters(tiers, order),
            _usage(replies),
            raw_output=self._raw(replies),
            extra={
                "letter_ranking": " > ".join(" = ".join(tier) for tier in tiers),
                "presentation_order": order,
                "template": template.name,
                "template_hash": template.sha256,
            },
        )

    def close(self) -> None:
        self._endpoint.close()

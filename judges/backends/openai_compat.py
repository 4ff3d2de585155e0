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
import math
import os
import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, cast

import openai

from judges.backends.base import (
    Answer,
    BackendError,
    Generation,
    PermanentError,
    TransientError,
    Verdict,
)
from judges.pairwise import combine_votes, ranking_of, render_pairwise, unswap
from judges.parsing import PairwiseVerdict, parse_pairwise_verdict
from judges.prompts import load_template

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

JUDGE_DEFAULTS: Mapping[str, Any] = MappingProxyType(
    {"temperature": 0.0, "max_tokens": 1024, "both_orders": False, "template": "pairwise_3way"}
)

# 408 and 409 (lock contention) are worth another try, like 429 and any 5xx.
_TRANSIENT_STATUSES = frozenset({408, 409, 429})

_MAX_MESSAGE_CHARS = 500


class UnparseableVerdictError(PermanentError):
    """The judge gave no readable verdict, even after the repair prompt.

    Carries the judge's raw output so the match can record what was said."""

    def __init__(self, message: str, *, raw_output: str) -> None:
        super().__init__(message)
        self.raw_output = raw_output


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


class _ChatEndpoint:
    """One model on one server; builds the SDK client on first use (see module doc)."""

    def __init__(
        self, *, base_url: str, model: str, api_key_env: str, timeout: float, max_retries: int
    ) -> None:
        self.base_url = base_url
        self.model = model
        self.api_key_env = api_key_env
        self.timeout = timeout
        self.max_retries = max_retries
        self._client: openai.OpenAI | None = None
        self._secret = ""

    def _get_client(self) -> openai.OpenAI:
        if self._client is None:
            self._secret = _read_api_key(self.api_key_env)
            self._client = openai.OpenAI(
                base_url=self.base_url,
                api_key=self._secret,
                timeout=self.timeout,
                max_retries=self.max_retries,
            )
        return self._client

    def complete(self, messages: Sequence[Mapping[str, str]], params: Mapping[str, Any]) -> _Reply:
        client = self._get_client()
        started = time.perf_counter()
        try:
            completion = client.chat.completions.create(
                model=self.model,
                # Plain dicts are what the SDK sends; its TypedDicts only serve type checkers.
                messages=cast(Any, list(messages)),
                **params,
            )
        except openai.OpenAIError as exc:
            # "from None": the SDK exception holds the request, whose headers hold the key;
            # a chained traceback in a worker log is exactly where it would leak.
            raise translate_error(exc, secret=self._secret) from None
        except ValueError as exc:
            # A 200 whose body is not JSON: base_url points at something else (a web page,
            # a proxy's login form). Retrying will not change where it points.
            raise PermanentError(f"{self.model}: the response body is not JSON") from exc
        latency_ms = round((time.perf_counter() - started) * 1000)
        return self._reply_from(completion, latency_ms)

    def _reply_from(self, completion: Any, latency_ms: int) -> _Reply:
        # The SDK does not validate bodies (lenient by design), so a JSON body of the wrong
        # shape surfaces here as attribute or index errors.
        try:
            message = completion.choices[0].message
            usage = completion.usage
            return _Reply(
                # A refusal or a tool call has no content: as an answer, that is empty.
                text=message.content or "",
                prompt_tokens=(usage.prompt_tokens or 0) if usage else 0,
                completion_tokens=(usage.completion_tokens or 0) if usage else 0,
                latency_ms=latency_ms,
            )
        except (AttributeError, IndexError, KeyError, TypeError) as exc:
            raise PermanentError(f"{self.model}: the response is not a chat completion") from exc

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


class OpenAICompatGenerator:
    """A contestant: one prompt in, one answer out."""

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
        _reject_unknown(generation, GENERATION_KEYS, "generation setting")
        params = dict(generation)
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

    def generate(self, prompt: str) -> Generation:
        messages = [{"role": "user", "content": prompt}]
        if self.system_prompt:
            messages.insert(0, {"role": "system", "content": self.system_prompt})
        reply = self._endpoint.complete(messages, self.params)
        return Generation(
            text=reply.text,
            prompt_tokens=reply.prompt_tokens,
            completion_tokens=reply.completion_tokens,
            latency_ms=reply.latency_ms,
        )

    def close(self) -> None:
        self._endpoint.close()


@dataclass(frozen=True)
class _Reading:
    """One judge call (plus its repair, if any), its vote mapped to the original order."""

    vote: PairwiseVerdict
    raw_output: str
    prompt_tokens: int
    completion_tokens: int
    latency_ms: int


def _judge_settings(settings: Mapping[str, Any]) -> dict[str, Any]:
    _reject_unknown(settings, JUDGE_DEFAULTS.keys(), "judge setting")
    merged = {**JUDGE_DEFAULTS, **settings}
    # A config loaded from a form or JSON may carry "false" as a string, which is truthy.
    if not isinstance(merged["both_orders"], bool):
        raise PermanentError("judge setting 'both_orders' must be true or false")
    if not isinstance(merged["template"], str):
        raise PermanentError("judge setting 'template' must be a template name")
    return merged


class OpenAICompatJudge:
    """A pairwise LLM judge: MT-Bench style prompt, blind answers, verdict [[A]]/[[B]]/[[C]].

    With ``both_orders`` the pair is judged twice with the answers swapped, the usual
    remedy for position bias (Zheng et al. 2023); a disagreement counts as a tie."""

    def __init__(
        self,
        *,
        base_url: str,
        model: str,
        api_key_env: str = "",
        settings: Mapping[str, Any] = _EMPTY,
        timeout: float = 120.0,
    ) -> None:
        merged = _judge_settings(settings)
        self.template = load_template(merged["template"])
        self.both_orders: bool = merged["both_orders"]
        self.params: Mapping[str, Any] = MappingProxyType(
            {"temperature": merged["temperature"], "max_tokens": merged["max_tokens"]}
        )
        self._endpoint = _ChatEndpoint(
            base_url=base_url, model=model, api_key_env=api_key_env, timeout=timeout, max_retries=0
        )

    @property
    def template_name(self) -> str:
        return self.template.name

    @property
    def template_hash(self) -> str:
        """sha256 of the template file, for a tournament to record what its judge saw."""
        return self.template.sha256

    def compare(self, prompt: str, answers: Sequence[Answer]) -> Verdict:
        if len(answers) != 2:
            raise PermanentError(f"this judge compares exactly 2 answers, got {len(answers)}")
        first, second = answers
        readings = [self._read(prompt, first.text, second.text, swapped=False)]
        if self.both_orders:
            readings.append(self._read(prompt, second.text, first.text, swapped=True))
        vote = readings[0].vote
        if len(readings) == 2:
            vote = combine_votes(readings[0].vote, readings[1].vote)
        return Verdict(
            ranking=ranking_of(vote),
            raw_output=self._join_raw(readings),
            prompt_tokens=sum(r.prompt_tokens for r in readings),
            completion_tokens=sum(r.completion_tokens for r in readings),
            latency_ms=sum(r.latency_ms for r in readings),
            extra={
                "votes": [r.vote for r in readings],
                "template": self.template.name,
                "template_hash": self.template.sha256,
            },
        )

    def _read(self, question: str, answer_a: str, answer_b: str, *, swapped: bool) -> _Reading:
        # Only the texts go in: Answer.author must never reach the judge.
        messages = render_pairwise(
            self.template, question=question, answer_a=answer_a, answer_b=answer_b
        )
        reply = self._endpoint.complete(messages, self.params)
        replies = [reply]
        vote = parse_pairwise_verdict(reply.text)
        if vote is None:
            # One repair turn, in the same conversation so the judge keeps its reasoning.
            repair = [
                *messages,
                {"role": "assistant", "content": reply.text},
                {"role": "user", "content": self.template.repair},
            ]
            replies.append(self._endpoint.complete(repair, self.params))
            vote = parse_pairwise_verdict(replies[-1].text)
        raw = "\n--- repair ---\n".join(r.text for r in replies)
        if vote is None:
            raise UnparseableVerdictError(
                "judge output has no [[A]]/[[B]]/[[C]] verdict after one repair prompt",
                raw_output=raw,
            )
        return _Reading(
            vote=unswap(vote) if swapped else vote,
            raw_output=raw,
            prompt_tokens=sum(r.prompt_tokens for r in replies),
            completion_tokens=sum(r.completion_tokens for r in replies),
            latency_ms=sum(r.latency_ms for r in replies),
        )

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

    def close(self) -> None:
        self._endpoint.close()

"""OpenAICompatGenerator against the FAKE server, over real HTTP, through the openai SDK."""

from __future__ import annotations

import json
import socket
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from judges.backends.base import PermanentError, TransientError
from judges.backends.openai_http import OpenAICompatGenerator, retry_after_seconds
from tests.judges.fake_openai import FakeOpenAIServer, Scripted, error_body

KEY_ENV = "ARENA_TEST_CONTESTANT_KEY"
SECRET = "sk-test-0123456789abcdef"


def make_generator(server: FakeOpenAIServer, **kwargs: object) -> OpenAICompatGenerator:
    return OpenAICompatGenerator(base_url=server.base_url, model="contestant-1", **kwargs)  # type: ignore[arg-type]


def test_generator_returns_the_completion_text_and_token_usage(
    fake_openai: FakeOpenAIServer,
) -> None:
    fake_openai.reply_with("Paris is the capital.")

    generation = make_generator(fake_openai).generate("What is the capital of France?")

    assert generation.text == "Paris is the capital."
    assert generation.prompt_tokens == 6  # the fake counts whitespace words
    assert generation.completion_tokens == 4
    assert generation.latency_ms >= 0
    [sent] = fake_openai.requests
    assert sent.path == "/v1/chat/completions"
    assert sent.json is not None
    assert sent.json["model"] == "contestant-1"
    assert sent.json["messages"] == [{"role": "user", "content": "What is the capital of France?"}]


def test_generation_settings_are_sent_as_request_parameters(fake_openai: FakeOpenAIServer) -> None:
    generation = {
        "temperature": 0.7,
        "max_tokens": 50,
        "top_p": 0.9,
        "seed": 3,
        "system": "Be brief.",
        "extra_body": {"top_k": 20},
    }

    make_generator(fake_openai, generation=generation).generate("Hi")

    [sent] = fake_openai.chat_requests
    assert (sent["temperature"], sent["max_tokens"], sent["top_p"], sent["seed"]) == (
        0.7,
        50,
        0.9,
        3,
    )
    assert sent["top_k"] == 20
    assert sent["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
    ]
    assert "system" not in sent and "extra_body" not in sent


def test_an_unknown_generation_key_is_rejected_naming_the_key(
    fake_openai: FakeOpenAIServer,
) -> None:
    with pytest.raises(PermanentError, match="temprature"):
        make_generator(fake_openai, generation={"temprature": 0.2})

    assert fake_openai.requests == []


def test_the_api_key_comes_from_the_named_environment_variable(
    fake_openai: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, SECRET)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-the-sdk-default-must-not-be-used")

    make_generator(fake_openai, api_key_env=KEY_ENV).generate("Hi")

    assert fake_openai.requests[0].headers["authorization"] == f"Bearer {SECRET}"


def test_without_a_key_variable_a_placeholder_key_is_sent_for_local_servers(
    fake_openai: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-the-sdk-default-must-not-be-used")

    make_generator(fake_openai).generate("Hi")

    authorization = fake_openai.requests[0].headers["authorization"]
    assert authorization.startswith("Bearer ")
    assert "sk-the-sdk-default" not in authorization


@pytest.mark.parametrize("value", [None, ""])
def test_a_missing_key_variable_is_a_permanent_error_naming_the_variable(
    fake_openai: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch, value: str | None
) -> None:
    if value is None:
        monkeypatch.delenv(KEY_ENV, raising=False)
    else:
        monkeypatch.setenv(KEY_ENV, value)
    generator = make_generator(fake_openai, api_key_env=KEY_ENV)

    with pytest.raises(PermanentError, match=KEY_ENV):
        generator.generate("Hi")

    assert fake_openai.requests == []


def test_a_rejected_key_echoed_by_the_server_never_appears_in_the_error(
    fake_openai: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, SECRET)
    fake_openai.enqueue(Scripted(status=401, body=error_body(f"Incorrect API key: {SECRET}")))

    with pytest.raises(PermanentError) as caught:
        make_generator(fake_openai, api_key_env=KEY_ENV).generate("Hi")

    assert SECRET not in str(caught.value)
    assert "401" in str(caught.value)
    # The SDK exception holds the request headers: it must not ride along in tracebacks.
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_a_400_is_a_permanent_error_and_is_not_retried(fake_openai: FakeOpenAIServer) -> None:
    fake_openai.enqueue(Scripted(status=400, body=error_body("max_tokens is too large")))

    with pytest.raises(PermanentError, match="max_tokens is too large") as caught:
        make_generator(fake_openai).generate("Hi")

    assert not isinstance(caught.value, TransientError)
    assert len(fake_openai.requests) == 1


@pytest.mark.parametrize("status", [401, 403, 404, 422])
def test_client_errors_are_permanent(fake_openai: FakeOpenAIServer, status: int) -> None:
    fake_openai.enqueue(Scripted(status=status, body=error_body("no")))

    with pytest.raises(PermanentError, match=str(status)):
        make_generator(fake_openai).generate("Hi")

    assert len(fake_openai.requests) == 1


def test_a_429_with_retry_after_is_transient_and_carries_the_delay(
    fake_openai: FakeOpenAIServer,
) -> None:
    slow_down = error_body("slow down", kind="rate_limit_exceeded")
    fake_openai.enqueue(Scripted(status=429, body=slow_down, headers={"Retry-After": "7"}))

    with pytest.raises(TransientError) as caught:
        make_generator(fake_openai).generate("Hi")

    assert caught.value.retry_after == 7.0
    assert len(fake_openai.requests) == 1  # the SDK did not retry behind our back


def test_a_429_without_retry_after_is_transient_with_no_delay(
    fake_openai: FakeOpenAIServer,
) -> None:
    fake_openai.enqueue(Scripted(status=429, body=error_body("slow down")))

    with pytest.raises(TransientError) as caught:
        make_generator(fake_openai).generate("Hi")

    assert caught.value.retry_after is None


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_are_transient(fake_openai: FakeOpenAIServer, status: int) -> None:
    fake_openai.enqueue(Scripted(status=status, body="<html>upstream exploded</html>"))

    with pytest.raises(TransientError, match=str(status)):
        make_generator(fake_openai).generate("Hi")

    assert len(fake_openai.requests) == 1


def test_a_server_slower_than_the_timeout_is_a_transient_error(
    fake_openai: FakeOpenAIServer,
) -> None:
    fake_openai.enqueue(Scripted(content="too late", delay_s=10))
    started = time.monotonic()

    with pytest.raises(TransientError, match="(?i)timed out"):
        make_generator(fake_openai, timeout=0.3).generate("Hi")

    assert time.monotonic() - started < 5


def test_a_refused_connection_is_a_transient_error() -> None:
    with socket.socket() as probe:  # a port that was free a moment ago: nobody listens
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    generator = OpenAICompatGenerator(base_url=f"http://127.0.0.1:{port}/v1", model="m")

    with pytest.raises(TransientError):
        generator.generate("Hi")


def test_a_completion_without_usage_reports_zero_tokens(fake_openai: FakeOpenAIServer) -> None:
    message = {"role": "assistant", "content": "ok"}
    choice = {"index": 0, "message": message, "finish_reason": "stop"}
    body = json.dumps(
        {"id": "x", "object": "chat.completion", "created": 0, "model": "m", "choices": [choice]}
    )
    fake_openai.enqueue(Scripted(body=body))

    generation = make_generator(fake_openai).generate("Hi")

    assert (generation.text, generation.prompt_tokens, generation.completion_tokens) == ("ok", 0, 0)


def test_retry_after_is_read_from_milliseconds_seconds_or_an_http_date() -> None:
    in_a_minute = format_datetime(datetime.now(UTC) + timedelta(seconds=60), usegmt=True)

    assert retry_after_seconds({"retry-after-ms": "1500", "retry-after": "9"}) == 1.5
    assert retry_after_seconds({"retry-after": "2.5"}) == 2.5
    assert 55 <= (retry_after_seconds({"retry-after": in_a_minute}) or 0) <= 60
    assert retry_after_seconds({"retry-after": "soon"}) is None
    assert retry_after_seconds({}) is None


@pytest.mark.parametrize(
    "body", ["<html>Sign in to the proxy</html>", "[]", '{"foo": 1}', '{"choices": "x"}']
)
def test_a_200_that_is_not_a_chat_completion_is_a_permanent_error(
    fake_openai: FakeOpenAIServer, body: str
) -> None:
    fake_openai.enqueue(Scripted(body=body))

    with pytest.raises(PermanentError, match="(not JSON|not a chat completion)"):
        make_generator(fake_openai).generate("Hi")

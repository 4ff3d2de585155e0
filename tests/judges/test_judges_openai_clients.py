"""The sync SDK client is shared per process and endpoint: a Celery worker builds a new
judge for every match, and each of them must not open its own connection pool."""

from __future__ import annotations

from typing import Any

import pytest

from judges.backends.base import Answer
from judges.backends.openai_http import _SYNC_CLIENTS, _tls_context
from judges.backends.openai_judge import OpenAICompatJudge
from tests.judges.fake_openai import FakeOpenAIServer

PAIR = (Answer("one"), Answer("two"))


def _client_of(judge: OpenAICompatJudge) -> object:
    return judge._endpoint._get_client()  # type: ignore[attr-defined]


def test_judges_of_one_endpoint_built_for_each_match_share_one_client(
    fake_openai: FakeOpenAIServer,
) -> None:
    fake_openai.reply_with("[[A]]", "[[B]]")
    first = OpenAICompatJudge(base_url=fake_openai.base_url, model="j", settings={"cache": False})
    second = OpenAICompatJudge(base_url=fake_openai.base_url, model="j", settings={"cache": False})

    assert first.compare("q", PAIR).ranking == ((0,), (1,))
    first.close()  # a finished match lets go of the client without closing it
    assert second.compare("q", PAIR).ranking == ((1,), (0,))

    assert _client_of(first) is _client_of(second)


def test_a_different_key_or_server_gets_its_own_client(
    fake_openai: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KEY_ONE", "sk-one")
    monkeypatch.setenv("KEY_TWO", "sk-two")
    one = OpenAICompatJudge(base_url=fake_openai.base_url, model="j", api_key_env="KEY_ONE")
    two = OpenAICompatJudge(base_url=fake_openai.base_url, model="j", api_key_env="KEY_TWO")
    with FakeOpenAIServer() as elsewhere:
        three = OpenAICompatJudge(base_url=elsewhere.base_url, model="j", api_key_env="KEY_ONE")

        assert len({id(_client_of(j)) for j in (one, two, three)}) == 3


def test_a_forked_child_does_not_reuse_its_parents_client(
    fake_openai: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    parent = OpenAICompatJudge(base_url=fake_openai.base_url, model="j")
    parent_client = _client_of(parent)
    monkeypatch.setattr("os.getpid", lambda: -1)  # as if in a prefork child

    child = OpenAICompatJudge(base_url=fake_openai.base_url, model="j")

    assert _client_of(child) is not parent_client


def test_clearing_closes_the_shared_clients(fake_openai: FakeOpenAIServer) -> None:
    judge = OpenAICompatJudge(base_url=fake_openai.base_url, model="j")
    client = _client_of(judge)

    _SYNC_CLIENTS.clear()

    assert client.is_closed()  # type: ignore[attr-defined]


def test_every_client_of_the_process_shares_one_tls_context(
    fake_openai: FakeOpenAIServer,
) -> None:
    # Loading the CA bundle was most of the cost of a new client (see _tls_context).
    here = OpenAICompatJudge(base_url=fake_openai.base_url, model="j")
    elsewhere = OpenAICompatJudge(base_url="http://127.0.0.1:9/v1", model="j")  # never called

    clients: list[Any] = [_client_of(j) for j in (here, elsewhere)]
    pools = [client._client._transport._pool for client in clients]

    assert pools[0] is not pools[1]
    assert all(pool._ssl_context is _tls_context() for pool in pools)

"""Fixtures for judge tests: a FAKE OpenAI-compatible server, and a guard that keeps every
test here off the network except 127.0.0.1."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest

from judges.backends.openai_http import _SYNC_CLIENTS
from judges.cache import LRUVerdictCache, set_default_verdict_cache
from judges.limits import LIMITERS
from tests.judges.fake_openai import FakeOpenAIServer

_LOOPBACK = {"127.0.0.1", "::1", "localhost"}


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    # A misconfigured base_url (or an SDK default) must fail the test, not call a real API.
    original = socket.socket.connect

    def guarded(sock: socket.socket, address: Any) -> Any:
        if sock.family in (socket.AF_INET, socket.AF_INET6) and address[0] not in _LOOPBACK:
            raise ConnectionRefusedError(f"tests/judges may only connect to 127.0.0.1: {address}")
        return original(sock, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as server:
        yield server


@pytest.fixture(autouse=True)
def _fresh_process_state() -> Iterator[None]:
    # Limiters, the verdict cache and the SDK clients are process-wide: no test may see
    # another's.
    LIMITERS.clear()
    set_default_verdict_cache(LRUVerdictCache())
    yield
    LIMITERS.clear()
    set_default_verdict_cache(LRUVerdictCache())
    _SYNC_CLIENTS.clear()

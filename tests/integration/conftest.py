"""Integration tests run the real thing: worker threads or processes, real brokers."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator

from arena.models import Tournament, TournamentStatus
from arena.services.tournaments import tournament_start
from arena.serving.asgi import application

Wait = Callable[..., bool]


def _wait_for(predicate: Callable[[], bool], *, timeout: float, every: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(every)
    return predicate()


@pytest.fixture
def wait_for() -> Wait:
    return _wait_for


@pytest.fixture
def wait_until_finished() -> Callable[[Tournament, float], Tournament]:
    def wait(tournament: Tournament, timeout: float) -> Tournament:
        def done() -> bool:
            tournament.refresh_from_db()
            return tournament.status != TournamentStatus.RUNNING

        _wait_for(done, timeout=timeout)
        return tournament

    return wait


FINISHED = {TournamentStatus.COMPLETED, TournamentStatus.FAILED, TournamentStatus.CANCELLED}


def _start_and_watch(tournament: Tournament, timeout: float) -> list[dict[str, Any]]:
    """Subscribe to the tournament's feed, start it, and return every event up to the
    ``tournament.progress`` that says it finished (completed, failed or cancelled), or what
    came within ``timeout``."""
    events: list[dict[str, Any]] = []
    subscribed = threading.Event()

    async def listen() -> None:
        communicator = WebsocketCommunicator(
            application,
            f"/ws/tournaments/{tournament.pk}/",
            headers=[(b"origin", b"http://127.0.0.1")],
        )
        assert (await communicator.connect())[0]
        subscribed.set()
        while True:
            event = await communicator.receive_json_from(timeout=timeout)
            events.append(event)
            if event["type"] == "tournament.progress" and event["status"] in FINISHED:
                break
        await communicator.disconnect()

    listener = threading.Thread(target=async_to_sync(listen))
    listener.start()
    assert subscribed.wait(timeout=10)
    tournament_start(tournament=tournament)
    listener.join(timeout=timeout + 30)
    return events


@pytest.fixture
def start_and_watch() -> Callable[[Tournament, float], list[dict[str, Any]]]:
    return _start_and_watch

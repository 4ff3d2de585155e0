"""Integration tests run the real thing: worker threads or processes, real brokers."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from arena.models import Tournament, TournamentStatus

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

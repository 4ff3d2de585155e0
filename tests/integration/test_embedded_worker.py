"""Embedded mode for real: Celery worker threads on the in-memory broker, SQLite on disk."""

from __future__ import annotations

import threading

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.conf import settings

from arena.asgi import application
from arena.embedded import embedded_worker_start, embedded_worker_stop
from arena.models import Judgment, MatchStatus, Standing, TournamentStatus
from arena.services.tournaments import tournament_start

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not settings.EMBEDDED, reason="embedded mode only (REDIS_URL is set)"),
]


@pytest.fixture
def worker():
    embedded_worker_start(concurrency=3)
    yield
    embedded_worker_stop()


def test_a_tournament_runs_to_completion_on_the_embedded_worker_with_live_events(
    worker, make_tournament, wait_until_finished
) -> None:
    tournament = make_tournament(n=6, rounds=2)
    events: list[dict] = []
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
            event = await communicator.receive_json_from(timeout=60)
            events.append(event)
            if event["type"] == "tournament.progress" and event["status"] == "completed":
                break
        await communicator.disconnect()

    listener = threading.Thread(target=async_to_sync(listen))
    listener.start()
    assert subscribed.wait(timeout=10)
    tournament_start(tournament=tournament)
    listener.join(timeout=90)
    wait_until_finished(tournament, 30)

    assert tournament.status == TournamentStatus.COMPLETED
    assert tournament.matches.filter(status=MatchStatus.COMPLETED).count() == 30
    assert Judgment.objects.filter(match__tournament=tournament).count() == 30
    assert (
        sum(Standing.objects.filter(tournament=tournament).values_list("matches", flat=True)) == 60
    )
    updates = [e for e in events if e["type"] == "leaderboard.updated"]
    assert len(updates) == 30
    assert sum(r["matches"] for r in updates[-1]["rows"]) == 60

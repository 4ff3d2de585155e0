"""The live feed: events published after commit reach a connected websocket."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.testing import WebsocketCommunicator

from arena import live
from arena.serving.asgi import application


def event(n: int) -> live.TournamentProgress:
    return live.TournamentProgress(
        type="tournament.progress",
        tournament=n,
        status="running",
        done=n,
        failed=0,
        planned=9,
        spend_usd="0",
        error="",
    )


async def connect(tournament_id: int) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(
        application, f"/ws/tournaments/{tournament_id}/", headers=[(b"origin", b"http://127.0.0.1")]
    )
    connected, _ = await communicator.connect()
    assert connected
    return communicator


def test_a_client_receives_its_tournaments_events_and_not_others() -> None:
    async def scenario() -> None:
        communicator = await connect(41)
        await live.async_publish(live.tournament_group(42), event(42))
        await live.async_publish(live.tournament_group(41), event(41))
        assert await communicator.receive_json_from(timeout=5) == dict(event(41))
        assert await communicator.receive_nothing(timeout=0.2)
        await communicator.disconnect()

    async_to_sync(scenario)()


def test_an_event_published_from_a_worker_thread_reaches_the_client() -> None:
    async def scenario() -> None:
        communicator = await connect(7)
        worker = threading.Thread(target=live.publish, args=(live.tournament_group(7), event(7)))
        worker.start()
        assert await communicator.receive_json_from(timeout=5) == dict(event(7))
        await sync_to_async(worker.join, thread_sensitive=False)()
        await communicator.disconnect()

    async_to_sync(scenario)()


def test_a_page_from_a_foreign_origin_cannot_subscribe() -> None:
    async def scenario() -> None:
        communicator = WebsocketCommunicator(
            application, "/ws/tournaments/1/", headers=[(b"origin", b"http://evil.example")]
        )
        connected, _ = await communicator.connect()
        assert not connected

    async_to_sync(scenario)()


@pytest.mark.django_db(transaction=True)
def test_a_finished_match_publishes_leaderboard_updated_after_commit(
    make_tournament, publish_now
) -> None:
    from arena.services.advance import tournament_advance
    from arena.services.matches import match_play
    from arena.services.tournaments import tournament_start

    tournament = tournament_start(tournament=make_tournament(n=2))
    tournament_advance(tournament_id=tournament.pk)
    match = tournament.matches.get()

    async def scenario() -> list[dict]:
        communicator = await connect(tournament.pk)
        thread = threading.Thread(target=match_play, kwargs={"match_id": match.pk})
        thread.start()
        received = [await communicator.receive_json_from(timeout=10) for _ in range(3)]
        await sync_to_async(thread.join, thread_sensitive=False)()
        await communicator.disconnect()
        return received

    received = async_to_sync(scenario)()
    by_type = {e["type"]: e for e in received}
    assert set(by_type) == {"match.finished", "leaderboard.updated", "tournament.progress"}
    rows = by_type["leaderboard.updated"]["rows"]
    assert sorted(r["matches"] for r in rows) == [1, 1]
    assert by_type["tournament.progress"]["done"] == 1
    assert Decimal(by_type["tournament.progress"]["spend_usd"]) == 0  # simulated: free


@pytest.mark.django_db(transaction=True)
def test_the_global_feed_announces_each_verdict(make_tournament, publish_now) -> None:
    from arena.services.advance import tournament_advance
    from arena.services.matches import match_play
    from arena.services.tournaments import tournament_start

    tournament = tournament_start(tournament=make_tournament(n=2))
    tournament_advance(tournament_id=tournament.pk)
    match = tournament.matches.get()

    async def scenario() -> dict:
        communicator = WebsocketCommunicator(
            application, "/ws/leaderboard/", headers=[(b"origin", b"http://127.0.0.1")]
        )
        assert (await communicator.connect())[0]
        thread = threading.Thread(target=match_play, kwargs={"match_id": match.pk})
        thread.start()
        event = await communicator.receive_json_from(timeout=10)
        await sync_to_async(thread.join, thread_sensitive=False)()
        await communicator.disconnect()
        return event

    assert async_to_sync(scenario)() == {"type": "leaderboard.changed", "tournament": tournament.pk}


def test_a_client_that_hears_nothing_for_a_while_still_gets_the_next_event() -> None:
    # A read timeout on the Redis layer's connections once dropped sockets quiet for that
    # long (redis-py 8): quiet here for longer than it.
    from django.conf import settings

    hosts = settings.CHANNEL_LAYERS["default"].get("CONFIG", {}).get("hosts", [{}])
    quiet = hosts[0].get("socket_timeout", 0) + 1

    async def scenario() -> None:
        communicator = await connect(8)
        assert await communicator.receive_nothing(timeout=quiet, interval=0.5)
        await live.async_publish(live.tournament_group(8), event(8))
        assert await communicator.receive_json_from(timeout=5) == dict(event(8))
        await communicator.disconnect()

    async_to_sync(scenario)()


def test_forwarding_an_event_does_not_touch_the_database_connections(monkeypatch) -> None:
    """Channels closes stale database connections (in a thread) before each handler; these
    consumers use no database, so each event goes out without that hop."""
    import channels.consumer

    hops: list[str] = []

    async def close_old_connections() -> None:
        hops.append("closed")

    monkeypatch.setattr(channels.consumer, "aclose_old_connections", close_old_connections)

    async def scenario() -> None:
        communicator = await connect(43)
        hops.clear()  # connecting may close them (the handshake's handlers)
        for _ in range(3):
            await live.async_publish(live.tournament_group(43), event(43))
        for _ in range(3):
            assert await communicator.receive_json_from(timeout=5) == dict(event(43))
        assert hops == []
        await communicator.disconnect()

    async_to_sync(scenario)()

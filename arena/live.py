"""The one place that publishes live events to websocket groups.

Events go out only after the transaction that produced them commits, so a page never shows
a result that a rollback later takes back. Each event is a TypedDict; consumers forward
them as JSON unchanged.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from typing import Literal, TypedDict

from channels.layers import get_channel_layer
from django.db import transaction

from arena.standings import LeaderboardRow

log = logging.getLogger(__name__)


class LeaderboardUpdated(TypedDict):
    type: Literal["leaderboard.updated"]
    tournament: int
    rows: list[LeaderboardRow]


class MatchFinished(TypedDict):
    type: Literal["match.finished"]
    tournament: int
    match: int
    round: int
    slot: int
    status: str
    ranking: list[list[str]]


class TournamentProgress(TypedDict):
    type: Literal["tournament.progress"]
    tournament: int
    status: str
    done: int
    failed: int  # of the done ones
    planned: int | None
    spend_usd: str  # a decimal as text: money is never a float
    error: str  # why it paused or failed ("" while all is well)


class LeaderboardChanged(TypedDict):
    """A verdict landed somewhere: global leaderboards refetch (their filters vary)."""

    type: Literal["leaderboard.changed"]
    tournament: int


Event = LeaderboardUpdated | MatchFinished | TournamentProgress | LeaderboardChanged

GLOBAL_GROUP = "leaderboard"


def tournament_group(tournament_id: int) -> str:
    return f"tournament.{tournament_id}"


async def async_publish(group: str, event: Event) -> None:
    layer = get_channel_layer()
    if layer is not None:
        # Consumers route on "type"; the event's own type travels in the payload.
        await layer.group_send(group, {"type": "arena.event", "event": dict(event)})


# A publish that Redis has not taken by then is given up: a lost live event is better than
# a stuck request or worker.
PUBLISH_TIMEOUT_S = 5.0
_loop: tuple[int, asyncio.AbstractEventLoop] | None = None
_loop_lock = threading.Lock()


def _publisher_loop() -> asyncio.AbstractEventLoop:
    """This process's event loop for publishes from sync code (web requests, workers).

    The Redis channel layer keeps its connections per event loop, and ``async_to_sync``
    runs each call on a new loop: every publish opened a new Redis connection. One loop in
    a thread of its own keeps them (remade in a forked child, where the thread is gone).
    """
    global _loop
    with _loop_lock:
        if _loop is None or _loop[0] != os.getpid():
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="arena-publish", daemon=True).start()
            _loop = (os.getpid(), loop)
        return _loop[1]


async def async_publish_or_log(group: str, event: Event) -> None:
    """``async_publish`` for an event loop's own work (arena.serving.fastvote), as ``publish`` for
    sync code: given up after PUBLISH_TIMEOUT_S, a failure logged, never raised."""
    try:
        await asyncio.wait_for(async_publish(group, event), PUBLISH_TIMEOUT_S)
    except Exception:
        log.exception("could not publish %s to %s", event["type"], group)


def publish(group: str, event: Event) -> None:
    """Send ``event`` to ``group`` now; a dead channel layer must not fail the caller's work.

    Waits until it is sent, so one caller's events arrive in the order it published them.
    """
    future = None
    try:
        future = asyncio.run_coroutine_threadsafe(async_publish(group, event), _publisher_loop())
        future.result(timeout=PUBLISH_TIMEOUT_S)
    except Exception:
        if future is not None:
            future.cancel()
        log.exception("could not publish %s to %s", event["type"], group)


def publish_on_commit(group: str, event: Event) -> None:
    transaction.on_commit(lambda: publish(group, event), robust=True)

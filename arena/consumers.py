"""Websocket consumers: join the group of what the page shows and forward its events."""

from __future__ import annotations

from typing import Any

from channels.consumer import get_handler_name
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from arena.live import GLOBAL_GROUP, tournament_group


class TournamentConsumer(AsyncJsonWebsocketConsumer):
    """Read-only feed of one tournament's events; leaderboards are public, so no login."""

    async def connect(self) -> None:
        self.group = tournament_group(int(self.scope["url_route"]["kwargs"]["tournament_id"]))
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        await self.channel_layer.group_discard(self.group, self.channel_name)

    async def arena_event(self, message: dict[str, Any]) -> None:
        await self.send_json(message["event"])

    async def dispatch(self, message: dict[str, Any]) -> None:
        """As Channels' dispatch, without closing stale database connections first: these
        consumers never use the database, and that close is a hop to a thread and back
        for every event to every watcher."""
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)


class LeaderboardConsumer(TournamentConsumer):
    """Feed of ``leaderboard.changed``: a verdict landed, so a global leaderboard refetches."""

    async def connect(self) -> None:
        self.group = GLOBAL_GROUP
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

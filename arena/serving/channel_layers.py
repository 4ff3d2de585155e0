"""An in-memory channel layer that Celery worker threads can publish to.

Channels' InMemoryChannelLayer keeps asyncio queues that belong to the server's event loop;
a worker thread's publish runs on a loop of its own (``live.publish``), and waking
another loop's waiters from there is not thread-safe (the event can sit unseen until the
server loop wakes for some other reason). In embedded mode the workers are threads of the
web process, so sends from a foreign loop are handed to the loop that receives.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

from channels.layers import InMemoryChannelLayer

# How long a worker thread waits for the server loop to take an event. A loop that is busy
# longer than this is stuck, and a lost live event is better than a stuck worker.
HANDOFF_TIMEOUT_S = 5.0


async def _handoff(coroutine: Any, home: asyncio.AbstractEventLoop) -> None:
    future = asyncio.run_coroutine_threadsafe(coroutine, home)
    try:
        await asyncio.wait_for(asyncio.wrap_future(future), HANDOFF_TIMEOUT_S)
    except TimeoutError:
        future.cancel()
        raise


class ThreadSafeInMemoryChannelLayer(InMemoryChannelLayer):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._home: asyncio.AbstractEventLoop | None = None

    def _foreign_home(self) -> asyncio.AbstractEventLoop | None:
        """The receiving loop, when it is alive and not the caller's own."""
        home = self._home
        if home is None or home.is_closed() or not home.is_running():
            return None
        return None if home is asyncio.get_running_loop() else home

    async def receive(self, channel: str) -> Any:
        self._home = asyncio.get_running_loop()
        return await super().receive(channel)

    async def group_add(self, group: str, channel: str) -> None:
        self._home = asyncio.get_running_loop()
        await super().group_add(group, channel)

    async def send(self, channel: str, message: dict[str, Any]) -> None:
        await self._at_home(super().send(channel, message))

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        await self._at_home(super().group_send(group, message))

    async def _at_home(self, sending: Coroutine[Any, Any, None]) -> None:
        """Run ``sending`` on this layer's loop: here, or handed off to it."""
        home = self._foreign_home()
        await (sending if home is None else _handoff(sending, home))

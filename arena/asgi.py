"""ASGI entry point: HTTP through Django, websockets through Channels."""

import asyncio
import os
from typing import Any

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "arena.settings")
django_asgi = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.conf import settings  # noqa: E402

from arena.routing import websocket_urlpatterns  # noqa: E402


class BoundedHTTP:
    """At most ``limit`` HTTP requests run in Django at once in this process; the others
    wait their turn in the event loop.

    Django runs each request's view in a thread of its own. Past a few, more threads only
    take turns at the GIL with each other and with the event loop, which then delivers
    live events seconds late (benchmarks/README.md, "Web load"). A request's body is read
    before it takes a turn, so a slow client holds none; large uploads (staff imports)
    skip the queue rather than wait in memory. The turn ends when the response starts, so
    a slow download (a streamed export) does not hold it either.
    """

    PREREAD_MAX = 1 << 20

    def __init__(self, app: Any, limit: int) -> None:
        self.app, self.limit = app, limit
        self.turns: asyncio.Semaphore | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if _content_length(scope) > self.PREREAD_MAX:
            await self.app(scope, receive, send)
            return
        body = [await receive()]
        while body[-1]["type"] == "http.request" and body[-1].get("more_body"):
            body.append(await receive())
        read = iter(body)

        async def replay() -> Any:
            return next(read, None) or await receive()

        if self.turns is None:
            self.turns = asyncio.Semaphore(self.limit)  # made in the server's event loop
        turns = self.turns
        await turns.acquire()
        held = True

        def end_turn() -> None:
            nonlocal held
            if held:
                held = False
                turns.release()

        async def send_then_end_turn(message: Any) -> None:
            if message["type"] == "http.response.start":
                end_turn()
            await send(message)

        try:
            await self.app(scope, replay, send_then_end_turn)
        finally:
            end_turn()


def _content_length(scope: Any) -> int:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            return int(value) if value.isdigit() else 0
    return 0


limit = settings.HTTP_CONCURRENCY
application = ProtocolTypeRouter(
    {
        "http": BoundedHTTP(django_asgi, limit) if limit else django_asgi,
        "websocket": AllowedHostsOriginValidator(URLRouter(websocket_urlpatterns)),
    }
)

"""ASGI entry point: websockets through Channels, HTTP through Django's WSGI handler.

HTTP requests run Django's WSGI handler in a thread pool (a2wsgi) rather than its ASGI
handler: the same views, middleware and settings, at about a third of the server CPU per
request (a request that only reads the session: 0.7-0.9 ms instead of 2.6-3.0 ms under
``serve --workers 2``; benchmarks/README.md, "Web load"). Django's ASGI handler pays for
its sync-to-async hand-offs on every request, and none of our views is async. Channels
serves the websockets in the same process and event loop, on the same port.
"""

import asyncio
import os
from typing import Any

from a2wsgi import WSGIMiddleware
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "arena.settings")
django_wsgi = get_wsgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.conf import settings  # noqa: E402

from arena.routing import websocket_urlpatterns  # noqa: E402


class BoundedHTTP:
    """At most ``limit`` HTTP requests run in Django at once in this process; the others
    wait their turn in the event loop.

    Each request runs in a thread of its own. Past a few, more threads only
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


# Threads beyond the bound serve responses that are done computing but still streaming to
# a slow client (an export): a2wsgi's thread writes the body until the client has it.
STREAMING_THREADS = 8
limit = settings.HTTP_CONCURRENCY
django_http = WSGIMiddleware(django_wsgi, workers=(limit or 8) + STREAMING_THREADS)
application = ProtocolTypeRouter(
    {
        "http": BoundedHTTP(django_http, limit) if limit else django_http,
        "websocket": AllowedHostsOriginValidator(URLRouter(websocket_urlpatterns)),
    }
)

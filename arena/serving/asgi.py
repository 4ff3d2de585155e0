"""ASGI entry point: websockets through Channels, HTTP through Django.

Most HTTP requests (pages, votes, the API) run Django's WSGI handler in a small thread
pool (a2wsgi) rather than its ASGI handler: the same views, middleware and settings, at
about a third of the server CPU per request (a request that only reads the session:
0.7-0.9 ms instead of 2.6-3.0 ms under ``serve --workers 2``; benchmarks/http_floor.py).
Django's ASGI handler pays for its sync-to-async hand-offs on every request, and none of
our views is async.

In services mode the vote page's JSON votes do not reach Django at all when they can be
counted without it (arena.serving.fastvote, in front of everything here).

Two kinds still go to Django's ASGI handler, which reads bodies and writes responses from
the event loop: downloads that stream (exports, static files) and uploads that are large
or chunked. In a2wsgi a thread would write the one or read the other at the client's
pace, with no timeout, and a client that stalls (or, under daphne, drops a download)
would hold that thread for good.
"""

import asyncio
import os
import queue
import re
import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any

from a2wsgi import WSGIMiddleware
from django.core.asgi import get_asgi_application
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "arena.settings")
django_wsgi = get_wsgi_application()
django_asgi = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.conf import settings  # noqa: E402

from arena.routing import websocket_urlpatterns  # noqa: E402

# Bodies up to this size are read before a request takes its turn (BoundedHTTP) and may
# go to a thread; larger ones stream in from the event loop.
PREREAD_MAX = 1 << 20
# Paths whose responses stream: tournament exports (pages and API) and static files.
STREAMED_PATHS = re.compile(r"^/static/|/export/")


class BoundedHTTP:
    """At most ``limit`` HTTP requests (0: any number) run in Django at once in this
    process; the others wait their turn in the event loop.

    Each request runs in a thread. Past a few, more threads only take turns at the GIL
    with each other and with the event loop, which then delivers live events seconds late
    (benchmarks/README.md, "Web load"). A request's body is read before it takes a turn,
    so a slow client holds none; large or chunked uploads (staff imports) skip the queue
    rather than wait in memory (``SplitHTTP`` streams them in from the event loop). The
    turn ends when the response starts, so a slow download does not hold it either.
    """

    def __init__(self, app: Any, limit: int) -> None:
        self.app, self.limit = app, limit
        self.turns: asyncio.Semaphore | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if _unbuffered_body(scope):
            await self.app(scope, receive, send)
            return
        body = [await receive()]
        while body[-1]["type"] == "http.request" and body[-1].get("more_body"):
            body.append(await receive())
        read = iter(body)

        async def replay() -> Any:
            return next(read, None) or await receive()

        if not self.limit:
            await self.app(scope, replay, send)
            return
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


class SplitHTTP:
    """Requests whose bodies or responses stream go to ``streaming`` (Django's ASGI
    handler), the others to ``threaded`` (Django's WSGI handler in a2wsgi's pool)."""

    def __init__(self, threaded: Any, streaming: Any) -> None:
        self.threaded, self.streaming = threaded, streaming

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        streams = _unbuffered_body(scope) or STREAMED_PATHS.search(scope.get("path", ""))
        await (self.streaming if streams else self.threaded)(scope, receive, send)


def _unbuffered_body(scope: Any) -> bool:
    """A body too large to hold in memory, or of unknown length (chunked)."""
    headers = dict(scope.get("headers", []))
    if b"transfer-encoding" in headers:
        return True
    length = headers.get(b"content-length", b"0")
    return length.isdigit() and int(length) > PREREAD_MAX


class DaemonThreads(Executor):
    """a2wsgi's request threads, as daemon threads.

    A request still in Django when daphne stops (``manage.py demo``/``serve``, embedded)
    can no longer send its response: its thread waits for the stopped event loop forever,
    and a ThreadPoolExecutor's threads are joined at interpreter exit, so the process
    hung after SIGTERM. A daemon thread does not hold the exit; its response had no
    client left, and its open transaction rolls back with the connection. (uvicorn,
    ``--workers``, lets such requests finish before it stops its loop.)
    """

    def __init__(self, workers: int, name: str = "WSGI") -> None:
        self._work: queue.SimpleQueue[tuple[Future[Any], Callable[..., Any], tuple[Any, ...]]]
        self._work = queue.SimpleQueue()
        for n in range(workers):
            threading.Thread(target=self._serve, name=f"{name}_{n}", daemon=True).start()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        if kwargs:  # run_in_executor passes none; keep the queue's items simple
            raise TypeError("DaemonThreads.submit takes positional arguments only")
        future: Future[Any] = Future()
        self._work.put((future, fn, args))
        return future

    def _serve(self) -> None:
        while True:
            future, fn, args = self._work.get()
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn(*args))
            except BaseException as error:  # the caller's future carries it
                future.set_exception(error)


# Twice as many threads as requests may run at once: a turn ends when the response
# starts, and its thread is busy a little longer (writing the small response, returning
# its database connection), while the next request can start. No more threads than the
# process's database pool has connections (a thread holds one during its request).
threads = min(2 * settings.HTTP_CONCURRENCY or settings.DB_POOL_SIZE, settings.DB_POOL_SIZE)
# Django's handler is a WSGI application; its stub returns a response, not Iterable[bytes].
wsgi = WSGIMiddleware(django_wsgi, workers=threads)  # type: ignore[arg-type]
wsgi.executor = DaemonThreads(threads)  # type: ignore[assignment]  # see DaemonThreads
http: object = BoundedHTTP(SplitHTTP(wsgi, django_asgi), settings.HTTP_CONCURRENCY)
if settings.FAST_VOTES:
    from arena.serving.fastvote import FastVote

    http = FastVote(http)
application = ProtocolTypeRouter(
    {
        "http": http,
        # Channels' stub wants its own pattern type; routing.py builds them with path().
        "websocket": AllowedHostsOriginValidator(URLRouter(websocket_urlpatterns)),  # type: ignore[arg-type]
    }
)

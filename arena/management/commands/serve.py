"""Serve the site (HTTP + websockets): daphne in one process, with the worker threads in
embedded mode; in services mode ``--workers N`` runs N processes (uvicorn's supervisor)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from arena.services.advance import tournaments_requeue_running


def serve(*, host: str, port: int, on_ready: Any = None) -> None:
    """Run daphne in the foreground until interrupted, after starting embedded workers."""
    if settings.EMBEDDED:
        from arena.serving.embedded import embedded_worker_start

        embedded_worker_start()
        tournaments_requeue_running(release_claims=True)
    # Imported late: daphne.server installs Twisted's asyncio reactor at import.
    from daphne.endpoints import build_endpoint_description_strings
    from daphne.server import Server

    from arena.serving.asgi import application

    try:
        Server(
            application=application,
            endpoints=build_endpoint_description_strings(host=host, port=port),
            ready_callable=on_ready,
            verbosity=0,
        ).run()
    finally:
        if settings.EMBEDDED:
            # A warm shutdown: running tasks finish before the interpreter goes away
            # (matches left pending are re-queued by the next start).
            from arena.serving.embedded import embedded_worker_stop

            embedded_worker_stop()


def serve_workers(*, host: str, port: int, workers: int) -> None:
    """Services mode on several cores: ``workers`` processes share one listening socket.

    One Python process serves at most one core's worth of requests (the GIL), and a process
    busy with votes is slow to send websocket events. Processes share nothing but
    PostgreSQL and Redis (the channel layer carries events between them), so uvicorn's
    supervisor runs them; it restarts a worker that dies.
    """
    import uvicorn

    uvicorn.run(
        "arena.serving.asgi:application",
        host=host,
        port=port,
        workers=workers,
        lifespan="off",  # Django's ASGI handler has no startup/shutdown events
        access_log=False,
        log_level="warning",
    )


class Command(BaseCommand):
    help = "Serve the arena on HOST:PORT (embedded mode also runs the Celery worker threads)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument(
            "--workers",
            type=int,
            default=1,
            help="server processes (services mode; one per core is a good start)",
        )

    def handle(self, *args: Any, host: str, port: int, workers: int, **options: Any) -> None:
        mode = "embedded (SQLite, in-process worker)" if settings.EMBEDDED else "services"
        if workers > 1 and settings.EMBEDDED:
            raise CommandError("--workers needs services mode: the embedded worker is one process")
        self.stdout.write(f"Arena at http://{host}:{port}/ — {mode} mode. Ctrl-C stops it.")
        if workers > 1:
            serve_workers(host=host, port=port, workers=workers)
        else:
            serve(host=host, port=port)

"""Serve the site (HTTP + websockets) with daphne; in embedded mode, with worker threads."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from arena.services.tournaments import tournaments_requeue_running


def serve(*, host: str, port: int, on_ready: Any = None) -> None:
    """Run daphne in the foreground until interrupted, after starting embedded workers."""
    if settings.EMBEDDED:
        from arena.embedded import embedded_worker_start

        embedded_worker_start()
        tournaments_requeue_running(release_claims=True)
    # Imported late: daphne.server installs Twisted's asyncio reactor at import.
    from daphne.endpoints import build_endpoint_description_strings
    from daphne.server import Server

    from arena.asgi import application

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
            from arena.embedded import embedded_worker_stop

            embedded_worker_stop()


class Command(BaseCommand):
    help = "Serve the arena on HOST:PORT (embedded mode also runs the Celery worker threads)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)

    def handle(self, *args: Any, host: str, port: int, **options: Any) -> None:
        mode = "embedded (SQLite, in-process worker)" if settings.EMBEDDED else "services"
        self.stdout.write(f"Arena at http://{host}:{port}/ — {mode} mode. Ctrl-C stops it.")
        serve(host=host, port=port)

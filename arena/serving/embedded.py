"""Embedded mode: Celery worker threads inside the web process, on the in-memory broker.

Tasks run asynchronously as in services mode (a request never waits for a judge); they just
run in threads of this process instead of in `celery worker` processes.
"""

from __future__ import annotations

import logging
import threading

from celery.worker import WorkController
from django.conf import settings
from django.db import connection

from arena.celery import app

log = logging.getLogger(__name__)
QUEUES = ["default", "judge", "gpu"]

_worker: WorkController | None = None
_sweeping: threading.Event | None = None


def embedded_worker_start(*, concurrency: int | None = None) -> WorkController:
    """Start (once per process) a worker consuming every queue in a daemon thread."""
    global _worker
    if _worker is not None:
        return _worker
    if not settings.EMBEDDED:
        raise RuntimeError("REDIS_URL is set: run `celery -A arena worker` processes instead")
    worker = WorkController(
        app=app,
        hostname="embedded@localhost",
        pool="threads",
        concurrency=concurrency or settings.EMBEDDED_WORKER_THREADS,
        queues=QUEUES,
        without_heartbeat=True,
        without_mingle=True,
        without_gossip=True,
        loglevel="WARNING",
    )
    threading.Thread(target=worker.start, name="embedded-celery", daemon=True).start()
    _worker = worker
    _sweeper_start()
    # Set by WorkController.setup_defaults; celery-types does not declare it.
    log.info("embedded Celery worker started (%s threads)", worker.concurrency)  # type: ignore[attr-defined]
    return worker


def embedded_worker_stop() -> None:
    global _worker, _sweeping
    if _sweeping is not None:
        _sweeping.set()
        _sweeping = None
    if _worker is not None:
        _worker.stop(in_sighandler=False)
        _worker = None


def _sweeper_start() -> None:
    """The embedded worker's timer: what beat's periodic sweep is in services mode."""
    global _sweeping
    stop = _sweeping = threading.Event()
    threading.Thread(target=_sweep_until, args=(stop,), name="embedded-sweep", daemon=True).start()


def _sweep_until(stop: threading.Event) -> None:
    from arena.services.advance import tournaments_sweep

    while not stop.wait(settings.SWEEP_SECONDS):
        try:
            tournaments_sweep()
        except Exception:  # a sweep that failed is tried again at the next tick
            log.exception("sweep failed")
        finally:
            connection.close()  # this thread's own connection: not kept between ticks

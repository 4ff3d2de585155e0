"""How the site is served: the per-process HTTP bound, server processes, session storage."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from arena.serving.asgi import BoundedHTTP, DaemonThreads, SplitHTTP

ROOT = Path(__file__).resolve().parents[2]


def test_at_most_limit_requests_run_at_once_and_each_gets_its_whole_body() -> None:
    running, peak, bodies = 0, 0, []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        await asyncio.sleep(0.01)
        bodies.append(body)
        running -= 1

    bounded = BoundedHTTP(app, limit=2)

    async def request(n: int) -> None:
        chunks = [
            {"type": "http.request", "body": f"{n}-".encode(), "more_body": True},
            {"type": "http.request", "body": b"end", "more_body": False},
        ]

        async def receive() -> dict[str, Any]:
            return chunks.pop(0) if chunks else {"type": "http.disconnect"}

        scope = {"type": "http", "headers": [(b"content-length", b"5")]}
        await bounded(scope, receive, lambda message: None)

    async def main() -> None:
        await asyncio.gather(*(request(n) for n in range(6)))

    asyncio.run(main())
    assert peak == 2
    assert sorted(bodies) == sorted(f"{n}-end".encode() for n in range(6))


def test_a_large_upload_is_not_read_into_memory_before_the_app() -> None:
    seen: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append((await receive())["type"])

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"x", "more_body": True}

    scope = {"type": "http", "headers": [(b"content-length", str(10 << 20).encode())]}
    asyncio.run(BoundedHTTP(app, limit=1)(scope, receive, lambda message: None))
    assert seen == ["http.request"]


def test_a_response_being_streamed_does_not_hold_the_turn() -> None:
    order: list[str] = []
    download_may_end = asyncio.Event()

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        if scope["path"] == "/export":  # a slow client drains a long body
            order.append("export started")
            await download_may_end.wait()
            order.append("export done")
        else:
            order.append("page served")
            download_may_end.set()
        await send({"type": "http.response.body", "body": b""})

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        return None

    bounded = BoundedHTTP(app, limit=1)

    async def main() -> None:
        export = asyncio.create_task(bounded({"type": "http", "path": "/export"}, receive, send))
        await asyncio.sleep(0)
        page = bounded({"type": "http", "path": "/"}, receive, send)
        await asyncio.wait_for(asyncio.gather(export, page), timeout=5)

    asyncio.run(main())
    assert order == ["export started", "page served", "export done"]


@pytest.mark.parametrize(
    ("path", "headers", "handler"),
    [
        ("/tournaments/1/vote/", [(b"content-length", b"120")], "threads"),
        ("/api/tournaments", [], "threads"),
        ("/tournaments/1/export/battles.jsonl/", [], "event loop"),
        ("/api/tournaments/1/export/leaderboard.csv", [], "event loop"),
        ("/static/arena/vote.js", [], "event loop"),
        ("/api/prompt-sets/import", [(b"content-length", str(5 << 20).encode())], "event loop"),
        ("/tournaments/1/vote/", [(b"transfer-encoding", b"chunked")], "event loop"),
    ],
)
def test_streamed_downloads_and_large_or_chunked_uploads_stay_out_of_the_thread_pool(
    path: str, headers: list[tuple[bytes, bytes]], handler: str
) -> None:
    """A pool thread would read or write those at the client's pace, with no timeout."""
    seen: list[str] = []

    def app(name: str) -> Any:
        async def serve(scope: Any, receive: Any, send: Any) -> None:
            seen.append(name)

        return serve

    split = SplitHTTP(threaded=app("threads"), streaming=app("event loop"))
    asyncio.run(split({"type": "http", "path": path, "headers": headers}, None, None))
    assert seen == [handler]


def test_without_a_bound_bodies_are_still_read_before_the_app_runs() -> None:
    received: list[bytes] = []
    chunks = [
        {"type": "http.request", "body": b"a=", "more_body": True},
        {"type": "http.request", "body": b"1", "more_body": False},
    ]

    async def receive() -> dict[str, Any]:
        return chunks.pop(0)

    async def app(scope: Any, replay: Any, send: Any) -> None:
        assert chunks == []  # all read before the app was called
        received.extend([(await replay())["body"], (await replay())["body"]])

    scope = {"type": "http", "headers": [(b"content-length", b"3")]}
    asyncio.run(BoundedHTTP(app, limit=0)(scope, receive, lambda message: None))
    assert received == [b"a=", b"1"]


@pytest.mark.skipif(not settings.EMBEDDED, reason="embedded mode only")
def test_several_server_processes_need_services_mode() -> None:
    with pytest.raises(CommandError, match="services mode"):
        call_command("serve", "--workers", "2")


@pytest.mark.skipif(settings.EMBEDDED, reason="services mode only")
def test_in_services_mode_sessions_are_read_from_redis_and_kept_in_the_database() -> None:
    assert settings.SESSION_ENGINE == "django.contrib.sessions.backends.cached_db"
    assert settings.CACHES["default"]["BACKEND"].endswith("RedisCache")
    assert settings.DATABASES["default"]["CONN_MAX_AGE"] == 0
    assert settings.DATABASES["default"]["OPTIONS"]["pool"]["max_size"] >= 1


def test_the_request_threads_return_results_and_errors_to_the_event_loop() -> None:
    pool = DaemonThreads(2)

    def fail() -> None:
        raise ValueError("in the view")

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        assert await loop.run_in_executor(pool, pow, 2, 10) == 1024
        with pytest.raises(ValueError, match="in the view"):
            await loop.run_in_executor(pool, fail)

    asyncio.run(scenario())
    assert pool.submit(sum, [1, 2]).result(timeout=5) == 3


def _exits_with_a_stuck_request(pool: str) -> subprocess.CompletedProcess[str]:
    # A request whose response can never be sent (daphne has stopped) waits forever.
    code = f"import threading; {pool}.submit(threading.Event().wait); print('exit')"
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=30,
    )  # fmt: skip


def test_a_request_thread_stuck_at_shutdown_does_not_hold_the_process() -> None:
    done = _exits_with_a_stuck_request(
        "__import__('arena.serving.asgi').serving.asgi.DaemonThreads(2)"
    )
    assert done.returncode == 0 and done.stdout.strip() == "exit", done.stderr
    # The standard pool, which a2wsgi makes, joins its threads at exit: the hang.
    with pytest.raises(subprocess.TimeoutExpired):
        subprocess.run(
            [sys.executable, "-c", "import concurrent.futures as f, threading; "
             "f.ThreadPoolExecutor(1).submit(threading.Event().wait)"],
            timeout=3,
        )  # fmt: skip

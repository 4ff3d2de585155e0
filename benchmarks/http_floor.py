"""The HTTP floor of the served app: requests per second and server CPU per request for a
view that does nothing but read the session, under the documented deployment
(``serve --workers 2``: uvicorn, services mode), with HTTP through ``arena.serving.asgi`` (Django's
WSGI handler in a2wsgi's thread pool) against Django's own ASGI handler in the same run.

Each app runs the same settings, middleware and per-process bound (``BoundedHTTP``); only
the HTTP handler differs. A vote cannot cost less than this floor, so it says how much of
a vote's CPU is the web stack and how much the vote's own work (benchmarks/README.md,
"Web load").

Needs PostgreSQL and Redis (services mode), like web_load.py; uses Redis DB 12 (flushed)
and migrates the PostgreSQL database ``--db`` (default ``test``).

    .venv/bin/python benchmarks/http_floor.py --concurrency 16 --duration 10 --rounds 2
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from web_load import cpu_seconds, with_children  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]

URLS = """
from django.http import HttpRequest, HttpResponse
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt


@csrf_exempt
def noop(request: HttpRequest) -> HttpResponse:
    request.session.get("x")  # what every page does: the session middleware's read
    return HttpResponse("ok")


urlpatterns = [path("floor/", noop), path("", include("arena.urls"))]
"""
SETTINGS = 'from arena.settings import *  # noqa: F403\nROOT_URLCONF = "floor_urls"\n'
# Django's ASGI handler behind the same per-process bound, as arena.serving.asgi served it before.
DJANGO_ASGI = """
from django.core.asgi import get_asgi_application
django_asgi = get_asgi_application()
from django.conf import settings
from arena.serving.asgi import BoundedHTTP
limit = settings.HTTP_CONCURRENCY
application = BoundedHTTP(django_asgi, limit) if limit else django_asgi
"""
APPS = {
    "arena.serving.asgi (WSGI in a2wsgi)": "arena.serving.asgi:application",
    "Django ASGI": "floor_asgi:application",
}


def serve(app: str, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    code = (
        "import uvicorn; uvicorn.run("
        f"{app!r}, host='127.0.0.1', port={port}, workers=2, lifespan='off',"
        " access_log=False, log_level='warning')"
    )
    return subprocess.Popen([sys.executable, "-c", code], env=env, cwd=ROOT)


async def load(port: int, concurrency: int, duration: float) -> list[float]:
    latencies: list[float] = []

    async def client() -> None:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            end = time.perf_counter() + duration
            while time.perf_counter() < end:
                start = time.perf_counter()
                response = await http.post("/floor/", data={"a": "b"})
                response.raise_for_status()
                latencies.append(time.perf_counter() - start)

    await asyncio.gather(*(client() for _ in range(concurrency)))
    return latencies


def wait_up(port: int) -> None:
    for _ in range(100):
        try:
            httpx.post(f"http://127.0.0.1:{port}/floor/").raise_for_status()
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise SystemExit(f"server on port {port} did not come up")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=2, help="runs per app, interleaved")
    parser.add_argument("--db", default="test")
    parser.add_argument("--port", type=int, default=8071)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="http-floor-"))
    (work / "floor_urls.py").write_text(URLS)
    (work / "floor_settings.py").write_text(SETTINGS)
    (work / "floor_asgi.py").write_text(DJANGO_ASGI)
    env = os.environ | {
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{args.db}",
        "REDIS_URL": "redis://127.0.0.1:6379/12",
        "DJANGO_SETTINGS_MODULE": "floor_settings",
        "PYTHONPATH": os.pathsep.join([str(work), str(ROOT)]),
    }
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], env=env, cwd=ROOT, check=True)
    print("| app | round | req/s | p50 ms | p99 ms | server CPU ms/req | client CPU ms/req |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for round_ in range(1, args.rounds + 1):
        for name, app in APPS.items():
            server = serve(app, args.port, env)
            try:
                wait_up(args.port)
                pids = with_children(server.pid)
                cpu0 = sum(cpu_seconds(p) for p in pids)
                own0 = resource.getrusage(resource.RUSAGE_SELF)
                start = time.perf_counter()
                latencies = asyncio.run(load(args.port, args.concurrency, args.duration))
                wall = time.perf_counter() - start
                server_cpu = sum(cpu_seconds(p) for p in pids) - cpu0
                own = resource.getrusage(resource.RUSAGE_SELF)
                client_cpu = own.ru_utime + own.ru_stime - own0.ru_utime - own0.ru_stime
            finally:
                server.terminate()
                server.wait(timeout=30)
            latencies.sort()
            n = len(latencies)
            print(
                f"| {name} | {round_} | {n / wall:.0f} | {1000 * latencies[n // 2]:.1f} |"
                f" {1000 * latencies[int(n * 0.99)]:.1f} | {1000 * server_cpu / n:.2f} |"
                f" {1000 * client_cpu / n:.2f} |"
            )
    subprocess.run(["redis-cli", "-n", "12", "flushdb"], capture_output=True)


if __name__ == "__main__":
    main()

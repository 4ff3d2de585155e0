"""A services-mode site of its own for each fault test: a Redis server on a free port
(so stopping it touches nobody else), worker and beat processes on it and on the test
database, a short claim lease and sweep so that recovery takes seconds, not minutes."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import redis

from tests.conftest import _free_port
from tests.integration.test_services_worker import AVAILABLE, ROOT, test_database_url

SITE_APP = "arena-fault-site"
LEASE_SECONDS = 4
SWEEP_SECONDS = 1


@dataclass
class RedisServer:
    port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
            + ["--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                client.ping()
                return
            except redis.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


@dataclass
class Site:
    """Worker and beat processes, started and killed at will; their logs kept."""

    redis: RedisServer
    logs: Path
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def env(self) -> dict[str, str]:
        return os.environ | {
            "DATABASE_URL": test_database_url(),
            "REDIS_URL": self.redis.url,
            "ARENA_MATCH_LEASE_SECONDS": str(LEASE_SECONDS),
            "ARENA_SWEEP_SECONDS": str(SWEEP_SECONDS),
            "ARENA_RETRY_BASE_MS": "200",
            "ARENA_CELERY_LOG_LEVEL": "INFO",
            # libpq names the site's connections, so that a fault can pick them out.
            "PGAPPNAME": SITE_APP,
        }

    def _start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        log = self.logs / f"{name}-{uuid.uuid4().hex[:6]}.log"
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "arena", *args],
            cwd=ROOT,
            env=self.env(),
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
        )
        self.processes.append(process)
        return process

    def worker(self, threads: int = 4) -> subprocess.Popen[bytes]:
        """As `make worker` runs it (threads, no gossip or mingle)."""
        return self._start(
            "worker",
            "worker",
            "-Q",
            "default,judge,gpu",
            "--pool",
            "threads",
            "-c",
            str(threads),
            "-n",
            f"fault-{uuid.uuid4().hex[:8]}@%h",
            "--without-gossip",
            "--without-mingle",
            "-l",
            "INFO",
        )

    def web(self, port: int) -> subprocess.Popen[bytes]:
        """One web process as services mode runs it (``manage.py serve``), answering on
        ``port`` once this returns."""
        log = self.logs / f"web-{uuid.uuid4().hex[:6]}.log"
        process = subprocess.Popen(
            [sys.executable, "manage.py", "serve", "--port", str(port), "--workers", "1"],
            cwd=ROOT,
            env=self.env() | {"ARENA_DATA_DIR": str(self.logs)},
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
        )
        self.processes.append(process)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz/", timeout=2).status_code == 200:
                    return process
            except httpx.HTTPError:
                pass
            if process.poll() is not None:
                break
            time.sleep(0.2)
        raise RuntimeError(f"the web process did not start: {log.read_text()[-2000:]}")

    def beat(self) -> subprocess.Popen[bytes]:
        return self._start("beat", "beat", "-l", "INFO", "-s", str(self.logs / "beat-schedule"))

    def shell(self, code: str) -> None:
        """Run ``code`` in this site's ``manage.py shell`` (its tasks go to its Redis)."""
        subprocess.run(
            [sys.executable, "manage.py", "shell", "-c", code],
            cwd=ROOT,
            env=self.env(),
            check=True,
            capture_output=True,
            timeout=60,
        )

    def close(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    if not AVAILABLE:
        pytest.skip("needs REDIS_URL and a PostgreSQL DATABASE_URL")
    if shutil.which("redis-server") is None:
        pytest.skip("needs redis-server to run a Redis of its own")
    server = RedisServer(_free_port())
    server.start()
    made = Site(server, tmp_path)
    yield made
    made.close()
    server.stop()

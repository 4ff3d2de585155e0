"""`manage.py demo` from an empty data directory: serves the site and finishes its tournament."""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path

import pytest
from websockets.sync.client import connect

pytestmark = pytest.mark.embedded


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read()
    except OSError:
        return 0, b""


def test_the_demo_serves_pages_within_60_s_and_its_tournament_completes(
    tmp_path: Path, demo_site_of
) -> None:
    site = demo_site_of(tmp_path, 0.2)
    base, port = site.base, site.port
    try:
        started = time.monotonic()
        while get(base + "/")[0] != 200 and time.monotonic() - started < 60:
            time.sleep(0.5)
        assert get(base + "/")[0] == 200
        assert get(base + "/tournaments/1/")[0] == 200
        # A real websocket client, through daphne, sees the leaderboard move.
        with connect(f"ws://127.0.0.1:{port}/ws/tournaments/1/", origin=base) as socket:
            types = set()
            while "leaderboard.updated" not in types and time.monotonic() - started < 80:
                types.add(json.loads(socket.recv(timeout=20))["type"])
        assert {"match.finished", "leaderboard.updated"} <= types
        status = ""
        while status != "completed" and time.monotonic() - started < 120:
            time.sleep(1)
            status = json.loads(get(base + "/api/tournaments/1")[1] or b"{}").get("status", "")
        assert status == "completed"
        # The human arena over the real Vicuna answers serves an anonymous battle.
        status, page = get(base + "/tournaments/2/vote/")
        assert status == 200 and b"Answer A" in page and b'name="battle"' in page
        assert b"gpt-3.5-turbo" not in page and b"vicuna-13b" not in page
        board = json.loads(get(base + "/api/tournaments/1/leaderboard")[1])
        assert len(board) == 8 and sum(row["matches"] for row in board) == 2 * 84
    except (AssertionError, TimeoutError) as error:
        raise AssertionError(f"{error!r}\n--- demo output ---\n{site.output()}") from error
    finally:
        site.stop()
    output = site.log.read_text()
    returncode = site.process.returncode
    assert returncode is not None and returncode != -9, "no clean shutdown"
    assert "Traceback" not in output, output[-3000:]
    assert (tmp_path / "arena.sqlite3").exists()

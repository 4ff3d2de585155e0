"""Browser tests: Debian's chromium driven by Playwright against a real `manage.py demo`."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import DemoSite

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("ARENA_CHROMIUM", "/usr/bin/chromium")
STAFF_PASSWORD = "e2e-staff-password"


def _up(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


@pytest.fixture(scope="module")
def demo_site(demo: DemoSite) -> str:
    return demo.base


@pytest.fixture(scope="module")
def demo_env() -> dict[str, str]:
    """Settings of the module's demo site (a module overrides it for its own)."""
    return {}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory, demo_site_of, demo_env) -> DemoSite:
    """A demo site in embedded mode on a free port, with its own empty data directory."""
    site = demo_site_of(tmp_path_factory.mktemp("site"), 0.5, demo_env)
    deadline = time.monotonic() + 60
    while not _up(site.base + "/tournaments/2/") and time.monotonic() < deadline:
        time.sleep(0.3)
    assert _up(site.base + "/"), site.output()
    # A staff account for the tests that manage tournaments (password only for this run).
    subprocess.run(
        [sys.executable, "manage.py", "createsuperuser", "--noinput", "--username", "staff"]
        + ["--email", "staff@example.org"],
        cwd=ROOT,
        env=site.env | {"DJANGO_SUPERUSER_PASSWORD": STAFF_PASSWORD},
        check=True,
        capture_output=True,
    )
    return site


@pytest.fixture(scope="module")
def browser():
    if not shutil.which(CHROMIUM):
        if os.environ.get("ARENA_REQUIRE_BROWSER"):
            pytest.fail(f"ARENA_REQUIRE_BROWSER is set but {CHROMIUM} is missing")
        pytest.skip(f"no chromium at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield browser
        browser.close()

"""A person votes in the browser against a services-mode server: vote.js's votes are
counted by the fast path (arena.serving.fastvote), outside Django, and the page never reloads.

Runs when REDIS_URL and a PostgreSQL DATABASE_URL are set, like the services tests: the
server (`manage.py serve`) runs on the test database.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from playwright.sync_api import Browser, expect

from arena.models import Contestant, Vote
from tests.e2e.conftest import ROOT, _up
from tests.integration.test_services_worker import AVAILABLE, test_database_url

pytestmark = [
    pytest.mark.services,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not AVAILABLE, reason="needs REDIS_URL and a PostgreSQL DATABASE_URL"),
]


@pytest.fixture(autouse=True, scope="module")
def orm_beside_playwright() -> Iterator[None]:
    """Playwright's sync API keeps an event loop running in this thread, and Django then
    refuses ORM calls here; they are still plain synchronous calls (Django's documented
    switch for this case). For the module, so the database's flush after the test has it."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        yield


@pytest.fixture
def services_site(tmp_path: Path) -> Iterator[str]:
    from tests.conftest import _free_port

    port = _free_port()
    log = tmp_path / "serve.log"
    env = os.environ | {
        "DATABASE_URL": test_database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "ARENA_DATA_DIR": str(tmp_path),
    }
    process = subprocess.Popen(
        [sys.executable, "manage.py", "serve", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while not _up(base + "/healthz/") and time.monotonic() < deadline:
        time.sleep(0.3)
    assert _up(base + "/healthz/"), log.read_text()[-3000:]
    yield base
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()


def fast_path_statements() -> list[str]:
    """The last statement of each of the fast path's connections to the test database."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT query FROM pg_stat_activity"
            " WHERE datname = current_database() AND application_name = 'arena-fastvote'"
        )
        return [row[0] for row in cursor.fetchall()]


def test_votes_from_the_page_are_counted_outside_django_without_a_page_load(
    human_tournament_of, services_site: str, browser: Browser
) -> None:
    t = human_tournament_of(4)  # six battles
    page = browser.new_context().new_page()
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    page.goto(f"{services_site}/tournaments/{t.pk}/vote/")
    expect(page.locator("h2", has_text="Answer A")).to_be_visible()
    names = list(Contestant.objects.values_list("name", flat=True))
    assert not any(name in page.content() for name in names)
    assert fast_path_statements() == []  # its pool opens with the first vote
    page.evaluate("window.__sameDocument = true")

    page.keyboard.press("1")
    expect(page.locator("h1")).to_have_text("Thanks for your vote")
    assert page.evaluate("window.__sameDocument") is True  # no page load
    revealed = page.locator(".answer .model .name").all_text_contents()
    assert len(revealed) == 2 and set(revealed) <= set(names)
    page.click("#next-battle")  # few battles: the link loads the next one
    expect(page.locator("h1")).to_have_text("Which answer is better?")
    page.keyboard.press("2")
    expect(page.locator("h1")).to_have_text("Thanks for your vote")

    assert Vote.objects.filter(match__tournament=t).count() == 2 and len(posts) == 2
    # A fast-path connection's last statement reads the tournament's matches (the next
    # battle's claim, or the "no open match left" check that follows a vote's commit): it
    # counted votes, not Django.
    statements = fast_path_statements()
    assert any("arena_match" in q for q in statements), statements

"""A reader opens the global leaderboard: the ratings first, the judges' panel after."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, expect

pytestmark = pytest.mark.embedded


def test_the_judges_panel_arrives_after_the_page_in_place_of_its_loading_line(
    demo_site: str, browser: Browser
) -> None:
    page = browser.new_context().new_page()
    page.goto(f"{demo_site}/leaderboard/")
    expect(page.locator("#global-leaderboard")).to_be_visible()
    expect(page.locator("#judge-quality th", has_text="Cohen")).to_be_visible()
    expect(page.locator("#judge-quality-loading")).to_have_count(0)
    expect(page.locator("#judge-quality-panel h2")).to_have_text("Judges")


def test_no_page_breaks_its_own_content_security_policy(demo_site: str, browser: Browser) -> None:
    page = browser.new_context().new_page()
    refused: list[str] = []
    page.on("console", lambda m: refused.append(m.text) if "Content Security" in m.text else None)
    for path in ("/", "/leaderboard/", "/tournaments/1/", "/tournaments/2/vote/", "/me/"):
        page.goto(f"{demo_site}{path}")
        page.wait_for_load_state("networkidle")
    assert refused == []

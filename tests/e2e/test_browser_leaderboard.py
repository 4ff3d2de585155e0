"""A reader opens the global leaderboard: the ratings first, the overall ranking across
categories and the judges' panel after."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

pytestmark = pytest.mark.embedded
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"


def test_the_judges_panel_arrives_after_the_page_in_place_of_its_loading_line(
    demo_site: str, browser: Browser
) -> None:
    page = browser.new_context().new_page()
    page.goto(f"{demo_site}/leaderboard/")
    expect(page.locator("#global-leaderboard")).to_be_visible()
    expect(page.locator("#judge-quality th", has_text="Cohen")).to_be_visible()
    expect(page.locator("#judge-quality-loading")).to_have_count(0)
    expect(page.locator("#judge-quality-panel h2")).to_have_text("Judges")


def test_the_overall_ranking_across_categories_arrives_in_place_of_its_loading_line(
    demo_site: str, browser: Browser
) -> None:
    page = browser.new_context().new_page()
    page.goto(f"{demo_site}/leaderboard/")
    expect(page.locator("#overall-summary")).to_be_visible()
    expect(page.locator("#overall-panel .lazy-loading")).to_have_count(0)
    expect(page.locator("#overall-panel h2")).to_have_text("Overall across categories")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / "leaderboard-overall.png", full_page=True)


def test_no_page_breaks_its_own_content_security_policy(demo_site: str, browser: Browser) -> None:
    page = browser.new_context().new_page()
    refused: list[str] = []
    page.on("console", lambda m: refused.append(m.text) if "Content Security" in m.text else None)
    for path in ("/", "/leaderboard/", "/tournaments/1/", "/tournaments/2/vote/", "/me/"):
        page.goto(f"{demo_site}{path}")
        page.wait_for_load_state("networkidle")
    assert refused == []

"""A reader watches a K-wise arena's board: Plackett-Luce with its interval, mu - 3 sigma
and BT on the pairs, updated live as people rank answers."""

from __future__ import annotations

import os

import pytest
from playwright.sync_api import Browser, expect

pytestmark = pytest.mark.embedded

RANKS = ["1st", "2nd", "3rd", "4th"]


def test_the_kwise_board_shows_pl_and_mu_minus_3_sigma_and_moves_without_reload(
    demo_site: str, browser: Browser
) -> None:
    watcher = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
    watcher.goto(f"{demo_site}/tournaments/3/")  # the demo's 4-way arena judged by people
    expect(watcher.locator("#live-state")).to_have_text("live")
    headers = watcher.locator("#leaderboard thead th").all_text_contents()
    assert headers[:5] == ["Rank", "Model", "PL", "PL 95% CI", "μ − 3σ"] and "BT" in headers
    watcher.evaluate("window.__notReloaded = true")

    voter = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
    voter.goto(f"{demo_site}/tournaments/3/vote/")
    for vote in range(3):
        expect(voter.locator("h1")).to_have_text("Rank the answers", timeout=30_000)
        for position in range(4):  # the same order every time: A > B > C > D
            voter.locator(".answer").nth(position).get_by_text(RANKS[position], exact=True).click()
        voter.click("#submit-ranking")
        expect(voter.locator("h1")).to_have_text("Thanks for your vote")
        if vote < 2:
            voter.click("#next-battle")

    # Three 4-way rankings of the 5 models rank every one of them: each gets a PL rating.
    last = watcher.locator("#leaderboard tbody tr").last.locator("td")
    expect(last.nth(2)).not_to_have_text("–", timeout=15_000)
    first = watcher.locator("#leaderboard tbody tr").first.locator("td")
    low, high = (float(x) for x in first.nth(3).inner_text().split(" – "))
    assert low < float(first.nth(2).inner_text()) < high
    float(first.nth(4).inner_text())  # mu - 3 sigma, a number
    assert watcher.evaluate("window.__notReloaded") is True
    shots = os.environ.get("ARENA_SCREENSHOTS")
    if shots:
        watcher.locator("#leaderboard").screenshot(path=f"{shots}/kwise-board.png")
        watcher.screenshot(path=f"{shots}/kwise-page.png", full_page=True)

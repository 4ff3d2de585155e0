"""A voter past the vote limit keeps the battle they read and learns when to come back."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, expect

pytestmark = pytest.mark.embedded


@pytest.fixture(scope="module")
def demo_env() -> dict[str, str]:
    return {"ARENA_VOTES_PER_MINUTE": "1"}


def test_a_vote_past_the_limit_keeps_the_battle_and_says_when_voting_opens_again(
    demo_site: str, browser: Browser
) -> None:
    page = browser.new_context().new_page()
    page.goto(f"{demo_site}/tournaments/2/vote/")
    expect(page.locator("h2", has_text="Answer A")).to_be_visible(timeout=30_000)
    page.keyboard.press("1")
    expect(page.locator("h1")).to_have_text("Thanks for your vote")
    page.keyboard.press("n")
    expect(page.locator("h1")).to_have_text("Which answer is better?", timeout=30_000)
    expect(page.locator("h2", has_text="Answer A")).to_be_visible(timeout=30_000)
    battle = page.locator('input[name="battle"]').get_attribute("value")
    answers = page.locator(".answer .answer-body").all_inner_texts()

    page.keyboard.press("2")
    error = page.locator("#vote-error")
    expect(error).to_have_text(
        re.compile(
            r"Not counted: too many votes: at most 1 in a minute\. Voting opens again at"
            r" .+ \(in \d+ s\); this battle waits for you\."
        )
    )
    # The battle stays as it was, its buttons wait, and the count did not move.
    expect(page.locator("h1")).to_have_text("Which answer is better?")
    assert page.locator('input[name="battle"]').get_attribute("value") == battle
    assert page.locator(".answer .answer-body").all_inner_texts() == answers
    expect(page.locator(".vote-buttons button").first).to_be_disabled()
    expect(page.locator("#vote-count")).to_have_text("1")

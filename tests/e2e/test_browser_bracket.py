"""A bracket read in the browser: an anchor pass before round 1, seeds, a champion and
places, the third-place match and re-judged ties labelled, live and after a reload; with
screenshots at a desktop and a phone size in var/screenshots/."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.conftest import DemoSite
from tests.e2e.conftest import STAFF_PASSWORD

pytestmark = pytest.mark.embedded

SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
SIZES = {"desktop": (1400, 900), "phone": (390, 844)}


def _draft_bracket(demo: DemoSite) -> int:
    """A draft bracket of six, seeded by an anchor pass against alpaca-13b, with a
    third-place match, judged by a simulated judge that ties equals half the time."""
    out = demo.shell(
        "from arena.models import Contestant, Judge, JudgeKind\n"
        "from arena.services.tournaments import tournament_create\n"
        "Judge.objects.get_or_create(name='tie-prone', kind=JudgeKind.SIMULATED,"
        " settings={'tie_strength': 2.0})\n"
        "anchor = Contestant.objects.get(name='alpaca-13b').pk\n"
        "t = tournament_create(name='Readable bracket', format='single_elimination',"
        " contestants=['sim-strong', 'sim-middle', 'sim-weak', 'bard', 'vicuna-13b',"
        " 'alpaca-13b'], prompt_set='vicuna-80', judge='tie-prone',"
        " config={'seeding': 'anchor', 'anchor': anchor, 'third_place': True}, seed=2)\n"
        "print('id', t.pk)\n"
    )
    return int(out.split("id ")[-1])


def _latest(page: Page) -> Counter[str]:
    return Counter(page.locator("#matches li").all_inner_texts())


def test_a_bracket_with_an_anchor_pass_and_a_third_place_match_reads_as_labelled(
    demo: DemoSite, browser: Browser
) -> None:
    tournament = _draft_bracket(demo)
    page = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
    page.goto(f"{demo.base}/admin/login/?next=/tournaments/{tournament}/")
    page.fill("#id_username", "staff")
    page.fill("#id_password", STAFF_PASSWORD)
    page.click("input[type=submit]")
    expect(page.locator("h1")).to_have_text("Readable bracket")
    expect(page.locator("#live-state")).to_have_text("live")
    page.click("button:has-text('Start')")
    page.goto(f"{demo.base}/tournaments/{tournament}/")  # watch it live from here
    expect(page.locator("#live-state")).to_have_text("live")
    expect(page.locator("#status")).to_have_text("completed", timeout=60_000)
    expect(page.locator("#champion")).to_contain_text("Champion:", timeout=10_000)
    live = _latest(page)
    live_places = page.locator("#leaderboard td.place").all_inner_texts()

    page.reload()
    # The live page labelled its matches as the server does; no round is numbered 0.
    assert _latest(page) == live
    assert sorted(page.locator("#leaderboard td.place").all_inner_texts()) == sorted(live_places)
    labels = " ".join(live)
    assert "Anchor pass ·" in labels and "Round 1 · Quarter-finals" in labels
    assert "Round 3 · Third-place match" in labels and "round 0" not in labels.lower()

    rounds = page.locator("#rounds .round h3")
    expect(rounds).to_have_text(
        [
            "Anchor pass (seeding)",
            "Round 1 · Quarter-finals",
            "Round 2 · Semi-finals",
            "Round 3 · Final",
        ]
    )
    third = page.locator(".match-card.third-place")
    expect(third).to_have_count(1)
    expect(third.locator(".card-label")).to_have_text("Third-place match")
    expect(page.locator("#seeding")).to_contain_text("Seeds from the anchor pass")
    # Every bracket card names its entrants' seeds; a game re-judged after a tie is one card.
    quarters = page.locator("#rounds .round").nth(1)
    bracket_cards = quarters.locator(".match-card:not(.bye)")
    expect(bracket_cards).to_have_count(2)  # six players: two quarter-finals, two byes
    for card in bracket_cards.all():
        expect(card.locator(".seed")).to_have_count(2)
    expect(quarters.locator(".match-card.bye .seed")).to_have_text(["1", "2"])
    rejudged = page.locator(".verdict.rejudge")
    assert rejudged.count() >= 1  # this seed's draws tie at least one bracket game
    expect(rejudged.first).to_contain_text("re-judged, answers swapped:")

    places = page.locator("#leaderboard td.place").all_inner_texts()
    assert sorted(places) == sorted(["1st", "2nd", "3rd", "4th", "5th–6th", "5th–6th"])
    expect(page.locator("#placings li").first).to_contain_text("1st")
    expect(page.locator("#rank-note")).to_contain_text("95% intervals")

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for name, (width, height) in SIZES.items():  # as a reader (not staff) opens it
        reader = browser.new_context(viewport={"width": width, "height": height}).new_page()
        reader.goto(f"{demo.base}/tournaments/{tournament}/")
        expect(reader.locator("#live-state")).to_have_text("live")
        assert reader.evaluate("document.documentElement.scrollWidth") <= width
        reader.screenshot(path=SCREENSHOTS / f"bracket-{name}.png", full_page=True)
        reader.locator("#rounds").scroll_into_view_if_needed()
        reader.screenshot(path=SCREENSHOTS / f"bracket-{name}-rounds.png")

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


def _by_match(page: Page) -> dict[str, str]:
    items = page.locator("#matches li")
    return {
        str(items.nth(i).get_attribute("data-match")): items.nth(i).inner_text()
        for i in range(items.count())
    }


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


def _draft_per_prompt(demo: DemoSite) -> int:
    """A draft of one bracket per prompt: five simulated models (they answer any prompt) on
    three prompts of their own, seeded
    from the global leaderboard, with third-place matches."""
    out = demo.shell(
        "from arena.models import BackendKind, Contestant, Prompt, PromptSet\n"
        "from arena.services.tournaments import tournament_create\n"
        "for name, strength in [('sim-upper', 1100.0), ('sim-lower', 930.0)]:\n"
        "    Contestant.objects.get_or_create(name=name, backend=BackendKind.SIMULATED,"
        " generation={'strength': strength})\n"
        "s, _ = PromptSet.objects.get_or_create(name='three-prompts')\n"
        "for i, text in enumerate(['Name three prime numbers.', 'Describe rain to a fish.',"
        " 'Write a limerick about a kettle.']):\n"
        "    Prompt.objects.get_or_create(prompt_set=s, external_id=str(i), text=text)\n"
        "t = tournament_create(name='Per-prompt brackets', format='single_elimination',"
        " contestants=['sim-strong', 'sim-upper', 'sim-middle', 'sim-lower', 'sim-weak'],"
        " prompt_set='three-prompts', judge='tie-prone',"
        " config={'brackets': 'per_prompt', 'seeding': 'rating', 'third_place': True}, seed=4)\n"
        "print('id', t.pk)\n"
    )
    return int(out.split("id ")[-1])


def test_per_prompt_brackets_are_picked_by_prompt_and_count_the_brackets_won(
    demo: DemoSite, browser: Browser
) -> None:
    _draft_bracket(demo)  # makes the tie-prone judge if this test runs alone
    tournament = _draft_per_prompt(demo)
    page = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
    page.goto(f"{demo.base}/admin/login/?next=/tournaments/{tournament}/")
    page.fill("#id_username", "staff")
    page.fill("#id_password", STAFF_PASSWORD)
    page.click("input[type=submit]")
    expect(page.locator("#live-state")).to_have_text("live")
    page.click("button:has-text('Start')")
    page.goto(f"{demo.base}/tournaments/{tournament}/")
    expect(page.locator("#live-state")).to_have_text("live")
    expect(page.locator("#status")).to_have_text("completed", timeout=90_000)
    expect(page.locator("#champion")).to_contain_text("This prompt's champion:", timeout=10_000)
    live = _by_match(page)
    assert any(label.startswith("Prompt 3 · ") for label in live.values())

    page.reload()
    # live.js labelled each match as the server does (the lists hold the latest 20 of 21+,
    # in arrival and in finishing order: they share most, not all)
    again = _by_match(page)
    shared = live.keys() & again.keys()
    assert len(shared) >= 10 and all(live[k] == again[k] for k in shared)
    assert "failed" not in " ".join(again.values())
    options = page.locator("#bracket-choice option")
    expect(options).to_have_count(3)
    expect(options.nth(1)).to_contain_text("Prompt 2: Describe rain to a fish. — won by")
    expect(page.locator("#leaderboard th").nth(2)).to_have_text("Brackets won")
    won = [int(t.split(" of ")[0]) for t in page.locator("#leaderboard td.place").all_inner_texts()]
    assert sum(won) == 3 and len(won) == 5
    expect(page.locator("#seeding")).to_contain_text("Bradley-Terry rating on the global")

    page.select_option("#bracket-choice", "1")  # submits: the page shows prompt 2's bracket
    expect(page).to_have_url(f"{demo.base}/tournaments/{tournament}/?bracket=1#rounds")
    expect(page.locator("#bracket-choice")).to_have_value("1")
    expect(page.locator("#rounds .round h3")).to_have_text(
        ["Round 1 · Quarter-finals", "Round 2 · Semi-finals", "Round 3 · Final"]
    )
    expect(page.locator(".match-card.third-place .card-label")).to_have_text("Third-place match")
    champion = options.nth(1).inner_text().split(" — won by ")[1]
    expect(page.locator("#champion strong")).to_have_text(champion)

    for name, (width, height) in SIZES.items():
        reader = browser.new_context(viewport={"width": width, "height": height}).new_page()
        reader.goto(f"{demo.base}/tournaments/{tournament}/?bracket=1")
        expect(reader.locator("#live-state")).to_have_text("live")
        assert reader.evaluate("document.documentElement.scrollWidth") <= width
        reader.locator("#rounds").scroll_into_view_if_needed()
        reader.screenshot(path=SCREENSHOTS / f"bracket-per-prompt-{name}.png", full_page=True)

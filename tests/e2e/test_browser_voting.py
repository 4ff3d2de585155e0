"""A person votes in the browser while another page watches the leaderboard move."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, expect

pytestmark = pytest.mark.embedded

MODELS = ["gpt-3.5-turbo", "bard", "vicuna-13b", "alpaca-13b", "llama-13b"]


def test_a_vote_reveals_the_models_and_the_watching_leaderboard_updates_without_reload(
    demo_site: str, browser: Browser
) -> None:
    watcher = browser.new_page()
    watcher.goto(f"{demo_site}/tournaments/2/")
    expect(watcher.locator("#live-state")).to_have_text("live")
    watcher.evaluate("window.__notReloaded = true")
    total_matches = watcher.locator("#leaderboard tbody td:nth-child(7)")
    expect(total_matches.first).to_have_text("0")

    voter = browser.new_context().new_page()
    voter.goto(f"{demo_site}/tournaments/2/vote/")
    # The page refreshes itself until the workers have the first battle's answers ready.
    expect(voter.locator("h2", has_text="Answer A")).to_be_visible(timeout=30_000)
    source = voter.content()
    assert not any(name in source for name in MODELS), "a model name leaked before the vote"

    voter.keyboard.press("1")  # "A is better"
    expect(voter.locator("h1")).to_have_text("Thanks for your vote")
    revealed = voter.locator(".reveal li strong").all_text_contents()
    assert len(revealed) == 2 and set(revealed) <= set(MODELS)

    expect(watcher.locator("#leaderboard tbody tr").first).to_contain_text(revealed[0])
    expect(watcher.locator("#matches li").first).to_contain_text(f"{revealed[0]}  >  {revealed[1]}")
    assert watcher.evaluate("window.__notReloaded") is True

    voter.click("#next-battle")
    expect(voter.locator("h2", has_text="Answer B")).to_be_visible()


def test_the_judged_demo_tournament_fills_in_live_to_completion(
    demo_site: str, browser: Browser
) -> None:
    page = browser.new_page()
    page.goto(f"{demo_site}/tournaments/1/")
    expect(page.locator("#live-state")).to_have_text("live")
    expect(page.locator("#status")).to_have_text("completed", timeout=90_000)
    expect(page.locator("#progress")).to_have_text("84 / 84")
    cells = page.locator("#leaderboard tbody td:nth-child(3)").all_text_contents()
    bt = [float(x) for x in cells]
    assert len(bt) == 8 and bt == sorted(bt, reverse=True)
    low, high = (
        page.locator("#leaderboard tbody tr").first.locator("td").nth(3).inner_text().split(" – ")
    )
    assert float(low) < bt[0] < float(high)
    assert re.search(r"round 2 · completed", page.locator("#matches").inner_text())
    # The plots are drawn from every verdict (charts.js reports how many it plotted).
    expect(page.locator("#charts")).to_have_attribute("data-drawn", "84", timeout=15_000)
    assert page.locator("#chart-forest").bounding_box()["height"] > 100
    # With nothing left to judge, the stamp counts the seconds since the last update.
    expect(page.locator("#updated")).to_have_text(re.compile(r"updated \d+ s ago"), timeout=10_000)


def test_a_voter_ranks_four_answers_with_a_tie_and_sees_the_reveal(
    demo_site: str, browser: Browser
) -> None:
    page = browser.new_context().new_page()
    page.goto(f"{demo_site}/tournaments/3/vote/")
    expect(page.locator("h1")).to_have_text("Rank the answers", timeout=30_000)
    assert not any(name in page.content() for name in MODELS)
    for position, rank in enumerate(["2", "1", "2", "4"]):
        page.select_option(f'select[name="rank_{position}"]', rank)
    page.click("#submit-ranking")
    expect(page.locator("h1")).to_have_text("Thanks for your vote")
    shown = page.locator(".reveal li strong").all_text_contents()
    verdict = page.locator("p", has_text="Your verdict").inner_text()
    assert verdict == f"Your verdict: {shown[1]} > {shown[0]} = {shown[2]} > {shown[3]}"


def test_the_bracket_fills_in_live_up_to_a_champion(demo_site: str, browser: Browser) -> None:
    page = browser.new_page()
    page.goto(f"{demo_site}/tournaments/4/")
    expect(page.locator("h2", has_text="Bracket")).to_be_visible()
    expect(page.locator("#status")).to_have_text("completed", timeout=90_000)
    # 8 contestants: 4 + 2 + final and third place = 8 matches in 3 rounds (plus one more
    # per judged tie: a tie is judged again with the order swapped), swapped in live.
    done = int(page.locator("#progress").inner_text().split(" / ")[0])
    assert done >= 8
    expect(page.locator("#rounds .match-card")).to_have_count(done, timeout=10_000)
    expect(page.locator("#rounds .match-card.completed")).to_have_count(done, timeout=10_000)
    assert page.locator("#rounds .round").count() == 3
    final = page.locator("#rounds .round").last
    assert final.locator(".entrant.winner").count() >= 1


def test_while_battles_are_plenty_next_battle_shows_the_one_that_came_with_the_reveal(
    demo_site: str, browser: Browser
) -> None:
    staff = browser.new_context().new_page()
    staff.goto(f"{demo_site}/admin/login/?next=/tournaments/new/")
    staff.fill("#id_username", "staff")
    staff.fill("#id_password", "e2e-staff-password")
    staff.click("input[type=submit]")
    staff.fill("#id_name", "Many battles")
    for name in [*MODELS, "sim-strong", "sim-middle", "sim-weak"]:
        staff.get_by_label(name, exact=True).check()
    staff.select_option("#id_prompt_set", label="vicuna-80")
    staff.fill("#id_rounds", "1")
    staff.click("main button[type=submit]")
    staff.click("button:has-text('Start')")
    expect(staff.locator("#status")).to_have_text("running")
    vote_url = staff.url.rstrip("/") + "/vote/"

    voter = browser.new_context().new_page()
    requests: list[str] = []
    voter.on(
        "request",
        lambda r: requests.append(r.method) if r.resource_type in ("document", "fetch") else None,
    )
    for _ in range(40):  # until the workers have the answers of 20+ battles ready
        voter.goto(vote_url)
        expect(voter.locator("h2", has_text="Answer A")).to_be_visible(timeout=30_000)
        voter.evaluate("window.__sameDocument = true")
        voter.keyboard.press("3")  # tie
        expect(voter.locator("h1")).to_have_text("Thanks for your vote")
        # The reveal came as JSON into the same page (vote.js), not as a page load.
        assert voter.evaluate("window.__sameDocument") is True
        if "?battle=" in voter.locator("#next-battle").get_attribute("href"):
            break  # it brought the next battle
    assert voter.locator("#battle").is_hidden()
    voter.keyboard.press("1")  # the next battle is not shown yet: no vote
    requests.clear()
    voter.click("#next-battle")
    expect(voter.locator("h1")).to_have_text("Which answer is better?")
    expect(voter.locator("#battle h2", has_text="Answer B")).to_be_visible()
    assert voter.evaluate("window.__sameDocument") is True and requests == []
    assert "?battle=" in voter.url and voter.locator("#reveal").is_hidden()
    assert not any(name in voter.content() for name in MODELS)  # the last reveal is gone
    voter.keyboard.press("2")
    expect(voter.locator("h1")).to_have_text("Thanks for your vote")
    assert requests == ["POST"]  # one request for the vote, none for the battle
    assert len(voter.locator(".reveal li strong").all_text_contents()) == 2


def test_a_vote_the_server_refuses_falls_back_to_the_page_that_says_why(
    demo_site: str, browser: Browser
) -> None:
    page = browser.new_context().new_page()
    page.goto(f"{demo_site}/tournaments/2/vote/")
    expect(page.locator("h2", has_text="Answer A")).to_be_visible(timeout=30_000)
    # The same voter's other tab votes on this battle first (shown without a session
    # yet: with the page's token).
    form = {
        name: page.locator(f'input[name="{name}"]').first.get_attribute("value")
        for name in ("csrfmiddlewaretoken", "battle", "shown")
    }
    other_tab = page.request.post(
        f"{demo_site}/tournaments/2/vote/",
        form={**form, "idempotency_key": "other-tab", "outcome": "b"},
        headers={"Accept": "application/json", "Referer": page.url},
    )
    assert other_tab.status == 200
    page.keyboard.press("1")
    expect(page.locator("h1")).to_have_text("Vote not counted")
    expect(page.locator(".errorlist")).to_have_text("this battle already has your vote")

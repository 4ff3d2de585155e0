"""A person votes in the browser while another page watches the leaderboard move."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, expect

from tests.conftest import DemoSite

pytestmark = pytest.mark.embedded

MODELS = ["gpt-3.5-turbo", "bard", "vicuna-13b", "alpaca-13b", "llama-13b"]


def _human_round_robin(demo_site: str, browser: Browser, name: str) -> str:
    """A running round robin of the 8 demo contestants judged by people (28 battles per
    round), made on the staff pages; its vote page's URL."""
    staff = browser.new_context().new_page()
    staff.goto(f"{demo_site}/admin/login/?next=/tournaments/new/")
    staff.fill("#id_username", "staff")
    staff.fill("#id_password", "e2e-staff-password")
    staff.click("input[type=submit]")
    staff.fill("#id_name", name)
    for model in [*MODELS, "sim-strong", "sim-middle", "sim-weak"]:
        staff.get_by_label(model, exact=True).check()
    staff.select_option("#id_prompt_set", label="vicuna-80")
    staff.fill("#id_rounds", "1")
    staff.click("main button[type=submit]")
    staff.click("button:has-text('Start')")
    expect(staff.locator("#status")).to_have_text("running")
    staff.context.close()
    return staff.url.rstrip("/") + "/vote/"


@pytest.fixture(scope="module")
def arena(demo_site: str, browser: Browser) -> str:
    """The vote page of an arena of this module's own, so that its tests do not wait on
    the demo arenas' battles, which the other tests take."""
    return _human_round_robin(demo_site, browser, "Voting page")


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

    answers = voter.locator(".answer .answer-body").all_inner_texts()
    voter.keyboard.press("1")  # "A is better"
    expect(voter.locator("h1")).to_have_text("Thanks for your vote")
    # The answers stay, each with its model's name over it, and the vote is counted.
    revealed = voter.locator(".answer .model .name").all_text_contents()
    assert len(revealed) == 2 and set(revealed) <= set(MODELS)
    assert voter.locator(".answer .answer-body").all_inner_texts() == answers
    expect(voter.locator(".answer").first.locator(".place")).to_have_text("your pick")
    expect(voter.locator("#vote-count")).to_have_text("1")

    expect(watcher.locator("#leaderboard tbody tr").first).to_contain_text(revealed[0])
    expect(watcher.locator("#matches li").first).to_contain_text(f"{revealed[0]}  >  {revealed[1]}")
    assert watcher.evaluate("window.__notReloaded") is True

    voter.click("#next-battle")
    expect(voter.locator("h1")).to_have_text("Which answer is better?")
    expect(voter.locator(".answer .model").first).to_be_hidden()


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
    # Rounds are numbered from 1 for people: the last of three is "Round 3".
    assert re.search(r"Round 3 · completed", page.locator("#matches").inner_text())
    # The plots are drawn from every verdict (charts.js reports how many it plotted).
    expect(page.locator("#charts")).to_have_attribute("data-drawn", "84", timeout=15_000)
    assert page.locator("#chart-forest").bounding_box()["height"] > 100
    # With nothing left to judge, the stamp counts the seconds since the last update.
    expect(page.locator("#updated")).to_have_text(re.compile(r"updated \d+ s ago"), timeout=10_000)


def test_four_answers_show_two_by_two_a_tie_is_explicit_and_an_empty_ranking_is_refused(
    demo_site: str, browser: Browser
) -> None:
    page = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
    page.goto(f"{demo_site}/tournaments/3/vote/")
    expect(page.locator("h1")).to_have_text("Rank the answers", timeout=30_000)
    assert not any(name in page.content() for name in MODELS)
    # Two by two, every answer in view above the vote bar.
    boxes = [page.locator(".answer").nth(i).bounding_box() for i in range(4)]
    assert len({round(b["x"]) for b in boxes}) == 2 and len({round(b["y"]) for b in boxes}) == 2
    bar = page.locator(".vote-bar").bounding_box()
    assert all(b["y"] + b["height"] <= bar["y"] + 1 for b in boxes), (boxes, bar)

    page.click("#submit-ranking")
    expect(page.locator("#vote-error")).to_have_text(
        "Nothing ranked yet: pick a rank for every answer (1st is best)."
    )
    assert page.locator("#reveal").is_hidden()
    for position in range(4):  # "all fourth" says nothing either
        page.locator(".answer").nth(position).get_by_text("4th", exact=True).click()
    page.click("#submit-ranking")
    expect(page.locator("#vote-error")).to_contain_text("every answer has the same rank")
    assert page.locator("#reveal").is_hidden()
    for position, rank in enumerate(["2nd", "1st", "2nd", "4th"]):
        answer = page.locator(".answer").nth(position)
        answer.get_by_text(rank, exact=True).click()
    expect(page.locator("#ranking-summary")).to_have_text(
        "Your ranking: B > A = C > D (A and C tied)"
    )
    page.click("#submit-ranking")
    expect(page.locator("h1")).to_have_text("Thanks for your vote")
    shown = page.locator(".answer .model .name").all_text_contents()
    verdict = page.locator("#verdict").inner_text()
    assert verdict == f"Your verdict: {shown[1]} > {shown[0]} = {shown[2]} > {shown[3]}"
    places = page.locator(".answer .model .place").all_text_contents()
    assert places == ["tied 2nd", "1st", "tied 2nd", "4th"]


def test_the_bracket_fills_in_live_up_to_a_champion(demo_site: str, browser: Browser) -> None:
    page = browser.new_page()
    page.goto(f"{demo_site}/tournaments/4/")
    expect(page.locator("h2", has_text="Bracket")).to_be_visible()
    expect(page.locator("#status")).to_have_text("completed", timeout=90_000)
    # 8 contestants: 4 + 2 + final and third place = 8 cards in 3 rounds, swapped in live; a
    # tie judged again with the order swapped is one more match on the same card.
    done = int(page.locator("#progress").inner_text().split(" / ")[0])
    assert done >= 8
    expect(page.locator("#rounds .match-card")).to_have_count(8, timeout=10_000)
    expect(page.locator("#rounds .match-card.completed")).to_have_count(8, timeout=10_000)
    assert page.locator("#rounds .round").count() == 3
    final = page.locator("#rounds .round").last
    assert final.locator(".entrant.winner").count() >= 1


def test_while_battles_are_plenty_next_battle_shows_the_one_that_came_with_the_reveal(
    demo_site: str, browser: Browser
) -> None:
    vote_url = _human_round_robin(demo_site, browser, "Many battles")

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
    requests.clear()
    voter.keyboard.press("1")  # the voted battle is still shown: no second vote
    voter.click("#next-battle")
    expect(voter.locator("h1")).to_have_text("Which answer is better?")
    assert voter.evaluate("window.__sameDocument") is True and requests == []
    assert "?battle=" in voter.url and voter.locator("#reveal").is_hidden()
    assert not any(name in voter.content() for name in MODELS)  # the last reveal is gone
    voter.keyboard.press("2")
    expect(voter.locator("h1")).to_have_text("Thanks for your vote")
    assert requests == ["POST"]  # one request for the vote, none for the battle
    assert len(voter.locator(".answer .model .name").all_text_contents()) == 2


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


def test_an_answers_single_line_breaks_are_shown(
    demo: DemoSite, arena: str, browser: Browser
) -> None:
    page = browser.new_context().new_page()
    page.goto(arena)
    expect(page.locator("h2", has_text="Answer A")).to_be_visible(timeout=30_000)
    # A page without a session is shown the first free battle in the serving order (random
    # public ids), and assigned none: wait until every battle has its answers, so that the
    # reload below shows the same one.
    battle = page.locator('input[name="battle"]').get_attribute("value")
    demo.shell(
        "import time\n"
        "from arena.models import Match\n"
        f"t = Match.objects.get(public_id='{battle}').tournament_id\n"
        "while Match.objects.filter(tournament_id=t, status__in=['pending', 'playing']):\n"
        "    time.sleep(0.2)"
    )
    page.reload()
    expect(page.locator("h2", has_text="Answer A")).to_be_visible(timeout=30_000)
    battle = page.locator('input[name="battle"]').get_attribute("value")
    demo.shell(
        "from arena.models import Match, Response\n"
        f"match = Match.objects.get(public_id='{battle}')\n"
        "Response.objects.filter(pk__in=match.entries.values('response_id'))"
        ".update(text='Roses are red,\\nviolets are blue,\\n**sugar** is sweet.')"
    )
    page.reload()
    first = page.locator(".answer .answer-body").first
    expect(first).to_have_text("Roses are red,\nviolets are blue,\nsugar is sweet.")
    assert first.locator("br").count() == 2 and first.locator("strong").count() == 1


def test_a_voter_votes_on_five_battles_in_a_row_with_the_keyboard_alone(
    arena: str, browser: Browser
) -> None:
    page = browser.new_context().new_page()
    page.goto(arena)
    for n, key in enumerate("12341", start=1):
        expect(page.locator("h1")).to_have_text("Which answer is better?", timeout=30_000)
        expect(page.locator("h2", has_text="Answer A")).to_be_visible(timeout=30_000)
        battle = page.locator('input[name="battle"]').get_attribute("value")
        page.keyboard.press(key)
        expect(page.locator("h1")).to_have_text("Thanks for your vote")
        expect(page.locator("#vote-count")).to_have_text(str(n))
        expect(page.locator("#tally")).to_have_text(
            f"your {['1st', '2nd', '3rd', '4th', '5th'][n - 1]} vote"
        )
        expect(page.locator("#next-battle")).to_be_focused()
        page.keyboard.press("N" if n % 2 else "Enter")
        expect(page.locator("#prompt")).to_be_focused(timeout=30_000)
        assert page.locator('input[name="battle"]').get_attribute("value") != battle


def test_on_a_phone_nothing_scrolls_sideways_and_every_control_fits_a_finger(
    demo_site: str, arena: str, browser: Browser
) -> None:
    phone = browser.new_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
    ).new_page()
    phone.goto(arena)
    expect(phone.locator("h2", has_text="Answer A")).to_be_visible(timeout=30_000)
    for button in phone.locator(".vote-buttons button").all():
        assert button.bounding_box()["height"] >= 44
    assert phone.locator("kbd").first.is_hidden()  # no key hints on a touch screen
    for url in (arena, *(f"{demo_site}{p}" for p in ("/leaderboard/", "/tournaments/1/", "/"))):
        phone.goto(url)
        phone.wait_for_load_state("load")
        assert phone.evaluate("document.documentElement.scrollWidth") <= 390, url


def test_the_home_page_lists_open_arenas_first_and_counts_their_votes_live(
    demo_site: str, arena: str, browser: Browser
) -> None:
    home = browser.new_page()
    home.goto(demo_site)
    card = home.locator(".arena", has=home.locator(f'a[href="{arena.removeprefix(demo_site)}"]'))
    expect(card).to_contain_text(re.compile(r"· \d+ votes? of"))
    before = int(re.search(r"(\d+) votes? of", card.inner_text()).group(1))
    home.evaluate("window.__notReloaded = true")

    voter = browser.new_context().new_page()
    voter.goto(arena)
    expect(voter.locator("h2", has_text="Answer A")).to_be_visible(timeout=30_000)
    voter.keyboard.press("3")
    expect(voter.locator("h1")).to_have_text("Thanks for your vote")
    expect(card).to_contain_text(f"· {before + 1} vote", timeout=15_000)
    assert home.evaluate("window.__notReloaded") is True
    home.click("nav >> text=Vote")
    expect(home.locator("h1")).to_have_text(re.compile("Which answer is better|Rank the answers"))

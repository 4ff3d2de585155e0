"""A staff member creates a tournament from the form, sees the estimate and the planner,
starts it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

pytestmark = pytest.mark.embedded

SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"


@pytest.fixture(scope="module")
def demo_env() -> dict[str, str]:
    """Plans from two simulated truths: the page's behaviour, in seconds, not minutes."""
    return {"ARENA_PLAN_TRUTHS": "2"}


def test_the_planner_on_the_form_simulates_the_chosen_format_and_the_draft_shows_it(
    demo_site: str, browser: Browser
) -> None:
    page = browser.new_context(viewport={"width": 1200, "height": 1400}).new_page()
    page.goto(f"{demo_site}/admin/login/?next=/tournaments/new/")
    page.fill("#id_username", "staff")
    page.fill("#id_password", "e2e-staff-password")
    page.click("input[type=submit]")
    result = page.locator("#plan-result")
    expect(result).to_have_text("Choose the contestants.")
    page.fill("#id_name", "Planned round robin")
    page.select_option("#id_format", "round_robin")
    for name in ("sim-strong", "sim-middle", "sim-weak"):
        page.get_by_label(name, exact=True).check()
    page.select_option("#id_prompt_set", label="vicuna-80")
    page.select_option("#id_judge", label="simulated-judge")
    expect(result).to_have_text("Not simulated yet for this format with 3 models.")
    page.select_option("#id_format", "kwise")
    page.fill("#id_k", "3")
    page.locator("#id_k").blur()
    expect(result).to_have_text("No plan: the simulator plays K-wise groups of 4 only.")
    page.fill("#id_k", "")
    page.select_option("#id_format", "round_robin")
    expect(result).to_have_text("Not simulated yet for this format with 3 models.")
    page.click("#plan-simulate")
    expect(result).to_contain_text("A worker is simulating this format with 3 models")
    expect(result).to_contain_text("To τ 0.9: about", timeout=120_000)
    matches = re.search(r"about (\d+) matches", result.inner_text())
    assert matches is not None
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / "tournament-new-planner.png", full_page=True)

    page.click("main button[type=submit]")
    expect(page.locator("#status")).to_have_text("draft")
    expect(page.locator("#plan")).to_contain_text(f"about {matches.group(1)} matches")
    expect(page.locator("#plan-progress")).to_have_text("0 (0%)")


def test_staff_create_a_tournament_from_the_form_and_watch_it_run(
    demo_site: str, browser: Browser
) -> None:
    page = browser.new_context().new_page()
    page.goto(f"{demo_site}/admin/login/?next=/tournaments/new/")
    page.fill("#id_username", "staff")
    page.fill("#id_password", "e2e-staff-password")
    page.click("input[type=submit]")
    expect(page.locator("h1")).to_have_text("New tournament")

    page.fill("#id_name", "Browser bracket")
    page.select_option("#id_format", "single_elimination")
    for name in ("sim-strong", "sim-middle", "sim-weak", "bard"):
        page.get_by_label(name, exact=True).check()
    page.select_option("#id_prompt_set", label="vicuna-80")
    page.select_option("#id_judge", label="simulated-judge")
    page.fill("#id_options", '{"third_place": true}')
    page.click("main button[type=submit]")

    expect(page.locator("h1")).to_have_text("Browser bracket")
    expect(page.locator("#status")).to_have_text("draft")
    expect(page.locator("#estimate")).to_contain_text("about 4 matches")
    page.click("button:has-text('Start')")
    expect(page.locator("#status")).to_have_text("completed", timeout=60_000)
    expect(page.locator("#progress")).to_contain_text("/ ")


def test_the_form_shows_a_bad_option_next_to_the_options_box(
    demo_site: str, browser: Browser
) -> None:
    page = browser.new_context().new_page()
    page.goto(f"{demo_site}/admin/login/?next=/tournaments/new/")
    page.fill("#id_username", "staff")
    page.fill("#id_password", "e2e-staff-password")
    page.click("input[type=submit]")
    page.fill("#id_name", "Bad")
    page.get_by_label("sim-weak", exact=True).check()
    page.select_option("#id_prompt_set", label="vicuna-80")
    page.click("main button[type=submit]")
    expect(page.locator(".errorlist")).to_contain_text("at least 2")


def _row(name: str, matches: int, bt: float) -> dict:
    return {
        "rank": 1,
        "contestant": name,
        "bt": bt,
        "bt_low": bt - 50,
        "bt_high": bt + 50,
        "elo": 1000.0,
        "sco": None,
        "matches": matches,
        "wins": 0.0,
        "ties": 0,
        "win_rate": 0.5,
    }


def test_a_leaderboard_that_arrives_after_a_newer_one_is_not_shown(
    demo_site: str, browser: Browser
) -> None:
    """Fits run in parallel after their commits: the one over fewer verdicts may come last."""
    import json

    sockets = []
    page = browser.new_context().new_page()
    page.route_web_socket("**/ws/tournaments/**", lambda ws: sockets.append(ws))  # no server
    page.goto(f"{demo_site}/tournaments/1/")
    expect(page.locator("#live-state")).to_have_text("live")

    def updated(rows: list[dict]) -> None:
        sockets[0].send(json.dumps({"type": "leaderboard.updated", "tournament": 1, "rows": rows}))

    newer = [_row("newer-leader", 6, 1100.0), _row("other", 6, 900.0)]
    older = [_row("older-leader", 4, 1050.0), _row("other", 4, 950.0)]
    updated(newer)
    expect(page.locator("#leaderboard tbody tr").first).to_contain_text("newer-leader")
    updated(older)
    # Events are handled in order: once this one shows, the stale update was handled too.
    finished = {"type": "match.finished", "tournament": 1, "match": 999, "round": 77}
    finished |= {"slot": 0, "status": "completed", "ranking": [["x"], ["y"]]}
    sockets[0].send(json.dumps(finished))
    expect(page.locator("#matches")).to_contain_text("Round 78")  # rounds count from 1
    expect(page.locator("#leaderboard tbody tr").first).to_contain_text("newer-leader")
    updated([*newer[:1], _row("other", 7, 905.0)])  # the next real update still shows
    expect(page.locator("#leaderboard tbody tr").nth(1)).to_contain_text("905")


def test_live_events_show_failed_matches_why_a_tournament_failed_and_no_verdicts(
    demo_site: str, browser: Browser
) -> None:
    import json

    sockets = []
    page = browser.new_context().new_page()
    page.route_web_socket("**/ws/tournaments/**", lambda ws: sockets.append(ws))  # no server
    page.goto(f"{demo_site}/tournaments/1/")
    expect(page.locator("#live-state")).to_have_text("live")

    def send(event: dict) -> None:
        sockets[0].send(json.dumps({"tournament": 1, **event}))

    send({"type": "leaderboard.updated", "rows": [_row("a", 0, 1000.0), _row("b", 0, 1000.0)]})
    expect(page.locator("#leaderboard")).to_be_hidden()
    expect(page.locator("#no-verdicts")).to_be_visible()
    # A finished page ignores a later status; the demo's tournament may have finished.
    shown = page.locator("#status").inner_text().strip()
    status = shown if shown in ("completed", "cancelled", "failed") else "failed"
    why = "no match got a verdict: 3 of 3 failed; last error: <b>unreadable</b>"
    progress = {"type": "tournament.progress", "status": status, "done": 3, "failed": 3}
    send(progress | {"planned": 3, "spend_usd": "0", "error": why})
    expect(page.locator("#failed")).to_have_text(" · 3 failed")
    expect(page.locator("#tournament-error")).to_have_text(why)  # as text, not markup
    expect(page.locator("#no-verdicts")).to_have_text(
        "No verdicts: this tournament has no ratings."
    )
    send({"type": "leaderboard.updated", "rows": [_row("a", 1, 1010.0), _row("b", 1, 990.0)]})
    expect(page.locator("#leaderboard")).to_be_visible()
    expect(page.locator("#no-verdicts")).to_be_hidden()

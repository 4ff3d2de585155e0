"""A staff member creates a tournament from the form, sees the estimate, starts it."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, expect

pytestmark = pytest.mark.embedded


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

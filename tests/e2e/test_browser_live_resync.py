"""The live tournament page misses nothing that finished while it had no socket: matches
that finish between the page's render and its connection (or during a reconnect) send it
no event, so on every (re)connect it fetches itself again. Here the browser's first
connections are refused for four seconds while a judge finishes matches."""

from __future__ import annotations

from collections import Counter

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.conftest import DemoSite
from tests.e2e.conftest import STAFF_PASSWORD

pytestmark = pytest.mark.embedded

# Every WebSocket made in the first 4 s closes at once, as a dropped connection would.
NO_SOCKET_AT_FIRST = """
(() => {
  const Real = window.WebSocket, until = Date.now() + 4000;
  window.WebSocket = function (url, protocols) {
    if (Date.now() >= until) return new Real(url, protocols);
    const dropped = { close() {} };
    setTimeout(() => dropped.onclose && dropped.onclose({}), 20);
    return dropped;
  };
})();
"""


def _latest(page: Page) -> Counter[str]:
    return Counter(page.locator("#matches li").all_inner_texts())


def test_matches_finished_while_the_page_had_no_socket_are_listed_once_it_connects(
    demo: DemoSite, browser: Browser
) -> None:
    out = demo.shell(
        "from arena.models import Judge, JudgeKind\n"
        "from arena.services.tournaments import tournament_create\n"
        "Judge.objects.get_or_create(name='slow-judge', kind=JudgeKind.SIMULATED,"
        " settings={'delay_s': 0.4})\n"
        "t = tournament_create(name='Resync', format='round_robin', contestants=['sim-strong',"
        " 'sim-middle', 'sim-weak', 'bard'], prompt_set='vicuna-80', judge='slow-judge',"
        " config={'rounds': 2}, seed=3)\n"
        "print('id', t.pk)\n"
    )
    tournament = int(out.split("id ")[-1])
    page = browser.new_context().new_page()
    page.goto(f"{demo.base}/admin/login/?next=/tournaments/{tournament}/")
    page.fill("#id_username", "staff")
    page.fill("#id_password", STAFF_PASSWORD)
    page.click("input[type=submit]")
    page.click("button:has-text('Start')")
    page.add_init_script(NO_SOCKET_AT_FIRST)
    page.goto(f"{demo.base}/tournaments/{tournament}/")
    rendered = _latest(page)
    expect(page.locator("#status")).to_have_text("completed", timeout=60_000)
    expect(page.locator("#matches li")).to_have_count(12, timeout=10_000)
    live = _latest(page)

    page.reload()
    assert _latest(page) == live and sum(live.values()) == 12
    assert sum(rendered.values()) < 12  # the judge was still at work when the page loaded

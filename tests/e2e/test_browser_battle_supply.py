"""A voter who walks away from a battle holds up no one (arena.services.battles)."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import ROOT, _up

pytestmark = pytest.mark.embedded

# Three of the demo's human arena's contestants, in a round robin of one round: three
# battles, made and played in the shell (its tasks would go to a queue no worker reads).
ARENA = """
from arena.models import Tournament
from arena.services.matches import match_play
from arena.services.tournaments import tournament_create, tournament_start
from arena.services.advance import tournament_advance
votes = Tournament.objects.get(pk=2)
t = tournament_create(
    name="three battles", format="round_robin", judge=None, config={"rounds": 1}, seed=3,
    contestants=list(votes.contestants.order_by("name").values_list("name", flat=True)[:3]),
    prompt_set=votes.prompt_set.name,
)
tournament_start(tournament=t)
tournament_advance(tournament_id=t.pk)
for match in t.matches.all():
    match_play(match_id=match.pk)
print(t.pk, t.matches.filter(status="awaiting_vote").count())
"""


@pytest.fixture(scope="module")
def arena(tmp_path_factory: pytest.TempPathFactory, demo_site_of) -> str:
    """A demo site and the vote page of a human-judged round robin with three battles."""
    site = demo_site_of(tmp_path_factory.mktemp("site"), 0.5)
    deadline = time.monotonic() + 60
    while not _up(site.base + "/tournaments/2/") and time.monotonic() < deadline:
        time.sleep(0.3)
    made = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", ARENA],
        cwd=ROOT,
        env=site.env,
        check=True,
        capture_output=True,
        text=True,
    )
    tournament, battles = made.stdout.split()[-2:]
    assert battles == "3", made.stdout + made.stderr
    return f"{site.base}/tournaments/{tournament}/vote/"


def battle_id(page: Page) -> str:
    return str(page.locator('#vote-form input[name="battle"]').get_attribute("value"))


def test_a_second_voter_gets_a_battle_while_the_first_holds_one_and_walks_away(
    arena: str, browser: Browser
) -> None:
    first = browser.new_context()
    walker = first.new_page()
    walker.goto(arena)
    walker.keyboard.press("1")  # a vote: now with a session, and the next battle is theirs
    expect(walker.locator("h1")).to_have_text("Thanks for your vote")
    # The reveal brought the next battle, assigned to this voter: its link names it.
    held = str(walker.locator("#next-battle").get_attribute("href")).split("battle=")[1]
    first.close()  # walks away holding it

    voter = browser.new_context().new_page()
    for n in range(2):  # the battle no one holds, then the one the first voter left
        started = time.monotonic()
        if n == 0:
            voter.goto(arena)
        else:
            voter.click("#next-battle")
        expect(voter.locator("h2", has_text="Answer A")).to_be_visible()
        assert time.monotonic() - started < 1.0
        shown = battle_id(voter)
        assert (shown == held) == (n == 1)
        voter.keyboard.press("2")
        expect(voter.locator("h1")).to_have_text("Thanks for your vote")

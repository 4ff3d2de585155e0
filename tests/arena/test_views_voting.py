from __future__ import annotations

import re

import pytest
from django.test import Client

from arena.models import Contestant, Prompt, Response, Vote
from arena.services.matches import match_play
from arena.services.tournaments import tournament_advance, tournament_create, tournament_start

pytestmark = pytest.mark.django_db


@pytest.fixture
def tournament(human_tournament_of):
    t = human_tournament_of(2)
    match = t.matches.get()
    # An answer that tries to inject markup must come out inert.
    entry = match.entries.order_by("position").first()
    Response.objects.filter(pk=entry.response_id).update(
        text="**bold** <script>alert(1)</script> [x](javascript:alert(1))"
        " <img src=x onerror=alert(1)>"
    )
    return t


def hidden(page: str, name: str) -> str:
    return re.search(rf'name="{name}" value="([^"]+)"', page).group(1)


def test_the_battle_page_hides_the_models_and_renders_answers_safely(tournament) -> None:
    page = Client().get(f"/tournaments/{tournament.pk}/vote/").content.decode()
    assert "Answer A" in page and "Answer B" in page
    for name in Contestant.objects.values_list("name", flat=True):
        assert name not in page
    assert "<strong>bold</strong>" in page
    # Raw HTML is escaped into text and the javascript: link is not made a link.
    assert "<script>alert" not in page and "<img" not in page
    assert 'href="javascript' not in page and "&lt;script&gt;" in page
    assert Prompt.objects.get(pk=tournament.matches.get().prompt_id).text in page


def test_voting_in_the_browser_reveals_the_models_and_a_double_submit_counts_once(
    tournament,
) -> None:
    client = Client()
    page = client.get(f"/tournaments/{tournament.pk}/vote/").content.decode()
    form = {
        "battle": hidden(page, "battle"),
        "idempotency_key": hidden(page, "idempotency_key"),
        "outcome": "b",
    }
    first = client.post(f"/tournaments/{tournament.pk}/vote/", form)
    second = client.post(f"/tournaments/{tournament.pk}/vote/", form)
    assert first.status_code == second.status_code == 200
    names = [e.contestant.name for e in tournament.matches.get().entries.order_by("position")]
    assert f"Answer A: <strong>{names[0]}</strong>" in first.content.decode()
    assert Vote.objects.count() == 1


def test_a_vote_from_a_different_browser_is_refused(tournament) -> None:
    page = Client().get(f"/tournaments/{tournament.pk}/vote/").content.decode()
    form = {"battle": hidden(page, "battle"), "idempotency_key": "zz", "outcome": "a"}
    response = Client().post(f"/tournaments/{tournament.pk}/vote/", form)
    assert response.status_code == 409 and b"not shown to you" in response.content
    assert not Vote.objects.exists()


def test_a_kwise_battle_page_asks_for_ranks_and_the_form_records_them(
    contestants, prompt_set
) -> None:
    people = contestants(3)
    t = tournament_create(
        name="k3",
        format="kwise",
        contestants=[c.name for c in people],
        prompt_set="tiny",
        judge=None,
        config={"k": 3, "rounds": 1},
        seed=1,
    )
    tournament_start(tournament=t)
    tournament_advance(tournament_id=t.pk)
    match_play(match_id=t.matches.get().pk)
    client = Client()
    page = client.get(f"/tournaments/{t.pk}/vote/").content.decode()
    assert page.count('<select name="rank_') == 3 and "Answer C" in page
    form = {
        "battle": hidden(page, "battle"),
        "idempotency_key": "kk",
        "rank_0": "3",
        "rank_1": "1",
        "rank_2": "2",
    }
    response = client.post(f"/tournaments/{t.pk}/vote/", form)
    assert response.status_code == 200
    entries = list(t.matches.get().entries.order_by("position"))
    assert Vote.objects.get().ranking == [
        [entries[1].contestant_id],
        [entries[2].contestant_id],
        [entries[0].contestant_id],
    ]

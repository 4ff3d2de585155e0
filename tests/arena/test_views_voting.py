from __future__ import annotations

import re

import pytest
from django.test import Client

from arena.models import Assignment, Contestant, Prompt, Response, Vote
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


def _voter_at(t) -> tuple[Client, str, str]:
    """A new browser on the tournament's vote page: its client, the URL and the page."""
    client, url = Client(), f"/tournaments/{t.pk}/vote/"
    return client, url, client.get(url).content.decode()


def hidden(page: str, name: str) -> str:
    return re.search(rf'name="{name}" value="([^"]+)"', page).group(1)


def ballot(page: str, **fields: str) -> dict[str, str]:
    """The vote form of ``page`` as the browser posts it: its battle, and the token of a
    battle shown without a session, if there is one."""
    form = {"battle": hidden(page, "battle"), **fields}
    shown = re.search(r'name="shown" value="([^"]+)"', page)
    return form | ({"shown": shown.group(1)} if shown else {})


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
    form = ballot(page, idempotency_key=hidden(page, "idempotency_key"), outcome="b")
    first = client.post(f"/tournaments/{tournament.pk}/vote/", form)
    second = client.post(f"/tournaments/{tournament.pk}/vote/", form)
    assert first.status_code == second.status_code == 200
    names = [e.contestant.name for e in tournament.matches.get().entries.order_by("position")]
    assert f"Answer A: <strong>{names[0]}</strong>" in first.content.decode()
    assert Vote.objects.count() == 1


def test_the_vote_page_of_a_tournament_that_does_not_exist_is_404() -> None:
    assert Client().get("/tournaments/999999/vote/").status_code == 404
    assert Client().post("/tournaments/999999/vote/", {"outcome": "a"}).status_code == 404


def test_a_vote_on_a_battle_not_shown_to_that_browser_is_refused(tournament) -> None:
    voter, url = Client(), f"/tournaments/{tournament.pk}/vote/"
    voter.post(url, ballot(voter.get(url).content.decode(), idempotency_key="v", outcome="b"))
    page = Client().get(url).content.decode()  # shown without a session, with its token
    form = {"battle": hidden(page, "battle"), "idempotency_key": "zz", "outcome": "a"}
    response = Client().post(url, form)
    assert response.status_code == 409 and b"not shown to you" in response.content
    forged = ballot(page, idempotency_key="zy", outcome="a") | {"shown": "forged"}
    assert Client().post(url, forged).status_code == 409
    assert Vote.objects.count() == 1


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
    form = ballot(page, idempotency_key="kk", rank_0="3", rank_1="1", rank_2="2")
    response = client.post(f"/tournaments/{t.pk}/vote/", form)
    assert response.status_code == 200
    entries = list(t.matches.get().entries.order_by("position"))
    assert Vote.objects.get().ranking == [
        [entries[1].contestant_id],
        [entries[2].contestant_id],
        [entries[0].contestant_id],
    ]


def test_the_reveal_brings_the_next_battle_so_a_voter_needs_one_request_per_vote(
    human_tournament_of,
) -> None:
    t = human_tournament_of(3)  # three battles
    client, url, page = _voter_at(t)
    voted = set()
    for n in range(3):
        form = ballot(page, idempotency_key=f"k{n}", outcome="a")
        page = client.post(url, form).content.decode()
        assert "Thanks for your vote" in page
        voted.add(form["battle"])
        if n < 2:  # the next battle is in the reveal, hidden until "Next battle"
            assert '<section id="battle" hidden' in page
            upcoming = hidden(page, "battle")
            assert upcoming not in voted
            assert f'href="{url}?battle={upcoming}"' in page
            names = Contestant.objects.values_list("name", flat=True)
            after_reveal = page[page.index('id="battle"') :]
            assert not any(name in after_reveal for name in names)
    assert 'id="battle"' not in page  # none left that this voter has not voted on
    assert Vote.objects.count() == 3


def test_a_double_submitted_vote_brings_the_same_next_battle_and_holds_no_second_one(
    human_tournament_of,
) -> None:
    t = human_tournament_of(4)  # six battles
    client, url, page = _voter_at(t)
    form = ballot(page, idempotency_key="k", outcome="a")
    first = client.post(url, form).content.decode()
    second = client.post(url, form).content.decode()
    assert hidden(first, "battle") == hidden(second, "battle") != form["battle"]
    held = Assignment.objects.filter(session_key=client.session.session_key, voted=False)
    assert held.count() == 1 and Vote.objects.count() == 1


def test_a_page_fetched_without_a_session_is_shown_a_battle_and_costs_nothing(
    human_tournament_of,
) -> None:
    t = human_tournament_of(3)
    url = f"/tournaments/{t.pk}/vote/"
    for _ in range(5):  # a crawler, a link preview: no cookies
        response = Client().get(url)
        assert 'name="battle"' in response.content.decode()
        assert "sessionid" not in response.cookies
    assert not Assignment.objects.exists()
    # A voter who comes next gets the first battle, free: the crawler held nothing.
    client, _, page = _voter_at(t)
    client.post(url, ballot(page, idempotency_key="k", outcome="a"))
    assert Assignment.objects.get(voted=True).match.slot == 0


def test_a_second_voter_gets_a_battle_while_the_first_holds_the_only_one_and_walks_away(
    human_tournament_of,
) -> None:
    t = human_tournament_of(2)  # one battle
    walker, url, _ = _voter_at(t)
    walker.get(url)  # now with a session: the battle is assigned, and the voter leaves
    voter, _, page = _voter_at(t)
    assert hidden(page, "battle") == str(t.matches.get().public_id)
    reveal = voter.post(url, ballot(page, idempotency_key="k", outcome="b"))
    assert reveal.status_code == 200 and t.matches.get().status == "completed"


def test_the_next_battle_link_shows_the_battle_it_names_and_only_to_its_voter(
    human_tournament_of,
) -> None:
    t = human_tournament_of(3)
    voter, url = Client(), f"/tournaments/{t.pk}/vote/"
    page = voter.get(url).content.decode()
    first = hidden(page, "battle")
    reveal = voter.post(url, ballot(page, idempotency_key="k", outcome="b"))
    upcoming = hidden(reveal.content.decode(), "battle")
    assert hidden(voter.get(f"{url}?battle={upcoming}").content.decode(), "battle") == upcoming
    # Another browser with that link is shown a battle no one holds; a stale link, the
    # voter's own.
    other = hidden(Client().get(f"{url}?battle={upcoming}").content.decode(), "battle")
    assert other not in {first, upcoming}
    assert hidden(voter.get(f"{url}?battle={first}").content.decode(), "battle") == upcoming
    assert hidden(voter.get(f"{url}?battle=nonsense").content.decode(), "battle") == upcoming


def test_a_vote_and_the_next_battle_take_a_bounded_number_of_sql_statements(
    human_tournament_of, django_capture_on_commit_callbacks
) -> None:
    """A regression guard for the vote path (benchmarks/README.md, "Web load")."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    t = human_tournament_of(4)  # six battles
    client, url, page = _voter_at(t)
    page = client.post(url, ballot(page, idempotency_key="k0", outcome="b")).content.decode()
    with (
        CaptureQueriesContext(connection) as post,
        django_capture_on_commit_callbacks(execute=True),
    ):
        page = client.post(url, ballot(page, idempotency_key="k", outcome="a")).content.decode()
    with CaptureQueriesContext(connection) as get:
        client.get(f"{url}?battle={hidden(page, 'battle')}")
    statements = [q["sql"] for q in post.captured_queries]
    statements = [s for s in statements if not s.startswith(("SAVEPOINT", "RELEASE"))]
    # Tournament 1, session 1 (a Redis read in services mode); the vote 14: take the
    # battle (the voter's assignment, the match completed if first, the match), its
    # entrants, lock their standings, the three vote limits in one, the judgment, the
    # standings, its three evidence cells (pair, prompt and pair, the prompt and pair
    # seen), the vote; the next battle 2 (assign a free one, its prompt and answers); after
    # the commit the "no open match left" check 1. (Through Django one at a time; the fast
    # path sends the vote's in two round trips.)
    assert len(statements) <= 18, "\n".join(statements)
    limits = [s for s in statements if s.startswith("SELECT COUNT(")]
    assert len(limits) == 1 and limits[0].count("COUNT(") == 3, limits
    # None sorts the tournament's open matches by Match's default ordering (a join and a
    # sort of thousands of rows in PostgreSQL for a yes/no or a single row).
    sorted_by_default = [s for s in statements if '"arena_tournament"."created_at" DESC' in s]
    assert not sorted_by_default, sorted_by_default
    # Tournament, session, the battle held (a free one assigned if none is), its answers.
    assert len(get.captured_queries) <= 4, get.captured_queries


def test_a_vote_asked_as_json_answers_the_reveal_and_the_next_battle_rendered_blind(
    human_tournament_of,
) -> None:
    t = human_tournament_of(3)
    client, url, page = _voter_at(t)
    voted = hidden(page, "battle")
    form = ballot(page, idempotency_key="k", outcome="a")
    answer = client.post(url, form, headers={"Accept": "application/json"}).json()
    entries = list(t.matches.get(public_id=voted).entries.order_by("position"))
    names = [e.contestant.name for e in entries]
    assert answer["reveal"] == {
        "battle": voted,
        "models": names,
        "ranking": [[names[0]], [names[1]]],
        "both_bad": False,
    }
    upcoming = answer["next"]
    held = Assignment.objects.get(session_key=client.session.session_key, voted=False).match
    assert upcoming["battle"] == str(held.public_id) and upcoming["url"] == (
        f"{url}?battle={held.public_id}"
    )
    assert len(upcoming["answers_html"]) == 2 and upcoming["idempotency_key"]
    assert upcoming["prompt_html"].startswith("<p>") and answer["url"] == url
    shown = str(upcoming)
    assert not any(name in shown for name in Contestant.objects.values_list("name", flat=True))


def test_a_refused_json_vote_names_its_reason_as_the_api_does(tournament) -> None:
    page = Client().get(f"/tournaments/{tournament.pk}/vote/").content.decode()
    form = {"battle": hidden(page, "battle"), "idempotency_key": "zz", "outcome": "a"}
    response = Client().post(
        f"/tournaments/{tournament.pk}/vote/", form, headers={"Accept": "application/json"}
    )
    assert response.status_code == 409
    assert response.json() == {"errors": {"battle": ["this battle was not shown to you"]}}


def test_a_battle_shown_to_a_signed_in_voter_is_held_for_their_user_too(
    human_tournament_of, django_user_model
) -> None:
    t = human_tournament_of(3)
    user = django_user_model.objects.create_user("voter", password="pw-for-tests")
    client = Client()
    client.force_login(user)
    battle = hidden(client.get(f"/tournaments/{t.pk}/vote/").content.decode(), "battle")
    assert Assignment.objects.get(match__public_id=battle).user_id == user.pk
    anonymous, url, page = _voter_at(t)
    anonymous.post(url, ballot(page, idempotency_key="k", outcome="a"))
    shown = Assignment.objects.filter(session_key=anonymous.session.session_key)
    assert {a.user_id for a in shown} == {None}

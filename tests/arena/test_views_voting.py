from __future__ import annotations

import re
import uuid

import pytest
from django.test import Client

from arena.models import Assignment, Contestant, Prompt, Response, Vote
from arena.services.advance import tournament_advance
from arena.services.matches import match_play
from arena.services.tournaments import tournament_create, tournament_start
from arena.services.voting import voter_key

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


def next_battle(reveal: str) -> str | None:
    """The battle a reveal's "Next battle" link names, if it names one."""
    found = re.search(r'id="next-battle" href="[^"]*\?battle=([^"]+)"', reveal)
    return found.group(1) if found else None


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
    revealed = first.content.decode()
    assert f'<span class="name">{names[0]}</span>' in revealed
    assert f'<span class="name">{names[1]}</span> <span class="place">your pick</span>' in revealed
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
    assert page.count('type="radio" name="rank_2"') == 3 and "Answer C" in page
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
        upcoming = next_battle(page)
        if n < 2:  # the reveal's link names the next battle, already held for the voter
            assert upcoming is not None and upcoming not in voted
            page = client.get(f"{url}?battle={upcoming}").content.decode()
    assert upcoming is None  # none left that this voter has not voted on
    assert Vote.objects.count() == 3


def test_a_double_submitted_vote_brings_the_same_next_battle_and_holds_no_second_one(
    human_tournament_of,
) -> None:
    t = human_tournament_of(4)  # six battles
    client, url, page = _voter_at(t)
    form = ballot(page, idempotency_key="k", outcome="a")
    first = client.post(url, form).content.decode()
    second = client.post(url, form).content.decode()
    assert next_battle(first) == next_battle(second) != form["battle"]
    held = Assignment.objects.filter(session_key=voter_key(client.session.session_key), voted=False)
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
    first = t.matches.order_by("round", "public_id").first()  # battles' serving order
    assert Assignment.objects.get(voted=True).match == first


def test_a_second_voter_gets_a_battle_while_the_first_holds_the_only_one_and_walks_away(
    human_tournament_of,
) -> None:
    t = human_tournament_of(2)  # one battle
    walker, url, _ = _voter_at(t)
    walker.post(url, {})  # a refused post: now with a session
    walker.get(url)  # the battle is assigned, and the voter leaves
    assert Assignment.objects.filter(voted=False).count() == 1
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
    upcoming = next_battle(reveal.content.decode())
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
    first = client.post(url, ballot(page, idempotency_key="k0", outcome="b"))  # the session
    page = client.get(f"{url}?battle={next_battle(first.content.decode())}").content.decode()
    with (
        CaptureQueriesContext(connection) as post,
        django_capture_on_commit_callbacks(execute=True),
    ):
        form = {"battle": hidden(page, "battle"), "idempotency_key": "k", "outcome": "a"}
        # As vote.js asks: the page without JavaScript reads the voted answers and the
        # voter's count of votes as well (2 more).
        answer = client.post(url, form, headers={"Accept": "application/json"}).json()
    with CaptureQueriesContext(connection) as get:
        client.get(answer["next"]["url"])
    statements = [q["sql"] for q in post.captured_queries]
    statements = [s for s in statements if not s.startswith(("SAVEPOINT", "RELEASE"))]
    # Tournament 1, session 1 (a Redis read in services mode); the vote 14: take the
    # battle (the voter's assignment, the match completed if first, the match), its
    # entrants, lock their standings, the three vote limits in one, the judgment, the
    # standings, its three evidence cells (pair, prompt and pair, the prompt and pair
    # seen), the vote; the next battle 2 (assign a free one, its prompt and answers), or 2
    # more when no free battle shows only answers the voter has not seen named (assign the
    # least-held or a voted one instead); after the commit the "no open match left" check 1.
    # (Through Django one at a time; the fast path sends the vote's in two round trips.)
    assert len(statements) <= 20, "\n".join(statements)
    limits = [s for s in statements if s.startswith("SELECT COUNT(")]
    assert len(limits) == 1 and limits[0].count("COUNT(") == 3, limits
    # None sorts the tournament's open matches by Match's default ordering (a join and a
    # sort of thousands of rows in PostgreSQL for a yes/no or a single row).
    sorted_by_default = [s for s in statements if '"arena_tournament"."created_at" DESC' in s]
    assert not sorted_by_default, sorted_by_default
    # Tournament, session, the battle held (a free one assigned if none is) and its
    # answers, the voter's count of votes.
    assert len(get.captured_queries) <= 5, get.captured_queries


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
    held = Assignment.objects.get(
        session_key=voter_key(client.session.session_key), voted=False
    ).match
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
    shown = Assignment.objects.filter(session_key=voter_key(anonymous.session.session_key))
    assert {a.user_id for a in shown} == {None}


def _vote(client: Client, url: str, page: str, outcome: str = "a", headers=None):
    form = ballot(page, idempotency_key=uuid.uuid4().hex, outcome=outcome)
    return client.post(url, form, headers=headers or {})


def test_the_reveal_page_keeps_the_answers_with_each_models_name_over_them(tournament) -> None:
    client, url, page = _voter_at(tournament)
    reveal = _vote(client, url, page, "b").content.decode()
    entries = tournament.matches.get().entries.order_by("position").select_related("response")
    for entry in entries:
        assert f'<span class="name">{entry.contestant.name}</span>' in reveal
    assert "<strong>bold</strong>" in reveal and "&lt;script&gt;" in reveal  # still sanitised
    assert reveal.index(entries[0].contestant.name) < reveal.index(entries[1].contestant.name)
    assert 'your votes: <strong id="vote-count">1</strong>' in reveal
    assert '<p id="tally" class="meta">your 1st vote</p>' in reveal


def test_a_vote_past_the_limit_keeps_the_battle_and_says_when_voting_opens_again(
    human_tournament_of, settings
) -> None:
    settings.VOTES_PER_MINUTE = 1
    t = human_tournament_of(4)
    client, url, page = _voter_at(t)
    upcoming = _vote(client, url, page, headers={"Accept": "application/json"}).json()["next"]
    page = client.get(upcoming["url"]).content.decode()
    refused = _vote(client, url, page, headers={"Accept": "application/json"})
    assert refused.status_code == 429
    wait = refused.json()["retry_after"]
    assert 55 <= wait <= 60 and refused["Retry-After"] == str(wait)
    assert refused.json()["errors"] == {"rate": ["too many votes: at most 1 in a minute"]}
    # Without JavaScript: the same battle again, and when to come back.
    again = _vote(client, url, page)
    assert again.status_code == 429
    assert hidden(again.content.decode(), "battle") == upcoming["battle"]
    assert "Voting opens again in" in again.content.decode()
    assert t.matches.get(public_id=upcoming["battle"]).status == "awaiting_vote"


def test_a_ranking_that_ranks_nothing_is_refused_with_a_message(contestants, prompt_set) -> None:
    people = contestants(3)
    t = tournament_start(
        tournament=tournament_create(
            name="k3", format="kwise", contestants=[c.name for c in people],
            prompt_set="tiny", judge=None, config={"k": 3, "rounds": 1}, seed=1,
        )
    )  # fmt: skip
    tournament_advance(tournament_id=t.pk)
    match_play(match_id=t.matches.get().pk)
    client, url, page = _voter_at(t)
    form = {"battle": hidden(page, "battle"), "idempotency_key": "k"}
    refused = client.post(url, form, headers={"Accept": "application/json"})
    assert refused.status_code == 409
    assert refused.json()["errors"] == {
        "ranks": ["nothing chosen: pick the better answer or rank every answer"]
    }
    all_last = client.post(url, form | {"rank_0": "3", "rank_1": "3", "rank_2": "3"})
    assert all_last.status_code == 409 and "Not counted: every answer has the same rank" in (
        all_last.content.decode()
    )
    partly = client.post(url, form | {"rank_0": "1"}).content.decode()
    assert "Not counted: give a rank to each of the 3 answers." in partly
    assert hidden(partly, "battle") == form["battle"] and not Vote.objects.exists()


def test_vote_in_the_navigation_opens_the_newest_open_arena_or_the_home_page(
    human_tournament_of,
) -> None:
    assert Client().get("/vote/").url == "/"
    t = human_tournament_of(2)
    assert Client().get("/vote/").url == f"/tournaments/{t.pk}/vote/"


def test_the_home_page_lists_the_open_arenas_before_the_tournaments(
    human_tournament_of, judge
) -> None:
    t = human_tournament_of(2)
    judged = tournament_create(
        name="judged", format="round_robin", contestants=["sim-0", "sim-1"],
        prompt_set="tiny", judge=judge.name, config={"rounds": 1}, seed=1,
    )  # fmt: skip
    tournament_start(tournament=judged)  # running, but not an arena to vote in
    home = Client().get("/").content.decode()
    arenas = home[home.index('id="arenas"') : home.index('id="tournaments"')]
    assert f'href="/tournaments/{t.pk}/vote/"' in arenas and arenas.count('class="arena"') == 1
    lists = Client().get("/?part=lists").content.decode()  # what the page fetches live
    assert 'id="arenas"' in lists and "<html" not in lists


def test_a_voters_page_shows_their_votes_agreement_and_own_leaderboard(
    human_tournament_of,
) -> None:
    t = human_tournament_of(3)
    client, url, page = _voter_at(t)
    for _ in range(3):
        answer = _vote(client, url, page, headers={"Accept": "application/json"}).json()
        if answer["next"]:
            page = client.get(answer["next"]["url"]).content.decode()
    mine = client.get("/me/").content.decode()
    assert 'id="votes-cast">3<' in mine and "agree with the crowd" in mine
    board = mine[mine.index('id="personal-board"') : mine.index('id="cast-votes"')]
    assert board.count("<tr>") == 1 + 3  # a head, the 3 models
    assert mine[mine.index('id="cast-votes"') :].count("<tr>") == 1 + 3
    # Another browser has cast none, and reading the page makes it no session.
    stranger = Client().get("/me/")
    assert b'id="no-votes"' in stranger.content and "sessionid" not in stranger.cookies


def test_no_session_key_is_stored_only_a_keyed_hash_of_it(human_tournament_of) -> None:
    """A session key in a vote or a battle shown would sign in whoever reads it as the voter
    (the admin's Vote page, a dump)."""
    t = human_tournament_of(3)
    client, url, page = _voter_at(t)
    client.post(url, ballot(page, idempotency_key="k", outcome="a"))
    raw = client.session.session_key
    stored = [*Vote.objects.values_list("session_key", flat=True)]
    stored += Assignment.objects.values_list("session_key", flat=True)
    assert stored and raw not in stored and set(stored) == {voter_key(raw)}

"""The vote's fast path counts what Django would, writes what Django would, and leaves
everything else to Django.

Services mode only (PostgreSQL and Redis): each test runs the ASGI stack in-process, the
fast path in front of Django's own ASGI handler, voters as httpx clients with their own
cookies (a session, a CSRF token) on the page's endpoint, as vote.js posts.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.cache import cache
from django.db import connections

from arena.models import Assignment, Judgment, Match, MatchStatus, RankingCell, Standing, Vote
from arena.services.results import results_scheduled_key
from arena.services.tournaments import tournament_create
from arena.serving import fastvote
from tests.conftest import served_in_slot_order

AVAILABLE = bool(settings.REDIS_URL) and settings.DATABASE_URL.startswith("postgres")
pytestmark = [
    pytest.mark.services,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not AVAILABLE, reason="needs REDIS_URL and a PostgreSQL DATABASE_URL"),
]

JSON = {"Accept": "application/json"}


class Site:
    """The ASGI app as served, with a record of the requests that reached Django."""

    def __init__(self, *, fast: bool) -> None:
        from arena.serving import asgi

        # As served (arena.serving.asgi): Django's WSGI handler in the request threads.
        self.django = asgi.BoundedHTTP(
            asgi.SplitHTTP(asgi.wsgi, asgi.django_asgi), settings.HTTP_CONCURRENCY
        )
        self.reached_django: list[tuple[str, str]] = []
        self.app = fastvote.FastVote(self._django) if fast else self._django

    async def _django(self, scope: Any, receive: Any, send: Any) -> None:
        self.reached_django.append((scope["method"], scope["path"]))
        await self.django(scope, receive, send)

    def voter(self) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=self.app, client=("127.0.0.1", 5000))
        return httpx.AsyncClient(transport=transport, base_url="http://testserver")

    async def close(self) -> None:
        if isinstance(self.app, fastvote.FastVote):
            await self.app.close()


def run(site: Site, scenario: Callable[[Site], Awaitable[Any]]) -> Any:
    async def main() -> Any:
        try:
            return await scenario(site)
        finally:
            await site.close()

    return asyncio.run(main())


def field(page: str, name: str) -> str:
    return re.search(rf'name="{name}" value="([^"]+)"', page).group(1)


def new_session() -> str:
    from importlib import import_module

    store = import_module(settings.SESSION_ENGINE).SessionStore()
    store.create()
    connections.close_all()  # this thread's, back to the pool
    return str(store.session_key)


async def open_battle(voter: httpx.AsyncClient, url: str) -> dict[str, str]:
    """GET the vote page: the form's fields as the browser holds them. The voter has a
    session, as after their first vote (a page fetched without one is shown a battle
    assigned to no one, and the first vote, which makes the session, is Django's)."""
    if settings.SESSION_COOKIE_NAME not in voter.cookies:
        voter.cookies.set(settings.SESSION_COOKIE_NAME, await sync_to_async(new_session)())
    page = (await voter.get(url)).text
    return {
        name: field(page, name) for name in ("csrfmiddlewaretoken", "battle", "idempotency_key")
    }


async def vote(
    voter: httpx.AsyncClient, url: str, form: dict[str, str], **verdict: str
) -> httpx.Response:
    return await voter.post(url, data={**form, **verdict}, headers=JSON)


def next_form(form: dict[str, str], answer: dict[str, Any]) -> dict[str, str]:
    """The form vote.js fills from the JSON reveal's next battle."""
    upcoming = answer["next"]
    return {**form, "battle": upcoming["battle"], "idempotency_key": upcoming["idempotency_key"]}


def delete(user: Any) -> None:
    user.delete()
    connections.close_all()  # this thread's, back to the pool


def signed_in(user_model: Any, name: str) -> tuple[Any, str]:
    """A user and the key of a session signed in as them."""
    from django.test import Client

    user = user_model.objects.create_user(name, password="pw-for-tests")
    browser = Client()
    browser.force_login(user)
    return user, browser.cookies[settings.SESSION_COOKIE_NAME].value


@pytest.fixture(autouse=True)
def no_celery(monkeypatch):
    """Record what the votes queue instead of sending it to a broker no worker reads."""
    from arena import tasks

    queued: list[tuple[str, int]] = []
    monkeypatch.setattr(
        tasks.publish_leaderboard,
        "apply_async",
        lambda args, **_: queued.append(("publish_leaderboard", args[0])),
    )
    monkeypatch.setattr(
        tasks.advance_tournament, "delay", lambda t: queued.append(("advance_tournament", t))
    )
    from tests.conftest import _forget_scheduled_publishes

    _forget_scheduled_publishes()
    return queued


def vote_through_every_battle(site: Site, url: str) -> list[dict[str, Any]]:
    """One voter votes a, b, tie, bothbad, a… on every battle, each the reveal brought."""
    verdicts = ["a", "b", "tie", "bothbad"]

    async def scenario(site: Site) -> list[dict[str, Any]]:
        answers = []
        async with site.voter() as voter:
            form = await open_battle(voter, url)
            for n in range(10):
                response = await vote(voter, url, form, outcome=verdicts[n % 4])
                assert response.status_code == 200, response.text
                answers.append(response.json())
                if answers[-1]["next"] is None:
                    return answers
                form = next_form(form, answers[-1])
        raise AssertionError("more battles than expected")

    return run(site, scenario)


def stored(tournament_id: int) -> dict[str, Any]:
    """What the votes wrote, by (round, slot) and contestant, without ids and times."""
    matches = Match.objects.filter(tournament_id=tournament_id)
    return {
        "matches": sorted(matches.values_list("round", "slot", "status")),
        "judgments": sorted(
            Judgment.objects.filter(match__tournament_id=tournament_id).values_list(
                "match__round", "match__slot", "ranking", "both_bad", "raw_output", "judge_id"
            )
        ),
        "votes": sorted(
            Vote.objects.filter(match__tournament_id=tournament_id).values_list(
                "match__round", "match__slot", "ranking", "both_bad", "ip_hash", "user_id"
            )
        ),
        "standings": sorted(
            Standing.objects.filter(tournament_id=tournament_id).values_list(
                "contestant_id", "elo", "matches", "wins", "ties"
            )
        ),
    }


def twin(tournament) -> Any:
    """A second tournament like the first: same contestants, prompts, format and seed."""
    from arena.services.advance import tournament_advance
    from arena.services.matches import match_play
    from arena.services.tournaments import tournament_start

    other = tournament_start(
        tournament=tournament_create(
            name="twin",
            format=tournament.format,
            contestants=list(tournament.contestants.values_list("name", flat=True)),
            prompt_set=tournament.prompt_set.name,
            judge=None,
            config=tournament.config,
            seed=tournament.seed,
        )
    )
    tournament_advance(tournament_id=other.pk)
    for match in other.matches.all():
        match_play(match_id=match.pk)
    return other


def without_ids(answers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The answers with the random parts (battle ids, keys, urls naming them) left out."""
    return [
        {
            "reveal": {k: v for k, v in a["reveal"].items() if k != "battle"},
            "next": a["next"] and {k: a["next"][k] for k in ("prompt_html", "answers_html")},
        }
        for a in answers
    ]


def test_the_fast_path_writes_and_answers_exactly_what_django_does(human_tournament_of) -> None:
    fast = human_tournament_of(4)  # six battles
    slow = twin(fast)
    served_in_slot_order(fast)
    served_in_slot_order(slow)
    fast_site, slow_site = Site(fast=True), Site(fast=False)
    fast_answers = vote_through_every_battle(fast_site, f"/tournaments/{fast.pk}/vote/")
    slow_answers = vote_through_every_battle(slow_site, f"/tournaments/{slow.pk}/vote/")

    assert len(fast_answers) == len(slow_answers) == 6
    assert without_ids(fast_answers) == without_ids(slow_answers)
    assert stored(fast.pk) == stored(slow.pk)
    assert Vote.objects.filter(match__tournament=fast).count() == 6
    # Every vote on the fast path was counted there: Django only served the first page.
    assert fast_site.reached_django == [("GET", f"/tournaments/{fast.pk}/vote/")]


def test_a_fast_vote_answers_with_the_headers_django_gives_its_json(human_tournament_of) -> None:
    t = human_tournament_of(2)
    url = f"/tournaments/{t.pk}/vote/"

    async def headers_of_a_vote(site: Site) -> dict[str, str]:
        async with site.voter() as voter:
            form = await open_battle(voter, url)
            response = await vote(voter, url, form, outcome="a")
            assert response.status_code == 200
            return {k: v for k, v in response.headers.items() if k != "content-length"}

    fast = run(Site(fast=True), headers_of_a_vote)
    Match.objects.filter(tournament=t).update(status=MatchStatus.AWAITING_VOTE)
    Assignment.objects.all().delete()
    Vote.objects.all().delete()
    Judgment.objects.all().delete()
    slow = run(Site(fast=False), headers_of_a_vote)
    assert fast == slow


def test_a_replayed_vote_goes_to_django_and_gets_the_same_reveal_counted_once(
    human_tournament_of,
) -> None:
    t = human_tournament_of(2)
    url = f"/tournaments/{t.pk}/vote/"
    site = Site(fast=True)

    async def scenario(site: Site) -> tuple[httpx.Response, httpx.Response]:
        async with site.voter() as voter:
            form = await open_battle(voter, url)
            first = await vote(voter, url, form, outcome="b")
            again = await vote(voter, url, form, outcome="b")
            return first, again

    first, again = run(site, scenario)
    assert first.status_code == again.status_code == 200
    assert first.json()["reveal"] == again.json()["reveal"]
    assert Vote.objects.count() == 1
    assert site.reached_django.count(("POST", url)) == 1  # the replay only


def test_a_vote_on_a_battle_shown_to_someone_else_is_refused_by_django_and_writes_nothing(
    human_tournament_of,
) -> None:
    t = human_tournament_of(3)  # three battles: each voter is shown one
    url = f"/tournaments/{t.pk}/vote/"

    async def stranger_votes(site: Site) -> httpx.Response:
        async with site.voter() as owner, site.voter() as other:
            form = await open_battle(owner, url)
            own = await open_battle(other, url)  # a session and a CSRF token of their own
            stolen = {**form, "csrfmiddlewaretoken": own["csrfmiddlewaretoken"]}
            return await vote(other, url, stolen, outcome="a")

    response = run(Site(fast=True), stranger_votes)
    assert response.status_code == 409
    assert response.json() == {"errors": {"battle": ["this battle was not shown to you"]}}
    assert not Vote.objects.exists() and not Judgment.objects.exists()
    assert not Match.objects.filter(status=MatchStatus.COMPLETED).exists()


def test_a_vote_without_its_csrf_token_is_refused_and_writes_nothing(human_tournament_of) -> None:
    t = human_tournament_of(2)
    url = f"/tournaments/{t.pk}/vote/"

    async def scenario(site: Site) -> httpx.Response:
        async with site.voter() as voter:
            form = await open_battle(voter, url)
            del form["csrfmiddlewaretoken"]
            return await vote(voter, url, form, outcome="a")

    assert run(Site(fast=True), scenario).status_code == 403
    assert not Vote.objects.exists()
    assert Match.objects.get().status == MatchStatus.AWAITING_VOTE


def test_the_vote_limits_hold_on_the_fast_path(human_tournament_of, settings) -> None:
    settings.VOTES_PER_MINUTE = 2
    t = human_tournament_of(4)
    url = f"/tournaments/{t.pk}/vote/"
    site = Site(fast=True)

    async def scenario(site: Site) -> list[int]:
        statuses = []
        async with site.voter() as voter:
            form = await open_battle(voter, url)
            for _ in range(3):
                response = await vote(voter, url, form, outcome="a")
                statuses.append(response.status_code)
                if response.status_code == 200:
                    form = next_form(form, response.json())
            return statuses

    assert run(site, scenario) == [200, 200, 429]
    assert Vote.objects.count() == 2
    assert site.reached_django.count(("POST", url)) == 1  # the refused one


def test_a_kwise_ranking_is_counted_on_the_fast_path(human_tournament_of) -> None:
    t = human_tournament_of(3, format="kwise", config={"k": 3, "rounds": 1})
    url = f"/tournaments/{t.pk}/vote/"
    site = Site(fast=True)

    async def scenario(site: Site) -> dict[str, Any]:
        async with site.voter() as voter:
            form = await open_battle(voter, url)
            ranks = {"rank_0": "3", "rank_1": "1", "rank_2": "1"}
            return (await vote(voter, url, form, **ranks)).json()

    answer = run(site, scenario)
    entries = list(t.matches.get().entries.order_by("position"))
    assert Vote.objects.get().ranking == [
        [entries[1].contestant_id, entries[2].contestant_id],
        [entries[0].contestant_id],
    ]
    names = [e.contestant.name for e in entries]
    assert answer["reveal"]["models"] == names
    assert answer["reveal"]["ranking"] == [[names[1], names[2]], [names[0]]]
    cell = RankingCell.objects.get()  # the same write as Django's vote: one ranking counted
    assert (cell.ranking, cell.count) == (
        f"{min(entries[1].contestant_id, entries[2].contestant_id)},"
        f"{max(entries[1].contestant_id, entries[2].contestant_id)}|{entries[0].contestant_id}",
        1,
    )
    assert site.reached_django == [("GET", url)]


def test_a_fast_vote_publishes_its_match_and_schedules_the_refit_and_the_next_round(
    human_tournament_of, no_celery
) -> None:
    from channels.layers import get_channel_layer

    from arena import live

    t = human_tournament_of(2)  # one battle: the vote closes the round
    url = f"/tournaments/{t.pk}/vote/"
    no_celery.clear()  # the start's advance

    async def scenario(site: Site) -> dict[str, Any]:
        layer = get_channel_layer()
        channel = await layer.new_channel()
        await layer.group_add(live.tournament_group(t.pk), channel)
        async with site.voter() as voter:
            form = await open_battle(voter, url)
            assert (await vote(voter, url, form, outcome="a")).status_code == 200
        event = await asyncio.wait_for(layer.receive(channel), 5)
        await layer.group_discard(live.tournament_group(t.pk), channel)
        return event["event"]

    event = run(Site(fast=True), scenario)
    match = t.matches.get()
    names = [e.contestant.name for e in match.entries.order_by("position")]
    assert event == {
        "type": "match.finished",
        "tournament": t.pk,
        "match": match.pk,
        "round": match.round,
        "slot": match.slot,
        "status": "completed",
        "ranking": [[names[0]], [names[1]]],
    }
    assert cache.get(results_scheduled_key(t.pk)) == 1  # as the cache's add stores it
    assert no_celery == [("publish_leaderboard", t.pk), ("advance_tournament", t.pk)]


@pytest.mark.parametrize("deleted", [False, True], ids=["signed-in", "deleted-since"])
def test_a_signed_in_voters_vote_goes_to_django_which_checks_their_session(
    human_tournament_of, django_user_model, deleted
) -> None:
    """Also when the user was deleted since the battle was claimed: Django then counts
    the vote without them."""
    t = human_tournament_of(2)
    url = f"/tournaments/{t.pk}/vote/"
    user, session = signed_in(django_user_model, "voter")
    user_id = user.pk  # a deleted user's pk reads None
    site = Site(fast=True)

    async def scenario(site: Site) -> int:
        async with site.voter() as voter:
            voter.cookies.set(settings.SESSION_COOKIE_NAME, session)
            form = await open_battle(voter, url)
            if deleted:
                await sync_to_async(delete)(user)
            return (await vote(voter, url, form, outcome="tie")).status_code

    assert run(site, scenario) == 200
    assert Assignment.objects.get().user_id == user_id
    assert Vote.objects.get().user_id == (None if deleted else user_id)
    assert site.reached_django == [("GET", url), ("POST", url)]


@pytest.mark.parametrize("failing", ["_results_claimed", "battle_upcoming"])
def test_a_step_after_the_commit_that_fails_leaves_the_vote_counted_and_the_round_advancing(
    human_tournament_of, no_celery, monkeypatch, failing
) -> None:
    """Django would only replay the key: the fast path answers itself, without that step,
    and queues the next round when it cannot tell whether a match is still open."""
    t = human_tournament_of(2)  # one battle: the vote closes the round
    url = f"/tournaments/{t.pk}/vote/"
    no_celery.clear()

    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("down")

    def broken_claim(*args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("down")

    if failing == "battle_upcoming":
        monkeypatch.setattr(fastvote, "battle_upcoming", broken_claim)
    else:
        monkeypatch.setattr(fastvote.FastVote, "_results_claimed", broken)
    site = Site(fast=True)

    async def scenario(site: Site) -> httpx.Response:
        async with site.voter() as voter:
            form = await open_battle(voter, url)
            return await vote(voter, url, form, outcome="b")

    response = run(site, scenario)
    assert response.status_code == 200 and response.json()["next"] is None
    assert Vote.objects.count() == 1
    assert site.reached_django == [("GET", url)]
    assert ("advance_tournament", t.pk) in no_celery


def test_a_key_used_on_another_battle_rolls_the_fast_vote_back_and_django_refuses_it(
    human_tournament_of,
) -> None:
    t = human_tournament_of(3)
    url = f"/tournaments/{t.pk}/vote/"
    site = Site(fast=True)

    async def scenario(site: Site) -> httpx.Response:
        async with site.voter() as voter:
            form = await open_battle(voter, url)
            first = await vote(voter, url, form, outcome="a")
            reused = {**next_form(form, first.json()), "idempotency_key": form["idempotency_key"]}
            return await vote(voter, url, reused, outcome="a")

    response = run(site, scenario)
    assert response.status_code == 409
    assert response.json() == {"errors": {"idempotency_key": ["already used for another battle"]}}
    assert Vote.objects.count() == Judgment.objects.count() == 1
    assert t.matches.filter(status=MatchStatus.COMPLETED).count() == 1
    assert sum(Standing.objects.filter(tournament=t).values_list("matches", flat=True)) == 2


def test_a_fast_vote_that_brings_the_next_battle_queues_no_next_round(
    human_tournament_of, no_celery
) -> None:
    """Battles are still open, so there is no round to advance to: an advance queued by
    every vote would hold the tournament's lock over and over while votes pour in."""
    t = human_tournament_of(3)
    url = f"/tournaments/{t.pk}/vote/"
    no_celery.clear()

    async def scenario(site: Site) -> dict[str, Any]:
        async with site.voter() as voter:
            form = await open_battle(voter, url)
            return (await vote(voter, url, form, outcome="a")).json()

    answer = run(Site(fast=True), scenario)
    assert answer["next"] is not None
    assert ("advance_tournament", t.pk) not in no_celery


def test_when_every_battle_is_held_a_fast_vote_brings_one_another_voter_holds(
    human_tournament_of,
) -> None:
    t = human_tournament_of(3)  # three battles
    url = f"/tournaments/{t.pk}/vote/"
    site = Site(fast=True)

    async def scenario(site: Site) -> tuple[str, dict[str, Any]]:
        async with site.voter() as first, site.voter() as voter, site.voter() as third:
            held = await open_battle(first, url)
            form = await open_battle(voter, url)
            await open_battle(third, url)
            return held["battle"], (await vote(voter, url, form, outcome="a")).json()

    held, answer = run(site, scenario)
    assert answer["next"]["battle"] == held  # shared, not "no battle"
    assert ("POST", url) not in site.reached_django

"""No model identity reaches a voter before the vote: not in a page, JSON, or live event.

A watcher holds the public surfaces of a human tournament that describe its matches open
(its page's match list, the rounds fragment, the API, and both websocket feeds) while a
voter is served a battle. Until the vote, none of it may name the battle's models; after
the vote the same watcher does see them, which shows the check would catch a leak. Who
takes part is public (the leaderboard lists every contestant), which battle they are in
is not.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from arena.serving.asgi import application

pytestmark = pytest.mark.django_db(transaction=True)

ORIGIN = [(b"origin", b"http://127.0.0.1")]


def public_surfaces(client: Client, tournament_id: int) -> dict[str, str]:
    urls = {
        "page": f"/tournaments/{tournament_id}/",
        "rounds": f"/tournaments/{tournament_id}/rounds/",
        "api detail": f"/api/tournaments/{tournament_id}",
    }
    pages = {}
    for label, url in urls.items():
        response = client.get(url)
        assert response.status_code == 200, (label, response.status_code)
        pages[label] = response.content.decode()
    # The page's match list, not its leaderboard (which lists every contestant).
    page = pages["page"]
    pages["page"] = page[
        page.index('id="matches"') : page.index("</ol>", page.index('id="matches"'))
    ]
    return pages


def hidden(page: str, name: str) -> str:
    return re.search(rf'name="{name}" value="([^"]+)"', page).group(1)


async def drain(communicator: WebsocketCommunicator) -> list[dict[str, Any]]:
    events = []
    while not await communicator.receive_nothing(timeout=0.3):
        events.append(await communicator.receive_json_from())
    return events


def test_nothing_public_names_a_battles_models_until_it_is_voted(human_tournament_of) -> None:
    # A format whose page shows its matches by round (a round robin's page does not).
    tournament = human_tournament_of(2, format="kwise", config={"k": 2, "rounds": 1})
    match = tournament.matches.get()
    names = [e.contestant.name for e in match.entries.order_by("position")]
    assert match.status == "awaiting_vote"
    watcher, voter = Client(), Client()

    async def scenario() -> None:
        feeds = [
            WebsocketCommunicator(application, f"/ws/tournaments/{tournament.pk}/", ORIGIN),
            WebsocketCommunicator(application, "/ws/leaderboard/", ORIGIN),
        ]
        for feed in feeds:
            assert (await feed.connect())[0]

        battle_page = await sync_to_async(voter.get)(f"/tournaments/{tournament.pk}/vote/")
        battle = battle_page.content.decode()
        before = await sync_to_async(public_surfaces)(watcher, tournament.pk)
        before["battle page"] = battle
        events_before = [e for feed in feeds for e in await drain(feed)]
        # Only one battle is open, so a page that names any pending entrant names this one's.
        for label, text in before.items():
            for name in names:
                assert name not in text, f"{name} appears in the {label} before the vote"
        assert not any(name in json.dumps(events_before) for name in names), events_before

        form = {
            "battle": hidden(battle, "battle"),
            "idempotency_key": hidden(battle, "idempotency_key"),
            "shown": hidden(battle, "shown"),  # shown without a session: the page's token
            "outcome": "a",
        }
        voted = await sync_to_async(voter.post)(f"/tournaments/{tournament.pk}/vote/", form)
        assert voted.status_code == 200
        events_after = [e for feed in feeds for e in await drain(feed)]
        finished = [e for e in events_after if e["type"] == "match.finished"]
        assert finished and finished[0]["ranking"] == [[names[0]], [names[1]]]
        after = await sync_to_async(public_surfaces)(watcher, tournament.pk)
        assert all(name in after["rounds"] for name in names)
        for feed in feeds:
            await feed.disconnect()

    async_to_sync(scenario)()

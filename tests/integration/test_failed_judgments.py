"""A judge that gives no readable verdict, through Celery (embedded worker threads) and a
FAKE OpenAI-compatible server on loopback: the tournament says so everywhere its progress
is shown, and each failed match keeps what the judge said."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client

from arena.models import Judge, JudgeKind, MatchStatus, Tournament, TournamentStatus
from arena.services.tournaments import tournament_create
from arena.serving.embedded import embedded_worker_start, embedded_worker_stop
from tests.judges.fake_openai import FakeOpenAIServer

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not settings.EMBEDDED, reason="embedded mode only (REDIS_URL is set)"),
]

HAIKU = "Write a haiku about rain."  # one of the prompts of tests/conftest.py's prompt set
FIRST_REPLY = "Both answers have <em>merit</em>; I would not pick one."
REPAIR_REPLY = "As I said, both have merit."


class UndecidedOn:
    """A judge that cannot decide on the prompts given (on every prompt if none): it
    answers without a verdict, and again after the repair prompt; elsewhere A wins."""

    def __init__(self, *prompts: str) -> None:
        self.prompts = prompts

    def __call__(self, request: dict) -> str:
        messages = request["messages"]
        if len(messages) > 2:  # the repair turn: the judge's first reply, then the repair
            return REPAIR_REPLY
        asked = messages[-1]["content"]
        if not self.prompts or any(prompt in asked for prompt in self.prompts):
            return FIRST_REPLY
        return "[[A]]"


def judged_by(server: FakeOpenAIServer, contestants, *, rounds: int) -> Tournament:
    """A round robin of three simulated contestants judged by the fake server's model."""
    people = contestants(3)
    Judge.objects.create(
        name="llm", kind=JudgeKind.OPENAI, base_url=server.base_url, model_id="judge"
    )
    return tournament_create(
        name="honest",
        format="round_robin",
        contestants=[c.name for c in people],
        prompt_set="tiny",
        judge="llm",
        config={"rounds": rounds},
        seed=3,
    )


def progress_events(events: list[dict]) -> list[dict]:
    return [e for e in events if e["type"] == "tournament.progress"]


@pytest.fixture
def worker():
    embedded_worker_start(concurrency=2)
    yield
    embedded_worker_stop()


def test_a_tournament_whose_every_judge_call_fails_ends_failed_and_says_so_everywhere(
    worker, contestants, prompt_set, start_and_watch, wait_until_finished
) -> None:
    with FakeOpenAIServer() as server:
        server.responder = UndecidedOn()
        tournament = judged_by(server, contestants, rounds=1)
        events = start_and_watch(tournament, 60)
        wait_until_finished(tournament, 10)
        judge_calls = len(server.chat_requests)

    assert tournament.status == TournamentStatus.FAILED
    assert tournament.error == (
        "no match got a verdict: 3 of 3 failed; last error: "
        "judge output has no [[A]]/[[B]]/[[C]] verdict after one repair prompt"
    )
    assert judge_calls == 3 * 2  # each match: one call and one repair
    for match in tournament.matches.all():
        assert match.status == MatchStatus.FAILED
        assert match.failure_outputs == [
            {"call": "judge", "text": FIRST_REPLY},
            {"call": "repair", "text": REPAIR_REPLY},
        ]
    last = progress_events(events)[-1]
    assert (last["status"], last["done"], last["failed"], last["planned"]) == ("failed", 3, 3, 3)
    assert last["error"] == tournament.error
    client = Client()
    api = client.get(f"/api/tournaments/{tournament.pk}").json()
    assert (api["status"], api["done"], api["failed"]) == ("failed", 3, 3)
    assert client.get(f"/api/tournaments/{tournament.pk}/leaderboard").json() == []
    page = client.get(f"/tournaments/{tournament.pk}/").content.decode()
    assert '<span id="failed"> · 3 failed</span>' in page
    assert "No verdicts: this tournament has no ratings." in page


def test_a_tournament_where_some_judge_calls_fail_completes_counting_them(
    worker, contestants, prompt_set, start_and_watch, wait_until_finished
) -> None:
    with FakeOpenAIServer() as server:
        server.responder = UndecidedOn(HAIKU)
        tournament = judged_by(server, contestants, rounds=3)  # a prompt a round: 3 on HAIKU
        events = start_and_watch(tournament, 60)
        wait_until_finished(tournament, 10)

    assert tournament.status == TournamentStatus.COMPLETED and tournament.error == ""
    failed = tournament.matches.filter(status=MatchStatus.FAILED)
    assert {m.prompt.text for m in failed} == {HAIKU} and failed.count() == 3
    assert tournament.matches.filter(status=MatchStatus.COMPLETED).count() == 6
    last = progress_events(events)[-1]
    assert (last["status"], last["done"], last["failed"]) == ("completed", 9, 3)
    assert Client().get(f"/api/tournaments/{tournament.pk}").json()["failed"] == 3
    board = Client().get(f"/api/tournaments/{tournament.pk}/leaderboard").json()
    assert sum(row["matches"] for row in board) == 2 * 6

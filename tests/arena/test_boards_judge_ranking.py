"""Judges ranked against the people: two judges through the fake OpenAI-compatible server,
one that agrees with the human votes on every prompt and pair and one that always picks
the other answer, judged on the same items the people voted on. The panel (and the API)
ranks the first above the second, with intervals around its accuracy and kappa, the
Kendall tau between each judge's leaderboard and the people's, and its cost per verdict."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from django.core.cache import cache
from django.test import Client

from arena.boards import agreement_items, judge_quality_panel
from arena.models import Match, Prompt, PromptSet
from arena.services import matches as svc
from arena.services.advance import tournament_advance
from arena.services.battles import battle_next
from arena.services.tournaments import tournament_create, tournament_start
from arena.services.voting import vote_record
from judges.quality import agreement_intervals
from tests.arena.served import served_contestants, served_judge
from tests.judges.fake_openai import FakeOpenAIServer

pytestmark = pytest.mark.django_db

MODELS = ("model-0", "model-1", "model-2", "model-3")  # the people prefer the lower number
PROMPTS = 6


def better(x: str, y: str) -> str:
    return min(x, y)


def responder(request: dict) -> object:
    if request["model"] not in ("agrees", "contrary"):
        # An answer that does not name its model (those are kept out of blind voting).
        return f"Reply number {request['model'][-1]}."
    text = "\n".join(str(m["content"]) for m in request["messages"])
    first, second = (f"model-{m.group(1)}" for m in re.finditer(r"Reply number (\d)", text))
    first_better = better(first, second) == first
    return "[[A]]" if first_better == (request["model"] == "agrees") else "[[B]]"


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as fake:
        fake.responder = responder
        yield fake


@pytest.fixture
def arena(server: FakeOpenAIServer) -> None:
    pset = PromptSet.objects.create(name="six")
    for i in range(PROMPTS):
        Prompt.objects.create(prompt_set=pset, external_id=str(i), text=f"Question {i}?")
    served_contestants(server, MODELS)
    for name in ("agrees", "contrary"):
        served_judge(server, name, model_id=name, settings={"price_in": 1.0, "price_out": 2.0})
    for judge in ("agrees", "contrary", None):
        tournament = tournament_start(
            tournament=tournament_create(
                name=f"by {judge or 'people'}",
                format="round_robin",
                contestants=list(MODELS),
                prompt_set="six",
                judge=judge,
                config={"rounds": PROMPTS},
            )
        )
        voter = 0
        while tournament.status == "running":
            tournament_advance(tournament_id=tournament.pk)
            pending = list(tournament.matches.filter(status="pending").order_by("pk"))
            for match in pending:
                assert svc.match_play(match_id=match.pk) in ("completed", "awaiting_vote")
            for _ in pending if judge is None else ():  # one vote on each battle
                battle = battle_next(tournament=tournament, session_key=f"voter-{voter}")
                assert battle is not None
                match = Match.objects.get(public_id=battle.public_id)
                a, b = (e.contestant.name for e in match.entries.order_by("position"))
                vote_record(
                    public_id=battle.public_id,
                    outcome="a" if better(a, b) == a else "b",
                    idempotency_key=f"vote-{voter}",
                    session_key=f"voter-{voter}",
                )
                voter += 1
            tournament.refresh_from_db()
            if not pending:
                break
    cache.clear()


def test_the_judge_that_agrees_with_the_people_ranks_first_with_intervals_and_tau(arena) -> None:
    panel = judge_quality_panel()

    assert [row["source"] for row in panel] == ["humans", "agrees", "contrary"]
    agrees, contrary = panel[1], panel[2]
    items = PROMPTS * 6  # every prompt and pair the people voted on
    assert agrees["human_items"] == contrary["human_items"] == items
    assert (agrees["human_accuracy"], agrees["human_kappa"]) == (1.0, 1.0)
    assert contrary["human_accuracy"] == 0.0
    assert contrary["human_accuracy_low"] == contrary["human_accuracy_high"] == 0.0
    assert agrees["human_tau"] == pytest.approx(1.0) and contrary["human_tau"] == pytest.approx(
        -1.0
    )
    assert contrary["human_tau_low"] <= -0.6 and agrees["human_tau_high"] >= 0.6
    assert agrees["cost_per_verdict"] > 0 and panel[0]["cost_per_verdict"] is None


def test_a_judge_between_right_and_wrong_gets_an_interval_that_says_so() -> None:
    """Cells as the panel reads them: a judge right on two items in three of 30."""
    rows = [(p, 1, 2, "humans", 1, 0, 0) for p in range(30)]
    rows += [(p, 1, 2, "judge:9", 1 if p % 3 else 0, 0 if p % 3 else 1, 0) for p in range(30)]

    low, high = agreement_intervals(agreement_items(rows)["judge:9"]).accuracy
    assert low < 2 / 3 < high and high - low > 0.2


def test_the_api_and_the_page_carry_the_ranking(arena) -> None:
    rows = Client().get("/api/judges/quality").json()
    assert [r["source"] for r in rows] == ["humans", "agrees", "contrary"]
    assert rows[1]["human_tau"] == pytest.approx(1.0) and rows[1]["human_accuracy_low"] is not None
    page = Client().get("/leaderboard/judges/").content.decode()
    assert "Leaderboard τ with humans" in page and "Cost per verdict" in page
    assert page.index("<td>agrees</td>") < page.index("<td>contrary</td>")

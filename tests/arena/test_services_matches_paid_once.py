"""Nothing is paid for twice, and nothing paid for goes uncounted: a tournament is judged
with the judge it started with, each answer is generated once however many matches need it
at once, the verdict cache serves only a retry of the same match, and every model call's
cost is in the tournament's spend. Against the FAKE OpenAI-compatible server on loopback.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from arena.models import (
    AnswerClaim,
    BackendKind,
    Contestant,
    Judge,
    JudgeKind,
    Judgment,
    Match,
    MatchEntry,
    PromptSet,
    Response,
    Spend,
    Tournament,
)
from arena.services import matches as svc
from arena.services.advance import tournament_advance, tournaments_requeue_running
from arena.services.tournaments import tournament_create, tournament_start
from tests.judges.fake_openai import FakeOpenAIServer, Scripted

pytestmark = pytest.mark.django_db

# A dollar a token: a spend in USD is the number of tokens it paid for.
PRICE = {"price_in": 1_000_000, "price_out": 1_000_000}


def respond(request: dict[str, Any]) -> str | Scripted:
    if request["model"] == "judge":
        return "[[A]]"
    # Slow enough for matches that need the same answer to ask for it at the same time.
    return Scripted(content=f"{request['model']} says hello", delay_s=0.2)


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as fake:
        fake.responder = respond
        yield fake


def judge_calls(server: FakeOpenAIServer) -> int:
    return sum(1 for request in server.chat_requests if request["model"] == "judge")


def answer_calls(server: FakeOpenAIServer) -> int:
    return sum(1 for request in server.chat_requests if request["model"] != "judge")


def tokens_served(server: FakeOpenAIServer) -> Decimal:
    return Decimal(sum(prompt + completion for _, prompt, completion in server.usage))


def spent(tournaments: Sequence[Tournament]) -> Decimal:
    rows = Spend.objects.filter(tournament__in=tournaments)
    return sum((s.judged_usd + s.answers_usd for s in rows), Decimal(0))


def started(
    server: FakeOpenAIServer,
    prompt_set: PromptSet,
    *,
    name: str = "t",
    contestants: int = 2,
    rounds: int = 1,
    seed: int = 1,
) -> Tournament:
    """A started round robin of LLM contestants judged by the LLM judge "llm", its first
    matches created."""
    names = [f"model-{i}" for i in range(contestants)]
    for model in names:
        Contestant.objects.get_or_create(
            name=model,
            defaults={
                "backend": BackendKind.OPENAI,
                "base_url": server.base_url,
                "model_id": model,
                "generation": PRICE,
            },
        )
    Judge.objects.get_or_create(
        name="llm",
        defaults={
            "kind": JudgeKind.OPENAI,
            "base_url": server.base_url,
            "model_id": "judge",
            "settings": PRICE,
        },
    )
    tournament = tournament_create(
        name=name,
        format="round_robin",
        contestants=names,
        prompt_set=prompt_set.name,
        judge="llm",
        config={"rounds": rounds},
        seed=seed,
    )
    tournament_start(tournament=tournament)
    tournament_advance(tournament_id=tournament.pk)
    tournament.refresh_from_db()
    return tournament


def play_all(tournament: Tournament) -> list[str]:
    return [svc.match_play(match_id=m.pk) for m in tournament.matches.order_by("pk")]


# -- a tournament's judge -------------------------------------------------------------------


def test_a_running_tournament_is_judged_with_its_frozen_settings_after_the_judge_row_changes(
    server: FakeOpenAIServer, prompt_set: PromptSet
) -> None:
    running = started(server, prompt_set, name="running", contestants=3)
    first, *rest = running.matches.order_by("pk")
    assert svc.match_play(match_id=first.pk) == "completed"

    # What a second `run_tournament --both-orders` does to the shared judge row.
    Judge.objects.update_or_create(
        name="llm", defaults={"settings": {**PRICE, "both_orders": True}}
    )
    assert [svc.match_play(match_id=m.pk) for m in rest] == ["completed"] * 2

    assert judge_calls(server) == 3  # one call a match, as its manifest says
    assert running.manifest["judge"]["settings"].get("both_orders", False) is False
    after = started(server, prompt_set, name="after", contestants=3)
    assert play_all(after) == ["completed"] * 3
    assert judge_calls(server) == 3 + 3 * 2  # a tournament started after judges both orders
    assert after.manifest["judge"]["settings"]["both_orders"] is True


def test_a_judge_row_re_created_under_a_running_tournament_does_not_change_its_endpoint(
    server: FakeOpenAIServer, prompt_set: PromptSet
) -> None:
    running = started(server, prompt_set, name="running")
    Judge.objects.filter(name="llm").update(base_url="http://127.0.0.1:9/v1", model_id="other")

    assert play_all(running) == ["completed"]
    assert judge_calls(server) == 1


# -- the verdict cache ----------------------------------------------------------------------


def _shown(match: Match) -> tuple[int, list[int]]:
    return match.prompt_id, list(match.entries.order_by("position").values_list("contestant_id"))


def test_two_matches_on_the_same_prompt_and_answers_in_the_same_order_each_ask_the_judge(
    server: FakeOpenAIServer, prompt_set: PromptSet
) -> None:
    first = started(server, prompt_set, name="first", seed=4)
    second = started(server, prompt_set, name="second", seed=4)
    assert _shown(first.matches.get()) == _shown(second.matches.get())

    assert play_all(first) + play_all(second) == ["completed", "completed"]

    assert judge_calls(server) == 2
    judgments = Judgment.objects.filter(match__tournament__in=[first, second])
    assert [j.prompt_tokens > 0 and j.cost > 0 for j in judgments] == [True, True]


def test_a_retried_match_is_judged_from_the_cache_and_its_call_is_spent_once(
    server: FakeOpenAIServer, prompt_set: PromptSet, monkeypatch: pytest.MonkeyPatch
) -> None:
    tournament = started(server, prompt_set)
    match = tournament.matches.get()
    record = svc.match_record_verdict

    def worker_dies(**kwargs: Any) -> bool:
        raise SystemExit("worker killed after the judge answered")

    monkeypatch.setattr(svc, "match_record_verdict", worker_dies)
    with pytest.raises(SystemExit):
        svc.match_play(match_id=match.pk)
    monkeypatch.setattr(svc, "match_record_verdict", record)
    # Its lease runs out; the redelivered task takes the match over.
    Match.objects.filter(pk=match.pk).update(claimed_at=timezone.now() - timedelta(hours=2))

    assert svc.match_play(match_id=match.pk) == "completed"
    assert judge_calls(server) == 1
    assert spent([tournament]) == tokens_served(server)


# -- answers ---------------------------------------------------------------------------------


def test_an_answer_claimed_by_a_live_worker_is_not_claimed_again_but_a_stale_one_is(
    contestants: Any, prompt_set: PromptSet
) -> None:
    (contestant,) = contestants(1)
    key = {"contestant_id": contestant.pk, "prompt_id": prompt_set.prompts.first().pk}
    key["settings_hash"] = contestant.settings_hash

    first = svc.answer_claim(**key)
    assert first is not None and svc.answer_claim(**key) is None
    AnswerClaim.objects.update(claimed_at=timezone.now() - timedelta(hours=1))
    taken_over = svc.answer_claim(**key)
    assert taken_over not in (None, first)
    assert AnswerClaim.objects.get().holder == taken_over


def test_a_restart_releases_the_answers_and_matches_the_dead_process_held(
    server: FakeOpenAIServer, prompt_set: PromptSet
) -> None:
    tournament = started(server, prompt_set)
    match = tournament.matches.get()
    entry = match.entries.select_related("contestant").first()
    assert svc.match_claim(match_id=match.pk)
    assert svc.answer_claim(
        contestant_id=entry.contestant_id,
        prompt_id=match.prompt_id,
        settings_hash=entry.contestant.settings_hash,
    )

    assert tournaments_requeue_running(release_claims=True) == 1

    assert not AnswerClaim.objects.exists()
    assert svc.match_play(match_id=match.pk) == "completed"  # without waiting out a lease


def test_a_failed_judge_call_is_spent_although_no_verdict_came_of_it(
    server: FakeOpenAIServer, prompt_set: PromptSet
) -> None:
    tournament = started(server, prompt_set)
    server.responder = lambda request: (
        "I cannot decide." if request["model"] == "judge" else respond(request)
    )

    assert play_all(tournament) == ["failed"]
    assert judge_calls(server) == 2  # the question and the repair prompt
    assert spent([tournament]) == tokens_served(server)


@pytest.mark.django_db(transaction=True)
def test_matches_played_at_once_generate_each_answer_once_and_spend_every_call(
    server: FakeOpenAIServer, prompt_set: PromptSet
) -> None:
    tournament = started(server, prompt_set, contestants=6)
    ids = list(tournament.matches.values_list("pk", flat=True))

    def play(match_id: int) -> str:
        try:
            return svc.match_play(match_id=match_id)
        finally:
            connection.close()  # this thread's own

    with ThreadPoolExecutor(max_workers=6) as pool:
        outcomes = list(pool.map(play, ids))

    assert outcomes == ["completed"] * len(ids)
    needed = set(
        MatchEntry.objects.filter(match__tournament=tournament).values_list(
            "contestant_id", "match__prompt_id"
        )
    )
    assert len(needed) < 2 * len(ids)  # matches shared answers
    assert answer_calls(server) == Response.objects.count() == len(needed)
    assert judge_calls(server) == len(ids)
    assert spent([tournament]) == tokens_served(server)
    assert not AnswerClaim.objects.exists()


class Died(BaseException):
    """A worker's death as its call sees it: nothing after the call runs (not an error the
    task could handle: kill -9 gives no exception at all)."""


def test_a_call_whose_worker_died_is_counted_unsettled_and_said_where_the_spend_is(
    server: FakeOpenAIServer, prompt_set: PromptSet, monkeypatch: pytest.MonkeyPatch
) -> None:
    tournament = started(server, prompt_set)  # one match, two answers and a verdict
    monkeypatch.setattr(svc, "judge_comparator", lambda **_: _DyingJudge())
    (match,) = tournament.matches.all()
    with pytest.raises(Died):
        svc.match_play(match_id=match.pk)
    calls = Spend.objects.get(tournament=tournament)
    assert (calls.calls_begun, calls.calls_settled) == (3, 2)  # the two answers came back
    from django.test import Client

    api = Client().get(f"/api/tournaments/{tournament.pk}").json()
    assert api["calls_unsettled"] == 1
    # While it runs such a call may still be in flight: the page says it once it is over.
    assert 'id="unsettled"' not in Client().get(f"/tournaments/{tournament.pk}/").content.decode()
    Tournament.objects.filter(pk=tournament.pk).update(status="cancelled")
    page = Client().get(f"/tournaments/{tournament.pk}/").content.decode()
    assert "1 model call lost with a worker that died" in page


class _DyingJudge:
    def compare(self, *_: Any) -> Any:
        raise Died


def test_every_call_of_a_played_tournament_is_settled(
    server: FakeOpenAIServer, prompt_set: PromptSet
) -> None:
    tournament = started(server, prompt_set, contestants=3)
    assert play_all(tournament) == ["completed"] * 3
    calls = Spend.objects.get(tournament=tournament)
    assert calls.calls_begun == calls.calls_settled == len(server.chat_requests) == 3 + 3

"""An LLM-judged tournament through Celery (embedded worker threads) against a FAKE
OpenAI-compatible server on loopback: contestants generate and the judge compares over real
HTTP through the openai SDK, while the server fails 30% of requests with transient errors.
"""

from __future__ import annotations

import random
import re
import threading

import pytest
from django.conf import settings

from arena.models import (
    BackendKind,
    Contestant,
    Judge,
    JudgeKind,
    Judgment,
    MatchStatus,
    Response,
    Standing,
    TournamentStatus,
)
from arena.services.tournaments import tournament_create, tournament_start
from arena.serving.embedded import embedded_worker_start, embedded_worker_stop
from tests.judges.fake_openai import FakeOpenAIServer, Scripted, error_body

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not settings.EMBEDDED, reason="embedded mode only (REDIS_URL is set)"),
]


class FlakyModels:
    """Answers as model <name>, judges by a fixed preference, and fails 30% of calls."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.failures = 0

    def __call__(self, request: dict) -> str | Scripted:
        with self.lock:
            if self.rng.random() < 0.3:
                self.failures += 1
                status = self.rng.choice([429, 500, 503])
                headers = {"retry-after": "0"} if status == 429 else {}
                return Scripted(status=status, body=error_body("try later"), headers=headers)
        prompt = request["messages"][-1]["content"]
        if request["model"] != "judge":
            return f"An answer from {request['model']}: {len(prompt)} characters considered."
        # Prefer the answer whose author has the larger number in its name.
        found = [int(n) for n in re.findall(r"An answer from model-(\d+)", prompt)]
        return "[[A]]" if found[0] > found[1] else "[[B]]"


@pytest.fixture
def fake_models():
    models = FlakyModels(seed=4)
    with FakeOpenAIServer() as server:
        server.responder = models
        yield server, models


def test_an_llm_judged_tournament_completes_with_every_match_judged_once_despite_failures(
    fake_models, prompt_set, settings
) -> None:
    settings.RETRY_BASE_SECONDS = 0.02
    server, models = fake_models
    names = [f"model-{i}" for i in range(4)]
    for name in names:
        Contestant.objects.create(
            name=name,
            backend=BackendKind.OPENAI,
            base_url=server.base_url,
            model_id=name,
            generation={"max_tokens": 64},
        )
    Judge.objects.create(
        name="llm", kind=JudgeKind.OPENAI, base_url=server.base_url, model_id="judge"
    )
    tournament = tournament_create(
        name="llm",
        format="round_robin",
        contestants=names,
        prompt_set="tiny",
        judge="llm",
        config={"rounds": 2},
        seed=1,
    )
    embedded_worker_start(concurrency=4)
    try:
        tournament_start(tournament=tournament)
        from tests.integration.conftest import _wait_for  # noqa: PLC0415

        def done() -> bool:
            tournament.refresh_from_db()
            return tournament.status != TournamentStatus.RUNNING

        assert _wait_for(done, timeout=120)
    finally:
        embedded_worker_stop()

    assert tournament.status == TournamentStatus.COMPLETED
    assert models.failures > 5
    matches = tournament.matches.all()
    assert matches.count() == 12
    assert {m.status for m in matches} == {MatchStatus.COMPLETED}
    assert Judgment.objects.filter(match__tournament=tournament).count() == 12
    assert Response.objects.count() == 4 * 2  # one answer per model per prompt, cached
    by_name = {s.contestant.name: s for s in Standing.objects.filter(tournament=tournament)}
    assert [by_name[n].wins for n in names] == [0.0, 2.0, 4.0, 6.0]

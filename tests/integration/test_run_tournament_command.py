"""`manage.py run_tournament` against a FAKE OpenAI-compatible endpoint on loopback."""

from __future__ import annotations

import io
import re

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from arena.embedded import embedded_worker_stop
from arena.models import Tournament, TournamentStatus
from tests.judges.fake_openai import FakeOpenAIServer

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not settings.EMBEDDED, reason="embedded mode only (REDIS_URL is set)"),
]


def judge_prefers_longer(request: dict) -> str:
    if request["model"] != "judge-model":
        return "word " * (3 if request["model"] == "small" else 30)
    a, b = re.findall(r"word[ word]*", request["messages"][-1]["content"])[:2]
    return "[[A]]" if len(a) > len(b) else "[[B]]"


def test_two_environment_variables_and_one_command_run_a_whole_tournament(monkeypatch) -> None:
    out = io.StringIO()
    with FakeOpenAIServer() as server:
        server.responder = judge_prefers_longer
        monkeypatch.setenv("ARENA_BASE_URL", server.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-secret")
        try:
            call_command(
                "run_tournament",
                "--contestants",
                "small,large",
                "--judge",
                "judge-model",
                "--rounds",
                "2",
                "--timeout",
                "60",
                stdout=out,
            )
        finally:
            embedded_worker_stop()
    tournament = Tournament.objects.get()
    assert tournament.status == TournamentStatus.COMPLETED
    text = out.getvalue()
    assert "completed: 2 / 2 matches" in text
    # large first; two verdicts separate no one, so both share rank 1 (honest intervals)
    assert re.search(r"1\s+large", text) and re.search(r"1\s+small", text)
    board = text[text.index("is completed") :]
    assert board.index("large") < board.index("small")
    assert all(r.headers["authorization"] == "Bearer sk-test-not-secret" for r in server.requests)
    assert "sk-test-not-secret" not in str(Tournament.objects.values().get())


def test_without_an_endpoint_the_command_says_which_variable_to_set(monkeypatch) -> None:
    monkeypatch.delenv("ARENA_BASE_URL", raising=False)
    with pytest.raises(CommandError, match="ARENA_BASE_URL"):
        call_command("run_tournament", "--contestants", "a,b", "--judge", "j")

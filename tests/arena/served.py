"""Contestants and judges served by the fake OpenAI-compatible server (tests.judges.fake_openai):
each model's id is its name, so a responder can tell who is asked."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from arena.models import BackendKind, Contestant, Judge, JudgeKind
from tests.judges.fake_openai import FakeOpenAIServer


def served_contestants(server: FakeOpenAIServer, names: Iterable[str]) -> list[Contestant]:
    return [
        Contestant.objects.create(
            name=name, backend=BackendKind.OPENAI, base_url=server.base_url, model_id=name
        )
        for name in names
    ]


def served_judge(
    server: FakeOpenAIServer, name: str, *, model_id: str = "judge", settings: Mapping[str, Any]
) -> Judge:
    return Judge.objects.create(
        name=name,
        kind=JudgeKind.OPENAI,
        base_url=server.base_url,
        model_id=model_id,
        settings=dict(settings),
    )

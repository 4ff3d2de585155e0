"""Catalogue API: the prompt sets and judges a tournament can be built from (read-only).

Mounted on the main API at ``/api`` (see the end of ``arena/api.py``).
"""

from __future__ import annotations

from typing import Any

from django.db.models import Count
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Router, Schema

from arena.api_errors import BAD, MISSING
from arena.boards import judge_quality_panel
from arena.models import Judge, PromptSet

router = Router(tags=["catalogue"])


class PromptSetOut(Schema):
    id: int
    name: str
    description: str
    source: str
    prompts: int


class PromptOut(Schema):
    id: int
    text: str
    category: str


class PromptSetDetailOut(PromptSetOut):
    items: list[PromptOut]


class JudgeOut(Schema):
    id: int
    name: str
    kind: str
    model_id: str
    queue: str


class JudgeQualityOut(Schema):
    """One row of the judges' panel (/leaderboard/judges/), judges ranked by their accuracy
    against the human votes on the same prompt and pair: shares in [0, 1], None where
    there is nothing to measure; ``*_low``/``*_high`` 95% intervals; ``human_tau`` the
    Kendall tau between the judge's leaderboard and the humans'; ``cost_per_verdict`` in
    USD; ``self_judging`` the tournaments in which it judged its own model's answers.
    ``*_from`` says what a position figure was measured on."""

    source: str
    judge_id: int | None
    judgments: int
    tie_rate: float | None
    first_wins: float | None
    first_wins_from: str
    flip_rate: float | None
    flip_low: float | None
    flip_high: float | None
    flip_pairs: int
    flip_from: str | None
    position_elo: float | None
    position_low: float | None
    position_high: float | None
    intransitive: float | None
    longer_wins: float | None
    human_items: int
    human_accuracy: float | None
    human_accuracy_low: float | None
    human_accuracy_high: float | None
    human_kappa: float | None
    human_kappa_low: float | None
    human_kappa_high: float | None
    human_tau: float | None
    human_tau_low: float | None
    human_tau_high: float | None
    cost_per_verdict: float | None
    self_judging: int


def _prompt_sets() -> Any:
    return PromptSet.objects.annotate(prompts_count=Count("prompts")).order_by("name")


def _set_out(pset: Any) -> dict[str, Any]:
    return {
        "id": pset.pk,
        "name": pset.name,
        "description": pset.description,
        "source": pset.source,
        "prompts": pset.prompts_count,
    }


@router.get("/prompt-sets", response={200: list[PromptSetOut], **BAD})
def prompt_sets_list(request: HttpRequest) -> Any:
    return [_set_out(p) for p in _prompt_sets()]


@router.get("/prompt-sets/{prompt_set_id}", response={200: PromptSetDetailOut, **BAD, **MISSING})
def prompt_sets_detail(request: HttpRequest, prompt_set_id: int) -> Any:
    pset = get_object_or_404(_prompt_sets(), pk=prompt_set_id)
    items = pset.prompts.order_by("pk").values("id", "text", "category")
    return {**_set_out(pset), "items": list(items)}


@router.get("/judges", response={200: list[JudgeOut], **BAD})
def judges_list(request: HttpRequest) -> Any:
    # Settings stay out: they may name endpoints and templates staff keep to themselves.
    return Judge.objects.order_by("name")


@router.get("/judges/quality", response={200: list[JudgeQualityOut], **BAD})
def judges_quality(request: HttpRequest) -> Any:
    """Each judge's (and the humans') position bias, consistency and agreement with people:
    the numbers of the judges' panel, read from the evidence cells."""
    return judge_quality_panel()

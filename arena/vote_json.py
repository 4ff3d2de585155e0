"""The JSON answer to a vote, for vote.js and the API (and arena.serving.fastvote, which
answers the same).

The next battle travels as it is shown, rendered and sanitised: its public id, the prompt
and the answers by position, and nothing that names a model.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from django.urls import reverse

from arena.markdown import render_markdown
from arena.services.battles import Battle
from arena.services.voting import Reveal, VoteRefused


def posted_ranks(post: Mapping[str, str]) -> list[int] | None:
    """``rank_0``… ``rank_{K-1}`` from a K-wise form; None for a pairwise vote."""
    keys = sorted((k for k in post if k.startswith("rank_")), key=lambda k: k[5:].zfill(3))
    if not keys:
        return None
    try:
        return [int(post[k]) for k in keys]
    except ValueError:
        return [0] * len(keys)  # refused by the service with the reason


def vote_url(tournament_id: int) -> str:
    return reverse("vote", args=[tournament_id])


def reveal_json(reveal: Reveal) -> dict[str, Any]:
    """The reveal as the page's JSON and the API give it."""
    return {
        "battle": str(reveal.public_id),
        "models": list(reveal.models),
        "ranking": [list(tier) for tier in reveal.ranking],
        "both_bad": reveal.both_bad,
    }


def reveal_payload(*, tournament_id: int, reveal: Reveal, battle: Battle | None) -> dict[str, Any]:
    url = vote_url(tournament_id)
    return {
        "reveal": reveal_json(reveal),
        "next": None if battle is None else _battle_payload(url, battle),
        "url": url,
    }


def _battle_payload(url: str, battle: Battle) -> dict[str, Any]:
    return {
        "battle": str(battle.public_id),
        "url": f"{url}?battle={battle.public_id}",
        "idempotency_key": uuid.uuid4().hex,
        "prompt_html": render_markdown(battle.prompt),
        "answers_html": [render_markdown(text) for text in battle.answers],
    }


def refusal_payload(
    refused: VoteRefused, *, retry_after: int | None = None
) -> tuple[dict[str, Any], int]:
    """The refusal as the API words it, and its status: 429 past a limit, else 409; past a
    limit, ``retry_after`` says in how many seconds voting opens again."""
    payload: dict[str, Any] = {"errors": {refused.field: [refused.message]}}
    if retry_after is not None:
        payload["retry_after"] = retry_after
    return payload, 429 if refused.field == "rate" else 409

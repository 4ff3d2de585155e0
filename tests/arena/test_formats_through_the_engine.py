"""The issue #4 format options run to completion through the engine (services), with the
simulated judge: anchor-seeded single elimination, adaptive K-wise groups, and the
information-gain and top-k samplers."""

from __future__ import annotations

from typing import Any

import pytest

from arena.models import Judgment, MatchStatus, Tournament, TournamentStatus
from arena.services.tournaments import tournament_create, tournament_start

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("format", "n", "config"),
    [
        ("single_elimination", 6, {"seeding": "anchor", "anchor": "sim-2"}),
        ("single_elimination", 5, {"seeding": "anchor", "anchor": "sim-0", "anchor_rounds": 2}),
        ("kwise", 7, {"k": 3, "rounds": 4, "grouping": "adaptive"}),
        ("adaptive", 5, {"sampler": "info_gain", "max_matches": 16, "batch": 4}),
        ("adaptive", 5, {"sampler": "top_k", "top_k": 2, "max_matches": 16, "batch": 4}),
    ],
)
def test_each_new_option_completes_with_every_planned_match_judged_once(
    contestants: Any,
    prompt_set: Any,
    judge: Any,
    play_out: Any,
    format: str,
    n: int,
    config: dict[str, Any],
) -> None:
    people = contestants(n)
    tournament: Tournament = tournament_create(
        name=format,
        format=format,
        contestants=[c.name for c in people],
        prompt_set="tiny",
        judge="sim-judge",
        config=config,
        seed=3,
    )
    tournament = play_out(tournament_start(tournament=tournament))
    assert tournament.status == TournamentStatus.COMPLETED
    played = tournament.matches.filter(status=MatchStatus.COMPLETED).count()
    assert played == tournament.matches.count()
    assert Judgment.objects.filter(match__tournament=tournament).count() == played
    if format == "single_elimination":
        rounds = int(config.get("anchor_rounds", 1))
        anchor_matches = tournament.matches.filter(round__lt=rounds).count()
        assert anchor_matches == rounds * (n - 1)
        assert played == tournament.planned_matches

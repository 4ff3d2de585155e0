"""Leaderboards: frozen snapshots (the online Elo is written with each verdict,
arena.services.verdicts)."""

from __future__ import annotations

import inspect

from django.conf import settings

from arena.boards import tournament_leaderboard
from arena.models import LeaderboardSnapshot, Tournament
from arena.standings import ELO_K
from ratings.hierarchical import hierarchical_bradley_terry


def leaderboard_snapshot_create(*, tournament: Tournament) -> LeaderboardSnapshot:
    return LeaderboardSnapshot.objects.create(
        tournament=tournament,
        scope="tournament",
        method="bradley_terry_hierarchical",
        params={
            "bt": {**_BT_DEFAULTS, "min_verdicts": settings.MIN_VERDICTS},
            "elo": {"k": ELO_K, "base": 10, "scale": 400, "initial": 1000},
        },
        rows=list(tournament_leaderboard(tournament)),
    )


# The BT fit's hyper-parameters as the boards call it (ratings.hierarchical's defaults).
_BT_DEFAULTS = {
    name: p.default
    for name, p in inspect.signature(hierarchical_bradley_terry).parameters.items()
    if p.kind is p.KEYWORD_ONLY and name not in ("verdicts", "min_verdicts")
}

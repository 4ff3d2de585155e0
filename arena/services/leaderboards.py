"""Leaderboards: frozen snapshots (the online Elo is written with each verdict,
arena.services.verdicts)."""

from __future__ import annotations

from arena.boards import tournament_leaderboard
from arena.models import LeaderboardSnapshot, Tournament
from arena.standings import BT_PRIOR, ELO_K


def leaderboard_snapshot_create(*, tournament: Tournament) -> LeaderboardSnapshot:
    return LeaderboardSnapshot.objects.create(
        tournament=tournament,
        scope="tournament",
        method="bradley_terry",
        params={
            "bt": {"prior": BT_PRIOR, "ci": "sandwich 95%", "scale": 400, "init": 1000},
            "elo": {"k": ELO_K, "base": 10, "scale": 400, "initial": 1000},
        },
        rows=list(tournament_leaderboard(tournament)),
    )

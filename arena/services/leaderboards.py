"""Standings and leaderboards: the online Elo update and frozen snapshots."""

from __future__ import annotations

from collections.abc import Sequence

from arena.models import LeaderboardSnapshot, Standing, Tournament
from arena.selectors import tournament_leaderboard
from arena.standings import BT_PRIOR, ELO_K, apply_ranking


def standings_apply_ranking(*, tournament: Tournament, ranking: Sequence[Sequence[int]]) -> None:
    """Fold one verdict (tiers of contestant ids) into the tournament's standings rows."""
    ids = [cid for tier in ranking for cid in tier]
    rows = {
        s.contestant_id: s
        for s in Standing.objects.select_for_update().filter(
            tournament=tournament, contestant_id__in=ids
        )
    }
    for cid in set(ids) - set(rows):
        rows[cid] = Standing.objects.create(tournament=tournament, contestant_id=cid)
    stats = {
        str(cid): {"elo": r.elo, "matches": float(r.matches), "wins": r.wins, "ties": float(r.ties)}
        for cid, r in rows.items()
    }
    apply_ranking(stats, [[str(c) for c in tier] for tier in ranking])
    for cid, row in rows.items():
        record = stats[str(cid)]
        row.elo, row.wins = record["elo"], record["wins"]
        row.matches, row.ties = int(record["matches"]), int(record["ties"])
    Standing.objects.bulk_update(list(rows.values()), ["elo", "wins", "ties", "matches"])


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

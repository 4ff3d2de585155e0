"""Standings and leaderboards: the online Elo update and frozen snapshots."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from arena.models import LeaderboardSnapshot, Standing, Tournament
from arena.selectors import BT_PRIOR, tournament_leaderboard
from ratings.elo import elo_update

ELO_K = 4.0  # FastChat's online Elo step


def standings_apply_ranking(*, tournament: Tournament, ranking: Sequence[Sequence[int]]) -> None:
    """Fold one verdict (tiers of contestant ids) into the tournament's online Elo.

    A K-wise ranking counts as its K(K-1)/2 pairwise outcomes, applied in a fixed order.
    Points: 1 per entrant ranked below, 0.5 per entrant tied, over the K-1 opponents.
    """
    ids = [cid for tier in ranking for cid in tier]
    rows = {
        s.contestant_id: s
        for s in Standing.objects.select_for_update().filter(
            tournament=tournament, contestant_id__in=ids
        )
    }
    missing = set(ids) - set(rows)
    for cid in missing:
        rows[cid] = Standing.objects.create(tournament=tournament, contestant_id=cid)
    tier_of = {cid: t for t, tier in enumerate(ranking) for cid in tier}
    opponents = max(len(ids) - 1, 1)
    for a, b in itertools.combinations(ids, 2):
        score_a = 1.0 if tier_of[a] < tier_of[b] else 0.0 if tier_of[a] > tier_of[b] else 0.5
        rows[a].elo, rows[b].elo = elo_update(rows[a].elo, rows[b].elo, score_a, k=ELO_K)
        rows[a].wins += score_a / opponents
        rows[b].wins += (1.0 - score_a) / opponents
        if score_a == 0.5:
            rows[a].ties += 1
            rows[b].ties += 1
    for row in rows.values():
        row.matches += 1
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

"""Standings and leaderboards: the online Elo update and frozen snapshots."""

from __future__ import annotations

from collections.abc import Sequence

from arena.models import LeaderboardSnapshot, Standing, Tournament
from arena.selectors import tournament_leaderboard
from arena.standings import BT_PRIOR, ELO_K
from ratings.data import SCORE_OF_OUTCOME, Outcome, ranking_to_pairs
from ratings.elo import elo_update


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
    opponents = max(len(ids) - 1, 1)
    for a, b, outcome in ranking_to_pairs([[str(c) for c in tier] for tier in ranking]):
        first, second, score = rows[int(a)], rows[int(b)], float(SCORE_OF_OUTCOME[outcome])
        first.elo, second.elo = elo_update(first.elo, second.elo, score, k=ELO_K)
        first.wins += score / opponents
        second.wins += (1.0 - score) / opponents
        if outcome == Outcome.TIE:
            first.ties += 1
            second.ties += 1
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

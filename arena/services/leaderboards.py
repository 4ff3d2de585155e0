"""Leaderboards' writes: frozen snapshots, and the rating history's points (the online Elo
itself is written with each verdict, arena.services.verdicts)."""

from __future__ import annotations

import inspect

from django.conf import settings

from arena.boards import (
    ELO_POINT_GROWTH,
    global_leaderboard,
    judge_quality_panel,
    overall_leaderboard,
    tournament_leaderboard,
    tournament_verdicts,
)
from arena.models import EloPoint, LeaderboardSnapshot, Standing, Tournament
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


def elo_point_record(*, tournament: Tournament) -> None:
    """Store the tournament's online Elo now, if it has grown enough since the last point."""
    now = tournament_verdicts(tournament)
    last = EloPoint.objects.filter(tournament=tournament).order_by("-verdicts").first()
    if now == 0 or (last and now - last.verdicts < max(1.0, last.verdicts * ELO_POINT_GROWTH)):
        return
    elo = dict(Standing.objects.filter(tournament=tournament).values_list("contestant_id", "elo"))
    EloPoint.objects.get_or_create(
        tournament=tournament,
        verdicts=now,
        defaults={"elo": {str(c): round(e, 2) for c, e in elo.items()}},
    )


def boards_warm() -> None:
    """Fit what the global leaderboard page shows by default (the pooled board, the judges'
    panel, the overall board across categories) into the cache, so that the first reader
    after verdicts land finds them fitted instead of waiting for the fits (a worker's job,
    queued by the results publish at most once per WARM_SECONDS)."""
    global_leaderboard()
    judge_quality_panel()
    overall_leaderboard()

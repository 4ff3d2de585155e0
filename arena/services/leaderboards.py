"""Standings and leaderboards: the online Elo update and frozen snapshots."""

from __future__ import annotations

import functools
from collections.abc import Sequence

from django.db import connection
from django.db.models import IntegerField, Q

from arena.models import LeaderboardSnapshot, Standing, Tournament
from arena.prepared import Param, Prepared
from arena.selectors import tournament_leaderboard
from arena.standings import BT_PRIOR, ELO_K, apply_ranking


def standings_apply_ranking(*, tournament_id: int, ranking: Sequence[Sequence[int]]) -> None:
    """Fold one verdict (tiers of contestant ids) into the tournament's standings rows."""
    ids = [cid for tier in ranking for cid in tier]
    locked = _locked_standings(len(ids)).rows(
        tournament=tournament_id, **{f"c{i}": cid for i, cid in enumerate(ids)}
    )
    rows = {s.contestant_id: s for s in (Standing.from_db("default", _FIELDS, r) for r in locked)}
    for cid in set(ids) - set(rows):
        rows[cid] = Standing.objects.create(tournament_id=tournament_id, contestant_id=cid)
    stats = {
        str(cid): {"elo": r.elo, "matches": float(r.matches), "wins": r.wins, "ties": float(r.ties)}
        for cid, r in rows.items()
    }
    apply_ranking(stats, [[str(c) for c in tier] for tier in ranking])
    for cid, row in rows.items():
        record = stats[str(cid)]
        row.elo, row.wins = record["elo"], record["wins"]
        row.matches, row.ties = int(record["matches"]), int(record["ties"])
    _save(list(rows.values()))


_FIELDS = [f.attname for f in Standing._meta.concrete_fields]


@functools.cache
def _locked_standings(entrants: int) -> Prepared:
    """The standings rows of a verdict's entrants, locked in a fixed order, and without the
    default ordering's join (which would lock the contestant rows too): votes update
    standings concurrently (match_record_vote). Compiled once per group size."""
    ids = Q()
    for i in range(entrants):
        ids |= Q(contestant_id=Param(f"c{i}", IntegerField()))
    return Prepared(
        lambda: (
            Standing.objects.select_for_update()
            .filter(ids, tournament_id=Param("tournament", IntegerField()))
            .order_by("pk")
            .values_list(*_FIELDS)
        )
    )


def _save(rows: list[Standing]) -> None:
    """Write the rows' four counters in one UPDATE. Standing.objects.bulk_update does the
    same but builds a CASE per field, which cost a tenth of a vote's CPU in the web server
    (benchmarks/README.md, "Web load"); a VALUES list joined on the primary key is cheap to
    build and reads the same on PostgreSQL and SQLite (whose VALUES columns are both named
    column1, column2, …)."""
    table = connection.ops.quote_name(Standing._meta.db_table)
    row = (
        "(CAST(%s AS BIGINT), CAST(%s AS DOUBLE PRECISION), CAST(%s AS DOUBLE PRECISION),"
        " CAST(%s AS INTEGER), CAST(%s AS INTEGER))"
    )
    sql = (
        f"UPDATE {table} SET elo = v.column2, wins = v.column3, ties = v.column4,"
        f" matches = v.column5 FROM (VALUES {', '.join([row] * len(rows))}) AS v"
        f" WHERE {table}.id = v.column1"
    )
    params = [value for r in rows for value in (r.pk, r.elo, r.wins, r.ties, r.matches)]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


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

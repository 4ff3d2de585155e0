"""The evidence cells, recounted from the rows: the backfill that builds them for a database
that has verdicts without cells, and the check that compares them with a full recount.

Every verdict adds to its cells as it is recorded (arena.services.verdicts); this is the
slow path that reads every verdict once, streamed in match order (flat memory), and sums
the same increments (arena.evidence.pair_increments).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from django.db import connection, transaction

from arena import evidence
from arena.evidence import Entrant
from arena.models import Judgment, MatchEntry, PairCell, Response

CellKey = tuple[int, str, str, int, int]  # tournament, source, category, a, b
Totals = dict[CellKey, list[float]]

CHUNK = 5000
Progress = Callable[[int], None]


def _verdicts() -> Iterator[tuple[int, int, int | None, list[list[int]], bool, str]]:
    rows = (
        Judgment.objects.order_by("match_id")
        .values_list(
            "match_id",
            "match__tournament_id",
            "judge_id",
            "ranking",
            "both_bad",
            "match__prompt__category",
        )
        .iterator(chunk_size=CHUNK)
    )
    yield from rows


def _entries() -> Iterator[tuple[int, list[Entrant]]]:
    """Each judged match's entrants by position, in match order."""
    style = [f"response__style_{name}" for name in evidence.FEATURES]
    rows = (
        MatchEntry.objects.filter(match__judgment__isnull=False)
        .order_by("match_id", "position")
        .values_list("match_id", "contestant_id", *style)
        .iterator(chunk_size=CHUNK)
    )
    current, entrants = None, []
    for match_id, cid, *features in rows:
        if match_id != current:
            if current is not None:
                yield current, entrants
            current, entrants = match_id, []
        known = None if any(v is None for v in features) else tuple(map(float, features))
        entrants.append(Entrant(cid, known))
    if current is not None:
        yield current, entrants


def cells_recount(progress: Progress | None = None) -> Totals:
    """Every cell summed afresh from the verdicts and their answers' stored style."""
    totals: Totals = {}
    entries = _entries()
    match_id, entrants = next(entries, (None, []))
    for n, (verdict_match, tournament, judge, ranking, both_bad, category) in enumerate(
        _verdicts(), start=1
    ):
        while match_id is not None and match_id < verdict_match:
            match_id, entrants = next(entries, (None, []))
        if match_id != verdict_match:
            continue  # a verdict without entrants: nothing to count
        source = evidence.source_of(judge)
        for (a, b), added in evidence.pair_increments(entrants, ranking, both_bad=both_bad).items():
            cell = totals.setdefault((tournament, source, category, a, b), [0.0] * len(added))
            for i, value in enumerate(added):
                cell[i] += value
        if progress and n % 100_000 == 0:
            progress(n)
    return totals


def _stored() -> Totals:
    rows = PairCell.objects.values_list(
        "tournament_id", "source", "category", "a_id", "b_id", *evidence.COLUMNS
    )
    return {tuple(row[:5]): list(map(float, row[5:])) for row in rows.iterator(CHUNK)}  # type: ignore[misc]


@dataclass(frozen=True)
class Difference:
    cell: CellKey
    column: str
    stored: float
    recounted: float


def cells_check(progress: Progress | None = None) -> list[Difference]:
    """Where the stored cells differ from a full recount (sums to a relative 1e-9)."""
    recounted, stored = cells_recount(progress), _stored()
    zero = [0.0] * len(evidence.COLUMNS)
    differences = []
    for key in sorted(set(recounted) | set(stored), key=str):
        want, have = recounted.get(key, zero), stored.get(key, zero)
        for column, w, h in zip(evidence.COLUMNS, want, have, strict=True):
            if not math.isclose(w, h, rel_tol=1e-9, abs_tol=1e-9):
                differences.append(Difference(key, column, h, w))
    return differences


def responses_style_backfill() -> int:
    """Compute the style features of answers stored before they were kept; how many."""
    done = 0
    missing = Response.objects.filter(style_length__isnull=True).only("text")
    while batch := list(missing[:CHUNK]):
        for response in batch:
            response.set_style()
        fields = [f"style_{name}" for name in evidence.FEATURES]
        Response.objects.bulk_update(batch, fields)
        done += len(batch)
    return done


def cells_backfill(progress: Progress | None = None) -> int:
    """Replace every cell with the recount, all or nothing; how many cells there are.

    Verdicts recorded meanwhile wait for it (their cells are locked until it commits) and
    then add to the recounted cells, so none is lost or counted twice.
    """
    n_counts = len(evidence.COUNTS)
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(f"LOCK TABLE {PairCell._meta.db_table} IN SHARE ROW EXCLUSIVE MODE")
        PairCell.objects.all().delete()  # on SQLite, this takes the write lock
        totals = cells_recount(progress)
        PairCell.objects.bulk_create(
            (
                PairCell(
                    tournament_id=t,
                    source=source,
                    category=category,
                    a_id=a,
                    b_id=b,
                    **{
                        column: int(v) if i < n_counts else v
                        for i, (column, v) in enumerate(zip(evidence.COLUMNS, values, strict=True))
                    },
                )
                for (t, source, category, a, b), values in totals.items()
            ),
            batch_size=2000,
        )
    return len(totals)

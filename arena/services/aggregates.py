"""The evidence cells, recounted from the rows: the backfill that builds them for a database
that has verdicts without cells, and the check that compares them with a full recount.

Every verdict adds to its cells as it is recorded (arena.services.verdicts); this is the
slow path that reads every verdict once, streamed in match order (flat memory), and sums
the same increments (arena.evidence).
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.db.models import Count, Model, Sum
from django.db.models.functions import Coalesce

from arena import evidence
from arena.evidence import Entrant
from arena.models import (
    WENG_LIN,
    EloPoint,
    Judge,
    Judgment,
    MatchEntry,
    OrderCell,
    PairCell,
    PromptPair,
    PromptPairCell,
    RankingCell,
    Response,
    Spend,
    Standing,
    Tournament,
    Vote,
)
from arena.sql import copy_rows
from judges.judge_settings import slight_win_of
from judges.orders import COLUMNS as ORDER_COLUMNS
from judges.orders import SLIGHT_WIN, order_counts, order_from_json
from ratings.bayesian import SkillRating, rate_plackett_luce
from ratings.style import answer_features

CellKey = tuple[Any, ...]
Totals = dict[CellKey, list[float]]

CHUNK = 5000
Progress = Callable[[int], None]

# The key columns of the cells and of the prompt cells.
_PAIR_KEY = ("tournament_id", "source", "category", "a_id", "b_id")
_PROMPT_KEY = ("prompt_id", "a_id", "b_id", "tournament_id", "source")
_ORDER_KEY = ("tournament_id", "source")
_RANKING_KEY = ("tournament_id", "source", "category", "ranking")


@dataclass
class Recount:
    cells: Totals = field(default_factory=dict)  # PairCell, by _PAIR_KEY
    prompt_cells: Totals = field(default_factory=dict)  # PromptPairCell, by _PROMPT_KEY
    sources: dict[tuple[int, int, int], set[str]] = field(default_factory=dict)  # PromptPair
    rankings: Totals = field(default_factory=dict)  # RankingCell, by _RANKING_KEY
    # Each tournament's Weng-Lin beliefs by contestant id (as text), verdicts in match order.
    beliefs: dict[int, dict[str, SkillRating]] = field(default_factory=dict)

    @property
    def shared(self) -> set[tuple[int, int, int]]:
        """The prompts and pairs more than one source has judged."""
        return {key for key, seen in self.sources.items() if len(seen) > 1}


def _verdicts() -> Iterator[tuple[Any, ...]]:
    """Each verdict in match order, with the probability of its match's draw: a match's
    judgment, and the votes on it besides the one that is its judgment (a battle shown to
    several voters: arena.services.voting)."""
    judgments = (
        Judgment.objects.order_by("match_id")
        .values_list(
            "match_id",
            "match__tournament_id",
            "judge_id",
            "ranking",
            "both_bad",
            "match__prompt_id",
            "match__prompt__category",
            "match__draw_probability",
            "orders",
        )
        .iterator(chunk_size=CHUNK)
    )
    votes = _shared_votes()
    later = next(votes, None)
    for judgment in judgments:
        yield judgment
        while later is not None and later[0] <= judgment[0]:
            if later[0] == judgment[0] and judgment[2] is None:
                others = evidence.votes_besides_judgment(
                    later[1], (judgment[3], judgment[4]), lambda vote: vote
                )
                for ranking, both_bad in others:
                    yield (*judgment[:3], ranking, both_bad, *judgment[5:])
            later = next(votes, None)


def _shared_votes() -> Iterator[tuple[int, list[tuple[Any, bool]]]]:
    """The votes of each match that has more than one, in match order."""
    rows = (
        Vote.objects.filter(
            match__in=Vote.objects.values("match")
            .annotate(n=Count("id"))
            .filter(n__gt=1)
            .values("match")
        )
        .order_by("match_id", "id")
        .values_list("match_id", "ranking", "both_bad")
        .iterator(chunk_size=CHUNK)
    )
    current: int | None = None
    outcomes: list[tuple[Any, bool]] = []
    for match_id, ranking, both_bad in rows:
        if match_id != current:
            if current is not None:
                yield current, outcomes
            current, outcomes = match_id, []
        outcomes.append((ranking, both_bad))
    if current is not None:
        yield current, outcomes


def _entries() -> Iterator[tuple[int, list[Entrant]]]:
    """Each judged match's entrants by position, in match order."""
    style = {f"s_{f}": Coalesce(f"style_{f}", f"response__style_{f}") for f in evidence.FEATURES}
    rows = (
        MatchEntry.objects.filter(match__judgment__isnull=False)
        .annotate(**style)
        .order_by("match_id", "position")
        .values_list("match_id", "contestant_id", *style)
        .iterator(chunk_size=CHUNK)
    )
    current: int | None = None
    entrants: list[Entrant] = []
    for match_id, cid, *features in rows:
        if match_id != current:
            if current is not None:
                yield current, entrants
            current, entrants = match_id, []
        known = None if any(v is None for v in features) else tuple(map(float, features))
        entrants.append(Entrant(cid, known))
    if current is not None:
        yield current, entrants


def _add(totals: Totals, key: CellKey, added: tuple[float, ...]) -> None:
    cell = totals.setdefault(key, [0.0] * len(added))
    for i, value in enumerate(added):
        cell[i] += value


def cells_recount(progress: Progress | None = None) -> Recount:
    """Every cell summed afresh from the verdicts and their answers' stored style."""
    recount = Recount()
    entries = _entries()
    match_id, entrants = next(entries, (None, []))
    sizes = dict(
        Tournament.objects.annotate(n=Count("contestants")).values_list("pk", "n").iterator(CHUNK)
    )
    slight = {
        pk: slight_win_of(settings) for pk, settings in Judge.objects.values_list("pk", "settings")
    }
    verdicts = enumerate(_verdicts(), start=1)
    for n, row in verdicts:
        verdict_match, tournament, judge, ranking, both_bad, prompt, category, p, orders = row
        while match_id is not None and match_id < verdict_match:
            match_id, entrants = next(entries, (None, []))
        if match_id != verdict_match:
            continue  # a verdict without entrants: nothing to count
        source = evidence.source_of(judge)
        weight = evidence.ipw_weight(p, sizes.get(tournament, 0))
        readings = evidence.readings_of(
            [order_from_json(o) for o in orders or ()], slight.get(judge, SLIGHT_WIN)
        )
        increments = evidence.pair_increments(
            entrants, ranking, both_bad=both_bad, weight=weight, readings=readings
        )
        for (a, b), added in increments.items():
            _add(recount.cells, (tournament, source, category, a, b), added)
        _ranking_recounted(recount, (tournament, source, category), ranking)
        for (a, b), ordered in evidence.ordered_increments(entrants, ranking).items():
            _add(recount.prompt_cells, (prompt, a, b, tournament, source), ordered)
            recount.sources.setdefault((prompt, a, b), set()).add(source)
        if progress and n % 100_000 == 0:
            progress(n)
    return recount


def _ranking_recounted(recount: Recount, key: CellKey, ranking: list[list[int]]) -> None:
    """Count a K-wise verdict in its ranking cell and replay it into its tournament's
    Weng-Lin beliefs."""
    named = [[str(c) for c in tier] for tier in ranking]
    beliefs = recount.beliefs.setdefault(key[0], {})
    beliefs |= rate_plackett_luce(beliefs, named, WENG_LIN)
    counted = evidence.ranking_key(ranking)
    if counted is not None:
        _add(recount.rankings, (*key, counted), (1.0,))


def order_cells_recount() -> Totals:
    """The order cells (OrderCell, by _ORDER_KEY) summed afresh from the orders each
    judgment kept (judges.orders)."""
    totals: Totals = {}
    rows = (
        Judgment.objects.filter(orders__isnull=False)
        .order_by("match_id")
        .values_list("match__tournament_id", "judge_id", "orders")
        .iterator(chunk_size=CHUNK)
    )
    for tournament, judge, orders in rows:
        counts = order_counts([order_from_json(order) for order in orders or ()])
        if counts.judgments:
            _add(totals, (tournament, evidence.source_of(judge)), counts.as_tuple())
    return totals


def _stored(model: type[Model], key: tuple[str, ...], columns: tuple[str, ...]) -> Totals:
    rows = model.objects.values_list(*key, *columns)  # type: ignore[attr-defined]
    return {
        tuple(row[: len(key)]): list(map(float, row[len(key) :])) for row in rows.iterator(CHUNK)
    }


@dataclass(frozen=True)
class Difference:
    table: str
    cell: CellKey
    column: str
    stored: float
    recounted: float


def _differences(
    table: str, columns: tuple[str, ...], recounted: Totals, stored: Totals
) -> list[Difference]:
    zero = [0.0] * len(columns)
    found = []
    for key in sorted(set(recounted) | set(stored), key=str):
        want, have = recounted.get(key, zero), stored.get(key, zero)
        for column, w, h in zip(columns, want, have, strict=True):
            if not math.isclose(w, h, rel_tol=1e-9, abs_tol=1e-9):
                found.append(Difference(table, key, column, h, w))
    return found


def cells_check(progress: Progress | None = None) -> list[Difference]:
    """Where the stored cells differ from a full recount (sums to a relative 1e-9), and
    the prompts and pairs two sources judged that are not marked ``shared`` (a mark left
    by a deleted tournament's verdicts is harmless, and not reported).

    Everything is read in one snapshot (REPEATABLE READ on PostgreSQL; one read
    transaction on SQLite), so verdicts landing meanwhile are not mistaken for drift."""
    outermost = not connection.in_atomic_block  # else the caller's transaction decides
    with transaction.atomic():
        if outermost and connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        recount = cells_recount(progress)
        stored_pairs = _stored(PairCell, _PAIR_KEY, evidence.COLUMNS)
        stored_prompts = _stored(PromptPairCell, _PROMPT_KEY, evidence.ORDERED)
        shared = set(
            PromptPair.objects.filter(shared=True).values_list("prompt_id", "a_id", "b_id")
        )
        recounted_orders = order_cells_recount()
        stored_orders = _stored(OrderCell, _ORDER_KEY, ORDER_COLUMNS)
        stored_rankings = _stored(RankingCell, _RANKING_KEY, ("count",))
    return [
        *_differences("ranking cells", ("count",), recount.rankings, stored_rankings),
        *_differences("order cells", ORDER_COLUMNS, recounted_orders, stored_orders),
        *_differences("cells", evidence.COLUMNS, recount.cells, stored_pairs),
        *_differences("prompt cells", evidence.ORDERED, recount.prompt_cells, stored_prompts),
        *(
            Difference("prompt pairs", key, "shared", 0.0, 1.0)
            for key in sorted(recount.shared - shared)
        ),
    ]


def responses_style_backfill() -> int:
    """Compute the style features of answers stored before they were kept; how many."""
    done = 0
    fields = [f"style_{name}" for name in evidence.FEATURES]
    table = Response._meta.db_table
    assignments = ", ".join(f"{f} = v.column{i + 2}" for i, f in enumerate(fields))
    while True:
        batch = list(
            Response.objects.filter(style_length__isnull=True).values_list("pk", "text")[:CHUNK]
        )
        if not batch:
            return done
        rows = [(pk, *(int(v) for v in answer_features(text).values())) for pk, text in batch]
        values = ", ".join(["(CAST(%s AS BIGINT), %s, %s, %s, %s)"] * len(rows))
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} SET {assignments} FROM (VALUES {values}) AS v"
                f" WHERE {table}.id = v.column1",
                [value for row in rows for value in row],
            )
        done += len(batch)


def spend_backfill() -> int:
    """Sum what tournaments played before spends were kept have spent: their verdicts, and
    each answer they used; how many tournaments."""
    done = 0
    for tournament in Tournament.objects.filter(spend__isnull=True).only("pk"):
        verdicts = Judgment.objects.filter(match__tournament=tournament)
        used = Response.objects.filter(matchentry__match__tournament=tournament).distinct()
        Spend.objects.create(
            tournament=tournament,
            judged_usd=verdicts.aggregate(s=Sum("cost"))["s"] or Decimal(0),
            answers_usd=Response.objects.filter(pk__in=used.values("pk")).aggregate(s=Sum("cost"))[
                "s"
            ]
            or Decimal(0),
        )
        done += 1
    return done


def elo_points_backfill() -> int:
    """Replay each tournament's verdicts in order to store its Elo points (for tournaments
    whose verdicts came before points were kept); how many points."""
    from arena.boards import ELO_POINT_GROWTH
    from arena.standings import apply_ranking, new_stats

    stored = 0
    for tournament in Tournament.objects.exclude(elo_points__isnull=False).only("pk"):
        rankings = (
            Judgment.objects.filter(match__tournament=tournament)
            .order_by("created_at", "pk")
            .values_list("ranking", flat=True)
            .iterator(chunk_size=CHUNK)
        )
        stats: dict[str, dict[str, float]] = defaultdict(new_stats)
        points: list[tuple[int, dict[str, float]]] = []
        last = 0
        for n, ranking in enumerate(rankings, start=1):
            apply_ranking(stats, [[str(c) for c in tier] for tier in ranking])
            if n - last >= max(1.0, last * ELO_POINT_GROWTH):
                points.append((n, {c: round(s["elo"], 2) for c, s in stats.items()}))
                last = n
        stored += copy_rows(
            EloPoint._meta.db_table,
            ("tournament_id", "verdicts", "elo"),
            ((tournament.pk, n, json.dumps(elo)) for n, elo in points),
        )
    return stored


def _rows(n_counts: int, totals: Totals) -> Iterator[tuple[Any, ...]]:
    """Each cell's key and values, its first ``n_counts`` values as whole numbers."""
    for cell, values in totals.items():
        yield (*cell, *(int(v) if i < n_counts else v for i, v in enumerate(values)))


def cells_backfill(progress: Progress | None = None) -> int:
    """Replace every cell with the recount, all or nothing; how many cells there are.

    Verdicts recorded meanwhile wait for it (the cell tables are locked until it commits)
    and then add to the recounted cells, so none is lost or counted twice; so run it
    before opening an upgraded arena to votes, or expect them to wait that long. Memory
    grows with the distinct prompts and pairs judged (a recount keeps one entry each).
    """
    tables = [PairCell, PromptPairCell, PromptPair, OrderCell, RankingCell]
    with transaction.atomic():
        if connection.vendor == "postgresql":
            names = ", ".join(m._meta.db_table for m in tables)
            with connection.cursor() as cursor:
                _lock_standings_first(cursor)
                cursor.execute(f"LOCK TABLE {names} IN SHARE ROW EXCLUSIVE MODE")
        for model in tables:  # on SQLite, the first delete takes the write lock
            model._default_manager.all().delete()
        recount = cells_recount(progress)
        copy_rows(
            PairCell._meta.db_table,
            (*_PAIR_KEY, *evidence.COLUMNS),
            _rows(len(evidence.COUNTS), recount.cells),
        )
        copy_rows(
            PromptPairCell._meta.db_table,
            (*_PROMPT_KEY, *evidence.ORDERED),
            _rows(len(evidence.ORDERED), recount.prompt_cells),
        )
        copy_rows(
            PromptPair._meta.db_table,
            ("prompt_id", "a_id", "b_id", "first_source", "shared"),
            ((p, a, b, min(seen), len(seen) > 1) for (p, a, b), seen in recount.sources.items()),
        )
        copy_rows(
            OrderCell._meta.db_table,
            (*_ORDER_KEY, *ORDER_COLUMNS),
            _rows(len(ORDER_COLUMNS), order_cells_recount()),
        )
        copy_rows(RankingCell._meta.db_table, (*_RANKING_KEY, "count"), _rows(1, recount.rankings))
        _beliefs_stored(recount.beliefs)
    return len(recount.cells)


def _lock_standings_first(cursor: Any) -> None:
    """A verdict locks its standings rows (FOR UPDATE) before it adds to the cells, and the
    backfill rewrites the standings' Weng-Lin beliefs after the cells: taking the standings
    first, in a mode that waits out and holds off those row locks, keeps the two from
    waiting on each other (a deadlock that would cost the whole recount)."""
    cursor.execute(f"LOCK TABLE {Standing._meta.db_table} IN EXCLUSIVE MODE")


def ranking_cells_backfill() -> int:
    """Rebuild the ranking cells and the Weng-Lin beliefs alone (the upgrade that added
    them: migration 0025); how many ranking cells there are."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                _lock_standings_first(cursor)
                cursor.execute(
                    f"LOCK TABLE {RankingCell._meta.db_table} IN SHARE ROW EXCLUSIVE MODE"
                )
        RankingCell.objects.all().delete()
        recount = cells_recount()
        copy_rows(RankingCell._meta.db_table, (*_RANKING_KEY, "count"), _rows(1, recount.rankings))
        _beliefs_stored(recount.beliefs)
    return len(recount.rankings)


def _beliefs_stored(beliefs: dict[int, dict[str, SkillRating]]) -> None:
    """Every standing's Weng-Lin belief replaced by the replay's (the prior where its
    contestant has no verdict). Stored verdicts keep no commit order, so the replay runs in
    match order, then each match's later votes; from then on each verdict updates them in
    commit order (arena.services.verdicts)."""
    Standing.objects.update(wl_mu=WENG_LIN.mu, wl_sigma=WENG_LIN.sigma)
    for tournament, by_contestant in beliefs.items():
        for cid, belief in by_contestant.items():
            Standing.objects.filter(tournament_id=tournament, contestant_id=int(cid)).update(
                wl_mu=belief.mu, wl_sigma=belief.sigma
            )

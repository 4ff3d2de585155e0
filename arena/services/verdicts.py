"""What a verdict writes, a judge's or a voter's: the judgment, the entrants' standings
(online Elo and counts) and the evidence cells the leaderboards are fitted from
(arena.evidence). Written once, as steps (arena.sql), which the judge's worker
(``match_record_verdict``), Django's vote (``vote_record``) and the event loop's vote
(arena.serving.fastvote) all run.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from arena import evidence
from arena.evidence import Entrant
from arena.models import (
    WENG_LIN,
    Contestant,
    Judgment,
    Match,
    MatchEntry,
    OrderCell,
    PairCell,
    Prompt,
    PromptPair,
    PromptPairCell,
    RankingCell,
    Response,
    Standing,
)
from arena.sql import Dialect, Rows, Sql, Step, table
from arena.standings import apply_ranking
from judges.backends.base import OrderVerdict
from judges.orders import COLUMNS as ORDER_COLUMNS
from judges.orders import SLIGHT_WIN, order_counts
from ratings.bayesian import SkillRating, rate_plackett_luce

_M, _E, _J, _S = (table(m) for m in (Match, MatchEntry, Judgment, Standing))
_C, _P, _R = (table(m) for m in (Contestant, Prompt, Response))
_CELL, _PPC, _PAIR = (table(m) for m in (PairCell, PromptPairCell, PromptPair))
_ORDERS, _RANKS = table(OrderCell), table(RankingCell)

# Which match a statement is about: by primary key (a judge's verdict) or by the public id
# a voter's browser holds.
BY_ID = "m.id = %(match)s"
BY_PUBLIC_ID = "m.public_id = %(battle)s"


@dataclass(frozen=True)
class JudgmentValues:
    """A judgment's own columns (the match and the ranking come with the verdict)."""

    judge_id: int | None
    both_bad: bool
    raw_output: str
    probabilities: Any = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: Decimal = Decimal(0)
    latency_ms: int = 0
    # What the judge said in each order it saw (judges.orders); none for a human.
    orders: tuple[OrderVerdict, ...] = ()
    # How the judge's 5-way slight wins are scored (its ``slight_win_score`` setting).
    slight_win_score: float = SLIGHT_WIN


def standings_locked(which: str, params: dict[str, Any], dialect: Dialect) -> Sql:
    """The standings rows of the match's entrants, (id, contestant_id, elo, matches, wins,
    ties, wl_mu, wl_sigma), locked in primary-key order: verdicts of one tournament update
    them at once."""
    return Sql(
        f"SELECT s.id, s.contestant_id, s.elo, s.matches, s.wins, s.ties, s.wl_mu, s.wl_sigma"
        f" FROM {_S} s"
        f" JOIN {_E} e ON e.contestant_id = s.contestant_id"
        f" JOIN {_M} m ON m.id = e.match_id AND m.tournament_id = s.tournament_id"
        f" WHERE {which} ORDER BY s.id{dialect.for_update('s')}",
        params,
    )


def _standings_created(which: str, params: dict[str, Any]) -> Sql:
    """Standings rows for entrants that have none yet (a tournament starts with one per
    contestant; this covers rows made some other way)."""
    return Sql(
        f"INSERT INTO {_S} (tournament_id, contestant_id, elo, matches, wins, ties, wl_mu,"
        f" wl_sigma) SELECT m.tournament_id, e.contestant_id, 1000.0, 0, 0.0, 0,"
        f" %(wl_mu)s, %(wl_sigma)s"
        f" FROM {_E} e JOIN {_M} m ON m.id = e.match_id WHERE {which}"
        " ON CONFLICT (tournament_id, contestant_id) DO NOTHING",
        {**params, "wl_mu": WENG_LIN.mu, "wl_sigma": WENG_LIN.sigma},
    )


def standings_complete(
    standings: Rows, entrants: int, which: str, params: dict[str, Any], dialect: Dialect
) -> Step[Rows]:
    """The locked standings rows, created first for entrants that lack one."""
    if len(standings) >= entrants:
        return standings
    _, standings = yield [
        _standings_created(which, params),
        standings_locked(which, params, dialect),
    ]
    return standings


@dataclass(frozen=True)
class Entrants:
    """A match's entrants by answer position: (id, name), with their answers' style, and
    the prompt's category."""

    contestants: list[tuple[int, str]]
    answers: list[Entrant]
    prompt_id: int
    category: str


def entrants_read(which: str) -> Sql:
    """The match's entrants by position: (id, name, style features…, prompt, category)."""
    style = ", ".join(f"COALESCE(e.style_{f}, r.style_{f})" for f in evidence.FEATURES)
    return Sql(
        f"SELECT e.contestant_id, c.name, {style}, p.id, p.category FROM {_E} e"
        f" JOIN {_C} c ON c.id = e.contestant_id JOIN {_M} m ON m.id = e.match_id"
        f" JOIN {_P} p ON p.id = m.prompt_id LEFT JOIN {_R} r ON r.id = e.response_id"
        f" WHERE {which} ORDER BY e.position"
    )


def entrants_of(rows: Rows) -> Entrants:
    answers = []
    for cid, _, *style, _, _ in rows:
        known = None if any(v is None for v in style) else tuple(float(v) for v in style)
        answers.append(Entrant(cid, known))
    return Entrants(
        contestants=[(row[0], row[1]) for row in rows],
        answers=answers,
        prompt_id=rows[0][-2] if rows else 0,
        category=rows[0][-1] if rows else "",
    )


def verdict_writes(
    *,
    match_id: int,
    tournament_id: int,
    entrants: Entrants,
    ranking: Sequence[Sequence[int]],
    judgment: JudgmentValues,
    standings: Rows,
    now: datetime.datetime,
    judged: bool = True,
    weight: float = 1.0,
) -> list[Sql]:
    """The judgment, the standings after it (given the entrants' locked standings rows),
    and what it adds to its cells. ``judged=False``: a later vote on a match whose first
    vote is its judgment (arena.services.voting) writes all but the judgment. ``weight``:
    the verdict's inverse-probability weight in the fit (arena.evidence.ipw_weight)."""
    stats = {
        str(cid): {"elo": elo, "matches": float(matches), "wins": wins, "ties": float(ties)}
        for _, cid, elo, matches, wins, ties, *_ in standings
    }
    named = [[str(c) for c in tier] for tier in ranking]
    apply_ranking(stats, named)
    beliefs = weng_lin_update(standings, named)
    source = evidence.source_of(judgment.judge_id)
    increments = evidence.pair_increments(
        entrants.answers,
        ranking,
        both_bad=judgment.both_bad,
        weight=weight,
        readings=evidence.readings_of(judgment.orders, judgment.slight_win_score),
    )
    ordered = evidence.ordered_increments(entrants.answers, ranking)
    pair_key = {"tournament": tournament_id, "source": source, "category": entrants.category}
    prompt_key = {"prompt": entrants.prompt_id, "tournament": tournament_id, "source": source}
    cells = [
        _added(_CELL, pair_key, evidence.COLUMNS, len(evidence.COUNTS), increments),
        _added(_PPC, prompt_key, evidence.ORDERED, len(evidence.ORDERED), ordered),
        _prompt_pairs_seen(entrants.prompt_id, source, sorted(ordered)),
        _orders_counted(tournament_id, source, judgment.orders),
        _ranking_counted(pair_key, evidence.ranking_key(ranking)),
    ]
    return [
        *([_judgment_insert(match_id, ranking, judgment, now)] if judged else []),
        _standings_update(standings, stats, beliefs),
        *(c for c in cells if c is not None),
    ]


def _added(
    table: str,
    key: dict[str, object],
    columns: tuple[str, ...],
    n_counts: int,
    increments: Mapping[tuple[int, int], tuple[float, ...]],
) -> Sql | None:
    """Add a verdict's increments per pair to the rows of ``table`` keyed by ``key`` and the
    pair, creating those it is the first in; pairs in (a, b) order, so that verdicts sharing
    rows lock them in one order. The first ``n_counts`` columns are whole numbers."""
    if not increments:
        return None
    values, params = [], {f"k_{name}": value for name, value in key.items()}
    fixed = ", ".join(f"%(k_{name})s" for name in key)
    for i, ((a, b), added) in enumerate(sorted(increments.items())):
        names = [f"v{i}_{j}" for j in range(len(added))]
        values.append(f"({fixed}, %(a{i})s, %(b{i})s, {', '.join(f'%({n})s' for n in names)})")
        params |= {f"a{i}": a, f"b{i}": b}
        params |= {
            n: int(v) if j < n_counts else v
            for j, (n, v) in enumerate(zip(names, added, strict=True))
        }
    keys = ", ".join(f"{name}_id" if name in ("tournament", "prompt") else name for name in key)
    return Sql(
        f"INSERT INTO {table} ({keys}, a_id, b_id, {', '.join(columns)})"
        f" VALUES {', '.join(values)} ON CONFLICT ({keys}, a_id, b_id)"
        f" DO UPDATE SET {', '.join(f'{c} = {table}.{c} + excluded.{c}' for c in columns)}",
        params,
    )


def _prompt_pairs_seen(prompt_id: int, source: str, pairs: list[tuple[int, int]]) -> Sql | None:
    """Mark the prompt's pairs as judged by this source: ``shared`` once another has too."""
    if not pairs:
        return None
    rows = ", ".join(
        f"(%(prompt)s, %(a{i})s, %(b{i})s, %(source)s, FALSE)" for i in range(len(pairs))
    )
    params: dict[str, object] = {"prompt": prompt_id, "source": source}
    for i, (a, b) in enumerate(pairs):
        params |= {f"a{i}": a, f"b{i}": b}
    return Sql(
        f"INSERT INTO {_PAIR} (prompt_id, a_id, b_id, first_source, shared) VALUES {rows}"
        " ON CONFLICT (prompt_id, a_id, b_id) DO UPDATE SET shared ="
        f" {_PAIR}.shared OR {_PAIR}.first_source <> excluded.first_source",
        params,
    )


def _orders_counted(tournament_id: int, source: str, orders: Sequence[OrderVerdict]) -> Sql | None:
    """Add what the judge said order by order to the source's OrderCell in the tournament."""
    counts = order_counts(orders)
    if not counts.judgments:
        return None
    names = ", ".join(ORDER_COLUMNS)
    return Sql(
        f"INSERT INTO {_ORDERS} (tournament_id, source, {names})"
        f" VALUES (%(tournament)s, %(source)s, {', '.join(f'%({c})s' for c in ORDER_COLUMNS)})"
        f" ON CONFLICT (tournament_id, source) DO UPDATE SET"
        f" {', '.join(f'{c} = {_ORDERS}.{c} + excluded.{c}' for c in ORDER_COLUMNS)}",
        {
            "tournament": tournament_id,
            "source": source,
            **dict(zip(ORDER_COLUMNS, counts.as_tuple(), strict=True)),
        },
    )


def _judgment_insert(
    match_id: int, ranking: Sequence[Sequence[int]], j: JudgmentValues, now: datetime.datetime
) -> Sql:
    return Sql(
        f"INSERT INTO {_J} (match_id, judge_id, ranking, both_bad, probabilities, raw_output,"
        " orders, prompt_tokens, completion_tokens, cost, latency_ms, created_at)"
        " VALUES (%(match)s, %(judge)s, %(ranking)s, %(both_bad)s, %(probabilities)s, %(raw)s,"
        " %(orders)s, %(prompt_tokens)s, %(completion_tokens)s, %(cost)s, %(latency)s, %(now)s)",
        {
            "match": match_id,
            "judge": j.judge_id,
            "ranking": json.dumps([list(tier) for tier in ranking]),
            "both_bad": j.both_bad,
            "probabilities": None if j.probabilities is None else json.dumps(j.probabilities),
            "raw": j.raw_output,
            "orders": json.dumps([o.as_json() for o in j.orders]) if j.orders else None,
            "prompt_tokens": j.prompt_tokens,
            "completion_tokens": j.completion_tokens,
            "cost": j.cost,
            "latency": j.latency_ms,
            "now": now,
        },
    )


def weng_lin_update(standings: Rows, ranking: list[list[str]]) -> dict[str, SkillRating]:
    """The entrants' Weng-Lin beliefs after the ranking (ids as text), from their rows'."""
    current = {str(row[1]): SkillRating(row[6], row[7]) for row in standings}
    return rate_plackett_luce(current, ranking, WENG_LIN)


def _ranking_counted(key: dict[str, object], ranking: str | None) -> Sql | None:
    """Count a K-wise verdict in its ranking's RankingCell (pairs have none)."""
    if ranking is None:
        return None
    return Sql(
        f"INSERT INTO {_RANKS} (tournament_id, source, category, ranking, count)"
        " VALUES (%(tournament)s, %(source)s, %(category)s, %(ranking)s, 1)"
        " ON CONFLICT (tournament_id, source, category, ranking)"
        f" DO UPDATE SET count = {_RANKS}.count + 1",
        {**key, "ranking": ranking},
    )


def _standings_update(
    standings: Rows, stats: dict[str, dict[str, float]], beliefs: Mapping[str, SkillRating]
) -> Sql:
    """The rows' counters and beliefs in one UPDATE joined on a VALUES list (whose columns
    both PostgreSQL and SQLite name column1, column2, …)."""
    values: list[str] = []
    params: dict[str, object] = {}
    for i, (pk, cid, *_) in enumerate(standings):
        record = stats[str(cid)]
        values.append(
            f"(CAST(%(id{i})s AS BIGINT), CAST(%(elo{i})s AS DOUBLE PRECISION),"
            f" CAST(%(wins{i})s AS DOUBLE PRECISION), CAST(%(ties{i})s AS INTEGER),"
            f" CAST(%(matches{i})s AS INTEGER), CAST(%(mu{i})s AS DOUBLE PRECISION),"
            f" CAST(%(sigma{i})s AS DOUBLE PRECISION))"
        )
        belief = beliefs[str(cid)]
        params |= {
            f"id{i}": pk,
            f"elo{i}": record["elo"],
            f"wins{i}": record["wins"],
            f"ties{i}": int(record["ties"]),
            f"matches{i}": int(record["matches"]),
            f"mu{i}": belief.mu,
            f"sigma{i}": belief.sigma,
        }
    return Sql(
        f"UPDATE {_S} SET elo = v.column2, wins = v.column3, ties = v.column4,"
        f" matches = v.column5, wl_mu = v.column6, wl_sigma = v.column7"
        f" FROM (VALUES {', '.join(values)}) AS v"
        f" WHERE {_S}.id = v.column1",
        params,
    )


def verdict_record(
    *,
    match_id: int,
    tournament_id: int,
    ranking: Sequence[Sequence[int]],
    judgment: JudgmentValues,
    now: datetime.datetime,
    dialect: Dialect,
) -> Step[Entrants]:
    """A judge's verdict on a match its caller holds locked: read the entrants and lock
    their standings, then write the judgment, the standings and the cells. Returns the
    entrants."""
    params = {"match": match_id}
    rows, standings = yield [
        Sql(entrants_read(BY_ID).text, params),
        standings_locked(BY_ID, params, dialect),
    ]
    entrants = entrants_of(rows)
    standings = yield from standings_complete(standings, len(rows), BY_ID, params, dialect)
    yield verdict_writes(
        match_id=match_id,
        tournament_id=tournament_id,
        entrants=entrants,
        ranking=ranking,
        judgment=judgment,
        standings=standings,
        now=now,
    )
    return entrants

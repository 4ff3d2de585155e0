"""Exporting a tournament's results in the formats other tools read.

- battles JSONL: FastChat's battle rows (``model_a``, ``model_b``, ``winner``), which
  ``python -m ratings fit`` and FastChat's own notebooks load as they are;
- rankings JSONL: one verdict per line as tiers of names, for listwise methods
  (Plackett-Luce, Soft Condorcet) that must not see a K-wise ranking cut into pairs;
- leaderboard CSV: what the tournament page shows;
- manifest JSON: the frozen replay manifest plus the data cut the files above came from,
  with a hash of the battles file so a published number can be traced to its data (kept
  per data cut as the battles file streams, so the manifest need not read it again).

Everything here reads; nothing writes. Exports are as public as the leaderboard, so they
carry names of contestants and judges, never anything secret (a contestant only names the
environment variable holding its key, and that name is all the manifest has).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

from django.core.cache import cache
from django.db import connection
from django.db.models import Count, Max, Min, Sum
from django.utils import timezone

from arena import evidence, sql
from arena.boards import tournament_leaderboard
from arena.models import (
    Contestant,
    Judge,
    Judgment,
    Match,
    MatchEntry,
    MatchStatus,
    Prompt,
    Standing,
    Tournament,
    TournamentStatus,
    Vote,
)
from arena.standings import has_verdicts

HUMAN_JUDGE = "human"  # what a vote-decided match names as its judge
LEADERBOARD_COLUMNS = (
    "rank",
    "model",
    "elo",
    "matches",
    "wins",
    "ties",
    "win_rate",
    "bt",
    "bt_low",
    "bt_high",
)
# A K-wise board's columns besides (Tournament.listwise; arena.listwise).
LISTWISE_COLUMNS = ("pl", "pl_low", "pl_high", "wl_mu", "wl_sigma", "wl_ordinal")


@dataclass(frozen=True)
class Export:
    """A download: its file name, content type and the text in chunks (to stream it)."""

    filename: str
    content_type: str
    chunks: Iterable[str]


class _Verdict(NamedTuple):
    """A verdict as the exports read it (a tuple: made once per row of a large file)."""

    match: str  # public id
    round: int
    entrants: list[int]  # contestant ids by answer position
    ranking: list[list[int]]
    tier_of: dict[int, int]  # contestant id → its tier in the ranking
    both_bad: bool
    judge: int | None  # None: people voted
    tstamp: float  # seconds since the epoch
    prompt: int


# Matches read per query: each chunk starts where the last one ended in (round, slot)
# order, along the match_unique_slot index, so the first rows go out at once and no query
# sorts a tournament's whole history.
CHUNK = 5000


def _matches_sql(dialect: sql.Dialect) -> str:
    # PostgreSQL gives the time as seconds and the public id as text (decoding a million
    # timestamps and UUIDs in Python costs seconds); SQLite's come back as a datetime
    # (Django's converter) and as hex.
    at = "EXTRACT(EPOCH FROM j.created_at)::float8" if dialect.locks else "j.created_at"
    public = "m.public_id::text" if dialect.locks else "m.public_id"
    return (
        f"SELECT m.id, {public}, m.round, m.slot, m.prompt_id, j.ranking, j.both_bad,"
        f" j.judge_id, {at}"
        f" FROM {sql.table(Match)} m JOIN {sql.table(Judgment)} j ON j.match_id = m.id"
        f" WHERE m.tournament_id = %s AND m.status = '{MatchStatus.COMPLETED}'"
        f" AND (m.round, m.slot) > (%s, %s)"
        f" ORDER BY m.round, m.slot LIMIT %s"
    )


def _verdicts(tournament: Tournament) -> Iterator[_Verdict]:
    """Every verdict in play order, a chunk of matches at a time (memory stays flat at any
    size): each completed match's judgment (failed ones have none), and the votes on it
    besides the one that is its judgment (a battle shown to several voters counts every
    vote, arena.services.voting, as the leaderboard does)."""
    dialect = sql.dialect()
    query = _matches_sql(dialect)
    rankings = _Rankings()
    after = (-1, -1)
    while True:
        with connection.cursor() as cursor:
            cursor.execute(query, [tournament.pk, *after, CHUNK])
            matches = cursor.fetchall()
        if not matches:
            return
        ids = [row[0] for row in matches]
        entrants = _entrants(ids, dialect)
        later = _later_votes(ids, dialect) if tournament.judge_id is None else {}
        for mid, public, round_, _slot, prompt, ranking, both_bad, judge, at in matches:
            verdict = _Verdict(
                public if dialect.locks else str(uuid.UUID(public)),
                round_,
                entrants[mid],
                *rankings.read(ranking),
                both_bad,
                judge,
                _seconds(at),
                prompt,
            )
            yield verdict
            if mid not in later:  # voted once, as almost every battle
                continue
            others = evidence.votes_besides_judgment(
                later[mid], (_json(ranking), both_bad), lambda v: (_json(v[0]), v[1])
            )
            for vote_ranking, vote_both_bad, vote_at in others:
                tiers, tier_of = rankings.read(vote_ranking)
                yield verdict._replace(
                    ranking=tiers,
                    tier_of=tier_of,
                    both_bad=vote_both_bad,
                    tstamp=_seconds(vote_at),
                )
        after = (matches[-1][2], matches[-1][3])


def _seconds(at: Any) -> float:
    """PostgreSQL gives the time as seconds; SQLite's column comes back as a datetime."""
    return at if isinstance(at, float) else float(at.timestamp())


def _later_votes(match_ids: list[int], dialect: sql.Dialect) -> dict[int, list[Any]]:
    """The votes (ranking, both bad, time) of the matches voted more than once: the
    database picks those (most battles have one vote), so the export reads no vote twice."""
    at = "EXTRACT(EPOCH FROM v.created_at)::float8" if dialect.locks else "v.created_at"
    where, params = _one_of("match_id", match_ids, dialect)
    table = sql.table(Vote)
    return _by_match(
        f"SELECT v.match_id, v.ranking, v.both_bad, {at} FROM {table} v"
        f" WHERE v.match_id IN (SELECT match_id FROM {table} WHERE {where}"
        f" GROUP BY match_id HAVING COUNT(*) > 1) ORDER BY v.match_id, v.id",
        params,
    )


def _json(ranking: Any) -> Any:
    return json.loads(ranking) if isinstance(ranking, str) else ranking


class _Rankings:
    """Rankings read from their JSON text, each distinct text once: a pairwise arena has
    few (a pair's win, loss or tie), and parsing every row's cost more than the rest of
    its line. Bounded, since K-wise rankings can all differ."""

    LIMIT = 100_000

    def __init__(self) -> None:
        self._seen: dict[str, tuple[list[list[int]], dict[int, int]]] = {}

    def read(self, ranking: str | list[list[int]]) -> tuple[list[list[int]], dict[int, int]]:
        if not isinstance(ranking, str):
            return ranking, _tiers(ranking)
        found = self._seen.get(ranking)
        if found is None:
            if len(self._seen) >= self.LIMIT:
                self._seen.clear()
            tiers = json.loads(ranking)
            found = self._seen[ranking] = (tiers, _tiers(tiers))
        return found


def _tiers(ranking: list[list[int]]) -> dict[int, int]:
    return {cid: t for t, tier in enumerate(ranking) for cid in tier}


def _entrants(match_ids: list[int], dialect: sql.Dialect) -> dict[int, list[int]]:
    """Each match's contestants in answer order."""
    where, params = _one_of("match_id", match_ids, dialect)
    return _by_match(
        f"SELECT match_id, contestant_id FROM {sql.table(MatchEntry)}"
        f" WHERE {where} ORDER BY match_id, position",
        params,
    )


def _by_match(query: str, params: list[Any]) -> dict[int, list[Any]]:
    """The rows of ``query`` (a match id, then values) as each match's list of values: the
    one value of a two-column row, else the rest of the row."""
    out: dict[int, list[Any]] = {}
    with connection.cursor() as cursor:
        cursor.execute(query, params)
        rows = cursor.fetchall()
    one = bool(rows) and len(rows[0]) == 2
    for row in rows:
        value = row[1] if one else row[1:]
        if row[0] in out:
            out[row[0]].append(value)
        else:
            out[row[0]] = [value]
    return out


def _one_of(column: str, ids: list[int], dialect: sql.Dialect) -> tuple[str, list[Any]]:
    """``column`` is one of ``ids``, as plain SQL: compiling an ORM ``__in`` of thousands of
    ids cost more than running it. On PostgreSQL one array parameter written as its text:
    the client parses a long list of placeholders, and adapts a list element by element,
    slower than the server runs the query."""
    if dialect.locks:
        return f"{column} = ANY(%s::bigint[])", ["{" + ",".join(map(str, ids)) + "}"]
    return f"{column} IN ({', '.join(['%s'] * len(ids))})", list(ids)


class _Names:
    """Contestants', judges' and prompts' names, each read once when first met, and kept
    as JSON text too: a battle line is put together from them without encoding a row."""

    def __init__(self) -> None:
        self.contestants: dict[int, str] = {}
        self.judges: dict[int | None, str] = {None: HUMAN_JUDGE}
        self.prompts: dict[int, tuple[str, str]] = {}
        self._json: dict[str, str] = {}

    def encoded(self, text: str) -> str:
        """``text`` as a JSON string, encoded once per export."""
        found = self._json.get(text)
        if found is None:
            # ensure_ascii=False keeps non-English names readable; the file is UTF-8.
            found = self._json[text] = json.dumps(text, ensure_ascii=False)
        return found

    def contestant(self, pk: int) -> str:
        if pk not in self.contestants:
            self.contestants.update(Contestant.objects.values_list("pk", "name"))
        return self.contestants[pk]

    def judge(self, pk: int | None) -> str:
        if pk not in self.judges:
            self.judges.update(Judge.objects.values_list("pk", "name"))
        return self.judges[pk]

    def prompt(self, pk: int) -> tuple[str, str]:
        """(external id, category)"""
        if pk not in self.prompts:
            prompt_set = Prompt.objects.filter(pk=pk).values_list("prompt_set_id", flat=True)
            found = Prompt.objects.filter(prompt_set__in=prompt_set)
            self.prompts.update(
                (pk, (qid, category))
                for pk, qid, category in found.values_list("pk", "external_id", "category")
            )
        return self.prompts[pk]


def _winner(tier_a: int, tier_b: int, *, both_bad: bool) -> str:
    if tier_a < tier_b:
        return "model_a"
    if tier_b < tier_a:
        return "model_b"
    return "tie (bothbad)" if both_bad else "tie"


def tournament_battle_lines(*, tournament: Tournament) -> Iterator[str]:
    """FastChat battle rows as JSON lines; a K-wise verdict becomes its K(K-1)/2 pairs in
    position order. Each line reads as ``json.dumps`` of the row would write it (a test
    holds them equal), put together from names encoded once."""
    names = _Names()
    enc = names.encoded
    # The JSON of each contestant's name and of each (prompt, judge)'s fields, made once.
    model: dict[int, str] = {}
    about: dict[tuple[int, int | None], tuple[str, str]] = {}
    for verdict in _verdicts(tournament):
        tier_of = verdict.tier_of
        # An entry the verdict left out ranks below every tier (services refuse such
        # verdicts today; this keeps an old row from breaking the whole export).
        unranked = len(verdict.ranking)
        key = (verdict.prompt, verdict.judge)
        if key not in about:
            question, category = names.prompt(verdict.prompt)
            about[key] = (
                f'"question_id": {enc(question)}, "judge": {enc(names.judge(verdict.judge))},',
                f', "turn": 1, "category": {enc(category)}}}\n',
            )
        head, end = about[key]
        tail = f'{head} "tstamp": {verdict.tstamp!r}{end}'
        for i, first in enumerate(verdict.entrants):
            for second in verdict.entrants[i + 1 :]:
                winner = _winner(
                    tier_of.get(first, unranked),
                    tier_of.get(second, unranked),
                    both_bad=verdict.both_bad,
                )
                for pk in (first, second):
                    if pk not in model:
                        model[pk] = enc(names.contestant(pk))
                yield (
                    f'{{"model_a": {model[first]}, "model_b": {model[second]},'
                    f' "winner": "{winner}", {tail}'
                )


def tournament_ranking_rows(*, tournament: Tournament) -> Iterator[dict[str, Any]]:
    """One row per verdict, its tiers as names, best first. A running tournament judged
    by people keeps its battles' public ids out (``match`` is null): a voted battle may
    still be shown to other voters (arena.services.battles), who know it by that id."""
    blind = tournament.judge_id is None and tournament.status == TournamentStatus.RUNNING
    names = _Names()
    for verdict in _verdicts(tournament):
        question, _category = names.prompt(verdict.prompt)
        yield {
            "ranking": [[names.contestant(cid) for cid in tier] for tier in verdict.ranking],
            "both_bad": verdict.both_bad,
            "question_id": question,
            "judge": names.judge(verdict.judge),
            "match": None if blind else verdict.match,
            "round": verdict.round,
            "tstamp": verdict.tstamp,
        }


def _jsonl(rows: Iterable[dict[str, Any]]) -> Iterator[str]:
    for row in rows:
        # ensure_ascii=False keeps non-English names readable; the file is UTF-8.
        yield json.dumps(row, ensure_ascii=False) + "\n"


def tournament_export_battles(*, tournament: Tournament) -> Iterator[str]:
    """The battles file; its hash and row count are remembered for this data cut as it
    streams, so the manifest need not read the tournament again."""
    stamp = _stamp(tournament)
    digest, rows = hashlib.sha256(), 0
    for line in tournament_battle_lines(tournament=tournament):
        digest.update(line.encode("utf-8"))
        rows += 1
        yield line
    if _stamp(tournament) == stamp:  # no verdict landed meanwhile: the file is that cut
        cache.set(_cut_key(tournament, stamp), (rows, digest.hexdigest()), DATA_CUT_SECONDS)


# How long a data cut's battles hash is remembered (it stays valid while no verdict lands).
DATA_CUT_SECONDS = 7 * 86400


def _stamp(tournament: Tournament) -> tuple[int, int, int]:
    """Changes with every verdict or failure in the tournament (its matches' statuses and
    its standings, which every verdict adds to)."""
    finished = Match.objects.filter(
        tournament=tournament, status__in=[MatchStatus.COMPLETED, MatchStatus.FAILED]
    ).count()
    verdicts = Standing.objects.filter(tournament=tournament).aggregate(n=Sum("matches"))["n"]
    return tournament.pk, finished, verdicts or 0


def _cut_key(tournament: Tournament, stamp: tuple[int, int, int]) -> str:
    created = tournament.created_at.timestamp()
    return f"battles-cut:{created}:{':'.join(map(str, stamp))}"


def _battles_hash(tournament: Tournament) -> tuple[int, str]:
    """(rows, sha256) of the battles file as it is now: remembered, or read once and
    remembered."""
    stamp = _stamp(tournament)
    found: tuple[int, str] | None = cache.get(_cut_key(tournament, stamp))
    if found is None:
        for _ in tournament_export_battles(tournament=tournament):
            pass
        found = cache.get(_cut_key(tournament, stamp))
    if found is None:  # verdicts kept landing: hash what was read
        digest, rows = hashlib.sha256(), 0
        for line in tournament_battle_lines(tournament=tournament):
            digest.update(line.encode("utf-8"))
            rows += 1
        found = (rows, digest.hexdigest())
    return found


def tournament_export_rankings(*, tournament: Tournament) -> Iterator[str]:
    return _jsonl(tournament_ranking_rows(tournament=tournament))


def tournament_export_leaderboard(*, tournament: Tournament) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    columns = LEADERBOARD_COLUMNS + (LISTWISE_COLUMNS if tournament.listwise else ())
    writer.writerow(columns)
    rows = tournament_leaderboard(tournament)
    for row in rows if has_verdicts(rows) else []:  # no verdict: nobody has a rating
        values = {**row, "model": _cell(row["contestant"])}
        writer.writerow(["" if values.get(c) is None else values.get(c) for c in columns])
    yield buffer.getvalue()


# What a spreadsheet reads as the start of a formula (OWASP's list for CSV injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(text: str) -> str:
    """A name as a spreadsheet shows it, never as a formula it runs (``=HYPERLINK(…)``):
    such text gets a leading apostrophe, which spreadsheets hide."""
    return "'" + text if text.startswith(FORMULA_START) else text


def tournament_data_cut(*, tournament: Tournament) -> dict[str, Any]:
    """What the exported files were cut from, so two exports can be told apart."""
    battles, digest = _battles_hash(tournament)
    by_status = dict(
        tournament.matches.values_list("status").annotate(n=Count("pk")).order_by("status")
    )
    judgments = Judgment.objects.filter(match__tournament=tournament).aggregate(
        n=Count("pk"), first=Min("created_at"), last=Max("created_at")
    )
    return {
        "matches_by_status": {status: by_status.get(status, 0) for status in MatchStatus.values},
        "judgments": judgments["n"],
        "votes": Vote.objects.filter(match__tournament=tournament).count(),
        "first_judgment_at": judgments["first"].isoformat() if judgments["first"] else None,
        "last_judgment_at": judgments["last"].isoformat() if judgments["last"] else None,
        "exported_at": timezone.now().isoformat(),
        "battles_rows": battles,
        "battles_sha256": digest,
    }


def tournament_export_manifest(*, tournament: Tournament) -> Iterator[str]:
    document = {
        "tournament": {
            "id": tournament.pk,
            "name": tournament.name,
            "status": tournament.status,
            "started_at": tournament.started_at.isoformat() if tournament.started_at else None,
            "finished_at": tournament.finished_at.isoformat() if tournament.finished_at else None,
        },
        # Empty for a draft: the manifest is frozen when the tournament starts.
        "manifest": _public(tournament.manifest),
        "data_cut": tournament_data_cut(tournament=tournament),
    }
    yield json.dumps(document, ensure_ascii=False, indent=2, sort_keys=True) + "\n"


# Where models are served, and which variable holds a key: infrastructure, not results,
# and a base URL may carry a key of its own (``?api_key=…``). The API shows neither.
PRIVATE_KEYS = frozenset({"base_url", "api_key_env"})


def _public(value: Any) -> Any:
    """The manifest as the public may read it: everything but ``PRIVATE_KEYS``, at any depth
    (a panel's members are judges too)."""
    if isinstance(value, dict):
        return {k: _public(v) for k, v in value.items() if k not in PRIVATE_KEYS}
    if isinstance(value, list):
        return [_public(v) for v in value]
    return value


EXPORTS: dict[str, tuple[str, Callable[..., Iterator[str]]]] = {
    "battles.jsonl": ("application/x-ndjson; charset=utf-8", tournament_export_battles),
    "rankings.jsonl": ("application/x-ndjson; charset=utf-8", tournament_export_rankings),
    "leaderboard.csv": ("text/csv; charset=utf-8", tournament_export_leaderboard),
    "manifest.json": ("application/json; charset=utf-8", tournament_export_manifest),
}


class UnknownExport(LookupError):
    pass


def tournament_export(*, tournament: Tournament, kind: str) -> Export:
    """The download ``kind`` (a key of ``EXPORTS``), named after the tournament."""
    if kind not in EXPORTS:
        raise UnknownExport(f"unknown export {kind!r}; one of {', '.join(EXPORTS)}")
    content_type, produce = EXPORTS[kind]
    return Export(
        filename=f"tournament-{tournament.pk}-{kind}",
        content_type=content_type,
        chunks=produce(tournament=tournament),
    )

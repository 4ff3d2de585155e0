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
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Any

from django.core.cache import cache
from django.db.models import Count, Max, Min, Sum
from django.utils import timezone

from arena.boards import tournament_leaderboard
from arena.models import (
    Judgment,
    Match,
    MatchEntry,
    MatchStatus,
    Standing,
    Tournament,
    TournamentStatus,
    Vote,
)

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


@dataclass(frozen=True)
class Export:
    """A download: its file name, content type and the text in chunks (to stream it)."""

    filename: str
    content_type: str
    chunks: Iterable[str]


@dataclass(frozen=True)
class _Verdict:
    match: Any  # public id
    round: int
    slot: int
    entrants: list[tuple[int, str]]  # by answer position
    ranking: list[list[int]]
    both_bad: bool
    judge: str
    at: Any
    question: str
    category: str


_FIELDS = (
    "match__public_id",
    "match__round",
    "match__slot",
    "contestant_id",
    "contestant__name",
    "match__judgment__ranking",
    "match__judgment__both_bad",
    "match__judgment__judge__name",
    "match__judgment__created_at",
    "match__prompt__external_id",
    "match__prompt__category",
)


def _verdicts(tournament: Tournament) -> Iterator[_Verdict]:
    """Every verdict in play order: each completed match's judgment, and the votes on it
    besides the one that is its judgment (a battle shown to several voters counts each
    vote, arena.services.voting), as the leaderboard counts them."""
    votes = _shared_votes(tournament)
    later = next(votes, None)
    for verdict in _judgments(tournament):
        yield verdict
        while later is not None and later[0] <= (verdict.round, verdict.slot):
            if later[0] == (verdict.round, verdict.slot):
                for ranking, both_bad, at in _besides(later[1], verdict):
                    yield replace(verdict, ranking=ranking, both_bad=both_bad, at=at)
            later = next(votes, None)


def _shared_votes(tournament: Tournament) -> Iterator[tuple[tuple[int, int], list[Any]]]:
    """The votes of each match voted more than once, by (round, slot) in play order."""
    if tournament.judge_id is not None:
        return
    shared = (
        Vote.objects.filter(match__tournament=tournament)
        .values("match")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .values("match")
    )
    rows = (
        Vote.objects.filter(match__in=shared)
        .order_by("match__round", "match__slot", "id")
        .values_list("match__round", "match__slot", "ranking", "both_bad", "created_at")
        .iterator(chunk_size=5000)
    )
    key, votes = None, []
    for round_, slot, ranking, both_bad, at in rows:
        if (round_, slot) != key:
            if key is not None:
                yield key, votes
            key, votes = (round_, slot), []
        votes.append((ranking, both_bad, at))
    if key is not None:
        yield key, votes


def _besides(votes: list[Any], judged: _Verdict) -> list[Any]:
    """The votes but the one that is the judgment (the first vote: its ranking)."""
    rest = list(votes)
    first = [i for i, (r, b, _) in enumerate(rest) if (r, b) == (judged.ranking, judged.both_bad)]
    rest.pop(first[0] if first else 0)
    return rest


def _judgments(tournament: Tournament) -> Iterator[_Verdict]:
    """Completed matches that have a verdict, in play order (failed ones have none), read
    as plain values through a server-side cursor: memory stays flat at any size."""
    rows = (
        MatchEntry.objects.filter(
            match__tournament=tournament,
            match__status=MatchStatus.COMPLETED,
            match__judgment__isnull=False,
        )
        .order_by("match__round", "match__slot", "position")
        .values_list(*_FIELDS)
        .iterator(chunk_size=5000)
    )
    current: _Verdict | None = None
    for public, round_, slot, cid, name, ranking, both_bad, judge, at, qid, cat in rows:
        if current is None or current.match != public:
            if current is not None:
                yield current
            current = _Verdict(
                public, round_, slot, [], ranking, both_bad, judge or HUMAN_JUDGE, at, qid, cat
            )
        current.entrants.append((cid, name))
    if current is not None:
        yield current


def _winner(tier_a: int, tier_b: int, *, both_bad: bool) -> str:
    if tier_a < tier_b:
        return "model_a"
    if tier_b < tier_a:
        return "model_b"
    return "tie (bothbad)" if both_bad else "tie"


def tournament_battle_rows(*, tournament: Tournament) -> Iterator[dict[str, Any]]:
    """FastChat battle rows; a K-wise verdict becomes its K(K-1)/2 pairs in position order."""
    for verdict in _verdicts(tournament):
        tier_of = {cid: t for t, tier in enumerate(verdict.ranking) for cid in tier}
        # An entry the verdict left out ranks below every tier (services refuse such
        # verdicts today; this keeps an old row from breaking the whole export).
        unranked = len(verdict.ranking)
        for i, (first, first_name) in enumerate(verdict.entrants):
            for second, second_name in verdict.entrants[i + 1 :]:
                yield {
                    "model_a": first_name,
                    "model_b": second_name,
                    "winner": _winner(
                        tier_of.get(first, unranked),
                        tier_of.get(second, unranked),
                        both_bad=verdict.both_bad,
                    ),
                    "question_id": verdict.question,
                    "judge": verdict.judge,
                    "tstamp": verdict.at.timestamp(),
                    "turn": 1,
                    "category": verdict.category,
                }


def tournament_ranking_rows(*, tournament: Tournament) -> Iterator[dict[str, Any]]:
    """One row per verdict, its tiers as names, best first. A running tournament judged
    by people keeps its battles' public ids out (``match`` is null): a voted battle may
    still be shown to other voters (arena.services.battles), who know it by that id."""
    blind = tournament.judge_id is None and tournament.status == TournamentStatus.RUNNING
    for verdict in _verdicts(tournament):
        names = dict(verdict.entrants)
        yield {
            "ranking": [[names[cid] for cid in tier] for tier in verdict.ranking],
            "both_bad": verdict.both_bad,
            "question_id": verdict.question,
            "judge": verdict.judge,
            "match": None if blind else str(verdict.match),
            "round": verdict.round,
            "tstamp": verdict.at.timestamp(),
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
    for line in _jsonl(tournament_battle_rows(tournament=tournament)):
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
        for line in _jsonl(tournament_battle_rows(tournament=tournament)):
            digest.update(line.encode("utf-8"))
            rows += 1
        found = (rows, digest.hexdigest())
    return found


def tournament_export_rankings(*, tournament: Tournament) -> Iterator[str]:
    return _jsonl(tournament_ranking_rows(tournament=tournament))


def tournament_export_leaderboard(*, tournament: Tournament) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(LEADERBOARD_COLUMNS)
    for row in tournament_leaderboard(tournament):
        values = {**row, "model": row["contestant"]}
        writer.writerow(
            ["" if values.get(c) is None else values.get(c) for c in LEADERBOARD_COLUMNS]
        )
    yield buffer.getvalue()


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
        "manifest": tournament.manifest,
        "data_cut": tournament_data_cut(tournament=tournament),
    }
    yield json.dumps(document, ensure_ascii=False, indent=2, sort_keys=True) + "\n"


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

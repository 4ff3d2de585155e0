"""Exporting a tournament's results in the formats other tools read.

- battles JSONL: FastChat's battle rows (``model_a``, ``model_b``, ``winner``), which
  ``python -m ratings fit`` and FastChat's own notebooks load as they are;
- rankings JSONL: one verdict per line as tiers of names, for listwise methods
  (Plackett-Luce, Soft Condorcet) that must not see a K-wise ranking cut into pairs;
- leaderboard CSV: what the tournament page shows;
- manifest JSON: the frozen replay manifest plus the data cut the files above came from,
  with a hash of the battles file so a published number can be traced to its data.

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
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Max, Min
from django.utils import timezone

from arena.boards import tournament_leaderboard
from arena.models import Judgment, Match, MatchStatus, Tournament, Vote

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


def _judged_matches(tournament: Tournament) -> Iterator[Match]:
    """Completed matches that have a verdict, in play order; failed ones have none."""
    matches = (
        tournament.matches.filter(status=MatchStatus.COMPLETED, judgment__isnull=False)
        .select_related("prompt", "judgment__judge")
        .prefetch_related("entries__contestant")
        .order_by("round", "slot")
    )
    # Chunks keep memory flat on a tournament of a million matches.
    return matches.iterator(chunk_size=500)


def _judge_name(judgment: Judgment) -> str:
    return judgment.judge.name if judgment.judge is not None else HUMAN_JUDGE


def _winner(tier_a: int, tier_b: int, *, both_bad: bool) -> str:
    if tier_a < tier_b:
        return "model_a"
    if tier_b < tier_a:
        return "model_b"
    return "tie (bothbad)" if both_bad else "tie"


def tournament_battle_rows(*, tournament: Tournament) -> Iterator[dict[str, Any]]:
    """FastChat battle rows; a K-wise verdict becomes its K(K-1)/2 pairs in position order."""
    for match in _judged_matches(tournament):
        judgment = match.judgment
        tier_of = {cid: t for t, tier in enumerate(judgment.ranking) for cid in tier}
        entries = list(match.entries.all())
        # An entry the verdict left out ranks below every tier (services refuse such
        # verdicts today; this keeps an old row from breaking the whole export).
        unranked = len(judgment.ranking)
        for i, first in enumerate(entries):
            for second in entries[i + 1 :]:
                yield {
                    "model_a": first.contestant.name,
                    "model_b": second.contestant.name,
                    "winner": _winner(
                        tier_of.get(first.contestant_id, unranked),
                        tier_of.get(second.contestant_id, unranked),
                        both_bad=judgment.both_bad,
                    ),
                    "question_id": match.prompt.external_id,
                    "judge": _judge_name(judgment),
                    "tstamp": judgment.created_at.timestamp(),
                    "turn": 1,
                    "category": match.prompt.category,
                }


def tournament_ranking_rows(*, tournament: Tournament) -> Iterator[dict[str, Any]]:
    """One row per verdict, its tiers as names, best first."""
    for match in _judged_matches(tournament):
        judgment = match.judgment
        names = {e.contestant_id: e.contestant.name for e in match.entries.all()}
        yield {
            "ranking": [[names[cid] for cid in tier] for tier in judgment.ranking],
            "both_bad": judgment.both_bad,
            "question_id": match.prompt.external_id,
            "judge": _judge_name(judgment),
            "match": str(match.public_id),
            "round": match.round,
            "tstamp": judgment.created_at.timestamp(),
        }


def _jsonl(rows: Iterable[dict[str, Any]]) -> Iterator[str]:
    for row in rows:
        # ensure_ascii=False keeps non-English names readable; the file is UTF-8.
        yield json.dumps(row, ensure_ascii=False) + "\n"


def tournament_export_battles(*, tournament: Tournament) -> Iterator[str]:
    return _jsonl(tournament_battle_rows(tournament=tournament))


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
    digest = hashlib.sha256()
    battles = 0
    for line in tournament_export_battles(tournament=tournament):
        digest.update(line.encode("utf-8"))
        battles += 1
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
        "battles_sha256": digest.hexdigest(),
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

"""Read queries shared by views, the API, services and consumers."""

from __future__ import annotations

from decimal import Decimal

from django.db.models import Count, Q, QuerySet, Sum

from arena.live import LeaderboardRow
from arena.models import Judgment, MatchStatus, Response, Tournament


def tournament_leaderboard(tournament: Tournament) -> list[LeaderboardRow]:
    """Standings best first by online Elo; rank 1 + the number strictly ahead."""
    standings = tournament.standings.select_related("contestant").order_by(
        "-elo", "contestant__name"
    )
    rows: list[LeaderboardRow] = []
    for s in standings:
        rank = 1 + sum(1 for r in rows if r["elo"] > round(s.elo, 2))
        rows.append(
            LeaderboardRow(
                rank=rank,
                contestant=s.contestant.name,
                elo=round(s.elo, 2),
                matches=s.matches,
                wins=s.wins,
                ties=s.ties,
                win_rate=round(s.wins / s.matches, 4) if s.matches else 0.0,
            )
        )
    return rows


def tournament_progress(tournament: Tournament) -> tuple[int, int | None]:
    """(matches finished, matches expected in all or None when the format cannot tell)."""
    done = tournament.matches.filter(status__in=[MatchStatus.COMPLETED, MatchStatus.FAILED]).count()
    return done, tournament.planned_matches


def tournament_spend(tournament: Tournament) -> Decimal:
    """USD spent: its judgments, plus each answer it used once (cached answers are free)."""
    judged = Judgment.objects.filter(match__tournament=tournament).aggregate(s=Sum("cost"))["s"]
    answers = Response.objects.filter(matchentry__match__tournament=tournament).distinct()
    generated = Response.objects.filter(pk__in=answers.values("pk")).aggregate(s=Sum("cost"))["s"]
    return (judged or Decimal(0)) + (generated or Decimal(0))


def tournaments_with_progress() -> QuerySet[Tournament]:
    finished = Q(matches__status__in=[MatchStatus.COMPLETED, MatchStatus.FAILED])
    return Tournament.objects.select_related("prompt_set", "judge").annotate(
        done=Count("matches", filter=finished)
    )


def tournament_recent_results(
    tournament: Tournament, *, limit: int = 20
) -> list[dict[str, object]]:
    """The latest finished matches, newest first, with verdicts as tiers of names."""
    matches = (
        tournament.matches.filter(finished_at__isnull=False)
        .select_related("judgment")
        .prefetch_related("entries__contestant")
        .order_by("-finished_at")[:limit]
    )
    results = []
    for match in matches:
        names = {e.contestant_id: e.contestant.name for e in match.entries.all()}
        ranking = getattr(match, "judgment", None)
        tiers = [[names[c] for c in tier] for tier in ranking.ranking] if ranking else []
        results.append({"round": match.round, "status": match.status, "ranking": tiers})
    return results

"""Read queries shared by views, the API, services and consumers."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import numpy as np
from django.db.models import Count, Q, QuerySet, Sum

from arena.live import LeaderboardRow
from arena.models import Judgment, MatchStatus, Response, Tournament
from ratings.bootstrap import IntervalResult, rank_from_intervals, sandwich_bradley_terry
from ratings.data import SCORE_OF_OUTCOME, battles_from_rankings, ranking_to_pairs
from ratings.elo import elo_expected, elo_update

ELO_K = 4.0  # FastChat's online Elo step, as the standings use

# A small ridge on the BT log-strengths keeps the fit finite while some contestant has
# not yet both won and lost (ratings.bradley_terry: ``prior``), at the cost of a slight
# pull towards the mean that fades as comparisons accumulate.
BT_PRIOR = 0.1


def tournament_bradley_terry(tournament: Tournament) -> IntervalResult | None:
    """BT ratings with 95% sandwich CIs from every verdict so far (K-wise as its pairs)."""
    names = dict(tournament.contestants.values_list("pk", "name"))
    rankings = [
        [[names[c] for c in tier] for tier in ranking]
        for ranking in Judgment.objects.filter(match__tournament=tournament).values_list(
            "ranking", flat=True
        )
    ]
    if not rankings:
        return None
    battles = battles_from_rankings(rankings, models=sorted(names.values()))
    return sandwich_bradley_terry(battles, prior=BT_PRIOR)


def tournament_leaderboard(tournament: Tournament) -> list[LeaderboardRow]:
    """Best first by Bradley-Terry rating (online Elo alongside); ranks from the BT CIs."""
    standings = list(tournament.standings.select_related("contestant"))
    fit = tournament_bradley_terry(tournament)
    bt: dict[str, tuple[float, float, float]] = {}
    if fit is not None:
        for name, r, lo, hi in zip(fit.models, fit.ratings, fit.ci_low, fit.ci_high, strict=True):
            bt[name] = (round(float(r), 2), round(float(lo), 2), round(float(hi), 2))
    played = [s for s in standings if s.matches and s.contestant.name in bt]
    ranks = dict(
        zip(
            [s.contestant.name for s in played],
            rank_from_intervals(
                np.array([bt[s.contestant.name][1] for s in played]),
                np.array([bt[s.contestant.name][2] for s in played]),
            ).tolist()
            if played
            else [],
            strict=True,
        )
    )
    standings.sort(
        key=lambda s: (
            -(bt[s.contestant.name][0] if s.contestant.name in ranks else float("-inf")),
            -s.elo,
            s.contestant.name,
        )
    )
    rows: list[LeaderboardRow] = []
    for s in standings:
        name = s.contestant.name
        rating = bt.get(name) if name in ranks else None
        rows.append(
            LeaderboardRow(
                rank=int(ranks.get(name, len(played) + 1)),
                contestant=name,
                bt=rating[0] if rating else None,
                bt_low=rating[1] if rating else None,
                bt_high=rating[2] if rating else None,
                elo=round(s.elo, 2),
                matches=s.matches,
                wins=s.wins,
                ties=s.ties,
                win_rate=round(s.wins / s.matches, 4) if s.matches else 0.0,
            )
        )
    return rows


def tournament_charts(tournament: Tournament, *, history_points: int = 200) -> dict[str, Any]:
    """What the tournament page plots: CI forest, win-rate matrices, Elo over time."""
    rows = tournament_leaderboard(tournament)
    models = [r["contestant"] for r in rows]
    index = {m: i for i, m in enumerate(models)}
    names = dict(tournament.contestants.values_list("pk", "name"))
    n = len(models)
    wins = np.zeros((n, n))
    games = np.zeros((n, n))
    elo = dict.fromkeys(models, 1000.0)
    history: list[dict[str, Any]] = []
    judged = (
        Judgment.objects.filter(match__tournament=tournament)
        .order_by("created_at", "pk")
        .values_list("ranking", flat=True)
    )
    for count, ranking in enumerate(judged, start=1):
        for a, b, outcome in ranking_to_pairs([[names[c] for c in tier] for tier in ranking]):
            score = float(SCORE_OF_OUTCOME[outcome])
            wins[index[a], index[b]] += score
            wins[index[b], index[a]] += 1 - score
            games[index[a], index[b]] += 1
            games[index[b], index[a]] += 1
            elo[a], elo[b] = elo_update(elo[a], elo[b], score, k=ELO_K)
        history.append({"n": count, "elo": {m: round(v, 2) for m, v in elo.items()}})
    step = max(1, len(history) // history_points)
    rated = {r["contestant"]: r["bt"] for r in rows if r["bt"] is not None}
    predicted = [
        [
            None
            if a == b or a not in rated or b not in rated
            else round(elo_expected(rated[a], rated[b]), 4)
            for b in models
        ]
        for a in models
    ]
    empirical = np.divide(wins, games, out=np.full((n, n), np.nan), where=games > 0)
    return {
        "models": models,
        "leaderboard": rows,
        "win_rate": [
            [None if np.isnan(x) else round(float(x), 4) for x in row] for row in empirical
        ],
        "games": games.astype(int).tolist(),
        "predicted": predicted,
        "history": history[::step]
        + ([history[-1]] if history and (len(history) - 1) % step else []),
    }


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

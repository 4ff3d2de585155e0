"""Read queries shared by views, the API, services and consumers."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import numpy as np
from django.core.cache import cache
from django.db.models import Count, Max, Q, QuerySet, Sum

from arena.formats import FormatState, get_format
from arena.live import LeaderboardRow
from arena.models import (
    OPEN_MATCH_STATUSES,
    Contestant,
    Judge,
    Judgment,
    MatchEntry,
    MatchStatus,
    Prompt,
    Response,
    Tournament,
    Vote,
)
from arena.standings import (
    BT_PRIOR,
    apply_ranking,
    leaderboard_rows,
    new_stats,
    style_controlled_rows,
)
from judges.costs import estimate_cost
from judges.quality import PairJudgment, agreement, judge_quality, plurality
from ratings.anomaly import VoterReport, voter_reports
from ratings.bradley_terry import fit_bradley_terry
from ratings.data import SCORE_OF_OUTCOME, Outcome, battles_from_rankings, ranking_to_pairs
from ratings.elo import elo_expected

# Rows fitted on a set of verdicts stay valid as long as that set; the timeout only frees
# the cache of tournaments nobody looks at.
LEADERBOARD_CACHE_SECONDS = 3600


def tournament_rankings(tournament: Tournament) -> tuple[list[str], list[list[list[str]]]]:
    """The tournament's contestants and its verdicts in order, as tiers of names."""
    names = dict(tournament.contestants.values_list("pk", "name"))
    verdicts = (
        Judgment.objects.filter(match__tournament=tournament)
        .order_by("created_at", "pk")
        .values_list("ranking", flat=True)
    )
    return sorted(names.values()), [[[names[c] for c in tier] for tier in r] for r in verdicts]


def leaderboard_sources() -> dict[str, str]:
    """Filter values for global leaderboards: all verdicts, human votes, or one judge's."""
    judges = Judge.objects.filter(judgment__isnull=False).distinct().order_by("name")
    return {"all": "All verdicts", "humans": "Human votes"} | {
        f"judge:{j.pk}": f"Judge: {j.name}" for j in judges
    }


def leaderboard_categories() -> list[str]:
    return list(
        Prompt.objects.exclude(category="")
        .filter(matches__judgment__isnull=False)
        .values_list("category", flat=True)
        .distinct()
        .order_by("category")
    )


def global_leaderboard(
    *, source: str = "all", category: str = "", style_control: bool = False
) -> tuple[list[LeaderboardRow], dict[str, float]]:
    """Every verdict across tournaments, filtered by who judged and the prompt category.

    Returns the rows and, with ``style_control``, the fitted style coefficients.
    """
    verdicts = Judgment.objects.order_by("created_at", "pk")
    if source == "humans":
        verdicts = verdicts.filter(judge__isnull=True)
    elif source.startswith("judge:") and source[6:].isdigit():
        verdicts = verdicts.filter(judge_id=int(source[6:]))
    elif source != "all":
        raise ValueError(f"source: unknown value {source!r}")
    if category:
        verdicts = verdicts.filter(match__prompt__category=category)
    names = dict(Contestant.objects.values_list("pk", "name"))
    picked = list(verdicts.values_list("match_id", "ranking"))
    rankings = [[[names[c] for c in tier] for tier in r] for _, r in picked]
    models = sorted({m for r in rankings for tier in r for m in tier})
    if not style_control:
        return leaderboard_rows(models, rankings, soft_condorcet=True), {}
    answers: dict[int, dict[str, str]] = {}
    entries = MatchEntry.objects.filter(match_id__in=[m for m, _ in picked]).values_list(
        "match_id", "contestant__name", "response__text"
    )
    for match_id, name, text in entries:
        answers.setdefault(match_id, {})[name] = text or ""
    return style_controlled_rows(models, rankings, [answers.get(m, {}) for m, _ in picked])


def voter_outliers(*, alpha: float = 0.01, min_votes: int = 5) -> list[VoterReport]:
    """Human voters whose decisive votes the crowd's BT model finds too surprising."""
    names = dict(Contestant.objects.values_list("pk", "name"))
    votes = list(
        Vote.objects.order_by("created_at", "pk").values_list(
            "user__username", "session_key", "ranking"
        )
    )
    rankings = [[[names[c] for c in tier] for tier in ranking] for _, _, ranking in votes]
    if not rankings:
        return []
    models = sorted({m for r in rankings for tier in r for m in tier})
    fit = fit_bradley_terry(battles_from_rankings(rankings, models=models), prior=BT_PRIOR)
    decisive = [
        (f"user {user}" if user else f"session {session[:8]}…", a, b)
        for (user, session, _), ranking in zip(votes, rankings, strict=True)
        for a, b, outcome in ranking_to_pairs(ranking)
        if outcome == Outcome.A_WINS
    ]
    return voter_reports(decisive, fit.as_dict(), alpha=alpha, min_votes=min_votes)


def _pair_judgments() -> dict[str, list[PairJudgment]]:
    """Every pairwise verdict as the judge saw it (left = shown first), by source."""
    by_source: dict[str, list[PairJudgment]] = {}
    entries = MatchEntry.objects.filter(match__judgment__isnull=False).values_list(
        "match_id", "position", "contestant_id", "contestant__name", "response__text"
    )
    shown: dict[int, list[tuple[int, int, str, str]]] = {}
    for match_id, position, cid, name, text in entries:
        shown.setdefault(match_id, []).append((position, cid, name, text or ""))
    verdicts = Judgment.objects.values_list(
        "match_id", "match__prompt_id", "judge__name", "ranking"
    )
    for match_id, prompt_id, judge_name, ranking in verdicts:
        sides = sorted(shown.get(match_id, []))
        if len(sides) != 2:
            continue
        (_, left_id, left, left_text), (_, _, right, right_text) = sides
        winner = "tie" if len(ranking) == 1 else "left" if ranking[0] == [left_id] else "right"
        by_source.setdefault(judge_name or "humans", []).append(
            PairJudgment(str(prompt_id), left, right, winner, len(left_text), len(right_text))
        )
    return by_source


def _orientation_free(j: PairJudgment) -> tuple[tuple[str, str, str], str]:
    first, second = sorted((j.left, j.right))
    return (j.prompt, first, second), j.winning_side() or "tie"


def judge_quality_panel() -> list[dict[str, Any]]:
    """Per judge (and humans): tie rate, position flips, intransitivity, preference for the
    longer answer, and agreement with the human plurality on the same prompt and pair."""
    sources = _pair_judgments()
    human: dict[tuple[str, str, str], list[str]] = {}
    for j in sources.get("humans", []):
        key, label = _orientation_free(j)
        human.setdefault(key, []).append(label)
    human_label = {k: plurality(labels) for k, labels in human.items()}
    panel = []
    for source, judgments in sorted(sources.items()):
        quality = judge_quality(judgments)
        pairs = [_orientation_free(j) for j in judgments]
        shared = [(label, human_label[key]) for key, label in pairs if human_label.get(key)]
        agreed = None
        if source != "humans" and shared:
            names = sorted({x for pair in shared for x in pair})
            agreed = agreement([p for p, _ in shared], [h for _, h in shared], labels=names)
        panel.append(
            {
                "source": source,
                "judgments": quality.judgments,
                "tie_rate": quality.tie_rate,
                "flip_rate": quality.position_flip_rate,
                "intransitive": quality.transitivity.rate,
                "longer_wins": quality.longer_answer_win_rate,
                "human_items": agreed.n if agreed else 0,
                "human_accuracy": agreed.accuracy if agreed else None,
                "human_kappa": agreed.kappa if agreed else None,
            }
        )
    return panel


def tournament_leaderboard(tournament: Tournament) -> list[LeaderboardRow]:
    """Best first by Bradley-Terry rating (online Elo and Soft Condorcet alongside); ranks
    from the BT CIs.

    Every fit reads all verdicts, so rows are cached under the verdicts they were fitted
    on (count and newest id; the creation time keeps a reused id apart): the live publish
    after a verdict, page views, the API and the charts share one fit.
    """
    seen = Judgment.objects.filter(match__tournament=tournament).aggregate(
        n=Count("pk"), last=Max("pk")
    )
    stamp = tournament.created_at.timestamp()
    key = f"leaderboard-rows:{tournament.pk}:{stamp}:{seen['n']}:{seen['last']}"
    rows: list[LeaderboardRow] | None = cache.get(key)
    if rows is None:
        rows = leaderboard_rows(*tournament_rankings(tournament), soft_condorcet=True)
        cache.set(key, rows, timeout=LEADERBOARD_CACHE_SECONDS)
    return rows


def tournament_charts(tournament: Tournament, *, history_points: int = 200) -> dict[str, Any]:
    """What the tournament page plots: CI forest, win-rate matrices, Elo over time."""
    _, rankings = tournament_rankings(tournament)
    rows = tournament_leaderboard(tournament)
    order = [r["contestant"] for r in rows]
    index = {m: i for i, m in enumerate(order)}
    n = len(order)
    wins, games = np.zeros((n, n)), np.zeros((n, n))
    stats = {m: new_stats() for m in order}
    history: list[dict[str, Any]] = []
    for count, ranking in enumerate(rankings, start=1):
        for a, b, outcome in ranking_to_pairs(ranking):
            score = float(SCORE_OF_OUTCOME[outcome])
            i, j = index[a], index[b]
            wins[i, j] += score
            wins[j, i] += 1 - score
            games[i, j] += 1
            games[j, i] += 1
        apply_ranking(stats, ranking)
        history.append({"n": count, "elo": {m: round(r["elo"], 2) for m, r in stats.items()}})
    step = max(1, len(history) // history_points)
    rated = {r["contestant"]: r["bt"] for r in rows if r["bt"] is not None}
    predicted = [
        [
            None
            if a == b or a not in rated or b not in rated
            else round(elo_expected(rated[a], rated[b]), 4)
            for b in order
        ]
        for a in order
    ]
    empirical = np.divide(wins, games, out=np.full((n, n), np.nan), where=games > 0)
    sampled = history[::step]
    if history and sampled[-1] is not history[-1]:
        sampled.append(history[-1])
    return {
        "models": order,
        "leaderboard": rows,
        "win_rate": [
            [None if np.isnan(x) else round(float(x), 4) for x in row] for row in empirical
        ],
        "games": games.astype(int).tolist(),
        "predicted": predicted,
        "history": sampled,
    }


def tournament_rounds(tournament: Tournament) -> list[dict[str, Any]]:
    """Every match by round (a bracket for single elimination, groups for K-wise, Swiss
    rounds), with its entrants in answer order and its verdict as tiers of names."""
    matches = tournament.matches.select_related("judgment").prefetch_related("entries__contestant")
    human = tournament.judge_id is None
    rounds: dict[int, list[dict[str, Any]]] = {}
    for match in matches.order_by("round", "slot"):
        names = {e.contestant_id: e.contestant.name for e in match.entries.all()}
        judgment = getattr(match, "judgment", None)
        tiers = [[names[c] for c in tier] for tier in judgment.ranking] if judgment else []
        # A battle waiting for a human vote is anonymous: naming its entrants here would let
        # a voter with this page open tell who wrote the answers in front of them.
        hidden = human and match.status in OPEN_MATCH_STATUSES
        rounds.setdefault(match.round, []).append(
            {
                "slot": match.slot,
                "status": match.status,
                "entrants": ["hidden until voted"] * len(names) if hidden else list(names.values()),
                "ranking": tiers,
                "winners": tiers[0] if tiers and len(tiers) > 1 else [],
            }
        )
    return [{"round": r, "matches": ms} for r, ms in sorted(rounds.items())]


# Rough sizes for a pre-run estimate when nothing better is known (tokens ≈ characters / 4).
EXPECTED_ANSWER_TOKENS = 400
EXPECTED_VERDICT_TOKENS = 300


def tournament_estimate(tournament: Tournament) -> dict[str, Any]:
    """Judge calls and USD a tournament should take, before it runs.

    Calls: the format's own plan (an upper bound for adaptive formats), capped by the
    budget, times two when the judge sees both answer orders. Money: judge and contestant
    prices (USD per million tokens, ``price_in`` / ``price_out``) times expected tokens:
    prompt length / 4, answers of ``max_tokens`` or 400 tokens, verdicts of 300 tokens.
    """
    fmt = get_format(tournament.format)
    contestants = tuple(sorted(tournament.contestants.values_list("pk", flat=True)))
    prompts = list(tournament.prompt_set.prompts.values_list("text", flat=True))
    state = FormatState(contestants, len(prompts), tournament.config, tournament.seed)
    matches = fmt.next_step(state).planned_total or 0
    if tournament.budget is not None:
        matches = min(matches, tournament.budget)
    judge = tournament.judge
    settings_ = judge.settings if judge else {}
    calls = matches * (2 if settings_.get("both_orders") else 1) if judge else 0
    prompt_tokens = sum(len(p) for p in prompts) / max(len(prompts), 1) / 4
    k = int(tournament.config.get("k", 2))
    judge_usd = estimate_cost(
        calls,
        prompt_tokens + k * EXPECTED_ANSWER_TOKENS,
        EXPECTED_VERDICT_TOKENS,
        float(settings_.get("price_in") or 0),
        float(settings_.get("price_out") or 0),
    )
    answers_usd = 0.0
    for c in tournament.contestants.all():
        answer_tokens = float(c.generation.get("max_tokens", EXPECTED_ANSWER_TOKENS))
        answers_usd += estimate_cost(
            len(prompts),
            prompt_tokens,
            answer_tokens,
            float(c.generation.get("price_in") or 0),
            float(c.generation.get("price_out") or 0),
        )
    return {
        "matches": matches,
        "judge_calls": calls,
        "judge_usd": round(judge_usd, 4),
        "answers_usd_at_most": round(answers_usd, 4),
        "upper_bound": tournament.format == "adaptive",
    }


def tournament_by_pk(pk: int) -> Tournament | None:
    """The tournament, or None: what every vote request reads first, so written as its SQL
    (compiling the ORM's get() cost more than running it)."""
    found = Tournament.objects.raw(f"SELECT * FROM {_TOURNAMENT_TABLE} WHERE id = %s", [pk])
    return next(iter(found), None)


_TOURNAMENT_TABLE = Tournament._meta.db_table


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

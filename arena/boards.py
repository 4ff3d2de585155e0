"""Leaderboards, charts and the judges' quality, read from the evidence cells.

Nothing here reads verdict rows: a board is a fit to the cells of its filter (a few
thousand pairs however many verdicts there are, arena.evidence), the online Elo is the
tournament's standings, and the rating history its stored points. Fits are cached under a
stamp of the standings, which every verdict changes.
"""

from __future__ import annotations

from typing import Any, TypedDict

import numpy as np
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.db.models import Count, Sum

from arena import evidence
from arena.listwise import (
    PlackettLuceFit,
    listwise_columns,
    listwise_rows,
    plackett_luce_fit,
)
from arena.models import (
    Contestant,
    EloPoint,
    Judge,
    OrderCell,
    PairCell,
    PromptPair,
    PromptPairCell,
    RankingCell,
    Spend,
    Standing,
    Tournament,
)
from arena.standings import (
    LeaderboardRow,
    OrderTallies,
    PairTallies,
    PositionFit,
    PositionTerm,
    leaderboard_rows,
    position_corrected_rows,
    position_fit,
    style_controlled_rows,
)
from judges.orders import COLUMNS as ORDER_COLUMNS
from judges.orders import OrderCounts, wilson_interval
from judges.quality import (
    agreement_intervals,
    agreement_of,
    leaderboard_agreement,
    matrix_transitivity,
)
from ratings.aggregate import (
    AggregateResult,
    aggregate_all,
    method_taus,
    rankings_from_scores,
)
from ratings.bayesian import SkillRating
from ratings.elo import elo_expected
from ratings.style_moments import StyleMoments, style_moments_from_columns

# Rows fitted on a set of verdicts stay valid as long as that set; the timeout only frees
# the cache of boards nobody looks at.
LEADERBOARD_CACHE_SECONDS = 3600

_CELL, _STANDING = PairCell._meta.db_table, Standing._meta.db_table
_PROMPT_CELL, _PAIR = PromptPairCell._meta.db_table, PromptPair._meta.db_table
_ORDERS = OrderCell._meta.db_table
_TALLIED = (
    "a_wins",
    "b_wins",
    "ties",
    "share",
    "a_points",
    "votes",
    *evidence.IPW,
    *evidence.GRADED,
    *evidence.IPW_GRADED,
)


def _filters(tournament_id: int | None, source: str, category: str) -> tuple[str, list[Any]]:
    clauses: list[str] = ["TRUE"]
    params: list[Any] = []
    if tournament_id is not None:
        clauses.append("tournament_id = %s")
        params.append(tournament_id)
    if source != "all":
        clauses.append("source = %s")
        params.append(source)
    if category:
        clauses.append("category = %s")
        params.append(category)
    return " AND ".join(clauses), params


def pair_tallies(
    *,
    tournament_id: int | None = None,
    source: str = "all",
    category: str = "",
    models: dict[int, str] | None = None,
) -> PairTallies:
    """The cells of a filter summed per pair. ``models`` (id: name) puts contestants on the
    board that have no verdict in it yet; otherwise the board is who has one."""
    where, params = _filters(tournament_id, source, category)
    sums = ", ".join(f"SUM({c})" for c in _TALLIED)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT a_id, b_id, {sums} FROM {_CELL} WHERE {where} GROUP BY a_id, b_id", params
        )
        pairs = cursor.fetchall()
    names = dict(models or {})
    missing = {c for a, b, *_ in pairs for c in (a, b)} - set(names)
    if missing:
        names |= dict(Contestant.objects.filter(pk__in=missing).values_list("pk", "name"))
    return PairTallies.of(
        names.values(), [(names[a], names[b], tuple(map(float, v))) for a, b, *v in pairs]
    )


def order_tallies(
    *, tournament_id: int | None = None, source: str = "all", category: str = "", graded: bool
) -> OrderTallies:
    """Every order a filter's verdicts were judged in, summed per pair and source (graded
    or hard scores): what a fit with a first-position term per source reads."""
    where, params = _filters(tournament_id, source, category)
    kind = "graded" if graded else "hard"
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT a_id, b_id, source, SUM(ab_n), SUM(ab_{kind}), SUM(ba_n), SUM(ba_{kind})"
            f" FROM {_CELL} WHERE {where} GROUP BY a_id, b_id, source"
            " HAVING SUM(ab_n) + SUM(ba_n) > 0",
            params,
        )
        rows = cursor.fetchall()
    ids = {c for a, b, *_ in rows for c in (a, b)}
    names = dict(Contestant.objects.filter(pk__in=ids).values_list("pk", "name"))
    return OrderTallies.of(
        list(names.values()), [(names[a], names[b], src, *map(float, v)) for a, b, src, *v in rows]
    )


_MOMENTS = ("styled", "styled_ties", "sy") + tuple(
    c for c in evidence.SUMS if c.startswith(("sd_", "syd_", "sdd_"))
)


def style_tallies(*, source: str = "all", category: str = "") -> StyleMoments | None:
    """The style moments of a filter's cells summed per pair (pairs with styled answers)."""
    where, params = _filters(None, source, category)
    sums = ", ".join(f"SUM({c})" for c in _MOMENTS)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT a_id, b_id, {sums} FROM {_CELL} WHERE {where} AND styled > 0"
            " GROUP BY a_id, b_id",
            params,
        )
        pairs = cursor.fetchall()
    if not pairs:
        return None
    names = dict(
        Contestant.objects.filter(pk__in={c for a, b, *_ in pairs for c in (a, b)}).values_list(
            "pk", "name"
        )
    )
    columns = {
        name: np.array([row[2 + i] for row in pairs], dtype=np.float64)
        for i, name in enumerate(_MOMENTS)
    }
    return style_moments_from_columns(
        [names[row[0]] for row in pairs],
        [names[row[1]] for row in pairs],
        columns,
        ties=columns["styled_ties"],
    )


def _stamp(tournament_id: int | None = None) -> str:
    """Changes with every verdict (each adds to its entrants' standings), every deleted
    tournament and every rebuild of the cells (``aggregates backfill`` writes them anew,
    with new ids): what cached fits are keyed by."""
    where, params = ("WHERE tournament_id = %s", [tournament_id]) if tournament_id else ("", [])
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT COALESCE(SUM(matches), 0), COUNT(*), COALESCE(MAX(id), 0),"
            f" (SELECT COALESCE(MAX(id), 0) FROM {_CELL})"
            f" FROM {_STANDING} {where}",
            params,
        )
        return ":".join(map(str, cursor.fetchone()))


def _cached(key: str, compute: Any) -> Any:
    found = cache.get(key)
    if found is None:
        found = compute()
        cache.set(key, found, timeout=LEADERBOARD_CACHE_SECONDS)
    return found


def tournament_elo(tournament: Tournament) -> dict[str, float]:
    """The online Elo of each contestant (its standings row), by name."""
    return dict(
        Standing.objects.filter(tournament=tournament).values_list("contestant__name", "elo")
    )


def tournament_graded(tournament: Tournament) -> bool:
    """Whether the tournament's fits read graded scores (its ``graded_scores`` option;
    on by default: a verdict without a grade scores as its hard outcome)."""
    return bool(tournament.config.get("graded_scores", True))


def tournament_leaderboard(
    tournament: Tournament, *, position: bool = False, fresh: bool = False
) -> list[LeaderboardRow]:
    """Best first by Bradley-Terry rating (online Elo and Soft Condorcet alongside); ranks
    from the BT CIs. The live publish after a verdict, page views, the API and the charts
    share one fit per set of verdicts. ``position``: fitted with each source's
    first-position advantage (``tournament_position_terms``). A K-wise board goes by
    Plackett-Luce instead (``_listwise``); ``fresh``: fit it on every verdict even where
    its rankings are many (the worker's publish; a request shows the publish's last fit)."""
    rows = _tournament_board(tournament, position)
    return _listwise(tournament, rows, fresh) if tournament.listwise else rows


def tournament_position_terms(tournament: Tournament) -> dict[str, PositionTerm]:
    """Each source's first-position advantage in Elo points, fitted with the ratings."""
    return _tournament_position(tournament).terms


def _tournament_position(tournament: Tournament) -> PositionFit:
    graded = tournament_graded(tournament)
    stamp = f"{tournament.created_at.timestamp()}:{_stamp(tournament.pk)}"
    key = f"position:t{tournament.pk}:{int(graded)}:{stamp}"
    found: PositionFit = _cached(
        key, lambda: position_fit(order_tallies(tournament_id=tournament.pk, graded=graded))
    )
    return found


def _tournament_board(tournament: Tournament, position: bool) -> list[LeaderboardRow]:
    graded = tournament_graded(tournament)
    stamp = f"{tournament.created_at.timestamp()}:{_stamp(tournament.pk)}"

    def fit() -> list[LeaderboardRow]:
        entrants = dict(tournament.contestants.values_list("pk", "name"))
        tallies = pair_tallies(tournament_id=tournament.pk, models=entrants)
        rows = leaderboard_rows(
            tallies,
            elo=tournament_elo(tournament),
            soft_condorcet=True,
            min_verdicts=settings.MIN_VERDICTS,
            graded=graded,
        )
        if not position:
            return rows
        return position_corrected_rows(rows, _tournament_position(tournament))

    key = f"board:t{tournament.pk}:{int(graded)}{int(position)}:{stamp}"
    found: list[LeaderboardRow] = _cached(key, fit)
    return found


# A request fits a K-wise board's Plackett-Luce itself up to this many distinct rankings
# (its 100 bootstrap rounds then take well under a second); beyond, it shows the fit the
# worker's last publish made, at most one publish window behind.
PL_INLINE_RANKINGS = 500


def _listwise(
    tournament: Tournament, rows: list[LeaderboardRow], fresh: bool
) -> list[LeaderboardRow]:
    """A K-wise tournament's rows with Plackett-Luce, fitted from its ranking cells summed
    over sources and categories (cached per set of verdicts, like the BT fit), and the
    Weng-Lin beliefs of its standings (read each time: a row per contestant)
    (arena.listwise)."""
    stamp = f"{tournament.created_at.timestamp()}:{_stamp(tournament.pk)}"
    created = tournament.created_at.timestamp()
    key, latest = f"pl:t{tournament.pk}:{stamp}", f"pl:t{tournament.pk}:{created}:latest"
    found: tuple[PlackettLuceFit | None] | None = cache.get(key)
    if found is None and not fresh:
        cells = RankingCell.objects.filter(tournament=tournament).count()  # >= distinct rankings
        if cells > PL_INLINE_RANKINGS:
            found = cache.get(latest)  # not kept under this stamp: the publish fits it
    if found is None:
        found = (plackett_luce_fit(*_counted_rankings(tournament)),)
        cache.set(key, found, timeout=LEADERBOARD_CACHE_SECONDS)
        cache.set(latest, found, timeout=LEADERBOARD_CACHE_SECONDS)
    beliefs = {
        name: SkillRating(mu, sigma)
        for name, mu, sigma in Standing.objects.filter(tournament=tournament).values_list(
            "contestant__name", "wl_mu", "wl_sigma"
        )
    }
    return listwise_rows(rows, listwise_columns(found[0], beliefs))


def _counted_rankings(tournament: Tournament) -> tuple[list[list[list[str]]], list[int]]:
    """The tournament's distinct K-wise rankings as tiers of names, and their counts."""
    entrants = dict(tournament.contestants.values_list("pk", "name"))
    counted = (
        RankingCell.objects.filter(tournament=tournament)
        .values("ranking")
        .annotate(n=Sum("count"))
        .values_list("ranking", "n")
    )
    rankings, counts = [], []
    for key, n in counted:
        tiers = evidence.ranking_tiers(key)
        if all(c in entrants for tier in tiers for c in tier):
            rankings.append([[entrants[c] for c in tier] for tier in tiers])
            counts.append(int(n))
    return rankings, counts


def leaderboard_sources() -> dict[str, str]:
    """Filter values for global leaderboards: all verdicts, human votes, or one judge's."""
    judged = PairCell.objects.exclude(source="humans").values_list("source", flat=True).distinct()
    ids = [int(s.split(":", 1)[1]) for s in judged]
    judges = Judge.objects.filter(pk__in=ids).order_by("name")
    return {"all": "All verdicts", "humans": "Human votes"} | {
        evidence.source_of(j.pk): f"Judge: {j.name}" for j in judges
    }


def leaderboard_categories(stamp: str = "") -> list[str]:
    """The prompt categories with verdicts (cached under the cells' stamp)."""

    def read() -> list[str]:
        return list(
            PairCell.objects.exclude(category="")
            .values_list("category", flat=True)
            .distinct()
            .order_by("category")
        )

    found: list[str] = _cached(f"board:categories:{stamp or _stamp()}", read)
    return found


def _check_source(source: str) -> None:
    if source in ("all", "humans"):
        return
    if not (source.startswith("judge:") and source[6:].isdigit()):
        raise ValueError(f"source: unknown value {source!r}")


def global_leaderboard(
    *,
    source: str = "all",
    category: str = "",
    style_control: bool = False,
    graded: bool = True,
    position: bool = False,
) -> tuple[list[LeaderboardRow], dict[str, float]]:
    """Every verdict across tournaments, filtered by who judged and the prompt category.

    Returns the rows and, with ``style_control``, the fitted style coefficients. Global
    boards have no online Elo: its order across tournaments means nothing. ``graded``:
    the fits read graded scores; ``position`` (not with style control): fitted with each
    source's first-position advantage (``global_position_terms``).
    """
    _check_source(source)
    if style_control and position:
        raise ValueError("position: not with style control (one correction at a time)")
    stamp = _stamp()
    if category and category not in leaderboard_categories(stamp):
        return [], {}  # no verdict on it: nothing to fit, nothing to keep in the cache
    options = f"{int(style_control)}{int(graded)}{int(position)}"
    key = f"board:g:{source}:{category}:{options}:{stamp}"

    def fit() -> tuple[list[LeaderboardRow], dict[str, float]]:
        tallies = pair_tallies(source=source, category=category)
        rows = leaderboard_rows(
            tallies, soft_condorcet=True, min_verdicts=settings.MIN_VERDICTS, graded=graded
        )
        if position:
            return position_corrected_rows(rows, _global_position(source, category, graded)), {}
        if not style_control:
            return rows, {}
        return style_controlled_rows(rows, style_tallies(source=source, category=category))

    result: tuple[list[LeaderboardRow], dict[str, float]] = _cached(key, fit)
    return result


def global_position_terms(
    *, source: str = "all", category: str = "", graded: bool = True
) -> dict[str, PositionTerm]:
    """Each source's first-position advantage in Elo points, fitted with the ratings (no
    other board is fitted for them: the judges' panel reads these alone)."""
    _check_source(source)
    return _global_position(source, category, graded).terms


def _global_position(source: str, category: str, graded: bool) -> PositionFit:
    key = f"position:g:{source}:{category}:{int(graded)}:{_stamp()}"
    found: PositionFit = _cached(
        key, lambda: position_fit(order_tallies(source=source, category=category, graded=graded))
    )
    return found


def tournament_charts(tournament: Tournament, *, history_points: int = 200) -> dict[str, Any]:
    """What the tournament page plots: CI forest, win-rate matrices, Elo over time."""
    rows = tournament_leaderboard(tournament)
    order = [r["contestant"] for r in rows]
    index = {m: i for i, m in enumerate(order)}
    n = len(order)
    entrants = dict(tournament.contestants.values_list("pk", "name"))
    tallies = pair_tallies(tournament_id=tournament.pk, models=entrants)
    wins, games = np.zeros((n, n)), np.zeros((n, n))
    for a, b, aw, bw, t in zip(
        tallies.a, tallies.b, tallies.a_wins, tallies.b_wins, tallies.ties, strict=True
    ):
        i, j = index[tallies.models[a]], index[tallies.models[b]]
        wins[i, j] += aw + t / 2
        wins[j, i] += bw + t / 2
        games[i, j] += aw + bw + t
        games[j, i] += aw + bw + t
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
    return {
        "models": order,
        "leaderboard": rows,
        "win_rate": [
            [None if np.isnan(x) else round(float(x), 4) for x in row] for row in empirical
        ],
        "games": games.astype(int).tolist(),
        "predicted": predicted,
        "history": _history(tournament, entrants, rows, history_points),
    }


def _history(
    tournament: Tournament, names: dict[int, str], rows: list[LeaderboardRow], points: int
) -> list[dict[str, Any]]:
    """The stored Elo points, thinned to about ``points``, ending with the standings now."""
    stored = [
        {"n": p.verdicts, "elo": {names[int(c)]: e for c, e in p.elo.items() if int(c) in names}}
        for p in EloPoint.objects.filter(tournament=tournament)
    ]
    now = tournament_verdicts(tournament)
    step = max(1, len(stored) // points)
    history = stored[::step]
    if now and (not history or history[-1]["n"] != now):
        elo = {r["contestant"]: r["elo"] for r in rows if r["elo"] is not None}
        history.append({"n": now, "elo": elo})
    return history


def tournament_verdicts(tournament: Tournament) -> int:
    """How many verdicts the tournament has: its standings count each entrant's."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT COALESCE(SUM(matches), 0) FROM {_STANDING} WHERE tournament_id = %s",
            [tournament.pk],
        )
        entrant_verdicts = int(cursor.fetchone()[0])
    return entrant_verdicts // int(tournament.config.get("k", 2))


# A stored Elo point each time a tournament's verdicts have grown by this share: a few
# hundred points per tournament whatever its size.
ELO_POINT_GROWTH = 0.01


def judge_quality_panel() -> list[dict[str, Any]]:
    """Per judge (and humans), from the cells: pairs judged, tie rate, how often the answer
    shown first wins and position flips (from the orders the judge saw where it kept them,
    with a Wilson interval; else inferred), the first position's advantage in Elo points
    (fitted with the ratings of every verdict, graded), intransitive triples of the summed
    preferences, preference for the longer answer, and agreement with the human plurality
    on the same prompt and pair."""
    key = f"quality:{_stamp()}"
    panel: list[dict[str, Any]] = _cached(key, _quality)
    return panel


def _quality() -> list[dict[str, Any]]:
    sums = ", ".join(
        f"SUM({c})"
        for c in (
            "a_wins",
            "b_wins",
            "ties",
            "first_won",
            "first_lost",
            "longer_won",
            "longer_lost",
            "votes",
        )
    )
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT source, {sums} FROM {_CELL} GROUP BY source")
        totals = {row[0]: [round(v) for v in row[1:]] for row in cursor.fetchall()}
    flips = _flips()
    saved = _saved_orders()
    agreeing = _agreement()
    terms = global_position_terms()
    costs = _cost_per_verdict({source: counts[-1] for source, counts in totals.items()})
    judged_self = _self_judging()
    outcomes = _pairs_by_source()
    names = dict(Judge.objects.values_list("pk", "name"))
    panel = []
    for source in sorted(totals, key=lambda s: (s != "humans", s)):
        a_wins, b_wins, ties, first_won, first_lost, longer_won, longer_lost, _ = totals[source]
        pairs = a_wins + b_wins + ties
        label = "humans" if source == "humans" else names.get(int(source[6:]), source)
        panel.append(
            {
                "source": label,
                "judge_id": None if source == "humans" else int(source[6:]),
                "judgments": pairs,
                "tie_rate": _share(ties, pairs),
                "first_wins": _share(first_won, first_won + first_lost),
                "first_wins_from": "verdicts",
                "flip_rate": _share(*flips[source]) if source in flips else None,
                "flip_pairs": round(flips[source][1]) if source in flips else 0,
                "flip_from": "inferred" if source in flips else None,
                "flip_low": None,
                "flip_high": None,
                **_position_from_orders(saved.get(source, OrderCounts())),
                **_position_term(terms.get(source)),
                "intransitive": _intransitive(outcomes.get(source, [])).rate,
                "longer_wins": _share(longer_won, longer_won + longer_lost),
                **_human_agreement(agreeing.get(source)),
                **_board_agreement(source, totals, outcomes),
                "cost_per_verdict": costs.get(source),
                "self_judging": judged_self.get(source, 0),
            }
        )
    # Judges ranked by how often they agree with people; humans first, as the reference.
    panel.sort(key=lambda r: (r["judge_id"] is not None, -(r["human_accuracy"] or -1.0)))
    return panel


def _human_agreement(items: np.ndarray | None) -> dict[str, Any]:
    """Accuracy and kappa against the human plurality, each with a bootstrap interval."""
    if items is None or not items.sum():
        return dict.fromkeys(_AGREEMENT_FIELDS) | {"human_items": 0}
    agreed = agreement_of(items.sum(axis=0))
    intervals = agreement_intervals(items)
    return {
        "human_items": agreed.n,
        "human_accuracy": agreed.accuracy,
        "human_accuracy_low": intervals.accuracy[0],
        "human_accuracy_high": intervals.accuracy[1],
        "human_kappa": agreed.kappa,
        "human_kappa_low": intervals.kappa[0],
        "human_kappa_high": intervals.kappa[1],
    }


_AGREEMENT_FIELDS = tuple(
    f"human_{name}{end}" for name in ("accuracy", "kappa") for end in ("", "_low", "_high")
)


# Bootstrap replicates of the leaderboard tau: its 2.5% and 97.5% points from 60 refits
# of both boards (interval coverage checked with 50: tests/judges/test_judges_quality.py).
TAU_REPLICATES = 60


def _growth_bucket(n: float) -> int:
    """The same number while a count grows by less than ELO_POINT_GROWTH."""
    return int(np.log(max(n, 1.0)) / np.log1p(ELO_POINT_GROWTH))


def _board_agreement(
    source: str, totals: dict[str, list[int]], pairs: dict[str, PairCounts]
) -> dict[str, Any]:
    """Kendall's tau between the leaderboard of the source's verdicts and the humans'
    (judges.quality.leaderboard_agreement), refitted only as either grows by 1%: its
    bootstrap refits both boards many times."""
    empty = {"human_tau": None, "human_tau_low": None, "human_tau_high": None}
    if source == "humans" or "humans" not in totals:
        return empty
    sizes = (_growth_bucket(sum(totals[source][:3])), _growth_bucket(sum(totals["humans"][:3])))
    key = f"quality:tau:{source}:{sizes[0]}:{sizes[1]}:{_cells_stamp()}"

    def fit() -> dict[str, Any]:
        judge, human = pairs.get(source, []), pairs.get("humans", [])
        ids = sorted({c for a, b, *_ in judge + human for c in (a, b)})
        found = leaderboard_agreement(
            len(ids), _as_arrays(judge, ids), _as_arrays(human, ids), replicates=TAU_REPLICATES
        )
        if found is None:
            return empty
        return {"human_tau": found.tau, "human_tau_low": found.low, "human_tau_high": found.high}

    found: dict[str, Any] = _cached(key, fit)
    return found


def _cells_stamp() -> int:
    """Changes when the cells are rebuilt (a backfill writes them anew, with new ids)."""
    return int(PairCell.objects.order_by("pk").values_list("pk", flat=True).first() or 0)


def _as_arrays(pairs: PairCounts, ids: list[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    index = {c: i for i, c in enumerate(ids)}
    if not pairs:
        return np.zeros(0, np.intp), np.zeros(0, np.intp), np.zeros((0, 3), np.int64)
    return (
        np.array([index[p[0]] for p in pairs], dtype=np.intp),
        np.array([index[p[1]] for p in pairs], dtype=np.intp),
        np.array([p[2:] for p in pairs], dtype=np.int64),
    )


def _self_judging() -> dict[str, int]:
    """Per judge, the tournaments in which it judged its own model's answers (allowed by
    allow_self_judging; tournament_create records them as ``self_judged``)."""
    rows = (
        Tournament.objects.filter(judge__isnull=False, config__has_key="self_judged")
        .values_list("judge_id")
        .annotate(n=Count("pk"))
        .order_by()
    )
    return {evidence.source_of(judge): n for judge, n in rows}


def _cost_per_verdict(verdicts: dict[str, int]) -> dict[str, float]:
    """Per judge, what its tournaments' judging cost (Spend) over its verdicts there."""
    spent = (
        Spend.objects.filter(tournament__judge__isnull=False)
        .values_list("tournament__judge_id")
        .annotate(Sum("judged_usd"))
        .order_by()
    )
    found = {}
    for judge, usd in spent:
        source = evidence.source_of(judge)
        if verdicts.get(source):  # each verdict adds 1 to its cells' ``votes``
            found[source] = float(usd) / verdicts[source]
    return found


def _position_term(term: PositionTerm | None) -> dict[str, float | None]:
    if term is None:
        return {"position_elo": None, "position_low": None, "position_high": None}
    return {"position_elo": term["elo"], "position_low": term["low"], "position_high": term["high"]}


def _saved_orders() -> dict[str, OrderCounts]:
    """Per source, its OrderCell rows summed in the database (a row per tournament)."""
    sums = ", ".join(f"SUM({c})" for c in ORDER_COLUMNS)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT source, {sums} FROM {_ORDERS} GROUP BY source")
        return {row[0]: OrderCounts(*map(int, row[1:])) for row in cursor.fetchall()}


def _position_from_orders(counts: OrderCounts) -> dict[str, Any]:
    """The position figures measured on the orders the judge saw, where it kept them: they
    replace those read from its merged verdicts (where a both-orders judge that always says
    "A" shows as ties) and the flips inferred across matches."""
    figures: dict[str, Any] = {}
    decisive = counts.first_won + counts.first_lost
    if decisive:
        figures |= {"first_wins": counts.first_won / decisive, "first_wins_from": "orders"}
    if counts.both_orders:
        low, high = wilson_interval(counts.flips, counts.both_orders) or (None, None)
        figures |= {
            "flip_rate": counts.flips / counts.both_orders,
            "flip_pairs": counts.both_orders,
            "flip_from": "saved orders",
            "flip_low": low,
            "flip_high": high,
        }
    return figures


def _share(hits: float, total: float) -> float | None:
    return hits / total if total else None


PairCounts = list[tuple[int, int, int, int, int]]  # a, b, a wins, b wins, ties


def _pairs_by_source() -> dict[str, PairCounts]:
    """Every source's outcomes summed per pair across tournaments, in one query."""
    found: dict[str, PairCounts] = {}
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT source, a_id, b_id, SUM(a_wins), SUM(b_wins), SUM(ties) FROM {_CELL}"
            " GROUP BY source, a_id, b_id"
        )
        for source, *row in cursor.fetchall():
            found.setdefault(source, []).append(tuple(int(v) for v in row))  # type: ignore[arg-type]
    return found


def _intransitive(pairs: PairCounts) -> Any:
    """Triples of models whose summed preferences (per pair: more wins one way, else a tie)
    no weak order explains."""
    ids = sorted({c for a, b, *_ in pairs for c in (a, b)})
    index = {c: i for i, c in enumerate(ids)}
    relation = np.full((len(ids), len(ids)), np.nan)
    for a, b, aw, bw, _ in pairs:
        sign = float(np.sign(aw - bw))
        relation[index[a], index[b]], relation[index[b], index[a]] = sign, -sign
    return matrix_transitivity(relation)


_AB = "(c.ab_a_wins + c.ab_b_wins + c.ab_ties)"
_BA = "(c.ba_a_wins + c.ba_b_wins + c.ba_ties)"


def _flips() -> dict[str, tuple[float, float]]:
    """Per source, (flips, pairs judged in both orders): a prompt and pair judged n times
    with a first and m times with b first counts min(n, m) pairs, each flipped with the
    chance that a verdict in one order and one in the other name different winners (for
    one verdict in each order: whether they do). Summed in the database, over the prompt
    cells judged in both orders only (the partial index promptpaircell_both_orders)."""
    same = (
        "CAST(c.ab_a_wins * c.ba_a_wins + c.ab_b_wins * c.ba_b_wins + c.ab_ties * c.ba_ties"
        f" AS DOUBLE PRECISION) / ({_AB} * {_BA})"
    )
    pairs = f"CASE WHEN {_AB} < {_BA} THEN {_AB} ELSE {_BA} END"
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT c.source, SUM({pairs} * (1 - {same})), SUM({pairs}) FROM {_PROMPT_CELL} c"
            " WHERE (c.ab_a_wins > 0 OR c.ab_b_wins > 0 OR c.ab_ties > 0)"
            " AND (c.ba_a_wins > 0 OR c.ba_b_wins > 0 OR c.ba_ties > 0) GROUP BY c.source"
        )
        return {source: (float(f), float(n)) for source, f, n in cursor.fetchall()}


_LABELS = ("a", "b", "tie")  # from the pair's side: a (the lower id) wins, b wins, a tie


def _agreement() -> dict[str, np.ndarray]:
    """Per judge, its verdicts against the human plurality on the same prompt and pair,
    item by item (``agreement_items``): the prompts and pairs two sources judged
    (PromptPair.shared), their outcomes per tournament and source summed below."""
    outcomes = ", ".join(f"c.ab_{x} + c.ba_{x}" for x in ("a_wins", "b_wins", "ties"))
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT c.prompt_id, c.a_id, c.b_id, c.source, {outcomes} FROM {_PROMPT_CELL} c"
            f" JOIN {_PAIR} p ON p.prompt_id = c.prompt_id AND p.a_id = c.a_id"
            " AND p.b_id = c.b_id WHERE p.shared"
        )
        rows = cursor.fetchall()
    return agreement_items(rows)


def agreement_from_rows(rows: list[tuple[Any, ...]]) -> dict[str, Any]:
    """``_agreement`` from its rows: (prompt, a, b, source, a wins, b wins, ties), any
    number of rows per prompt, pair and source (one per tournament), summed here."""
    return {
        judge: agreement_of(items.sum(axis=0))
        for judge, items in agreement_items(rows).items()
        if items.sum()
    }


def agreement_items(rows: list[tuple[Any, ...]]) -> dict[str, np.ndarray]:
    """Per judge, its confusion counts with the human plurality item by item (a prompt and
    pair each: items x 3 x 3, rows the judge's label, columns the humans'), for the items
    where the humans have a plurality; what the agreement and its bootstrap resample."""
    if not rows:
        return {}
    # As columns, each prompt and pair an index: a million verdicts' shared items (tens of
    # thousands of rows) in numpy, not one Python object per row.
    prompt, a, b, source, *outcome = zip(*rows, strict=True)
    _, item = np.unique(np.array([prompt, a, b], dtype=np.int64).T, axis=0, return_inverse=True)
    item = item.ravel()
    labels = np.array(outcome, dtype=np.int64).T  # rows x (a, b, tie)
    sources = np.array(source)
    human = sources == "humans"
    crowd = np.zeros((int(item.max()) + 1, 3), dtype=np.int64)
    np.add.at(crowd, item[human], labels[human])
    plurality = _pluralities(crowd)
    found: dict[str, np.ndarray] = {}
    for judge in sorted(set(source) - {"humans"}):
        rows_of = (sources == judge) & (plurality[item] >= 0)
        if not rows_of.any():
            continue
        items, where = np.unique(item[rows_of], return_inverse=True)
        matrices = np.zeros((items.size, 3, 3), dtype=np.int64)
        said, crowd_label = np.arange(3)[None, :], plurality[item[rows_of]][:, None]
        np.add.at(matrices, (where.ravel()[:, None], said, crowd_label), labels[rows_of])
        found[judge] = matrices
    return found


def _pluralities(counts: np.ndarray) -> np.ndarray:
    """Per row, the most frequent label's index; -1 without a single most frequent one."""
    top = counts.max(axis=1, keepdims=True)
    single = ((counts == top).sum(axis=1) == 1) & (top[:, 0] > 0)
    return np.where(single, counts.argmax(axis=1), -1)


# ----------------------------------------------------- overall ranking across categories

# A category's board votes in the overall ranking from this many verdicts on; below it
# its order is mostly noise, so it is left out (and counted as left out).
OVERALL_MIN_VERDICTS = 50


class CategoryVotes(TypedDict):
    category: str
    verdicts: int


class OverallEntry(TypedDict):
    contestant: str
    score: float


class OverallBoard(TypedDict):
    categories: list[CategoryVotes]  # the categories whose BT order is a vote
    left_out: list[CategoryVotes]  # fewer than OVERALL_MIN_VERDICTS, or under two rated
    min_verdicts: int
    orders: dict[str, list[OverallEntry]]  # pooled_bt, then ratings.aggregate.AGGREGATORS
    positions: list[list[OverallEntry | None]]  # row k: each method's k-th, side by side
    tau_with_pooled: dict[str, float | None]  # Kendall tau-b of each method with pooled BT
    kemeny_search: str


def overall_leaderboard(*, source: str = "all", graded: bool = True) -> OverallBoard:
    """Borda, Copeland, Kemeny and Soft Condorcet over the per-category BT orders (each
    category's cached board is one vote; ratings.aggregate), beside the pooled BT board
    of every verdict. Refitted only as the verdicts grow by ELO_POINT_GROWTH (or the
    cells are rebuilt), as the judges' tau is: a refit reads every category's board, and
    under a stream of votes each of those is cold."""
    _check_source(source)
    stamp = _stamp()
    verdicts, entrants, last_entrant, _ = stamp.split(":")
    grown = _growth_bucket(float(verdicts))
    options = f"{source}:{int(graded)}:{OVERALL_MIN_VERDICTS}"
    # new or deleted tournaments (their entrants' standings) and rebuilt cells refit too
    key = f"board:overall:{options}:{grown}:{entrants}:{last_entrant}:{_cells_stamp()}"
    found: OverallBoard = _cached(key, lambda: _overall(source, graded, stamp))
    return found


def _overall(source: str, graded: bool, stamp: str) -> OverallBoard:
    votes: list[tuple[tuple[str, ...], ...]] = []
    used: list[CategoryVotes] = []
    left_out: list[CategoryVotes] = []
    for category in leaderboard_categories(stamp):
        rows, _ = global_leaderboard(source=source, category=category, graded=graded)
        rated = [r for r in rows if r["bt"] is not None]
        counted = CategoryVotes(category=category, verdicts=round(_verdicts(rows)))
        if counted["verdicts"] < OVERALL_MIN_VERDICTS or len(rated) < 2:
            left_out.append(counted)
            continue
        used.append(counted)
        votes.append(_tiers_by_rating(rated))
    pooled, _ = global_leaderboard(source=source, graded=graded)
    results = {"pooled_bt": _pooled_result(pooled)} | (aggregate_all(votes) if votes else {})
    taus = method_taus(results) if votes else {"pooled_bt": {}}
    orders = {
        name: [
            OverallEntry(contestant=m, score=round(float(result.as_dict()[m]), 2))
            for m in result.order
        ]
        for name, result in results.items()
    }
    depth = max((len(order) for order in orders.values()), default=0)
    return OverallBoard(
        categories=used,
        left_out=left_out,
        min_verdicts=OVERALL_MIN_VERDICTS,
        orders=orders,
        positions=[
            [orders[name][k] if k < len(orders[name]) else None for name in orders]
            for k in range(depth)
        ],
        tau_with_pooled={
            name: None if np.isnan(tau) else round(tau, 3)
            for name, tau in taus["pooled_bt"].items()
        },
        kemeny_search=str(results["kemeny"].params["search"]) if votes else "",
    )


def _verdicts(rows: list[LeaderboardRow]) -> float:
    """A board's verdicts: each pairwise verdict adds one match to each of its two."""
    return sum(r["matches"] for r in rows) / 2


def _tiers_by_rating(rows: list[LeaderboardRow]) -> tuple[tuple[str, ...], ...]:
    """A board's models by BT rating, best first; equal ratings share a tier."""
    ratings = {r["contestant"]: float(r["bt"] or 0.0) for r in rows}
    return rankings_from_scores({"board": ratings})["board"]


def _pooled_result(rows: list[LeaderboardRow]) -> AggregateResult:
    rated = sorted((r["contestant"], float(r["bt"])) for r in rows if r["bt"] is not None)
    models = tuple(m for m, _ in rated)
    scores = np.array([bt for _, bt in rated], dtype=np.float64)
    order = tuple(r["contestant"] for r in rows if r["bt"] is not None)
    return AggregateResult(models, scores, order, "pooled_bt")

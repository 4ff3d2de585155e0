"""Leaderboard rows from counts: pure (no ORM, no Channels), shared by every leaderboard.

Input: the verdicts summed per pair (``PairTallies``: what the evidence cells hold,
arena.evidence), and the online Elo where the board has one (a tournament's standings).
Output: rows best first with the Bradley-Terry rating and its 95% interval (hierarchical
Bayes, ratings.hierarchical), a rank from the intervals, a preliminary mark, online Elo,
optionally Soft Condorcet, and counts. The online Elo update
itself (``apply_ranking``) is here too: each verdict applies it to its entrants' standings.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NotRequired, TypedDict

import numpy as np
from numpy.typing import NDArray

from ratings.bootstrap import rank_from_intervals
from ratings.data import SCORE_OF_OUTCOME, Cells, Outcome, ranking_to_pairs
from ratings.elo import elo_update
from ratings.graded import fit_graded_bt
from ratings.hierarchical import hierarchical_bradley_terry
from ratings.soft_condorcet import RATING_SCALE, fit_soft_condorcet_pairs
from ratings.style_moments import StyleMoments, fit_style_moments

ELO_K = 4.0  # FastChat's online Elo step
# A small ridge on the BT log-strengths keeps the fit finite while some model has not yet
# both won and lost (ratings.bradley_terry ``prior``); its pull fades as verdicts add up.
BT_PRIOR = 0.1
# Soft Condorcet (Lanctot et al. 2024) at the library's informative scale, as the CLI fits
# it: converged ratings around 1000 whose gaps read like Elo points (ratings.soft_condorcet).
SCO_PARAMS: dict[str, Any] = dict(RATING_SCALE)
# Why a style-controlled board shows no Soft Condorcet (the pages say it too).
SCO_STYLE_NOTE = (
    "not computed under style control: Soft Condorcet ranks the preferences as judged and "
    "has no style-controlled form (turn style control off to see it)"
)

Ranking = Sequence[Sequence[str]]
Stats = dict[str, float]


class LeaderboardRow(TypedDict):
    rank: int  # from the Bradley-Terry 95% CIs: 1 + models whose lower bound is above our upper
    contestant: str
    bt: float | None  # Bradley-Terry rating (Elo scale); None before its first match
    bt_low: float | None
    bt_high: float | None
    elo: float | None  # online Elo in verdict order (a tournament's); None on global boards
    sco: float | None  # Soft Condorcet score; None when not computed
    matches: int
    wins: float
    ties: int
    win_rate: float
    preliminary: bool  # fewer verdicts than the board's minimum: the rating may move a lot
    # K-wise boards only (arena.listwise): Plackett-Luce log-strength and its bootstrap
    # interval (``rank`` then comes from these), and the Weng-Lin belief and mu - 3 sigma.
    pl: NotRequired[float | None]
    pl_low: NotRequired[float | None]
    pl_high: NotRequired[float | None]
    wl_mu: NotRequired[float | None]
    wl_sigma: NotRequired[float | None]
    wl_ordinal: NotRequired[float | None]


def has_verdicts(rows: Sequence[LeaderboardRow]) -> bool:
    """Whether a board rates anyone: without a verdict its rows are starting values only
    (0 matches, the initial Elo), which pages and the API must not show as a result."""
    return any(row["matches"] for row in rows)


def new_stats(elo: float = 1000.0) -> Stats:
    return {"elo": elo, "matches": 0.0, "wins": 0.0, "ties": 0.0}


def apply_ranking(stats: Mapping[str, Stats], ranking: Ranking) -> None:
    """Fold one verdict into the running records of its entrants, in place.

    A K-wise ranking counts as its K(K-1)/2 pairwise outcomes, applied in a fixed order
    (online Elo); points are 1 per entrant ranked below and 0.5 per tie, over K-1.
    """
    entrants = [m for tier in ranking for m in tier]
    opponents = max(len(entrants) - 1, 1)
    for a, b, outcome in ranking_to_pairs(ranking):
        first, second = stats[a], stats[b]
        score = float(SCORE_OF_OUTCOME[outcome])
        first["elo"], second["elo"] = elo_update(first["elo"], second["elo"], score, k=ELO_K)
        first["wins"] += score / opponents
        second["wins"] += (1.0 - score) / opponents
        if outcome == Outcome.TIE:
            first["ties"] += 1
            second["ties"] += 1
    for m in entrants:
        stats[m]["matches"] += 1


def _frozen(values: Sequence[float] | NDArray[Any], dtype: Any) -> NDArray[Any]:
    array = np.asarray(values, dtype=dtype)
    array.setflags(write=False)
    return array


@dataclass(frozen=True, eq=False)
class PairTallies:
    """Verdicts summed per pair ``(a[i], b[i])`` (indices into ``models``, sorted names):
    outcomes from a's side, each model's share of verdicts and a's points (arena.evidence),
    and the number of verdicts behind them (``votes``)."""

    models: tuple[str, ...]
    a: NDArray[np.intp]
    b: NDArray[np.intp]
    a_wins: NDArray[np.float64]
    b_wins: NDArray[np.float64]
    ties: NDArray[np.float64]
    share: NDArray[np.float64]
    a_points: NDArray[np.float64]
    votes: NDArray[np.float64]
    # The outcomes' inverse-probability weights over 1 (arena.evidence.IPW): the fit's
    # counts are a_wins + ipw_a_wins and so on; zero where no sampler drew the pairs.
    ipw_a_wins: NDArray[np.float64]
    ipw_b_wins: NDArray[np.float64]
    ipw_ties: NDArray[np.float64]
    # The graded outcomes as win and tie parts, and their weights' excess over 1
    # (arena.evidence.GRADED): the hard ones where a verdict has no grade.
    graded: tuple[NDArray[np.float64], ...]
    ipw_graded: tuple[NDArray[np.float64], ...]

    @classmethod
    def of(
        cls, models: Iterable[str], pairs: Sequence[tuple[str, str, Sequence[float]]]
    ) -> PairTallies:
        """From ``(a, b, (a_wins, b_wins, ties, share, a_points, votes[, ipw_a_wins,
        ipw_b_wins, ipw_ties[, g_a_wins, g_b_wins, g_ties, ipw_g_a_wins, ipw_g_b_wins,
        ipw_g_ties]]))`` per pair (the weights' excess is 0 when not given, the graded
        outcomes the hard ones)."""
        names = tuple(sorted(models))
        index = {m: i for i, m in enumerate(names)}
        rows = []
        for _, _, v in pairs:
            row = tuple(v) + (0.0,) * (9 - len(v))
            rows.append(row if len(row) >= 15 else row[:9] + row[:3] + row[6:9])
        columns = np.array(rows, dtype=np.float64).reshape(len(pairs), 15)
        a_wins, b_wins, ties, share, a_points, votes, ipw_a, ipw_b, ipw_t, *graded = (
            _frozen(columns[:, i], np.float64) for i in range(15)
        )
        return cls(
            models=names,
            a=_frozen([index[a] for a, _, _ in pairs], np.intp),
            b=_frozen([index[b] for _, b, _ in pairs], np.intp),
            a_wins=a_wins,
            b_wins=b_wins,
            ties=ties,
            share=share,
            a_points=a_points,
            votes=votes,
            ipw_a_wins=ipw_a,
            ipw_b_wins=ipw_b,
            ipw_ties=ipw_t,
            graded=tuple(graded[:3]),
            ipw_graded=tuple(graded[3:]),
        )

    def per_model(
        self, values: NDArray[np.float64], b_values: NDArray[np.float64]
    ) -> NDArray[np.float64]:
        """Sum ``values`` over each model's pairs as a, and ``b_values`` as b."""
        n = len(self.models)
        total = np.bincount(self.a, values, n) + np.bincount(self.b, b_values, n)
        return np.asarray(total, dtype=np.float64)

    def cells(self, graded: bool = False) -> Cells:
        """The tallies as ratings' cells: a-wins, b-wins and ties per pair, each weighted
        by its verdicts' inverse-probability weights (``count``), and how many verdicts
        (``n_battles``; rounded up for ``graded`` parts, whose fractional worth is
        ``graded_battles``)."""
        counted, excess = self._outcomes(graded)
        outcomes = tuple(
            zip((Outcome.A_WINS, Outcome.B_WINS, Outcome.TIE), counted, excess, strict=True)
        )
        a = np.concatenate([self.a[counts > 0] for _, counts, _ in outcomes])
        b = np.concatenate([self.b[counts > 0] for _, counts, _ in outcomes])
        code = np.concatenate([np.full(int((c > 0).sum()), int(o)) for o, c, _ in outcomes])
        raw = np.concatenate([c[c > 0] for _, c, _ in outcomes])
        weighted = np.concatenate([(c + w)[c > 0] for _, c, w in outcomes])
        return Cells(
            models=self.models,
            model_a=_frozen(a, np.intp),
            model_b=_frozen(b, np.intp),
            outcome=_frozen(code, np.int8),
            count=_frozen(np.maximum(weighted, 0.0), np.float64),
            n_battles=_frozen(np.ceil(raw - 1e-9), np.int64),
        )

    def _outcomes(
        self, graded: bool
    ) -> tuple[tuple[NDArray[np.float64], ...], tuple[NDArray[np.float64], ...]]:
        if graded:
            return self.graded, self.ipw_graded
        return (self.a_wins, self.b_wins, self.ties), (
            self.ipw_a_wins,
            self.ipw_b_wins,
            self.ipw_ties,
        )

    def graded_battles(self) -> NDArray[np.float64]:
        """The verdicts' worth behind each of ``cells(graded=True)``, in its order."""
        raw, _ = self._outcomes(True)
        return np.concatenate([c[c > 0] for c in raw])


def _soft_condorcet(tallies: PairTallies) -> dict[str, float]:
    """Soft Condorcet from the strict preferences per pair (ties add none)."""
    above = np.concatenate([tallies.a[tallies.a_wins > 0], tallies.b[tallies.b_wins > 0]])
    below = np.concatenate([tallies.b[tallies.a_wins > 0], tallies.a[tallies.b_wins > 0]])
    weight = np.concatenate(
        [tallies.a_wins[tallies.a_wins > 0], tallies.b_wins[tallies.b_wins > 0]]
    )
    fit = fit_soft_condorcet_pairs(
        tallies.models,
        above.astype(np.intp),
        below.astype(np.intp),
        weight,
        n_votes=float(tallies.votes.sum()),
        **SCO_PARAMS,
    )
    return fit.as_dict()


# Below this many verdicts a rating is marked preliminary: LMArena's 300
# (ratings.hierarchical); ARENA_MIN_VERDICTS sets it (arena.settings).
MIN_VERDICTS = 300


def leaderboard_rows(
    tallies: PairTallies,
    *,
    elo: Mapping[str, float] | None = None,
    soft_condorcet: bool = False,
    min_verdicts: int = MIN_VERDICTS,
    graded: bool = False,
) -> list[LeaderboardRow]:
    """Rows best first by BT rating (then online Elo, then name). Ratings and their 95%
    intervals are hierarchical Bayes (ratings.hierarchical): honest from the first verdict,
    the usual BT ones with many; ranks from the intervals, so a handful of votes separates
    nobody. ``graded``: the fit reads each verdict's graded score (arena.evidence)."""
    models = tallies.models
    matches = tallies.per_model(tallies.share, tallies.share)
    wins = tallies.per_model(tallies.a_points, tallies.share - tallies.a_points)
    ties = tallies.per_model(tallies.ties, tallies.ties)
    played = [m for i, m in enumerate(models) if matches[i] > 1e-9]
    bt: dict[str, tuple[float, float, float]] = {}
    ranks: dict[str, int] = {}
    preliminary: set[str] = set()
    if played and len(models) > 1:
        fit = hierarchical_bradley_terry(
            tallies.cells(graded),
            verdicts=np.rint(matches).astype(np.int64),
            battles=tallies.graded_battles() if graded else None,
            min_verdicts=min_verdicts,
        )
        for name, r, lo, hi in zip(fit.models, fit.ratings, fit.ci_low, fit.ci_high, strict=True):
            bt[name] = (round(float(r), 2), round(float(lo), 2), round(float(hi), 2))
        ranks = {m: int(r) for m, r in zip(fit.models, fit.ranks, strict=True) if m in played}
        preliminary = {m for m, p in zip(fit.models, fit.preliminary, strict=True) if p}
    sco = _soft_condorcet(tallies) if soft_condorcet and played else {}
    online = elo or {}
    order = sorted(
        range(len(models)),
        key=lambda i: (
            -(bt[models[i]][0] if models[i] in ranks else float("-inf")),
            -online.get(models[i], 0.0),
            models[i],
        ),
    )
    rows: list[LeaderboardRow] = []
    for i in order:
        m = models[i]
        rating = bt.get(m) if m in ranks else None
        n = int(round(matches[i]))
        rows.append(
            LeaderboardRow(
                rank=int(ranks.get(m, len(played) + 1)),
                contestant=m,
                bt=rating[0] if rating else None,
                bt_low=rating[1] if rating else None,
                bt_high=rating[2] if rating else None,
                elo=round(online[m], 2) if m in online else None,
                sco=round(sco[m], 1) if m in sco and m in ranks else None,
                matches=n,
                wins=round(float(wins[i]), 4),
                ties=int(round(ties[i])),
                win_rate=round(float(wins[i]) / float(matches[i]), 4) if n else 0.0,
                preliminary=m in preliminary or m not in ranks,
            )
        )
    return rows


def style_controlled_rows(
    rows: list[LeaderboardRow], moments: StyleMoments | None
) -> tuple[list[LeaderboardRow], dict[str, float]]:
    """The rows with BT columns controlled for answer style (length, headers, lists, bold),
    fitted from the cells' style moments (ratings.style_moments; only pairs whose two
    answers have style features). Returns the rows and the style coefficients (log-odds per
    RMS of the normalised difference)."""
    if moments is None or not len(moments.model_a):
        return rows, {}
    fit = fit_style_moments(moments, prior=BT_PRIOR)
    styled = {
        m: (round(float(r), 2), round(float(lo), 2), round(float(hi), 2))
        for m, r, lo, hi in zip(fit.models, fit.ratings, fit.ci_low, fit.ci_high, strict=True)
    }
    # A model with no styled pair has no style-controlled rating: shown unrated, not with
    # the plain fit's, which would mix two fits in one ranking. Soft Condorcet has no
    # style-controlled form at all, so no row shows it here (SCO_STYLE_NOTE says why).
    for row in rows:
        row["sco"] = None
    _refitted(rows, styled)
    return rows, {k: round(v, 4) for k, v in fit.coefficients_dict().items()}


def _refitted(rows: list[LeaderboardRow], fitted: Mapping[str, tuple[float, float, float]]) -> None:
    """Put another fit's ratings and intervals (by name) in the BT columns, ranks from
    those intervals, best first; a model the fit has no rating for is unrated."""
    for row in rows:
        if row["contestant"] not in fitted:
            row["bt"] = row["bt_low"] = row["bt_high"] = None
            row["preliminary"] = True
    played = [r for r in rows if r["matches"] > 0 and r["contestant"] in fitted]
    for row in rows:
        if row["contestant"] not in fitted:
            row["rank"] = len(played) + 1
    ranks = (
        rank_from_intervals(
            np.array([fitted[r["contestant"]][1] for r in played]),
            np.array([fitted[r["contestant"]][2] for r in played]),
        ).tolist()
        if played
        else []
    )
    for row, rank in zip(played, ranks, strict=True):
        row["bt"], row["bt_low"], row["bt_high"] = fitted[row["contestant"]]
        row["rank"] = int(rank)
    rows.sort(key=lambda r: (-(r["bt"] if r["bt"] is not None else float("-inf")), r["contestant"]))


@dataclass(frozen=True)
class OrderTallies:
    """Observations per pair, order and source (arena.evidence.BY_ORDER): ``first`` and
    ``second`` index ``models`` (the answer shown first and the other), ``source`` indexes
    ``sources``, ``n`` observations, ``score`` the first answer's summed score."""

    models: tuple[str, ...]
    sources: tuple[str, ...]
    first: NDArray[np.intp]
    second: NDArray[np.intp]
    source: NDArray[np.intp]
    n: NDArray[np.float64]
    score: NDArray[np.float64]

    @classmethod
    def of(
        cls,
        models: Sequence[str],
        rows: Sequence[tuple[str, str, str, float, float, float, float]],
    ) -> OrderTallies:
        """From ``(a, b, source, ab_n, a's score when first, ba_n, a's score when b was
        first)`` per pair and source."""
        names = tuple(sorted(models))
        index = {m: i for i, m in enumerate(names)}
        sources = tuple(sorted({r[2] for r in rows}))
        where = {s: i for i, s in enumerate(sources)}
        observed: list[tuple[int, int, int, float, float]] = []
        for a, b, src, ab_n, ab_score, ba_n, ba_score in rows:
            if ab_n > 0:
                observed.append((index[a], index[b], where[src], ab_n, ab_score))
            if ba_n > 0:  # b first: its score is what a did not get
                observed.append((index[b], index[a], where[src], ba_n, ba_n - ba_score))
        first, second, source, n, score = (
            (list(c) for c in zip(*observed, strict=True)) if observed else ([], [], [], [], [])
        )
        return cls(
            names,
            sources,
            _frozen(first, np.intp),
            _frozen(second, np.intp),
            _frozen(source, np.intp),
            _frozen(n, np.float64),
            _frozen(score, np.float64),
        )


class PositionTerm(TypedDict):
    """A source's first-position advantage in Elo points, with its 95% interval."""

    elo: float
    low: float
    high: float
    observations: int


@dataclass(frozen=True)
class PositionFit:
    """Ratings (name: rating, low, high) fitted with a first-position term per source, and
    those terms."""

    ratings: dict[str, tuple[float, float, float]]
    terms: dict[str, PositionTerm]


def position_fit(orders: OrderTallies) -> PositionFit:
    """Bradley-Terry on every order as an observation, with a first-position term per
    source (ratings.graded)."""
    if not orders.n.size:
        return PositionFit({}, {})
    fit = fit_graded_bt(
        orders.models,
        orders.first,
        orders.second,
        orders.n,
        orders.score,
        group=orders.source,
        n_groups=len(orders.sources),
        prior=BT_PRIOR,
    )
    seen = set(orders.first.tolist()) | set(orders.second.tolist())
    ratings = {
        m: (round(float(r), 2), round(float(lo), 2), round(float(hi), 2))
        for k, (m, r, lo, hi) in enumerate(
            zip(fit.models, fit.ratings, fit.ci_low, fit.ci_high, strict=True)
        )
        if k in seen
    }
    counts = np.bincount(orders.source, weights=orders.n, minlength=len(orders.sources))
    terms = {
        source: PositionTerm(
            elo=round(float(fit.position_elo[k]), 1),
            low=round(float(fit.position_low[k]), 1),
            high=round(float(fit.position_high[k]), 1),
            observations=int(round(counts[k])),
        )
        for k, source in enumerate(orders.sources)
    }
    return PositionFit(ratings, terms)


def position_corrected_rows(rows: list[LeaderboardRow], fit: PositionFit) -> list[LeaderboardRow]:
    """The rows with BT columns from ``position_fit`` (unchanged when it has none)."""
    if fit.ratings:
        _refitted(rows, fit.ratings)
    return rows

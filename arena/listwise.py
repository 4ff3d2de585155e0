"""K-wise boards: Plackett-Luce rows from rankings counted per distinct ranking. Pure (no
ORM): arena.boards reads the ranking cells and the standings and calls this.

A K-wise board fits the rankings whole (ratings.plackett_luce, natural log-strengths with
mean 0, the scale of ``python -m ratings fit --method pl``) with a seeded Poisson
bootstrap over the distinct rankings: the same function, rounds, seed and percentile
interval as ``python -m ratings fit rankings.jsonl --method pl --bootstrap 100`` on the
tournament's export, so the page's numbers are the CLI's. Rows go best first by the PL
rating and the rank comes from the PL intervals (1 + the models whose interval lies wholly
above); Bradley-Terry on the rankings' implied pairs stays beside it, and so does the
Weng-Lin conservative skill mu - 3 sigma (ratings.bayesian), the online belief each
verdict updates on its standings row in commit order (K-Sort Arena's leaderboard).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from arena.standings import LeaderboardRow
from ratings.bayesian import SkillRating, ordinal
from ratings.bootstrap import rank_from_intervals
from ratings.bradley_terry import NoMLEError
from ratings.plackett_luce import (
    FALLBACK_PRIOR,
    bootstrap_plackett_luce,
    distinct_rankings,
    fit_plackett_luce,
)

# The CLI's defaults for ``--method pl --bootstrap 100``: the page matches its numbers.
PL_ROUNDS = 100
PL_SEED = 0
PL_LEVEL = 0.95

Tiers = list[list[str]]


@dataclass(frozen=True)
class PlackettLuceFit:
    """Each model's PL log-strength and interval, and how they were fitted."""

    ratings: dict[str, tuple[float, float, float]]  # name -> (rating, low, high)
    prior: float  # 0, or FALLBACK_PRIOR when the rankings have no finite MLE yet
    degenerate_rounds: int


def plackett_luce_fit(rankings: Sequence[Tiers], counts: Sequence[int]) -> PlackettLuceFit | None:
    """PL with bootstrap intervals over rankings of names, each seen ``counts`` times; None
    without a ranking. While some model is never ranked above some other group (no finite
    MLE) the point and every round take the bootstrap's fallback prior."""
    data = distinct_rankings(rankings, counts=counts)
    if not data.rankings:
        return None
    weights = data.counts.astype(float).tolist()
    prior = 0.0
    try:
        point = fit_plackett_luce(data.rankings, weights=weights)
    except NoMLEError:
        prior = FALLBACK_PRIOR
        point = fit_plackett_luce(data.rankings, weights=weights, prior=prior)
    boot = bootstrap_plackett_luce(
        data, models=point.models, rounds=PL_ROUNDS, seed=PL_SEED, prior=prior
    )
    low, high = boot.interval(PL_LEVEL)
    return PlackettLuceFit(
        ratings={
            name: (float(point.log_strengths[k]), float(low[k]), float(high[k]))
            for k, name in enumerate(point.models)
        },
        prior=prior,
        degenerate_rounds=boot.degenerate_rounds,
    )


def listwise_columns(
    fit: PlackettLuceFit | None, beliefs: Mapping[str, SkillRating]
) -> dict[str, dict[str, float | int | None]]:
    """Per model: the PL rating, interval and rank from the intervals, and the Weng-Lin
    mu, sigma and mu - 3 sigma. Models without a ranking have no PL columns."""
    rated = sorted(fit.ratings) if fit is not None else []
    ranks: dict[str, int] = {}
    if fit is not None and rated:
        low = np.array([fit.ratings[m][1] for m in rated])
        high = np.array([fit.ratings[m][2] for m in rated])
        ranks = dict(zip(rated, rank_from_intervals(low, high).tolist(), strict=True))
    columns: dict[str, dict[str, float | int | None]] = {}
    for name in set(rated) | set(beliefs):
        pl = fit.ratings.get(name) if fit is not None else None
        belief = beliefs.get(name)
        columns[name] = {
            "pl": None if pl is None else pl[0],
            "pl_low": None if pl is None else pl[1],
            "pl_high": None if pl is None else pl[2],
            "pl_rank": ranks.get(name),
            "wl_mu": None if belief is None else belief.mu,
            "wl_sigma": None if belief is None else belief.sigma,
            "wl_ordinal": None if belief is None else ordinal(belief),
        }
    return columns


def listwise_rows(
    rows: Sequence[LeaderboardRow], columns: Mapping[str, Mapping[str, float | int | None]]
) -> list[LeaderboardRow]:
    """The BT rows with the K-wise columns, best first by PL (models without a PL rating
    last, in BT order), ``rank`` from the PL intervals."""
    rated = sum(1 for c in columns.values() if c["pl"] is not None)
    merged: list[LeaderboardRow] = []
    for row in rows:
        extra = columns.get(row["contestant"], {})
        pl_rank = extra.get("pl_rank")
        merged.append(
            {
                **row,
                "rank": int(pl_rank) if pl_rank is not None else rated + 1,
                "pl": _number(extra.get("pl")),
                "pl_low": _number(extra.get("pl_low")),
                "pl_high": _number(extra.get("pl_high")),
                "wl_mu": _number(extra.get("wl_mu")),
                "wl_sigma": _number(extra.get("wl_sigma")),
                "wl_ordinal": _number(extra.get("wl_ordinal")),
            }
        )
    order = {row["contestant"]: k for k, row in enumerate(rows)}
    merged.sort(key=lambda r: (r.get("pl") is None, -(r.get("pl") or 0.0), order[r["contestant"]]))
    return merged


def _number(value: float | int | None) -> float | None:
    return None if value is None else float(value)

"""Elo ratings (FastChat conventions: K=4, base 10, scale 400, initial rating 1000)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ratings.data import Battles

__all__ = ["EloResult", "bootstrap_online_elo", "elo_expected", "elo_update", "online_elo"]


def elo_expected(
    rating_a: float, rating_b: float, *, base: float = 10.0, scale: float = 400.0
) -> float:
    """Probability that A beats B under the Elo logistic curve."""
    odds_against: float = base ** ((rating_b - rating_a) / scale)
    return 1.0 / (1.0 + odds_against)


def elo_update(
    rating_a: float,
    rating_b: float,
    score_a: float,
    *,
    k: float = 4.0,
    base: float = 10.0,
    scale: float = 400.0,
) -> tuple[float, float]:
    """One online Elo step; ``score_a`` is 1 (A wins), 0.5 (tie) or 0 (B wins)."""
    expected_a = elo_expected(rating_a, rating_b, base=base, scale=scale)
    delta = k * (score_a - expected_a)
    return rating_a + delta, rating_b - delta


# --------------------------------------------------------------------------- online Elo
# The online fit below is written to reproduce FastChat's ``compute_elo`` (lm-sys/FastChat,
# fastchat/serve/monitor/rating_systems.py and elo_analysis.py) bit for bit, so its
# arithmetic mirrors theirs: A and B expectations are computed separately and B moves by
# ``K * (1 - s_a - E_b)`` rather than ``-delta`` (the two differ in the last ulp).


@dataclass(frozen=True, eq=False)
class EloResult:
    """Final online Elo ratings and the hyper-parameters that produced them."""

    models: tuple[str, ...]
    ratings: NDArray[np.float64]
    matches: NDArray[np.int64]
    k: float
    base: float
    scale: float
    init_rating: float
    ordered_by_timestamp: bool
    method: str = "elo"

    def as_dict(self) -> dict[str, float]:
        """``{model: rating}``, handy for comparisons with other libraries."""
        return dict(zip(self.models, self.ratings.tolist(), strict=True))

    def params(self) -> dict[str, float | bool]:
        return {
            "k": self.k,
            "base": self.base,
            "scale": self.scale,
            "init_rating": self.init_rating,
            "ordered_by_timestamp": self.ordered_by_timestamp,
        }


def online_elo(
    battles: Battles,
    *,
    k: float = 4.0,
    base: float = 10.0,
    scale: float = 400.0,
    init_rating: float = 1000.0,
    order_by_timestamp: bool = True,
) -> EloResult:
    """Sequential Elo over battles (FastChat ``compute_elo`` conventions).

    Battles are replayed in timestamp order when timestamps exist (a stable sort, so
    equal stamps keep file order), else in the given order. A battle's ``weight``
    scales its K (weight 1 is FastChat exactly). Online Elo depends on order and is
    noisy; prefer Bradley-Terry for leaderboards, this is for live updates and parity.
    """
    if k <= 0 or base <= 1 or scale <= 0:
        raise ValueError("online_elo: need k > 0, base > 1 and scale > 0")
    rows = battles.time_order() if order_by_timestamp else np.arange(len(battles))
    ratings = [init_rating] * battles.n_models
    for a, b, outcome, weight in zip(
        battles.model_a[rows].tolist(),
        battles.model_b[rows].tolist(),
        battles.outcome[rows].tolist(),
        battles.weight[rows].tolist(),
        strict=True,
    ):
        ra = ratings[a]
        rb = ratings[b]
        ea: float = 1 / (1 + base ** ((rb - ra) / scale))
        eb: float = 1 / (1 + base ** ((ra - rb) / scale))
        sa = 1 if outcome == 2 else 0 if outcome == 0 else 0.5
        step = k if weight == 1.0 else k * weight
        ratings[a] += step * (sa - ea)
        ratings[b] += step * (1 - sa - eb)
    values = np.asarray(ratings, dtype=np.float64)
    values.setflags(write=False)
    if not all(math.isfinite(v) for v in ratings):
        raise ValueError("online_elo: ratings overflowed; check k and scale")
    matches = battles.matches_per_model()
    matches.setflags(write=False)
    return EloResult(
        models=battles.models,
        ratings=values,
        matches=matches,
        k=k,
        base=base,
        scale=scale,
        init_rating=init_rating,
        ordered_by_timestamp=order_by_timestamp and battles.timestamp is not None,
    )


def bootstrap_online_elo(
    battles: Battles,
    *,
    rounds: int = 100,
    seed: int = 0,
    k: float = 4.0,
    base: float = 10.0,
    scale: float = 400.0,
    init_rating: float = 1000.0,
) -> NDArray[np.float64]:
    """Elo ratings of ``rounds`` resamples, shape ``(rounds, n_models)``.

    As FastChat's ``get_bootstrap_result`` with ``compute_elo``: each round draws as many
    battles as there are, with replacement, and replays them in the drawn order, so the
    spread reflects both sampling noise and Elo's order dependence.
    """
    if rounds < 1:
        raise ValueError("rounds must be >= 1")
    rng = np.random.default_rng(seed)
    samples = np.empty((rounds, battles.n_models))
    for r in range(rounds):
        rows = rng.integers(0, len(battles), len(battles))
        resampled = battles.take(rows.astype(np.intp))
        samples[r] = online_elo(
            resampled,
            k=k,
            base=base,
            scale=scale,
            init_rating=init_rating,
            order_by_timestamp=False,
        ).ratings
    samples.setflags(write=False)
    return samples

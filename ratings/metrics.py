"""Comparing leaderboards and scoring predictions.

Rank agreement (Kendall tau-b, Spearman, top-k overlap) answers "do two methods, judges
or crowds order models the same way?"; win-rate matrices describe the raw data; predicted
probabilities, log-loss and Brier score measure how well ratings forecast held-out
battles (ties count as half a win, as in the BT fit, so a BT fit minimises the log-loss
on its own training data).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.stats  # type: ignore[import-untyped]
from numpy.typing import ArrayLike, NDArray

from ratings.data import Battles

__all__ = [
    "WinRateMatrix",
    "brier_score",
    "counting_scores",
    "kendall_tau",
    "log_loss",
    "predicted_win_probability",
    "spearman",
    "top_k_overlap",
    "win_rate_matrix",
]


def _paired(x: ArrayLike, y: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    a = np.asarray(x, dtype=np.float64)
    b = np.asarray(y, dtype=np.float64)
    if a.ndim != 1 or a.shape != b.shape or a.size < 2:
        raise ValueError("need two 1-d score arrays of the same length >= 2 (same model order)")
    return a, b


def kendall_tau(x: ArrayLike, y: ArrayLike) -> float:
    """Kendall tau-b between two score vectors over the same models (ties handled)."""
    a, b = _paired(x, y)
    return float(scipy.stats.kendalltau(a, b).statistic)


def spearman(x: ArrayLike, y: ArrayLike) -> float:
    """Spearman rank correlation between two score vectors over the same models."""
    a, b = _paired(x, y)
    return float(scipy.stats.spearmanr(a, b).statistic)


def top_k_overlap(x: ArrayLike, y: ArrayLike, k: int) -> float:
    """Share of the top-k models by ``x`` that are also top-k by ``y`` (ties broken by index).

    Leaderboards are read from the top, so agreement there matters more than overall tau.
    """
    a, b = _paired(x, y)
    if not 1 <= k <= a.size:
        raise ValueError(f"k must be in 1..{a.size}")
    top_a = set(np.argsort(-a, kind="stable")[:k].tolist())
    top_b = set(np.argsort(-b, kind="stable")[:k].tolist())
    return len(top_a & top_b) / k


@dataclass(frozen=True, eq=False)
class WinRateMatrix:
    """``win_rate[i, j]``: share of i's score against j (ties half); NaN if they never met."""

    models: tuple[str, ...]
    win_rate: NDArray[np.float64]
    games: NDArray[np.float64]

    def average_win_rate(self) -> NDArray[np.float64]:
        """Mean of each row over the opponents actually met (evalica ``average_win_rate``)."""
        return np.asarray(np.nanmean(self.win_rate, axis=1), dtype=np.float64)


def win_rate_matrix(battles: Battles) -> WinRateMatrix:
    """Pairwise (weighted) win rates, ties counted as half a win for each side."""
    n = battles.n_models
    score = battles.score_a * battles.weight
    wins = np.zeros((n, n))
    np.add.at(wins, (battles.model_a, battles.model_b), score)
    np.add.at(wins, (battles.model_b, battles.model_a), battles.weight - score)
    games = wins + wins.T
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(games > 0, wins / games, np.nan)
    return WinRateMatrix(battles.models, rate, games)


def counting_scores(battles: Battles) -> NDArray[np.float64]:
    """Total (weighted) wins per model, ties as half a win (evalica ``counting``)."""
    n = battles.n_models
    score = battles.score_a * battles.weight
    won = np.bincount(battles.model_a, score, n) + np.bincount(
        battles.model_b, battles.weight - score, n
    )
    return np.asarray(won, dtype=np.float64)


def predicted_win_probability(
    ratings: ArrayLike, *, scale: float = 400.0, base: float = 10.0
) -> NDArray[np.float64]:
    """Matrix ``P[i, j]`` = P(i beats j) = 1 / (1 + base^((r_j - r_i) / scale))."""
    r = np.asarray(ratings, dtype=np.float64)
    logit = (r[:, None] - r[None, :]) * math.log(base) / scale
    return np.asarray(0.5 * (1.0 + np.tanh(0.5 * logit)), dtype=np.float64)


def _battle_probabilities(
    battles: Battles, ratings: ArrayLike, scale: float, base: float
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    r = np.asarray(ratings, dtype=np.float64)
    if r.shape != (battles.n_models,):
        raise ValueError(f"ratings: expected {battles.n_models} values in model order")
    logit = (r[battles.model_a] - r[battles.model_b]) * math.log(base) / scale
    return logit, battles.score_a


def log_loss(
    battles: Battles, ratings: ArrayLike, *, scale: float = 400.0, base: float = 10.0
) -> float:
    """Weighted mean cross-entropy of battle scores under the ratings' predictions (nats)."""
    logit, score = _battle_probabilities(battles, ratings, scale, base)
    loss = score * np.logaddexp(0.0, -logit) + (1 - score) * np.logaddexp(0.0, logit)
    return float(np.sum(loss * battles.weight) / np.sum(battles.weight))


def brier_score(
    battles: Battles, ratings: ArrayLike, *, scale: float = 400.0, base: float = 10.0
) -> float:
    """Weighted mean squared error between predicted P(A wins) and the battle score."""
    logit, score = _battle_probabilities(battles, ratings, scale, base)
    p = 0.5 * (1.0 + np.tanh(0.5 * logit))
    return float(np.sum((p - score) ** 2 * battles.weight) / np.sum(battles.weight))

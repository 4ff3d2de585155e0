"""Bradley-Terry on graded outcomes, with a first-position advantage per judge.

A judge's verdict on two answers can say more than who won: its probabilities (logprobs),
a strong or slight margin, or two orders that agree or not. Written as the score of the
answer shown first, ``s`` in [0, 1] (1 a win, 0 a loss, 0.5 a tie), the fit maximises

    sum over observations of  s log p + (1 - s) log(1 - p),
    p = sigmoid(theta_first - theta_second + h_group),

minus ``prior * sum(theta**2)``: the Bernoulli likelihood with the score in place of the
0/1 outcome (a quasi-likelihood: its maximiser is consistent whenever E[s] follows the
model, Wedderburn 1974; hard verdicts make it the usual BT with ties as half a win).
``h_group`` is the advantage of the first position for one group of observations (one
judge), the order effect of Agresti's *Categorical Data Analysis* (home advantage), fitted
with the ratings; without ``position`` it is 0.

Everything needed is, per (first, second, group): the number of observations ``n`` and
the summed score of the first answer ``score``; arena.evidence keeps those per pair and
order. Intervals are normal ones from the Fisher information ``n p (1 - p)``: a score in
[0, 1] with mean p has variance at most p (1 - p), so they are conservative for graded
scores and exact in the limit for hard ones.

``prior > 0`` is required: graded scores of 1 everywhere (a model that always wins) have
no finite maximiser, and the prior also fixes the ratings' shift.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.special  # type: ignore[import-untyped]
import scipy.stats  # type: ignore[import-untyped]
from numpy.typing import ArrayLike, NDArray

from ratings.newton import damped_newton

__all__ = ["GradedFit", "fit_graded_bt"]

Vector = NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class GradedFit:
    """Ratings on the Elo scale (``init_rating + scale * theta / ln(base)``) with their
    intervals, and each group's first-position advantage in Elo points with its interval
    (zeros without ``position``)."""

    models: tuple[str, ...]
    ratings: Vector
    ci_low: Vector
    ci_high: Vector
    position_elo: Vector
    position_low: Vector
    position_high: Vector
    observations: float
    converged: bool

    def as_dict(self) -> dict[str, float]:
        return dict(zip(self.models, self.ratings.tolist(), strict=True))


def _checked(array: NDArray[Any], name: str, size: int | None) -> None:
    if array.ndim != 1 or (size is not None and array.size != size):
        raise ValueError(f"{name}: expected one value per row ({size}), got shape {array.shape}")


def _indices(values: ArrayLike, name: str, size: int | None) -> NDArray[np.intp]:
    array = np.asarray(values, dtype=np.intp)
    _checked(array, name, size)
    return array


def _floats(values: ArrayLike, name: str, size: int) -> Vector:
    array = np.asarray(values, dtype=np.float64)
    _checked(array, name, size)
    return array


def fit_graded_bt(
    models: Sequence[str],
    first: ArrayLike,
    second: ArrayLike,
    n: ArrayLike,
    score: ArrayLike,
    *,
    group: ArrayLike | None = None,
    n_groups: int | None = None,
    position: bool = True,
    prior: float = 0.01,
    level: float = 0.95,
    scale: float = 400.0,
    base: float = 10.0,
    init_rating: float = 1000.0,
) -> GradedFit:
    """Fit ratings (and per-group position advantages) to graded observations.

    Rows are aggregates: ``first``/``second`` index ``models`` (the answer shown first and
    the other), ``n`` counts observations (weights allowed), ``score`` sums the first
    answer's scores over them (so ``0 <= score <= n``), ``group`` (default all 0) says whose
    position term a row follows.
    """
    if prior <= 0 or not math.isfinite(prior):
        raise ValueError("prior must be a finite number > 0")
    if not 0 < level < 1:
        raise ValueError("level must be in (0, 1)")
    names = tuple(models)
    m = len(names)
    i = _indices(first, "first", None)
    rows = i.size
    j = _indices(second, "second", rows)
    counts = _floats(n, "n", rows)
    sums = _floats(score, "score", rows)
    g = np.zeros(rows, np.intp) if group is None else _indices(group, "group", rows)
    groups = int(n_groups if n_groups is not None else (g.max() + 1 if rows else 1))
    if rows and (i.min() < 0 or j.min() < 0 or max(i.max(), j.max()) >= m or np.any(i == j)):
        raise ValueError("first/second: indices must name two different models")
    if rows and (g.min() < 0 or g.max() >= groups):
        raise ValueError(f"group: indices must be in [0, {groups})")
    if np.any(counts < 0) or np.any(sums < -1e-9) or np.any(sums > counts + 1e-9):
        raise ValueError("need n >= 0 and 0 <= score <= n on every row")
    h_count = groups if position else 0

    def logits(x: Vector) -> Vector:
        out = x[i] - x[j]
        return out + x[m + g] if position else out

    def loss(x: Vector) -> float:
        z = logits(x)
        # -(s log p + (n - s) log(1 - p)) with log p = -log(1 + e^-z)
        nll = sums * np.logaddexp(0.0, -z) + (counts - sums) * np.logaddexp(0.0, z)
        return float(nll.sum() + prior * np.sum(x[:m] ** 2))

    def gradient_hessian(x: Vector) -> tuple[Vector, NDArray[np.float64]]:
        z = logits(x)
        p = scipy.special.expit(z)
        residual = counts * p - sums  # d nll / d z
        weight = counts * p * (1.0 - p)  # d2 nll / d z2
        size = m + h_count
        grad = np.zeros(size)
        np.add.at(grad, i, residual)
        np.add.at(grad, j, -residual)
        hess = np.zeros((size, size))
        np.add.at(hess, (i, i), weight)
        np.add.at(hess, (j, j), weight)
        np.add.at(hess, (i, j), -weight)
        np.add.at(hess, (j, i), -weight)
        if position:
            np.add.at(grad, m + g, residual)
            np.add.at(hess, (m + g, m + g), weight)
            np.add.at(hess, (i, m + g), weight)
            np.add.at(hess, (m + g, i), weight)
            np.add.at(hess, (j, m + g), -weight)
            np.add.at(hess, (m + g, j), -weight)
            # a group without observations: its term stays 0 and the matrix invertible
            empty = np.bincount(g, weights=counts, minlength=groups) <= 0
            hess[m + np.flatnonzero(empty), m + np.flatnonzero(empty)] += 1.0
        grad[:m] += 2.0 * prior * x[:m]
        hess[np.arange(m), np.arange(m)] += 2.0 * prior
        return grad, hess

    x, _, converged = damped_newton(loss, gradient_hessian, np.zeros(m + h_count), 1e-10, 100)
    _, hess = gradient_hessian(x)
    covariance = np.linalg.pinv(hess)
    z = float(scipy.stats.norm.ppf(0.5 + level / 2))
    to_elo = scale / math.log(base)
    theta = x[:m] - x[:m].mean()
    centred = np.eye(m) - 1.0 / m
    theta_cov = centred @ covariance[:m, :m] @ centred
    half = z * to_elo * np.sqrt(np.maximum(np.diag(theta_cov), 0.0))
    ratings = init_rating + to_elo * theta
    h = x[m:] * to_elo if position else np.zeros(groups)
    h_half = (
        z * to_elo * np.sqrt(np.maximum(np.diag(covariance)[m:], 0.0))
        if position
        else np.zeros(groups)
    )
    return GradedFit(
        models=names,
        ratings=ratings,
        ci_low=ratings - half,
        ci_high=ratings + half,
        position_elo=h,
        position_low=h - h_half,
        position_high=h + h_half,
        observations=float(counts.sum()),
        converged=converged,
    )

"""Style-controlled Bradley-Terry from per-cell moments, without the battle rows.

``ratings.style.fit_style_controlled_bt`` fits, for every battle ``i`` between ``a`` and
``b`` with score ``y_i`` (1 win, 0.5 tie, 0 loss from ``a``'s side),

    P(a beats b) = sigmoid(eta_i),   eta_i = theta_a - theta_b + beta . z_i,

``z_i`` being the battle's normalised style differences ``d = (f_a - f_b) / (f_a + f_b)``
standardised over all battles (LMArena style control: Li, Chiang et al., "Does style
matter? Disentangling style and substance in Chatbot Arena", lmsys.org blog, 2024-08-28;
FastChat ``fastchat/serve/monitor/rating_systems.py``; the Bradley-Terry formulation of
Chiang et al., "Chatbot Arena: An Open Platform for Evaluating LLMs by Human
Preference", ICML 2024). That model has no finite sufficient statistics, so a fit from
counts has to approximate. The web app keeps, per
cell (a pair ``a < b`` within a tournament, source and category; arena/evidence.py),
over its *styled* pairs (both answers' features known):

    n = styled,  sy = sum y,  sd = sum d,  syd = sum y d,  sdd = sum d d^T (upper triangle,
    ``itertools.combinations_with_replacement`` order),

and this module fits the same model from those moments alone.

**Standardisation.** ``z = d / s`` with ``s^2 = sum diag(sdd) / sum n``: the mean square
of ``d`` over all styled battles, which is the variance of ``d`` over the battles counted
once from each side. ``style_features`` subtracts the mean ``mu`` of ``d`` first; that
mean depends on which answer is called "a", and ``-beta . mu / sigma`` then acts as an
advantage for side "a". FastChat's ``a`` is the answer shown on the left, at random, so
``mu`` is noise and the two definitions agree up to it; the app's cells call the lower
contestant id "a", and rankings write the better entry as "a" (``ranking_to_pairs``),
where ``mu`` is not small, so the fit from cells uses the definition that does not
depend on sides (and is exactly invariant to swapping them). A feature whose ``d`` is
always 0 gets ``beta = 0``. ``beta`` is in log-odds per ``s``.

**The likelihood of one cell** (after cells are summed per unordered pair, see below).
The quasi-log-likelihood is ``sum_i [y_i eta_i - A(eta_i)]``, ``A(x) = log(1 + e^x)``,
ties counting half as in ``ratings.bradley_terry``. With ``zbar = sd / (n s)`` the cell's
mean covariate, ``m = theta_a - theta_b + beta . zbar`` and

    W = sum_i (z_i - zbar)(z_i - zbar)^T = (sdd - sd sd^T / n) / (s s^T),
    C = sum_i y_i (z_i - zbar)            = (syd - sy sd / n) / s,

the linear part is exact, ``sum y_i eta_i = sy * m + beta . C``, and only the
log-partition ``sum_i A(m + beta . (z_i - zbar))`` needs more than two moments.

- ``approximation="taylor"``, the second-order expansion about the cell mean:
  ``n A(m) + A''(m) q / 2`` with ``q = beta^T W beta`` (the first-order term vanishes:
  deviations sum to zero). Its error is third order in the cell's spread of ``beta . z``.
  It is not convex, and with ``beta_prior = 0`` it can be unbounded below (a pair whose
  winner always wins lets ``|m|`` grow and ``A''(m)`` vanish); Newton falls back to its
  convex part when its Hessian is not positive definite.
- ``approximation="gaussian"`` (default): the cell's ``z_i`` replaced by a normal
  distribution with the same mean and covariance, ``n E[A(m + r e)]``, ``e ~ N(0, 1)``,
  ``r^2 = q / n``, by 12-node Gauss-Hermite quadrature. It agrees with the Taylor form
  to second order (by the heat equation ``d/dq`` of it is ``E[A''] / 2``), it loses
  nothing when the within-cell covariates are normal, and it keeps a fourth-order term
  that the Taylor form drops, which keeps it close to the exact fit where the Taylor
  form drifts: strong markdown effects, large ``beta`` (benchmarks/README.md, "Style
  control from cell moments"; with length alone the two are alike). It is convex (an
  average of convex functions of ``(theta, beta)``; so is its quadrature, whose nodes
  come in ``+-`` pairs and whose ``r`` is a norm of ``beta``) and bounded below like the
  exact likelihood except where style separates outcomes, so Newton converges to its
  single optimum. The quadrature's own error is below 1e-7 per battle for ``r <= 1``.

Both are maximised by damped Newton (``ratings.newton``) on ``(theta, beta)`` with the
exact gradient and Hessian of the approximate objective, the penalty
``prior * sum(theta^2) + beta_prior * sum(beta^2)`` of ``fit_style_controlled_bt``, and
its centring (mean-zero ``theta``; Elo scale ``init_rating + scale * theta / ln(base)``),
so one fit can stand in for the other. With every ``d = 0`` the model is plain
Bradley-Terry on the scores ``sy`` and ``n - sy`` (``fit_bradley_terry``, ties as half
wins), whichever the approximation.

**Cells are summed per pair first.** The approximation is made cell by cell, so without
that its value would depend on how the evidence was sliced (tournament, source,
category). Summing every cell of a pair (flipping those written ``a > b``:
``sy -> n - sy``, ``sd -> -sd``, ``syd -> syd - sd``) makes the fit a function of the
pair totals only: splitting a cell or swapping its sides changes nothing.

**Intervals.** Normal intervals from ``Cov = B J B`` at the optimum, ``B`` the inverse
Hessian of the penalised approximate objective. ``covariance="sandwich"`` (default) takes
``J = sum_i (y_i - p_i)^2 x_i x_i^T``, ``x_i = (e_a - e_b, z_i)``, built per pair as
``sum (y_i - p_i)^2`` (from ``sum y^2 = sy - ties / 4``, ``sum y p`` and ``sum p^2``
under the same approximation) spread over ``sum x x^T = n g g^T + (0 (+) W)``,
``g = (e_a - e_b, zbar)``, i.e. assuming the size of a battle's residual is unrelated to
its place in the pair's style spread. Ties make scores less variable than the binomial
variance ``p (1 - p)`` that the Hessian assumes; the sandwich sees that when it is given
``ties`` (tied styled battles per cell). Without ``ties`` it takes ``sum y^2 = sy``, an
upper bound, and then about equals ``covariance="model"`` (``J`` = the unpenalised
Hessian): both over-cover when there are ties. The direction the prior alone decides (the mean of
``theta``) is not data and has no variance: rating intervals are those of mean-centred
log-strengths, or of each strength minus the anchor's.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations_with_replacement
from statistics import NormalDist
from typing import Literal

import numpy as np
import scipy.linalg  # type: ignore[import-untyped]
import scipy.special  # type: ignore[import-untyped]
from numpy.typing import ArrayLike, NDArray

from ratings.bootstrap import IntervalResult
from ratings.bradley_terry import PairTable, check_mle_exists, strengths_to_ratings
from ratings.data import Battles, _encode_str_arrays
from ratings.newton import damped_newton
from ratings.style import FEATURES, _feature_matrix

__all__ = [
    "Approximation",
    "Covariance",
    "StyleMoments",
    "StyleMomentsResult",
    "fit_style_moments",
    "moments_from_battles",
    "product_pairs",
    "style_moments",
    "style_moments_from_columns",
]

Approximation = Literal["gaussian", "taylor"]
Covariance = Literal["sandwich", "model"]

# Gauss-Hermite nodes for the "gaussian" approximation (probabilists' weight, normalised).
_NODES, _WEIGHTS = np.polynomial.hermite_e.hermegauss(12)
_WEIGHTS = _WEIGHTS / _WEIGHTS.sum()
# A feature whose d has a mean square below this (an RMS below 1e-12, the threshold of
# ratings.style.style_features) never varied.
_CONSTANT = 1e-24


def product_pairs(n_features: int) -> tuple[tuple[int, int], ...]:
    """The (f, g) index of each ``sdd`` column: the upper triangle of d d^T, row by row."""
    return tuple(combinations_with_replacement(range(n_features), 2))


def _frozen(array: NDArray[np.float64]) -> NDArray[np.float64]:
    array.setflags(write=False)
    return array


@dataclass(frozen=True, eq=False)
class StyleMoments:
    """Moments of the style differences per unordered pair (``model_a < model_b``).

    One row per pair that has styled battles, sorted by ``(model_a, model_b)``; built by
    ``style_moments`` (which validates and sums cells) or ``moments_from_battles``.
    ``sd``/``syd`` are (pairs, F) and ``sdd`` is (pairs, F (F + 1) / 2) in
    ``product_pairs(F)`` order. ``ties`` (styled pairs that tied) is optional and only
    sharpens the sandwich intervals.
    """

    models: tuple[str, ...]
    model_a: NDArray[np.intp]
    model_b: NDArray[np.intp]
    n: NDArray[np.float64]
    sy: NDArray[np.float64]
    sd: NDArray[np.float64]
    syd: NDArray[np.float64]
    sdd: NDArray[np.float64]
    ties: NDArray[np.float64] | None
    feature_names: tuple[str, ...]

    def __len__(self) -> int:
        return int(self.model_a.shape[0])

    @property
    def n_models(self) -> int:
        return len(self.models)

    def products(self) -> NDArray[np.float64]:
        """``sum d d^T`` per pair as full symmetric (pairs, F, F) matrices."""
        k = len(self.feature_names)
        full = np.zeros((len(self), k, k))
        for column, (f, g) in enumerate(product_pairs(k)):
            full[:, f, g] = full[:, g, f] = self.sdd[:, column]
        return full

    def matches_per_model(self) -> NDArray[np.int64]:
        """Styled battles (summed weight, rounded) each model took part in."""
        n = self.n_models
        total = np.bincount(self.model_a, self.n, n) + np.bincount(self.model_b, self.n, n)
        counts: NDArray[np.int64] = np.rint(total).astype(np.int64)
        return counts


# --------------------------------------------------------------------------- building


def _column(values: ArrayLike, field: str, shape: tuple[int, ...]) -> NDArray[np.float64]:
    try:
        array = np.array(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"field {field!r}: not numeric ({exc})") from None
    if array.ndim == 1 and len(shape) == 2 and shape[1] == 1:
        array = array[:, None]
    if array.shape != shape:
        raise ValueError(f"field {field!r}: expected shape {shape}, got {array.shape}")
    finite = np.isfinite(array)
    bad = (
        np.flatnonzero(~finite.all(axis=tuple(range(1, array.ndim))))
        if array.ndim > 1
        else (np.flatnonzero(~finite))
    )
    if bad.size:
        raise ValueError(f"row {bad[0]}: field {field!r}: not a finite number")
    return array


def _encode(
    model_a: ArrayLike | Sequence[str],
    model_b: ArrayLike | Sequence[str],
    models: Sequence[str] | None,
) -> tuple[tuple[str, ...], NDArray[np.intp], NDArray[np.intp]]:
    """Integer indices into ``models`` (required then) or names (universe: sorted)."""
    a, b = np.asarray(model_a), np.asarray(model_b)
    if a.ndim != 1 or a.shape != b.shape:
        raise ValueError(f"model_a, model_b: expected two 1-d columns, got {a.shape}, {b.shape}")
    if a.size and a.dtype.kind in "iu" and b.dtype.kind in "iu":
        if models is None:
            raise ValueError("models: needed when model_a and model_b are indices")
        universe = tuple(models)
        if len(set(universe)) != len(universe):
            raise ValueError("models: duplicate names")
        for field, column in (("model_a", a), ("model_b", b)):
            bad = np.flatnonzero((column < 0) | (column >= len(universe)))
            if bad.size:
                raise ValueError(f"row {bad[0]}: field {field!r}: index out of range")
        return universe, a.astype(np.intp), b.astype(np.intp)
    if a.dtype.kind == "U" and b.dtype.kind == "U":
        for field, column in (("model_a", a), ("model_b", b)):
            blank = np.flatnonzero(column == "")
            if blank.size:
                raise ValueError(f"row {blank[0]}: field {field!r} must be a non-empty string")
        return _encode_str_arrays(a, b, models)
    names_a = [str(x) for x in a.tolist()]
    names_b = [str(x) for x in b.tolist()]
    for field, names in (("model_a", names_a), ("model_b", names_b)):
        empty = [row for row, name in enumerate(names) if not name]
        if empty:
            raise ValueError(f"row {empty[0]}: field {field!r} must be a non-empty string")
    if models is None:
        universe = tuple(sorted(set(names_a) | set(names_b)))
    else:
        universe = tuple(sorted(set(models)))
        if len(universe) != len(models):
            raise ValueError("models: duplicate names")
    lookup = {name: k for k, name in enumerate(universe)}
    encoded = []
    for field, names in (("model_a", names_a), ("model_b", names_b)):
        unknown = [row for row, name in enumerate(names) if name not in lookup]
        if unknown:
            row = unknown[0]
            raise ValueError(f"row {row}: field {field!r}: unknown model {names[row]!r}")
        encoded.append(np.fromiter(map(lookup.__getitem__, names), np.intp, len(names)))
    return universe, encoded[0], encoded[1]


def style_moments(
    model_a: ArrayLike | Sequence[str],
    model_b: ArrayLike | Sequence[str],
    n: ArrayLike,
    sy: ArrayLike,
    sd: ArrayLike,
    syd: ArrayLike,
    sdd: ArrayLike,
    *,
    ties: ArrayLike | None = None,
    models: Sequence[str] | None = None,
    feature_names: Sequence[str] = FEATURES,
) -> StyleMoments:
    """Validate cells' style moments and sum them per unordered pair.

    ``model_a``/``model_b`` are model names, or integer indices into ``models``; a cell
    may be written either way round (``a > b`` is flipped). ``n`` counts the styled
    battles (or their summed weight), ``sy`` their scores from ``a``'s side, ``sd``/``syd``
    are (cells, F) and ``sdd`` (cells, F (F + 1) / 2) in ``product_pairs(F)`` order.
    ``models`` fixes the universe (e.g. to keep models with no styled battle). Errors are
    ``ValueError`` naming the row and field; cells with ``n == 0`` are dropped.
    """
    names = tuple(feature_names)
    if not names or len(set(names)) != len(names):
        raise ValueError("feature_names: need distinct feature names")
    k = len(names)
    universe, a, b = _encode(model_a, model_b, models)
    if not universe:
        raise ValueError("models: no models")
    rows = a.shape[0]
    count = _column(n, "n", (rows,))
    score = _column(sy, "sy", (rows,))
    sums = _column(sd, "sd", (rows, k))
    cross = _column(syd, "syd", (rows, k))
    products = _column(sdd, "sdd", (rows, k * (k + 1) // 2))
    tied = None if ties is None else _column(ties, "ties", (rows,))
    _check_cells(a, b, count, score, sums, cross, products, tied, universe, k)
    flip = a > b
    low, high = a, b
    if flip.any():  # the app's cells are all a < b already
        low, high = np.where(flip, b, a), np.where(flip, a, b)
        score = np.where(flip, count - score, score)
        cross = np.where(flip[:, None], cross - sums, cross)
        sums = np.where(flip[:, None], -sums, sums)
    keep = count > 0
    key = low[keep].astype(np.int64) * len(universe) + high[keep]
    table = np.column_stack(
        [count, score, sums, cross, products] + ([] if tied is None else [tied])
    )[keep]
    pairs, summed = _sum_per_pair(key, table, len(universe) ** 2)
    split = np.cumsum([1, 1, k, k, k * (k + 1) // 2])
    parts = np.split(summed, split, axis=1)
    return StyleMoments(
        models=universe,
        model_a=_frozen_index(pairs // len(universe)),
        model_b=_frozen_index(pairs % len(universe)),
        n=_frozen(np.ascontiguousarray(parts[0][:, 0])),
        sy=_frozen(np.ascontiguousarray(parts[1][:, 0])),
        sd=_frozen(np.ascontiguousarray(parts[2])),
        syd=_frozen(np.ascontiguousarray(parts[3])),
        sdd=_frozen(np.ascontiguousarray(parts[4])),
        ties=None if tied is None else _frozen(np.ascontiguousarray(parts[5][:, 0])),
        feature_names=names,
    )


def _sum_per_pair(
    key: NDArray[np.int64], table: NDArray[np.float64], key_space: int
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """(sorted distinct keys, column sums per key): ``bincount`` column by column, over
    the dense key space when it is small (no sort), else over ``np.unique``'s labels."""
    if key_space <= 4 * key.size + 1_000_000:
        present = np.flatnonzero(np.bincount(key, minlength=key_space)).astype(np.int64)
        index, size = key, key_space
    else:
        present, inverse = np.unique(key, return_inverse=True)
        index, size = inverse.astype(np.int64), present.size
    summed = np.empty((present.size, table.shape[1]))
    for column in range(table.shape[1]):
        full = np.bincount(index, table[:, column], size)
        summed[:, column] = full[present] if size == key_space else full
    return present, summed


def _frozen_index(values: NDArray[np.int64]) -> NDArray[np.intp]:
    array = values.astype(np.intp)
    array.setflags(write=False)
    return array


def _check_cells(
    a: NDArray[np.intp],
    b: NDArray[np.intp],
    n: NDArray[np.float64],
    sy: NDArray[np.float64],
    sd: NDArray[np.float64],
    syd: NDArray[np.float64],
    sdd: NDArray[np.float64],
    ties: NDArray[np.float64] | None,
    models: tuple[str, ...],
    k: int,
) -> None:
    """Moments that no set of battles could have produced are an error naming the row."""
    slack = 1e-9 * np.maximum(n, 1.0)

    def fail(mask: NDArray[np.bool_], message: str) -> None:
        bad = np.flatnonzero(mask)
        if bad.size:
            raise ValueError(f"row {bad[0]}: {message}")

    same = a == b
    if same.any():
        row = int(np.flatnonzero(same)[0])
        fail(same, f"model_a and model_b are the same model {models[a[row]]!r}")
    fail(n < 0, "field 'n': must be >= 0")
    fail((sy < -slack) | (sy > n + slack), "field 'sy': must lie in [0, n]")
    if ties is not None:
        fail((ties < 0) | (ties > n + slack), "field 'ties': must lie in [0, n]")
    diagonal = [column for column, (f, g) in enumerate(product_pairs(k)) if f == g]
    squares = sdd[:, diagonal]
    fail(np.any(squares < -slack[:, None], axis=1), "field 'sdd': a sum of squares is negative")
    # Cauchy-Schwarz: (sum d)^2 <= n sum d^2, and a cell with no battles has no sums
    excess = sd**2 - n[:, None] * squares
    fail(
        np.any(excess > 1e-9 * (sd**2 + n[:, None] * squares) + 1e-12, axis=1),
        "field 'sd': (sum d)^2 exceeds n * sum d^2",
    )
    empty = (n == 0) & (
        np.any(sd != 0, axis=1) | np.any(syd != 0, axis=1) | np.any(sdd != 0, axis=1) | (sy != 0)
    )
    fail(empty, "a cell with n == 0 has non-zero sums")


def style_moments_from_columns(
    model_a: ArrayLike | Sequence[str],
    model_b: ArrayLike | Sequence[str],
    columns: Mapping[str, ArrayLike],
    *,
    count: str = "styled",
    ties: ArrayLike | None = None,
    models: Sequence[str] | None = None,
    feature_names: Sequence[str] = FEATURES,
) -> StyleMoments:
    """``style_moments`` from columns named as the app's cells name them.

    Reads ``columns[count]`` (default ``styled``), ``sy``, ``sd_<f>``, ``syd_<f>`` and
    ``sdd_<f>_<g>`` for ``f <= g`` in feature order (arena.evidence.SUMS).
    """
    names = tuple(feature_names)

    def read(field: str) -> ArrayLike:
        if field not in columns:
            raise ValueError(f"columns: missing {field!r}")
        return columns[field]

    def stack(fields: list[str]) -> NDArray[np.float64]:
        return np.column_stack([np.asarray(read(f), dtype=np.float64) for f in fields])

    pairs = product_pairs(len(names))
    return style_moments(
        model_a,
        model_b,
        read(count),
        read("sy"),
        stack([f"sd_{f}" for f in names]),
        stack([f"syd_{f}" for f in names]),
        stack([f"sdd_{names[f]}_{names[g]}" for f, g in pairs]),
        ties=ties,
        models=models,
        feature_names=names,
    )


def moments_from_battles(
    battles: Battles,
    features_a: Sequence[Mapping[str, float]] | ArrayLike,
    features_b: Sequence[Mapping[str, float]] | ArrayLike,
    *,
    feature_names: Sequence[str] = FEATURES,
) -> StyleMoments:
    """The moments the app would have kept for these battles (weights multiply).

    ``features_a``/``features_b`` are each battle's answer features, as for
    ``ratings.style.style_features``; differences are normalised, ``(a - b) / (a + b)``.
    """
    names = tuple(feature_names)
    fa = _feature_matrix(features_a, names, "features_a")
    fb = _feature_matrix(features_b, names, "features_b")
    if fa.shape[0] != len(battles) or fb.shape[0] != len(battles):
        raise ValueError(
            f"features: expected {len(battles)} rows, got {fa.shape[0]}, {fb.shape[0]}"
        )
    total = fa + fb
    d = np.divide(fa - fb, total, out=np.zeros_like(total), where=total > 0)
    w = battles.weight
    y = battles.score_a
    tie = (y == 0.5).astype(np.float64)
    pairs = product_pairs(len(names))
    return style_moments(
        battles.model_a,
        battles.model_b,
        w,
        w * y,
        w[:, None] * d,
        (w * y)[:, None] * d,
        np.column_stack([w * d[:, f] * d[:, g] for f, g in pairs]),
        ties=w * tie,
        models=battles.models,
        feature_names=names,
    )


# --------------------------------------------------------------------------- the model


@dataclass(frozen=True, eq=False)
class _Problem:
    """Per-pair quantities of the objective, on the standardised (active) features."""

    n_models: int
    a: NDArray[np.intp]
    b: NDArray[np.intp]
    n: NDArray[np.float64]
    y: NDArray[np.float64]  # sy
    y2: NDArray[np.float64]  # sum y^2
    zbar: NDArray[np.float64]  # (pairs, k)
    w: NDArray[np.float64]  # (pairs, k, k)
    c: NDArray[np.float64]  # (pairs, k)
    prior: float
    beta_prior: float
    approximation: Approximation


def _standardise(moments: StyleMoments) -> tuple[NDArray[np.float64], NDArray[np.intp]]:
    """(scale, active features): the RMS of d over every battle seen from both sides."""
    k = len(moments.feature_names)
    total = float(moments.n.sum())
    if total <= 0:
        return np.zeros(k), np.zeros(0, dtype=np.intp)
    diagonal = [column for column, (f, g) in enumerate(product_pairs(k)) if f == g]
    square = moments.sdd[:, diagonal].sum(axis=0) / total
    varies = square > _CONSTANT
    std = np.sqrt(np.where(varies, square, 0.0))
    return std, np.flatnonzero(varies).astype(np.intp)


def _problem(
    moments: StyleMoments,
    std: NDArray[np.float64],
    active: NDArray[np.intp],
    prior: float,
    beta_prior: float,
    approximation: Approximation,
) -> _Problem:
    n = moments.n
    sd, syd = moments.sd[:, active], moments.syd[:, active]
    sigma = std[active]
    products = moments.products()[:, active][:, :, active]
    centred = products - sd[:, :, None] * sd[:, None, :] / n[:, None, None]
    w = centred / (sigma[:, None] * sigma[None, :])
    w = 0.5 * (w + np.transpose(w, (0, 2, 1)))
    zbar = sd / n[:, None] / sigma
    c = (syd - moments.sy[:, None] * sd / n[:, None]) / sigma
    y2 = moments.sy if moments.ties is None else moments.sy - 0.25 * moments.ties
    # the scores' squares lie between (sum y)^2 / n and sum y whatever the tie count
    y2 = np.clip(y2, moments.sy**2 / n, moments.sy)
    return _Problem(
        n_models=moments.n_models,
        a=moments.model_a,
        b=moments.model_b,
        n=n,
        y=moments.sy,
        y2=y2,
        zbar=np.ascontiguousarray(zbar),
        w=np.ascontiguousarray(w),
        c=np.ascontiguousarray(c),
        prior=prior,
        beta_prior=beta_prior,
        approximation=approximation,
    )


@dataclass(frozen=True, eq=False)
class _Terms:
    """The cell objective F(m, q) and its derivatives at the current parameters."""

    m: NDArray[np.float64]  # etabar
    wb: NDArray[np.float64]  # W beta, (pairs, k)
    q: NDArray[np.float64]  # beta^T W beta
    f: NDArray[np.float64]
    fm: NDArray[np.float64]
    fq: NDArray[np.float64]
    fmm: NDArray[np.float64]
    fmq: NDArray[np.float64]
    fqq: NDArray[np.float64]
    p2: NDArray[np.float64]  # n E[p^2], for the sandwich


def _softplus_expit(
    eta: NDArray[np.float64],
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """log(1 + e^eta), sigmoid(eta) and its derivative from one overflow-free exp."""
    e = np.exp(-np.abs(eta))
    softplus = np.maximum(eta, 0.0) + np.log1p(e)
    r = 1.0 / (1.0 + e)
    return softplus, np.where(eta >= 0, r, e * r), e * r * r


def _terms(problem: _Problem, params: NDArray[np.float64]) -> _Terms:
    n_models = problem.n_models
    theta, beta = params[:n_models], params[n_models:]
    m = theta[problem.a] - theta[problem.b]
    if beta.size:
        m = m + problem.zbar @ beta
        wb = np.einsum("pkl,l->pk", problem.w, beta)
        q = np.maximum(np.einsum("pk,k->p", wb, beta), 0.0)
    else:
        wb = np.zeros((m.size, 0))
        q = np.zeros(m.size)
    n = problem.n
    if problem.approximation == "gaussian":
        eta = m[:, None] + np.sqrt(q / n)[:, None] * _NODES[None, :]
        softplus, p, v = _softplus_expit(eta)
        f = n * (softplus @ _WEIGHTS)
        fm = n * (p @ _WEIGHTS)
        fq = 0.5 * (v @ _WEIGHTS)
        fmm = n * (v @ _WEIGHTS)
        fmq = 0.5 * ((v * (1.0 - 2.0 * p)) @ _WEIGHTS)
        fqq = 0.25 * ((v * (1.0 - 6.0 * v)) @ _WEIGHTS) / n
        p2 = n * ((p * p) @ _WEIGHTS)
    else:
        softplus, p, v = _softplus_expit(m)
        a3, a4 = v * (1.0 - 2.0 * p), v * (1.0 - 6.0 * v)
        f = n * softplus + 0.5 * v * q
        fm = n * p + 0.5 * a3 * q
        fq = 0.5 * v
        fmm = n * v + 0.5 * a4 * q
        fmq = 0.5 * a3
        fqq = np.zeros_like(m)
        p2 = n * p * p + v * v * q
    return _Terms(m, wb, q, f, fm, fq, fmm, fmq, fqq, p2)


def _loss(problem: _Problem, params: NDArray[np.float64], penalised: bool = True) -> float:
    """Approximate negative log-likelihood (plus the penalty)."""
    n_models = problem.n_models
    theta, beta = params[:n_models], params[n_models:]
    m = theta[problem.a] - theta[problem.b]
    linear = 0.0
    q = np.zeros(m.size)
    if beta.size:
        m = m + problem.zbar @ beta
        q = np.maximum(np.einsum("pkl,k,l->p", problem.w, beta, beta), 0.0)
        linear = float(np.sum(problem.c @ beta))
    n = problem.n
    if problem.approximation == "gaussian":
        eta = m[:, None] + np.sqrt(q / n)[:, None] * _NODES[None, :]
        f = n * ((np.maximum(eta, 0.0) + np.log1p(np.exp(-np.abs(eta)))) @ _WEIGHTS)
    else:
        softplus, _, v = _softplus_expit(m)
        f = n * softplus + 0.5 * v * q
    value = float(np.sum(f - problem.y * m)) - linear
    if penalised:
        value += problem.prior * float(theta @ theta) + problem.beta_prior * float(beta @ beta)
    return value


def _pair_matrix(
    problem: _Problem,
    weight: NDArray[np.float64],
    zbar_weight: NDArray[np.float64],
    beta_block: NDArray[np.float64],
) -> NDArray[np.float64]:
    """Sum over pairs of ``weight g g^T`` plus extra theta-beta and beta-beta parts.

    ``g = (e_a - e_b, ...)``: the theta-theta block is BT's; ``zbar_weight`` (pairs, k) is
    what pair p adds to row theta_a (and minus to theta_b) in the theta-beta block.
    """
    n, k = problem.n_models, problem.zbar.shape[1]
    a, b = problem.a, problem.b
    matrix = np.zeros((n + k, n + k))
    pair = np.bincount(a * n + b, weight, n * n).reshape(n, n)
    matrix[:n, :n] = -(pair + pair.T)
    matrix[np.diag_indices(n)] += pair.sum(axis=0) + pair.sum(axis=1)
    if k:
        cross = np.stack(
            [np.bincount(a, col, n) - np.bincount(b, col, n) for col in zbar_weight.T], axis=1
        )
        matrix[:n, n:] = cross
        matrix[n:, :n] = cross.T
        matrix[n:, n:] = beta_block
    return matrix


def _gradient_hessian(
    problem: _Problem, params: NDArray[np.float64], penalised: bool = True
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    n, k = problem.n_models, problem.zbar.shape[1]
    theta, beta = params[:n], params[n:]
    t = _terms(problem, params)
    zbar, w = problem.zbar, problem.w
    residual = t.fm - problem.y
    grad = np.empty(n + k)
    grad[:n] = np.bincount(problem.a, residual, n) - np.bincount(problem.b, residual, n)
    u = 2.0 * t.wb  # d q / d beta
    grad[n:] = residual @ zbar + (t.fq[:, None] * u).sum(axis=0) - problem.c.sum(axis=0)
    # g g^T fmm + fmq (g h^T + h g^T) + fqq h h^T + fq d2q, with h = (0, u), d2q = 0 (+) 2W
    zb = t.fmm[:, None] * zbar + t.fmq[:, None] * u
    beta_block = (
        zbar.T @ (t.fmm[:, None] * zbar)
        + zbar.T @ (t.fmq[:, None] * u)
        + u.T @ (t.fmq[:, None] * zbar)
        + u.T @ (t.fqq[:, None] * u)
        + 2.0 * np.einsum("p,pkl->kl", t.fq, w)
    )
    hess = _pair_matrix(problem, t.fmm, zb, beta_block)
    if penalised:
        grad[:n] += 2.0 * problem.prior * theta
        grad[n:] += 2.0 * problem.beta_prior * beta
        hess[np.diag_indices(n + k)] += np.r_[
            np.full(n, 2.0 * problem.prior), np.full(k, 2.0 * problem.beta_prior)
        ]
    return grad, hess


def _meat(problem: _Problem, params: NDArray[np.float64]) -> NDArray[np.float64]:
    """``sum_i (y_i - p_i)^2 x_i x_i^T`` from the moments (see module docstring)."""
    n = problem.n_models
    t = _terms(problem, params)
    beta = params[n:]
    # sum (y - p_i)^2 = sum y^2 - 2 sum y_i p_i + sum p_i^2,
    # with p_i - pbar ~ E[A''] beta . (z_i - zbar)
    spread = 2.0 * t.fq * (problem.c @ beta) if beta.size else 0.0
    squares = problem.y2 - 2.0 * (problem.y * t.fm / problem.n + spread) + t.p2
    per_battle = np.maximum(squares, 0.0) / problem.n
    zbar = problem.zbar
    beta_block = zbar.T @ (squares.clip(0.0)[:, None] * zbar) + np.einsum(
        "p,pkl->kl", per_battle, problem.w
    )
    return _pair_matrix(problem, squares.clip(0.0), squares.clip(0.0)[:, None] * zbar, beta_block)


def _solve_newton(
    problem: _Problem, start: NDArray[np.float64], tol: float, max_iter: int
) -> tuple[NDArray[np.float64], int, bool]:
    n = problem.n_models

    def gradient_hessian(x: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        grad, hess = _gradient_hessian(problem, x)
        if problem.prior == 0:
            hess[:n, :n] += 1.0
        if problem.approximation == "taylor":
            try:  # the Taylor objective need not be convex: fall back to its convex part
                scipy.linalg.cho_factor(hess)
            except (np.linalg.LinAlgError, scipy.linalg.LinAlgError):
                hess = _convex_part(problem, x)
        return grad, hess

    params = start.copy()
    if problem.prior == 0:
        params[:n] -= params[:n].mean()
    return damped_newton(lambda x: _loss(problem, x), gradient_hessian, params, tol, max_iter)


def _convex_part(problem: _Problem, params: NDArray[np.float64]) -> NDArray[np.float64]:
    """A positive definite stand-in Hessian: n A''(m) g g^T + A''(m) W, plus the penalty."""
    n, k = problem.n_models, problem.zbar.shape[1]
    t = _terms(problem, params)
    v = t.fq * 2.0
    zbar = problem.zbar
    beta_block = zbar.T @ ((problem.n * v)[:, None] * zbar) + np.einsum("p,pkl->kl", v, problem.w)
    hess = _pair_matrix(problem, problem.n * v, (problem.n * v)[:, None] * zbar, beta_block)
    hess[np.diag_indices(n + k)] += np.r_[
        np.full(n, 2.0 * problem.prior), np.full(k, 2.0 * problem.beta_prior)
    ]
    if problem.prior == 0:
        hess[:n, :n] += 1.0
    hess[np.diag_indices(n + k)] += 1e-12
    return hess


# --------------------------------------------------------------------------- the result


@dataclass(frozen=True, eq=False)
class StyleMomentsResult:
    """Style-controlled BT fitted from moments: ratings, coefficients and intervals.

    ``ratings``/``log_strengths``/``coefficients`` mean what they mean in
    ``ratings.style.StyleControlResult``. ``ci_low``/``ci_high`` are normal intervals of
    the ratings at ``level``, ``coefficient_low``/``coefficient_high`` of the betas.
    ``covariance`` is of ``(log_strengths, coefficients)`` in natural units (inactive
    features: zero rows). ``feature_std`` is the scale ``s`` of each feature (the RMS of
    ``d``; 0: never varied, ``beta`` 0). ``within_spread`` is the RMS spread of
    ``beta . z`` inside pairs over all battles, the quantity the approximation expands
    in: its error grows with it.
    """

    models: tuple[str, ...]
    ratings: NDArray[np.float64]
    log_strengths: NDArray[np.float64]
    ci_low: NDArray[np.float64]
    ci_high: NDArray[np.float64]
    feature_names: tuple[str, ...]
    coefficients: NDArray[np.float64]
    coefficient_low: NDArray[np.float64]
    coefficient_high: NDArray[np.float64]
    covariance: NDArray[np.float64]
    feature_std: NDArray[np.float64]
    matches: NDArray[np.int64]
    n_pairs: int
    n_battles: float
    log_likelihood: float
    within_spread: float
    n_iterations: int
    converged: bool
    scale: float
    base: float
    init_rating: float
    anchor: tuple[str, float] | None
    prior: float
    beta_prior: float
    level: float
    approximation: str
    covariance_kind: str
    tol: float
    max_iter: int
    method: str = "style_moments_bradley_terry"

    def as_dict(self) -> dict[str, float]:
        return dict(zip(self.models, self.ratings.tolist(), strict=True))

    def coefficients_dict(self) -> dict[str, float]:
        return dict(zip(self.feature_names, self.coefficients.tolist(), strict=True))

    def params(self) -> dict[str, object]:
        return {
            "features": list(self.feature_names),
            "scale": self.scale,
            "base": self.base,
            "init_rating": self.init_rating,
            "anchor": None if self.anchor is None else {self.anchor[0]: self.anchor[1]},
            "prior": self.prior,
            "beta_prior": self.beta_prior,
            "level": self.level,
            "approximation": self.approximation,
            "covariance": self.covariance_kind,
            "tol": self.tol,
            "max_iter": self.max_iter,
        }

    def interval(self) -> IntervalResult:
        """The rating intervals as ``ratings.bootstrap.IntervalResult`` (ranks included)."""
        return IntervalResult(
            self.models, self.ratings, self.ci_low, self.ci_high, self.level, self.method
        )

    def difference(self, model_a: str, model_b: str) -> tuple[float, float, float]:
        """Rating of ``model_a`` minus ``model_b`` (Elo points) and its interval at ``level``."""
        i, j = self.models.index(model_a), self.models.index(model_b)
        unit = self.scale / math.log(self.base)
        c = self.covariance
        spread = unit * math.sqrt(max(c[i, i] + c[j, j] - 2.0 * c[i, j], 0.0))
        z = float(NormalDist().inv_cdf(0.5 + self.level / 2))
        gap = float(self.ratings[i] - self.ratings[j])
        return gap, gap - z * spread, gap + z * spread


def fit_style_moments(
    moments: StyleMoments,
    *,
    prior: float = 0.1,
    beta_prior: float = 0.1,
    level: float = 0.95,
    approximation: Approximation = "gaussian",
    covariance: Covariance = "sandwich",
    scale: float = 400.0,
    base: float = 10.0,
    init_rating: float = 1000.0,
    anchor: tuple[str, float] | None = None,
    tol: float = 1e-10,
    max_iter: int = 100,
) -> StyleMomentsResult:
    """Style-controlled Bradley-Terry from per-pair moments (see the module docstring).

    ``prior``/``beta_prior`` are the ridge penalties of ``fit_style_controlled_bt``
    (``prior * sum(theta**2) + beta_prior * sum(beta**2)``); the defaults keep every fit
    finite (a model that never lost, a pair whose winner always won). With ``prior == 0``
    a ``NoMLEError`` says which models make the plain BT MLE infinite; ``beta_prior = 0``
    is allowed, but as in the exact fit a style that separates outcomes then has no
    finite optimum (Newton stops at ``max_iter`` with ``converged=False``).
    """
    if scale <= 0 or base <= 1:
        raise ValueError("need scale > 0 and base > 1")
    for name, value in (("prior", prior), ("beta_prior", beta_prior)):
        if value < 0 or not math.isfinite(value):
            raise ValueError(f"{name} must be a finite number >= 0")
    if not 0 < level < 1:
        raise ValueError("level must be in (0, 1)")
    if approximation not in ("gaussian", "taylor"):
        raise ValueError(f"approximation: unknown value {approximation!r}")
    if covariance not in ("sandwich", "model"):
        raise ValueError(f"covariance: unknown value {covariance!r}")
    if anchor is not None and anchor[0] not in moments.models:
        raise ValueError(f"anchor: unknown model {anchor[0]!r}")
    if np.any(moments.n <= 0):
        raise ValueError("moments: every pair needs n > 0 (build them with style_moments)")
    n_models, k_all = moments.n_models, len(moments.feature_names)
    if prior == 0:
        table = PairTable(
            n_models, moments.model_a, moments.model_b, moments.sy, moments.n - moments.sy
        )
        check_mle_exists(table, moments.models)
    std, active = _standardise(moments)
    problem = _problem(moments, std, active, prior, beta_prior, approximation)
    start = np.zeros(n_models + active.size)
    params, iterations, converged = _solve_newton(problem, start, tol, max_iter)
    if prior == 0:
        params[:n_models] -= params[:n_models].mean()
    cov_active = _covariance(problem, params, covariance)
    index = np.r_[np.arange(n_models), n_models + active]
    cov = np.zeros((n_models + k_all, n_models + k_all))
    cov[np.ix_(index, index)] = cov_active
    theta = params[:n_models]
    coefficients = np.zeros(k_all)
    coefficients[active] = params[n_models:]
    unit = scale / math.log(base)
    if anchor is None:
        variance = np.diag(cov)[:n_models]
    else:
        j = moments.models.index(anchor[0])
        variance = np.diag(cov)[:n_models] + cov[j, j] - 2.0 * cov[:n_models, j]
    z = float(NormalDist().inv_cdf(0.5 + level / 2))
    ratings = strengths_to_ratings(
        theta, moments.models, scale=scale, base=base, init_rating=init_rating, anchor=anchor
    )
    spread = z * unit * np.sqrt(np.maximum(variance, 0.0))
    beta_spread = z * np.sqrt(np.maximum(np.diag(cov)[n_models:], 0.0))
    total = float(moments.n.sum())
    terms = _terms(problem, params)
    within = math.sqrt(float(terms.q.sum()) / total) if total > 0 else 0.0
    theta = _frozen(theta.copy())
    for array in (ratings, coefficients, cov, std):
        array.setflags(write=False)
    matches = moments.matches_per_model()
    matches.setflags(write=False)
    return StyleMomentsResult(
        models=moments.models,
        ratings=ratings,
        log_strengths=theta,
        ci_low=_frozen(ratings - spread),
        ci_high=_frozen(ratings + spread),
        feature_names=moments.feature_names,
        coefficients=coefficients,
        coefficient_low=_frozen(coefficients - beta_spread),
        coefficient_high=_frozen(coefficients + beta_spread),
        covariance=cov,
        feature_std=std,
        matches=matches,
        n_pairs=len(moments),
        n_battles=total,
        log_likelihood=-_loss(problem, params, penalised=False),
        within_spread=within,
        n_iterations=iterations,
        converged=converged,
        scale=scale,
        base=base,
        init_rating=init_rating,
        anchor=anchor,
        prior=prior,
        beta_prior=beta_prior,
        level=level,
        approximation=approximation,
        covariance_kind=covariance,
        tol=tol,
        max_iter=max_iter,
    )


def _covariance(
    problem: _Problem, params: NDArray[np.float64], kind: Covariance
) -> NDArray[np.float64]:
    """``B J B`` with ``B`` the inverse penalised Hessian (gauge-fixed when prior == 0)."""
    n = problem.n_models
    _, hess = _gradient_hessian(problem, params)
    if problem.prior == 0:
        hess[:n, :n] += 1.0
    try:
        bread = scipy.linalg.inv(hess)
    except (np.linalg.LinAlgError, scipy.linalg.LinAlgError):
        bread = np.linalg.pinv(hess, hermitian=True)
    if kind == "sandwich":
        meat = _meat(problem, params)
    else:
        meat = _gradient_hessian(problem, params, penalised=False)[1]
    cov = bread @ meat @ bread
    return np.asarray(0.5 * (cov + cov.T), dtype=np.float64)

"""Bradley-Terry maximum likelihood with ties counted as half a win.

Model: P(i beats j) = sigmoid(theta_i - theta_j). A tie adds half a win to each side,
the convention of FastChat ``compute_bt``, arena-hard-auto ``compute_mle_elo``, evalica
(``tie_weight=0.5``) and choix fed with each tie duplicated as one win each way; with it
the four agree on the MLE. Ratings are reported on the Elo scale
``init_rating + scale * theta / ln(base)`` (FastChat: 1000 + 400 * log10-strength) with
theta centred to mean 0, or shifted so an anchor model has a fixed rating.

Only the pair totals matter for the likelihood, so the fit works on one row per unordered
pair (score of i against j, score of j against i) built from aggregated cells: 2M
battles between 200 models become at most 19,900 rows. The default solver is Newton's
method on the dense n x n Hessian with a backtracking line search; it converges in a
handful of steps to machine precision, which is what lets the results match other
libraries to 1e-6 Elo points. Above ``DENSE_LIMIT`` models L-BFGS on the same objective
is used instead.

The MLE does not exist when the directed "has beaten" graph is not strongly connected
(e.g. a model never wins, Ford 1957; Hunter 2004): some strengths run off to infinity.
By default that is a ``NoMLEError`` naming the models at fault; ``prior > 0`` adds the
Gaussian penalty ``prior * sum(theta**2)`` (choix's ``alpha``) and always has a finite
answer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import scipy.linalg  # type: ignore[import-untyped]
import scipy.optimize  # type: ignore[import-untyped]
import scipy.sparse  # type: ignore[import-untyped]
import scipy.sparse.csgraph  # type: ignore[import-untyped]
import scipy.special  # type: ignore[import-untyped]
from numpy.typing import NDArray

from ratings.data import Battles, Cells, aggregate
from ratings.newton import damped_newton

__all__ = [
    "DENSE_LIMIT",
    "BradleyTerryResult",
    "NoMLEError",
    "PairTable",
    "check_mle_exists",
    "fit_bradley_terry",
    "fit_strengths",
    "pair_table",
    "strengths_to_ratings",
]

#: Above this many models the dense Newton solver gives way to L-BFGS.
DENSE_LIMIT = 1500

Solver = Literal["auto", "newton", "lbfgs"]


class NoMLEError(ValueError):
    """The Bradley-Terry MLE does not exist for this data (see module docstring)."""


@dataclass(frozen=True, eq=False)
class PairTable:
    """Sufficient statistics of BT: per unordered pair (i < j) the score of each side.

    ``score_i`` = wins of i over j + half the ties, ``score_j`` likewise.
    """

    n_models: int
    i: NDArray[np.intp]
    j: NDArray[np.intp]
    score_i: NDArray[np.float64]
    score_j: NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class BradleyTerryResult:
    """A fitted BT model: Elo-scale ratings, natural log-strengths, and how they were got."""

    models: tuple[str, ...]
    ratings: NDArray[np.float64]
    log_strengths: NDArray[np.float64]
    matches: NDArray[np.int64]
    log_likelihood: float
    n_iterations: int
    converged: bool
    scale: float
    base: float
    init_rating: float
    anchor: tuple[str, float] | None
    prior: float
    tol: float
    solver: str
    method: str = "bradley_terry"

    def as_dict(self) -> dict[str, float]:
        return dict(zip(self.models, self.ratings.tolist(), strict=True))

    def params(self) -> dict[str, object]:
        return {
            "scale": self.scale,
            "base": self.base,
            "init_rating": self.init_rating,
            "anchor": None if self.anchor is None else {self.anchor[0]: self.anchor[1]},
            "prior": self.prior,
            "tol": self.tol,
            "solver": self.solver,
        }

    def win_probability(self, model_a: str, model_b: str) -> float:
        """P(model_a beats model_b) under the fitted model (ties as half wins)."""
        index = {name: k for k, name in enumerate(self.models)}
        diff = self.log_strengths[index[model_a]] - self.log_strengths[index[model_b]]
        return float(1.0 / (1.0 + math.exp(-diff)))


# --------------------------------------------------------------------------- statistics


def weighted_bincount(
    index: NDArray[np.intp], weights: NDArray[np.float64], length: int
) -> NDArray[np.float64]:
    """``np.bincount`` with weights, typed as the float array it returns."""
    return np.asarray(np.bincount(index, weights=weights, minlength=length), dtype=np.float64)


def pair_table(cells: Cells) -> PairTable:
    """Fold ordered cells into one row per unordered pair with each side's score."""
    n = cells.n_models
    low = np.minimum(cells.model_a, cells.model_b)
    high = np.maximum(cells.model_a, cells.model_b)
    score_a = cells.score_a * cells.count
    score_b = (1.0 - cells.score_a) * cells.count
    a_is_low = cells.model_a == low
    key = low.astype(np.int64) * n + high
    pairs, inverse = np.unique(key, return_inverse=True)
    score_low = weighted_bincount(inverse, np.where(a_is_low, score_a, score_b), pairs.size)
    score_high = weighted_bincount(inverse, np.where(a_is_low, score_b, score_a), pairs.size)
    keep = (score_low + score_high) > 0
    return PairTable(
        n_models=n,
        i=(pairs[keep] // n).astype(np.intp),
        j=(pairs[keep] % n).astype(np.intp),
        score_i=score_low[keep],
        score_j=score_high[keep],
    )


def _strong_components(table: PairTable) -> NDArray[np.int32]:
    """Component labels of the directed graph with an edge i -> j when i scored against j."""
    src = np.concatenate([table.i[table.score_i > 0], table.j[table.score_j > 0]])
    dst = np.concatenate([table.j[table.score_i > 0], table.i[table.score_j > 0]])
    graph = scipy.sparse.csr_matrix(
        (np.ones(src.size), (src, dst)), shape=(table.n_models, table.n_models)
    )
    _, labels = scipy.sparse.csgraph.connected_components(graph, directed=True, connection="strong")
    return np.asarray(labels, dtype=np.int32)


def mle_exists(table: PairTable) -> bool:
    """Whether the unpenalised MLE is finite (the "has beaten" graph is strongly connected)."""
    if table.n_models < 2:
        return table.n_models == 1
    return bool(np.all(_strong_components(table) == 0))


def check_mle_exists(table: PairTable, models: tuple[str, ...]) -> None:
    """Raise ``NoMLEError`` explaining which models make the MLE infinite."""
    if mle_exists(table):
        return
    n = table.n_models
    played = np.bincount(table.i, minlength=n) + np.bincount(table.j, minlength=n)
    scored = np.bincount(table.i, table.score_i, n) + np.bincount(table.j, table.score_j, n)
    conceded = np.bincount(table.i, table.score_j, n) + np.bincount(table.j, table.score_i, n)
    reasons = []
    for label, mask in (
        ("no battles", played == 0),
        ("never won", (played > 0) & (scored == 0)),
        ("never lost", (played > 0) & (conceded == 0)),
    ):
        if mask.any():
            reasons.append(f"{label}: {[models[k] for k in np.flatnonzero(mask)]}")
    if not reasons:
        n_groups = int(_strong_components(table).max()) + 1
        reasons.append(f"the models split into {n_groups} groups that never beat each other")
    raise NoMLEError(
        "Bradley-Terry MLE does not exist (comparison graph not strongly connected; "
        + "; ".join(reasons)
        + "). Pass prior > 0 (e.g. prior=0.01) for a regularised estimate."
    )


# --------------------------------------------------------------------------- objective


def _neg_log_likelihood(theta: NDArray[np.float64], table: PairTable, prior: float) -> float:
    diff = theta[table.i] - theta[table.j]
    # -log sigmoid(d) = logaddexp(0, -d) and -log sigmoid(-d) = logaddexp(0, -d) + d, so one
    # logaddexp serves both sides. Sums of products rather than ``@``: a threaded BLAS dot
    # costs more than it saves on vectors this size (benchmarks/README.md, "Ratings speed").
    games = table.score_i + table.score_j
    nll = np.sum(games * np.logaddexp(0.0, -diff) + table.score_j * diff)
    return float(nll + prior * np.sum(theta * theta))


def _win_probability(theta: NDArray[np.float64], table: PairTable) -> NDArray[np.float64]:
    diff = theta[table.i] - theta[table.j]
    # expit is overflow-free and twice as fast as the 0.5 * (1 + tanh(d / 2)) form; the
    # bootstrap evaluates it a few times per round
    return np.asarray(scipy.special.expit(diff), dtype=np.float64)


def _gradient(
    theta: NDArray[np.float64], table: PairTable, prior: float, p: NDArray[np.float64] | None = None
) -> NDArray[np.float64]:
    p = _win_probability(theta, table) if p is None else p
    residual = table.score_i - (table.score_i + table.score_j) * p
    n = table.n_models
    grad = weighted_bincount(table.j, residual, n) - weighted_bincount(table.i, residual, n)
    return grad + 2.0 * prior * theta


def _hessian(
    theta: NDArray[np.float64], table: PairTable, prior: float, p: NDArray[np.float64] | None = None
) -> NDArray[np.float64]:
    n = table.n_models
    p = _win_probability(theta, table) if p is None else p
    h = (table.score_i + table.score_j) * p * (1.0 - p)
    hess = np.zeros((n, n))
    hess[table.i, table.j] = -h
    hess[table.j, table.i] = -h
    diagonal = weighted_bincount(table.i, h, n) + weighted_bincount(table.j, h, n) + 2 * prior
    hess[np.diag_indices(n)] = diagonal
    return hess


def _newton(
    table: PairTable, prior: float, start: NDArray[np.float64], tol: float, max_iter: int
) -> tuple[NDArray[np.float64], int, bool]:
    """Damped Newton. Without a prior the Hessian is singular along the all-ones
    direction (ratings are only defined up to a shift); adding ``1 1^T`` fixes the gauge:
    the step then sums to zero and theta keeps mean 0."""
    theta = start - start.mean() if prior == 0 else start.copy()
    gauge = np.ones((table.n_models, table.n_models)) if prior == 0 else 0.0

    def gradient_hessian(x: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        p = _win_probability(x, table)
        return _gradient(x, table, prior, p), _hessian(x, table, prior, p) + gauge

    return damped_newton(
        lambda x: _neg_log_likelihood(x, table, prior), gradient_hessian, theta, tol, max_iter
    )


def chord_fit(
    table: PairTable,
    prior: float,
    start: NDArray[np.float64],
    factor: tuple[NDArray[np.float64], bool],
    tol: float,
    max_iter: int = 25,
) -> tuple[NDArray[np.float64], bool]:
    """Newton steps with a fixed, pre-factored Hessian (the "chord" method).

    For bootstrap resamples of large data the Hessian barely moves from the point
    estimate's, so reusing its Cholesky factor costs one gradient per step and still
    converges in a few steps. Returns ``converged=False`` (caller falls back to full
    Newton) if the steps stop shrinking, which happens on small, lumpy data.
    """
    theta = start.copy()
    previous = np.inf
    for _ in range(max_iter):
        step = scipy.linalg.cho_solve(factor, -_gradient(theta, table, prior))
        size = float(np.max(np.abs(step)))
        if not size < previous:  # also catches NaN
            return theta, False
        theta = theta + step
        if prior == 0:
            theta -= theta.mean()
        if size < tol:
            return theta, True
        previous = size
    return theta, False


def hessian_factor(
    theta: NDArray[np.float64], table: PairTable, prior: float
) -> tuple[NDArray[np.float64], bool]:
    """Cholesky factor of the (gauge-fixed) Hessian at theta, for ``chord_fit``."""
    hess = _hessian(theta, table, prior)
    if prior == 0:
        hess += 1.0
    factor: tuple[NDArray[np.float64], bool] = scipy.linalg.cho_factor(hess)
    return factor


def _lbfgs(
    table: PairTable, prior: float, start: NDArray[np.float64], tol: float, max_iter: int
) -> tuple[NDArray[np.float64], int, bool]:
    """L-BFGS for very many models, where an n x n Hessian would not fit."""

    def fun(theta: NDArray[np.float64]) -> tuple[float, NDArray[np.float64]]:
        return _neg_log_likelihood(theta, table, prior), _gradient(theta, table, prior)

    result = scipy.optimize.minimize(
        fun,
        start,
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": max(max_iter, 1000), "gtol": tol, "ftol": 0.0},
    )
    theta = np.asarray(result.x, dtype=np.float64)
    if prior == 0:
        theta = theta - theta.mean()
    return theta, int(result.nit), bool(np.max(np.abs(_gradient(theta, table, prior))) < 1e-6)


def fit_strengths(
    table: PairTable,
    *,
    prior: float = 0.0,
    tol: float = 1e-10,
    max_iter: int = 100,
    solver: Solver = "auto",
    start: NDArray[np.float64] | None = None,
) -> tuple[NDArray[np.float64], int, bool]:
    """Natural log-strengths (mean 0 when ``prior == 0``), iterations, converged flag.

    The caller is responsible for checking that the MLE exists when ``prior == 0``.
    ``start`` warm-starts the solver (the bootstrap starts every round at the point fit).
    """
    if prior < 0 or not math.isfinite(prior):
        raise ValueError("prior must be a finite number >= 0")
    init = np.zeros(table.n_models) if start is None else np.asarray(start, dtype=np.float64)
    if table.n_models == 1:
        return np.zeros(1), 0, True
    use_newton = solver == "newton" or (solver == "auto" and table.n_models <= DENSE_LIMIT)
    if solver not in ("auto", "newton", "lbfgs"):
        raise ValueError(f"solver: unknown value {solver!r}")
    if use_newton:
        return _newton(table, prior, init, tol, max_iter)
    return _lbfgs(table, prior, init, tol, max_iter)


def strengths_to_ratings(
    theta: NDArray[np.float64],
    models: tuple[str, ...],
    *,
    scale: float = 400.0,
    base: float = 10.0,
    init_rating: float = 1000.0,
    anchor: tuple[str, float] | None = None,
) -> NDArray[np.float64]:
    """Elo-scale ratings; works row-wise on a (rounds, models) array of bootstrap fits."""
    ratings = init_rating + scale * np.asarray(theta) / math.log(base)
    if anchor is not None:
        name, value = anchor
        if name not in models:
            raise ValueError(f"anchor: unknown model {name!r}")
        k = models.index(name)
        ratings = ratings + (value - ratings[..., k : k + 1])
    return np.asarray(ratings, dtype=np.float64)


def _as_cells(data: Battles | Cells) -> Cells:
    return aggregate(data) if isinstance(data, Battles) else data


def fit_bradley_terry(
    data: Battles | Cells,
    *,
    scale: float = 400.0,
    base: float = 10.0,
    init_rating: float = 1000.0,
    anchor: tuple[str, float] | None = None,
    prior: float = 0.0,
    tol: float = 1e-10,
    max_iter: int = 100,
    solver: Solver = "auto",
) -> BradleyTerryResult:
    """Fit BT to battles (or pre-aggregated cells); see the module docstring.

    Raises ``NoMLEError`` when ``prior == 0`` and the MLE does not exist.
    """
    if scale <= 0 or base <= 1:
        raise ValueError("need scale > 0 and base > 1")
    cells = _as_cells(data)
    table = pair_table(cells)
    if prior == 0:
        check_mle_exists(table, cells.models)
    theta, iterations, converged = fit_strengths(
        table, prior=prior, tol=tol, max_iter=max_iter, solver=solver
    )
    ratings = strengths_to_ratings(
        theta, cells.models, scale=scale, base=base, init_rating=init_rating, anchor=anchor
    )
    penalty = prior * float(np.sum(theta * theta))
    for array in (theta, ratings):
        array.setflags(write=False)
    matches = cells.matches_per_model()
    matches.setflags(write=False)
    return BradleyTerryResult(
        models=cells.models,
        ratings=ratings,
        log_strengths=theta,
        matches=matches,
        log_likelihood=-_neg_log_likelihood(theta, table, prior) + penalty,
        n_iterations=iterations,
        converged=converged,
        scale=scale,
        base=base,
        init_rating=init_rating,
        anchor=anchor,
        prior=prior,
        tol=tol,
        solver=solver,
    )


def log_likelihood(data: Battles | Cells, log_strengths: NDArray[np.float64]) -> float:
    """BT log-likelihood (ties as half wins) of natural log-strengths on some data.

    Lets tests compare our optimum with another library's answer on equal terms.
    """
    return -_neg_log_likelihood(
        np.asarray(log_strengths, dtype=np.float64), pair_table(_as_cells(data)), 0.0
    )

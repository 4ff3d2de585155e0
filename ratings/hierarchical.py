"""Bradley-Terry ratings whose intervals stay honest from the first verdict: hierarchical Bayes.

The sandwich and bootstrap intervals of ``ratings.bootstrap`` are large-sample tools: on a
handful of verdicts a one-sided record gets a tiny interval, a single tie a zero-width one,
and a 95% interval covers the truth far less often than 95% (benchmarks/README.md,
"Interval coverage"). Here the ratings get a prior whose spread is learnt from the data, so
that few verdicts give wide intervals and many give the usual ones.

Model, in natural log-strengths theta (Elo = init_rating + scale / ln(base) * theta):

- likelihood: BT with a tie as half a win (as ``ratings.bradley_terry``), used as a
  quasi-likelihood with dispersion phi: a tie has less variance than a coin flip, so ties
  make the verdicts more informative than the binomial model says (McCullagh & Nelder,
  *Generalized Linear Models*, 2nd ed. 1989, ch. 9). phi is the moment estimate
  E[(s - p)^2] / E[p (1 - p)] = 1 - ties / (4 sum p (1 - p)) per unit weight (the sandwich's
  "meat" over its "bread", both summed over the board), shrunk towards 1 by
  ``dispersion_prior_battles`` pseudo-battles so that a few ties cannot shrink it to 0,
  and never below 0.05. Weighted verdicts enter as count^2 / battles, so unequal weights
  widen intervals as the sandwich's do (Kish's design effect).
- prior: theta_i ~ N(0, tau^2) independently; tau, the spread of the ratings, is unknown,
  with log tau ~ N(log spread_prior, spread_prior_width^2). The default, a median of 100
  Elo and a width of 0.35 (95% between 50 and 200 Elo), is the scale of arena boards:
  ``simulator`` draws its truths with a spread of 100 Elo. A wider prior
  lets the data move tau further on thin evidence but makes intervals on a handful of
  verdicts wider than they need be for boards near 100 Elo (benchmarks/README.md).
  Ratings are identified only up to a shift, so the prior on the shift is all that fixes
  it; the result is reported centred (mean ``init_rating``), as the app's BT fit with a
  ridge prior already is.

Inference is a Laplace approximation for theta given tau (Tierney & Kadane, JASA 81, 1986):
the mode is the ridge-penalised BT fit with penalty phi / (2 tau^2) (choix's ``alpha``), the
covariance (H / phi + I / tau^2)^-1. The posterior of log tau is the Laplace approximation of
the marginal likelihood times its prior; it is integrated on Gauss-Hermite nodes placed at
its mode and curvature and reweighted by its actual value there, as INLA integrates its
hyper-parameters (Rue, Martino & Chopin, JRSS B 71, 2009). The posterior of the centred
ratings is then a mixture of normals: the reported rating is its mean and the interval its
equal-tailed ``level`` credible interval, solved per model by Newton's method on the
mixture's distribution function.

Coverage is checked by simulation against known ratings (benchmarks/coverage.py; the
table and where it misses are in benchmarks/README.md, "Interval coverage"). With few
verdicts the prior on the spread is most of what is known, so boards far more spread out
than it expects are under-covered there and boards much closer together over-covered;
averaged over spreads drawn from the prior the intervals keep their level.

There is no ``anchor``: an anchored model's rating is fixed by definition, so its interval
would have zero width; the boards report centred ratings.

Ranks follow ``rank_from_intervals`` (Chatbot Arena's rule) among the models with at least
one verdict; overlapping intervals share a rank, so a handful of votes separates nobody. A
model is ``preliminary`` below ``min_verdicts`` verdicts; the default, 300, is LMArena's:
its category leaderboards leave out "models with fewer than 300 votes as their confidence
intervals can be large" (FastChat, ``fastchat/serve/monitor/monitor.py``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import scipy.linalg  # type: ignore[import-untyped]
import scipy.special  # type: ignore[import-untyped]
from numpy.typing import ArrayLike, NDArray

from ratings.bootstrap import IntervalResult, rank_from_intervals
from ratings.bradley_terry import (
    PairTable,
    _as_cells,
    _gradient,
    _hessian,
    _neg_log_likelihood,
    _win_probability,
    pair_table,
)
from ratings.data import Battles, Cells, Outcome

__all__ = [
    "DISPERSION_PRIOR_BATTLES",
    "MIN_VERDICTS",
    "SPREAD_NODES",
    "SPREAD_PRIOR",
    "SPREAD_PRIOR_WIDTH",
    "HierarchicalResult",
    "hierarchical_bradley_terry",
]

#: LMArena's threshold for a rating worth showing (see module docstring).
MIN_VERDICTS = 300
#: Median of the prior on the spread (standard deviation) of the ratings, in Elo.
SPREAD_PRIOR = 100.0
#: Standard deviation of the log of that spread.
SPREAD_PRIOR_WIDTH = 0.35
#: Tie-free pseudo-battles at even odds that the dispersion estimate starts from.
DISPERSION_PRIOR_BATTLES = 10.0
#: Gauss-Hermite nodes over the log spread.
SPREAD_NODES = 7

Vector = NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class HierarchicalResult:
    """Centred Elo-scale ratings (posterior means), credible intervals, and how they were got.

    ``verdicts`` counts each model's pairwise verdicts (battle rows in the cells, or the
    caller's counts); ``ranks`` come from the intervals among models with a verdict, the
    others rank last. ``spread`` is the posterior geometric mean of the ratings' standard
    deviation (Elo) and ``dispersion`` the quasi-likelihood's phi.
    """

    models: tuple[str, ...]
    ratings: NDArray[np.float64]
    ci_low: NDArray[np.float64]
    ci_high: NDArray[np.float64]
    verdicts: NDArray[np.int64]
    preliminary: NDArray[np.bool_]
    ranks: NDArray[np.int64]
    spread: float
    dispersion: float
    level: float
    min_verdicts: int
    spread_prior: float
    spread_prior_width: float
    dispersion_prior_battles: float
    spread_nodes: int
    scale: float
    base: float
    init_rating: float
    method: str = "bradley_terry_hierarchical"

    def as_dict(self) -> dict[str, float]:
        return dict(zip(self.models, self.ratings.tolist(), strict=True))

    def params(self) -> dict[str, object]:
        return {
            "level": self.level,
            "min_verdicts": self.min_verdicts,
            "spread_prior": self.spread_prior,
            "spread_prior_width": self.spread_prior_width,
            "dispersion_prior_battles": self.dispersion_prior_battles,
            "spread_nodes": self.spread_nodes,
            "scale": self.scale,
            "base": self.base,
            "init_rating": self.init_rating,
        }

    def interval(self) -> IntervalResult:
        """The ratings and bounds in the shape the sandwich and bootstrap return."""
        return IntervalResult(
            self.models, self.ratings, self.ci_low, self.ci_high, self.level, self.method
        )


_Factor = tuple[NDArray[np.float64], bool]


@dataclass(frozen=True, eq=False)
class _Node:
    """The Laplace approximation at one value u = log tau of the spread: the mode and the
    Cholesky factor of phi times the negative log posterior's Hessian there."""

    u: float
    log_posterior: float
    theta: Vector
    factor: _Factor


class _SpreadPosterior:
    """Laplace approximations of the posterior given the spread, evaluated on demand.

    Each evaluation starts Newton from the last mode moved along its derivative in u
    (d theta / du = 2 r (H + r I)^-1 theta with r = phi / tau^2, from differentiating the
    mode's equation), so it converges in two or three steps.
    """

    def __init__(self, table: PairTable, dispersion: float, center: float, width: float):
        self.table = table
        self.dispersion = dispersion
        self.center = center
        self.width = width
        self.cache: dict[float, _Node] = {}
        self.last: tuple[float, Vector, _Factor] | None = None

    def __call__(self, u: float) -> _Node:
        if u not in self.cache:
            self.cache[u] = self._evaluate(u)
        return self.cache[u]

    def start(self, u: float) -> Vector:
        if self.last is None:
            return np.zeros(self.table.n_models)
        previous, theta, factor = self.last
        r = self.dispersion * math.exp(-2.0 * previous)
        slope = 2.0 * r * scipy.linalg.cho_solve(factor, theta, check_finite=False)
        return np.asarray(theta + (u - previous) * slope, dtype=np.float64)

    def _evaluate(self, u: float) -> _Node:
        n, phi = self.table.n_models, self.dispersion
        # phi * F(theta) = NLL(theta) + ridge * |theta|^2 with F the negative log posterior
        ridge = phi * math.exp(-2.0 * u) / 2.0
        theta, factor = _penalised_mode(self.table, ridge, self.start(u))
        self.last = (u, theta, factor)
        log_det = 2.0 * float(np.sum(np.log(np.diag(factor[0])))) - n * math.log(phi)
        log_posterior = (
            -_neg_log_likelihood(theta, self.table, ridge) / phi
            - n * u  # the normal prior's normalising constant
            - 0.5 * log_det
            - 0.5 * ((u - self.center) / self.width) ** 2
        )
        return _Node(u, log_posterior, theta, factor)

    def variance(self, node: _Node) -> Vector:
        """Posterior variances of theta_i - mean(theta), the centred ratings reported."""
        n = self.table.n_models
        inverse = scipy.linalg.cho_solve(node.factor, np.eye(n), check_finite=False)
        covariance = self.dispersion * np.asarray(inverse, dtype=np.float64)
        row = covariance.sum(axis=1)
        variance = np.diag(covariance) - 2.0 * row / n + row.sum() / n**2
        return np.asarray(np.maximum(variance, np.finfo(np.float64).tiny), dtype=np.float64)


#: Newton accepts a step without checking the loss when no coordinate moves more than
#: this (natural log-odds): from a warm start the BT loss is close to quadratic.
_TRUSTED_STEP = 0.05


def _penalised_mode(
    table: PairTable, ridge: float, start: Vector, tol: float = 1e-5, max_iter: int = 100
) -> tuple[Vector, _Factor]:
    """Newton for NLL + ridge * |theta|^2, with the Cholesky factor of its Hessian.

    Large steps are halved until the loss does not rise. Newton converges quadratically,
    so after a full step smaller than ``tol`` the mode is within about tol^2 (1e-10 nats,
    2e-8 Elo); the factor returned is the one at that step's start.
    """
    theta = start.copy()
    loss = math.inf
    factor: _Factor | None = None
    for _ in range(max_iter):
        p = _win_probability(theta, table)
        factor = scipy.linalg.cho_factor(_hessian(theta, table, ridge, p), check_finite=False)
        step = -scipy.linalg.cho_solve(factor, _gradient(theta, table, ridge, p))
        size = float(np.max(np.abs(step)))
        shrink = 1.0
        if size > _TRUSTED_STEP:
            if not math.isfinite(loss):
                loss = _neg_log_likelihood(theta, table, ridge)
            for _ in range(40):
                new = _neg_log_likelihood(theta + shrink * step, table, ridge)
                if new <= loss + 1e-12 * abs(loss):
                    break
                shrink *= 0.5
            loss = new
        else:
            loss = math.inf  # not tracked through trusted steps
        theta = theta + shrink * step
        if shrink * size < tol:
            break
    assert factor is not None
    return theta, factor


def _dispersion(
    cells: Cells, theta: Vector, prior_battles: float, battles: Vector | None = None
) -> float:
    """Quasi-likelihood dispersion phi from the ties (see module docstring)."""
    p = scipy.special.expit(theta[cells.model_a] - theta[cells.model_b])
    coin = p * (1.0 - p)
    tie = (cells.outcome == Outcome.TIE) | (cells.outcome == Outcome.TIE_BOTHBAD)
    rows = cells.n_battles.astype(np.float64) if battles is None else battles
    squared_weight = np.divide(cells.count**2, rows, out=np.zeros_like(cells.count), where=rows > 0)
    pseudo = prior_battles / 4.0
    meat = float(np.sum(squared_weight * (coin - 0.25 * tie))) + pseudo
    bread = float(np.sum(cells.count * coin)) + pseudo
    # phi near 0 would mean verdicts without noise (all ties at even odds); 0.05 is 95% ties
    return max(meat / bread, 0.05)


def _parabola(posterior: _SpreadPosterior, u: float, h: float) -> tuple[float, float]:
    """Mode and standard deviation of a normal fitted to the log posterior at u - h, u, u + h.

    Where the log posterior is not concave there, the step goes uphill by 2h.
    """
    low, mid, high = (posterior(u + k * h).log_posterior for k in (-1.0, 0.0, 1.0))
    curvature = (high - 2.0 * mid + low) / h**2
    slope = (high - low) / (2.0 * h)
    if curvature >= -1e-12:
        return u + math.copysign(2.0 * h, slope), h
    step = float(np.clip(-slope / curvature, -2.0 * h, 2.0 * h))
    return u + step, 1.0 / math.sqrt(-curvature)


def _spread_nodes(
    posterior: _SpreadPosterior, nodes: int
) -> tuple[list[_Node], NDArray[np.float64]]:
    """Nodes over log tau and their weights (summing to 1)."""
    u, sd = posterior.center, posterior.width
    for _ in range(8):
        new_u, new_sd = _parabola(posterior, u, min(sd, posterior.width))
        new_sd = min(new_sd, posterior.width)
        settled = abs(new_u - u) < 0.5 * new_sd and new_sd > 0.5 * sd
        u, sd = new_u, new_sd
        if settled:
            break
    x, gh_weight = np.polynomial.hermite.hermgauss(nodes)
    points = [posterior(u + math.sqrt(2.0) * sd * float(k)) for k in x]
    log_post = np.array([node.log_posterior for node in points])
    # integrand exp(f(u)) du over u = u* + sqrt(2) sd x is e^{-x^2} exp(f(u) + x^2) dx
    log_weight = np.log(gh_weight) + log_post + x**2
    weight = np.exp(log_weight - log_weight.max())
    return points, weight / weight.sum()


def _mixture_quantiles(
    weight: NDArray[np.float64], mean: NDArray[np.float64], sd: NDArray[np.float64], q: Vector
) -> NDArray[np.float64]:
    """Quantiles q (rows) per model (columns) of sum_k weight_k N(mean[k], sd[k]^2).

    Newton's method on the mixture's CDF from the moment-matched normal's quantile, kept
    inside a bisection bracket: the CDF is smooth and increasing, so it takes a few steps.
    """
    q = q[:, None]
    low = np.broadcast_to(np.min(mean - 9.0 * sd, axis=0), (q.size, mean.shape[1])).copy()
    high = np.broadcast_to(np.max(mean + 9.0 * sd, axis=0), low.shape).copy()
    center = weight @ mean
    spread = np.sqrt(weight @ (sd**2 + mean**2) - center**2)
    x = np.clip(center + spread * scipy.special.ndtri(q), low, high)
    for _ in range(60):
        z = (x[:, None, :] - mean) / sd  # (quantiles, nodes, models)
        cdf = np.einsum("k,qkm->qm", weight, scipy.special.ndtr(z))
        density = np.einsum("k,qkm->qm", weight, np.exp(-0.5 * z * z) / sd) / math.sqrt(2 * math.pi)
        below = cdf < q
        low = np.where(below, x, low)
        high = np.where(below, high, x)
        step = (q - cdf) / np.maximum(density, 1e-300)
        x_new = x + step
        outside = (x_new <= low) | (x_new >= high)
        x_new = np.where(outside, 0.5 * (low + high), x_new)
        if np.max(np.abs(x_new - x) / spread) < 1e-10:
            return np.asarray(x_new, dtype=np.float64)
        x = x_new
    return np.asarray(x, dtype=np.float64)


_Array = TypeVar("_Array", bound=NDArray[Any])


def _frozen(array: _Array) -> _Array:
    array.setflags(write=False)
    return array


def _verdict_counts(cells: Cells, verdicts: ArrayLike | None) -> NDArray[np.int64]:
    if verdicts is None:
        return cells.matches_per_model()
    counts = np.asarray(verdicts)
    if counts.shape != (cells.n_models,):
        raise ValueError(f"verdicts: expected {cells.n_models} counts, got shape {counts.shape}")
    if counts.dtype.kind not in "iu" or np.any(counts < 0):
        raise ValueError("verdicts: counts must be non-negative integers")
    return counts.astype(np.int64)


def _check_positive(**values: float) -> None:
    for name, value in values.items():
        if not (math.isfinite(value) and value > 0):
            raise ValueError(f"{name} must be a finite number > 0, got {value!r}")


def hierarchical_bradley_terry(
    data: Battles | Cells,
    *,
    level: float = 0.95,
    min_verdicts: int = MIN_VERDICTS,
    verdicts: ArrayLike | Sequence[int] | None = None,
    battles: ArrayLike | None = None,
    spread_prior: float = SPREAD_PRIOR,
    spread_prior_width: float = SPREAD_PRIOR_WIDTH,
    dispersion_prior_battles: float = DISPERSION_PRIOR_BATTLES,
    spread_nodes: int = SPREAD_NODES,
    scale: float = 400.0,
    base: float = 10.0,
    init_rating: float = 1000.0,
) -> HierarchicalResult:
    """Centred BT ratings with credible intervals that hold at any sample size.

    ``data`` is usually aggregated cells (``ratings.data.Cells``); only their counts are
    read. ``verdicts`` (one count per model, in ``models`` order) replaces the battle rows
    as the count that ``min_verdicts`` is compared with, e.g. verdicts of K-wise rankings.
    ``battles`` (one per cell) replaces the cells' whole ``n_battles`` where the dispersion
    weighs them: graded verdicts split into fractional win and tie parts (arena.evidence)
    are that many verdicts' worth of each, not a whole one.
    ``spread_prior`` (Elo) and ``spread_prior_width`` set the prior on the ratings' spread;
    see the module docstring for the model and what each hyper-parameter does.
    """
    if not 0 < level < 1:
        raise ValueError("level must be in (0, 1)")
    if isinstance(min_verdicts, bool) or not isinstance(min_verdicts, int) or min_verdicts < 0:
        raise ValueError("min_verdicts must be an integer >= 0")
    if isinstance(spread_nodes, bool) or not isinstance(spread_nodes, int) or spread_nodes < 1:
        raise ValueError("spread_nodes must be an integer >= 1")
    _check_positive(
        spread_prior=spread_prior,
        spread_prior_width=spread_prior_width,
        dispersion_prior_battles=dispersion_prior_battles,
        scale=scale,
    )
    if not (math.isfinite(base) and base > 1):
        raise ValueError("base must be a finite number > 1")
    cells = _as_cells(data)
    if cells.n_models < 2:
        raise ValueError("need at least two models: centred ratings of one model are constant")
    counts = _verdict_counts(cells, verdicts)
    unit = scale / math.log(base)
    table = pair_table(cells)
    center = math.log(spread_prior / unit)
    first, factor = _penalised_mode(table, math.exp(-2.0 * center) / 2.0, np.zeros(cells.n_models))
    rows = None
    if battles is not None:
        rows = np.asarray(battles, dtype=np.float64)
        if rows.shape != (len(cells),) or np.any(rows < 0):
            raise ValueError(f"battles: expected {len(cells)} values >= 0, got shape {rows.shape}")
    phi = _dispersion(cells, first, dispersion_prior_battles, rows)
    posterior = _SpreadPosterior(table, phi, center, spread_prior_width)
    posterior.last = (center + 0.5 * math.log(phi), first, factor)  # the same ridge as phi = 1
    nodes, weight = _spread_nodes(posterior, spread_nodes)
    means = np.stack([node.theta - node.theta.mean() for node in nodes])
    sds = np.sqrt(np.stack([posterior.variance(node) for node in nodes]))
    tail = (1.0 - level) / 2.0
    low, high = _mixture_quantiles(weight, means, sds, np.array([tail, 1.0 - tail]))
    ratings = init_rating + unit * (weight @ means)
    ci_low, ci_high = init_rating + unit * low, init_rating + unit * high
    played = cells.matches_per_model() > 0
    ranks = np.full(cells.n_models, int(played.sum()) + 1, dtype=np.int64)
    if played.any():
        ranks[played] = rank_from_intervals(ci_low[played], ci_high[played])
    spread = unit * math.exp(float(weight @ np.array([node.u for node in nodes])))
    return HierarchicalResult(
        models=cells.models,
        ratings=_frozen(np.asarray(ratings, dtype=np.float64)),
        ci_low=_frozen(ci_low),
        ci_high=_frozen(ci_high),
        verdicts=_frozen(counts),
        preliminary=_frozen(counts < min_verdicts),
        ranks=_frozen(ranks),
        spread=spread,
        dispersion=phi,
        level=level,
        min_verdicts=min_verdicts,
        spread_prior=spread_prior,
        spread_prior_width=spread_prior_width,
        dispersion_prior_battles=dispersion_prior_battles,
        spread_nodes=spread_nodes,
        scale=scale,
        base=base,
        init_rating=init_rating,
    )

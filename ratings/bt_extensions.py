"""Bradley-Terry with explicit tie models, a first-position advantage and IPW weights.

Extends ``ratings.bradley_terry`` (ties as half a win) with:

* Tie models. Writing ``pi_i = exp(theta_i)`` for the strengths,

  - Davidson (1970), "On extending the Bradley-Terry model to accommodate ties in paired
    comparison experiments", JASA 65(329): ``P(i beats j) = pi_i / D`` and
    ``P(tie) = nu * sqrt(pi_i pi_j) / D`` with ``D = pi_i + pi_j + nu sqrt(pi_i pi_j)``,
    ``nu >= 0`` (``nu = exp(b)`` in the fit);
  - Rao & Kupper (1967), "Ties in paired-comparison experiments: a generalization of the
    Bradley-Terry model", JASA 62(317): ``P(i beats j) = pi_i / (pi_i + theta pi_j)`` and
    ``P(tie) = (theta^2 - 1) pi_i pi_j / ((pi_i + theta pi_j)(theta pi_i + pi_j))``,
    ``theta >= 1`` (``theta = 1 + exp(a)`` in the fit);
  - ``"half"``: a tie is half a win each way, which is exactly ``fit_bradley_terry``.

* ``position_bias``: the model shown first (answer A) gets its strength multiplied by
  ``exp(h)`` in every formula, like home advantage in sports (the order-effect
  Bradley-Terry model of Agresti, *Categorical Data Analysis*). ``h`` is a log-odds term;
  ``h * scale / ln(base)`` is the same advantage in Elo points.

* ``ipw``: per-battle inverse-probability weights multiplying the battle weights. When
  pairs are actively sampled with probability ``P_t``, weighting each battle by
  ``1 / P_t`` keeps the estimate unbiased for the uniform-sampling target (Chiang et al.
  2024, "Chatbot Arena: An Open Platform for Evaluating LLMs by Human Preference",
  section 4).

The maximum-likelihood fit works on aggregated ``(model_a, model_b, outcome)`` cells
(``tie (bothbad)`` counts as a tie) with L-BFGS-B and an analytic gradient, followed by a
few Newton steps on a finite-difference Hessian of that gradient to reach machine
precision. Log-strengths have mean 0 (unless ``prior > 0`` adds the ridge
``prior * sum(theta**2)``, as in ``fit_bradley_terry``) and are reported on the Elo scale
``init_rating + scale * theta / ln(base)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import scipy.optimize  # type: ignore[import-untyped]
import scipy.special  # type: ignore[import-untyped]
from numpy.typing import ArrayLike, NDArray

from ratings.bradley_terry import check_mle_exists, pair_table, strengths_to_ratings
from ratings.data import Battles, Cells, Outcome, aggregate

__all__ = [
    "ExtendedBTResult",
    "TieModel",
    "fit_bradley_terry_extended",
]

TieModel = Literal["half", "rao_kupper", "davidson"]

#: Lower bound of the unconstrained tie parameter (``a`` or ``b``): ``exp(-30)`` ~ 1e-13,
#: which keeps L-BFGS-B from chasing ``nu -> 0`` (or ``theta -> 1``) forever on tie-free data.
_TIE_PARAM_FLOOR = -30.0


@dataclass(frozen=True, eq=False)
class ExtendedBTResult:
    """A fitted extended BT model with every hyper-parameter it was fitted with.

    ``tie_parameter`` is Rao-Kupper's ``theta >= 1``, Davidson's ``nu >= 0`` or ``None``
    for ``"half"``. ``home_advantage`` is the log-odds bonus ``h`` of the first position
    (0 when ``position_bias`` is off) and ``home_advantage_elo`` the same in Elo points.
    """

    models: tuple[str, ...]
    ratings: NDArray[np.float64]
    log_strengths: NDArray[np.float64]
    matches: NDArray[np.int64]
    ties: TieModel
    tie_parameter: float | None
    position_bias: bool
    home_advantage: float
    home_advantage_elo: float
    ipw: NDArray[np.float64] | None
    prior: float
    scale: float
    base: float
    init_rating: float
    log_likelihood: float
    n_iterations: int
    converged: bool
    method: str = "bradley_terry_extended"

    def as_dict(self) -> dict[str, float]:
        return dict(zip(self.models, self.ratings.tolist(), strict=True))

    def params(self) -> dict[str, object]:
        return {
            "ties": self.ties,
            "position_bias": self.position_bias,
            "ipw": self.ipw is not None,
            "prior": self.prior,
            "scale": self.scale,
            "base": self.base,
            "init_rating": self.init_rating,
        }

    def outcome_probabilities(self, model_a: str, model_b: str) -> tuple[float, float, float]:
        """``(P(A wins), P(tie), P(B wins))`` with ``model_a`` shown first.

        Under ``"half"`` the model has no tie outcome, so ``P(tie)`` is 0.
        """
        index = {name: k for k, name in enumerate(self.models)}
        s_a = np.array([self.log_strengths[index[model_a]] + self.home_advantage])
        s_b = np.array([self.log_strengths[index[model_b]]])
        param = _unconstrained(self.ties, self.tie_parameter)
        win_a, win_b, tie = _log_probabilities(self.ties, s_a, s_b, param)
        p_tie = 0.0 if self.ties == "half" else float(np.exp(tie[0]))
        return float(np.exp(win_a[0])), p_tie, float(np.exp(win_b[0]))


# --------------------------------------------------------------------------- model


def _unconstrained(ties: TieModel, value: float | None) -> float:
    if ties == "davidson":
        assert value is not None
        return math.log(value) if value > 0 else _TIE_PARAM_FLOOR
    if ties == "rao_kupper":
        assert value is not None
        return math.log(value - 1.0) if value > 1 else _TIE_PARAM_FLOOR
    return 0.0


def _constrained(ties: TieModel, param: float) -> float | None:
    if ties == "davidson":
        return math.exp(param)
    if ties == "rao_kupper":
        return 1.0 + math.exp(param)
    return None


def _log_probabilities(
    ties: TieModel, s_a: NDArray[np.float64], s_b: NDArray[np.float64], param: float
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Log P(A wins), log P(B wins), log P(tie) for effective log-strengths (A includes h)."""
    if ties == "davidson":
        z = np.stack([s_a, s_b, param + 0.5 * (s_a + s_b)])
        denom = scipy.special.logsumexp(z, axis=0)
        return s_a - denom, s_b - denom, z[2] - denom
    if ties == "rao_kupper":
        log_theta = float(np.logaddexp(0.0, param))
        d1 = np.logaddexp(s_a, log_theta + s_b)
        d2 = np.logaddexp(log_theta + s_a, s_b)
        log_tie_factor = param + float(np.logaddexp(math.log(2.0), param))
        return s_a - d1, s_b - d2, log_tie_factor + s_a + s_b - d1 - d2
    diff = s_a - s_b
    log_p = -np.logaddexp(0.0, -diff)
    log_q = -np.logaddexp(0.0, diff)
    return log_p, log_q, 0.5 * (log_p + log_q)


@dataclass(frozen=True)
class _Problem:
    """Ordered cells with per-cell counts of A wins, B wins and ties."""

    n_models: int
    a: NDArray[np.intp]
    b: NDArray[np.intp]
    wins_a: NDArray[np.float64]
    wins_b: NDArray[np.float64]
    ties: NDArray[np.float64]
    tie_model: TieModel
    position_bias: bool
    prior: float
    norm: float

    @property
    def n_params(self) -> int:
        return self.n_models + int(self.position_bias) + int(self.tie_model != "half")

    def unpack(self, x: NDArray[np.float64]) -> tuple[NDArray[np.float64], float, float]:
        n = self.n_models
        theta = x[:n]
        h = float(x[n]) if self.position_bias else 0.0
        param = float(x[-1]) if self.tie_model != "half" else 0.0
        return theta, h, param

    def log_likelihood(self, x: NDArray[np.float64]) -> float:
        theta, h, param = self.unpack(x)
        win_a, win_b, tie = _log_probabilities(
            self.tie_model, theta[self.a] + h, theta[self.b], param
        )
        total = self.wins_a @ win_a + self.wins_b @ win_b + self.ties @ tie
        return float(total)

    def objective(self, x: NDArray[np.float64]) -> tuple[float, NDArray[np.float64]]:
        """Normalised negative log-likelihood plus penalties, and its gradient."""
        theta, h, param = self.unpack(x)
        s_a = theta[self.a] + h
        s_b = theta[self.b]
        d_sa, d_sb, d_param = self._cell_gradients(s_a, s_b, param)
        n = self.n_models
        grad = np.zeros(self.n_params)
        grad[:n] = np.bincount(self.a, weights=d_sa, minlength=n) + np.bincount(
            self.b, weights=d_sb, minlength=n
        )
        if self.position_bias:
            grad[n] = d_sa.sum()
        if self.tie_model != "half":
            grad[-1] = d_param
        value = -self.log_likelihood(x) / self.norm
        grad = -grad / self.norm
        if self.prior > 0:
            value += self.prior * float(theta @ theta) / self.norm
            grad[:n] += 2.0 * self.prior * theta / self.norm
        else:  # gauge: the likelihood is flat along theta + c; pin the mean to 0
            total = float(theta.sum())
            value += total * total
            grad[:n] += 2.0 * total
        return value, grad

    def _cell_gradients(
        self, s_a: NDArray[np.float64], s_b: NDArray[np.float64], param: float
    ) -> tuple[NDArray[np.float64], NDArray[np.float64], float]:
        """Derivatives of the log-likelihood per cell wrt s_a, s_b, and (summed) the tie
        parameter."""
        games = self.wins_a + self.wins_b + self.ties
        if self.tie_model == "davidson":
            z = np.stack([s_a, s_b, param + 0.5 * (s_a + s_b)])
            p = np.exp(z - scipy.special.logsumexp(z, axis=0))
            d_sa = self.wins_a + 0.5 * self.ties - games * (p[0] + 0.5 * p[2])
            d_sb = self.wins_b + 0.5 * self.ties - games * (p[1] + 0.5 * p[2])
            return d_sa, d_sb, float(np.sum(self.ties - games * p[2]))
        if self.tie_model == "rao_kupper":
            log_theta = float(np.logaddexp(0.0, param))
            q1 = scipy.special.expit(s_a - log_theta - s_b)  # d D1 / d s_a
            q2 = scipy.special.expit(log_theta + s_a - s_b)  # d D2 / d s_a
            # log P(A) = s_a - D1, log P(B) = s_b - D2, log P(tie) = c + s_a + s_b - D1 - D2
            d_sa = self.wins_a * (1 - q1) - self.wins_b * q2 + self.ties * (1 - q1 - q2)
            d_sb = -self.wins_a * (1 - q1) + self.wins_b * q2 + self.ties * (q1 + q2 - 1)
            d_log_theta = -self.wins_a * (1 - q1) - self.wins_b * q2 - self.ties * (1 - q1 + q2)
            dc = 1.0 + math.exp(param) / (2.0 + math.exp(param))  # d log(theta^2 - 1) / d a
            d_param = float(np.sum(d_log_theta)) * float(scipy.special.expit(param))
            return d_sa, d_sb, d_param + float(np.sum(self.ties)) * dc
        p = scipy.special.expit(s_a - s_b)
        residual = self.wins_a + 0.5 * self.ties - games * p
        return residual, -residual, 0.0


def _problem(
    data: Battles | Cells,
    ties: TieModel,
    position_bias: bool,
    ipw: ArrayLike | None,
    prior: float,
) -> tuple[_Problem, Cells, NDArray[np.float64] | None]:
    weights: NDArray[np.float64] | None = None
    if ipw is not None:
        if not isinstance(data, Battles):
            raise ValueError("ipw needs per-battle data (Battles), not aggregated Cells")
        weights = np.array(ipw, dtype=np.float64)
        if weights.shape != (len(data),):
            raise ValueError(f"ipw: expected {len(data)} values, got shape {weights.shape}")
        if not np.all(np.isfinite(weights)) or np.any(weights < 0):
            raise ValueError("ipw: weights must be finite and >= 0")
        weights.setflags(write=False)
        data = Battles(
            models=data.models,
            model_a=data.model_a,
            model_b=data.model_b,
            outcome=data.outcome,
            weight=data.weight * weights,
            timestamp=data.timestamp,
        )
    cells = aggregate(data) if isinstance(data, Battles) else data
    n = cells.n_models
    key = cells.model_a.astype(np.int64) * n + cells.model_b
    pairs, inverse = np.unique(key, return_inverse=True)
    outcome = cells.outcome
    is_tie = (outcome == Outcome.TIE) | (outcome == Outcome.TIE_BOTHBAD)

    def per_pair(mask: NDArray[np.bool_]) -> NDArray[np.float64]:
        counts = np.bincount(
            inverse, weights=np.where(mask, cells.count, 0.0), minlength=pairs.size
        )
        return np.asarray(counts, dtype=np.float64)

    wins_a = per_pair(outcome == Outcome.A_WINS)
    wins_b = per_pair(outcome == Outcome.B_WINS)
    tie_counts = per_pair(is_tie)
    total = float(np.sum(wins_a + wins_b + tie_counts))
    problem = _Problem(
        n_models=n,
        a=(pairs // n).astype(np.intp),
        b=(pairs % n).astype(np.intp),
        wins_a=wins_a,
        wins_b=wins_b,
        ties=tie_counts,
        tie_model=ties,
        position_bias=position_bias,
        prior=prior,
        norm=max(total, 1.0),
    )
    return problem, cells, weights


def _polish(
    problem: _Problem, x: NDArray[np.float64], bounds: list[tuple[float | None, float | None]]
) -> tuple[NDArray[np.float64], bool]:
    """Newton steps with a finite-difference Hessian of the analytic gradient.

    Parameters sitting on their bound (a tie parameter at the floor) are held fixed.
    """
    free = np.array([lo is None or x[k] > lo + 1e-6 for k, (lo, _) in enumerate(bounds)])
    value, grad = problem.objective(x)
    for _ in range(20):
        if np.max(np.abs(grad[free])) < 1e-13:
            return x, True
        eps = 1e-6
        m = problem.n_params
        hess = np.zeros((m, m))
        for k in range(m):
            step = np.zeros(m)
            step[k] = eps
            hess[:, k] = (problem.objective(x + step)[1] - problem.objective(x - step)[1]) / (
                2 * eps
            )
        sub = 0.5 * (hess + hess.T)[np.ix_(free, free)]
        try:
            delta = np.linalg.solve(sub, -grad[free])
        except np.linalg.LinAlgError:
            return x, False
        shrink = 1.0
        for _ in range(30):
            candidate = x.copy()
            candidate[free] += shrink * delta
            new_value, new_grad = problem.objective(candidate)
            if new_value <= value + 1e-15 * abs(value):
                break
            shrink *= 0.5
        else:
            return x, bool(np.max(np.abs(grad[free])) < 1e-9)
        x, value, grad = candidate, new_value, new_grad
        if np.max(np.abs(shrink * delta)) < 1e-12:
            return x, True
    return x, bool(np.max(np.abs(grad[free])) < 1e-9)


def fit_bradley_terry_extended(
    data: Battles | Cells,
    *,
    ties: TieModel = "davidson",
    position_bias: bool = False,
    ipw: ArrayLike | None = None,
    prior: float = 0.0,
    scale: float = 400.0,
    base: float = 10.0,
    init_rating: float = 1000.0,
) -> ExtendedBTResult:
    """Maximum-likelihood BT with a tie model, optional home advantage and IPW weights.

    See the module docstring for the models (Davidson 1970; Rao & Kupper 1967; Chatbot
    Arena, Chiang et al. 2024, section 4 for IPW). ``ipw`` needs ``Battles`` (one weight
    per battle). Raises ``NoMLEError`` when ``prior == 0`` and the "has beaten" graph
    (ties count both ways) is not strongly connected.
    """
    if ties not in ("half", "rao_kupper", "davidson"):
        raise ValueError(f"ties: unknown value {ties!r}")
    if scale <= 0 or base <= 1:
        raise ValueError("need scale > 0 and base > 1")
    if prior < 0 or not math.isfinite(prior):
        raise ValueError("prior must be a finite number >= 0")
    problem, cells, weights = _problem(data, ties, position_bias, ipw, prior)
    if prior == 0:
        check_mle_exists(pair_table(cells), cells.models)
    n = problem.n_models
    bounds: list[tuple[float | None, float | None]] = [(None, None)] * (n + int(position_bias))
    start = np.zeros(problem.n_params)
    if ties != "half":
        bounds.append((_TIE_PARAM_FLOOR, None))
        tie_share = float(problem.ties.sum()) / problem.norm
        # start near the tie rate of equal models: Davidson P(tie) = nu / (2 + nu)
        start[-1] = math.log(max(tie_share, 1e-3))
    result = scipy.optimize.minimize(
        problem.objective,
        start,
        jac=True,
        method="L-BFGS-B",
        bounds=bounds,
        options={"maxiter": 5000, "gtol": 1e-12, "ftol": 0.0},
    )
    x, converged = _polish(problem, np.asarray(result.x, dtype=np.float64), bounds)
    theta, h, param = problem.unpack(x)
    if prior == 0:
        theta = theta - theta.mean()
    theta = np.array(theta, dtype=np.float64)
    x_final = x.copy()
    x_final[:n] = theta
    ratings = strengths_to_ratings(
        theta, cells.models, scale=scale, base=base, init_rating=init_rating
    )
    matches = cells.matches_per_model()
    for array in (theta, ratings, matches):
        array.setflags(write=False)
    return ExtendedBTResult(
        models=cells.models,
        ratings=ratings,
        log_strengths=theta,
        matches=matches,
        ties=ties,
        tie_parameter=_constrained(ties, param),
        position_bias=position_bias,
        home_advantage=h,
        home_advantage_elo=h * scale / math.log(base),
        ipw=weights,
        prior=prior,
        scale=scale,
        base=base,
        init_rating=init_rating,
        log_likelihood=problem.log_likelihood(x_final),
        n_iterations=int(result.nit),
        converged=converged,
    )

"""Style control: Bradley-Terry with answer-style covariates ("contextual BT").

Judges, human or model, tend to prefer longer and more heavily formatted answers. Style
control separates that preference from model strength by fitting, for every battle,

    P(A beats B) = sigmoid(theta_A - theta_B + beta . z)

where ``z`` holds the battle's *style differences* and ``beta`` is shared by all battles;
ties count as half a win, as in ``ratings.bradley_terry``. The ratings are then the
log-strengths ``theta`` on the Elo scale: how models compare at equal style.

The definition follows LMArena / Chatbot Arena:

- Chatbot Arena blog, "Does style matter? Disentangling style and substance in Chatbot
  Arena" (Li, Chiang et al., 2024-08-29, https://lmsys.org/blog/2024-08-28-style-control/);
- FastChat ``fastchat/serve/monitor/elo_analysis.py`` (``construct_style_matrices``)
  and ``fastchat/serve/monitor/rating_systems.py`` (``fit_contextual_bt``,
  ``compute_style_control``), lm-sys/FastChat on GitHub.

This is an independent implementation of that definition (no FastChat code), with these
choices spelled out:

Features of one answer (``answer_features``): ``length`` in tokens, markdown ``headers``
(lines starting ``#`` to ``######`` then a space), ``lists`` (lines starting, after
indentation, with ``-``, ``*``, ``+`` or ``N.`` then a space) and ``bold`` spans
(``**...**`` or ``__...__`` within a line). As in FastChat, fenced code blocks are removed
before counting markdown, so ``# comment`` lines in code are not headers. FastChat counts
tokens with tiktoken's ``gpt-3.5-turbo`` encoding; tiktoken is not a dependency here, so
a token is a run of word characters or a single other non-space character
(regex ``\\w+|[^\\w\\s]``). That tracks BPE counts closely on English prose (roughly 0.8-1
BPE tokens per regex token) and, because only the ratio (a - b) / (a + b) enters the
model, the choice of tokeniser barely matters: a constant factor cancels.

Covariates (``style_features``): for each battle and feature, the normalised difference
``(a - b) / (a + b)`` (0 when both are 0), then standardised across battles (minus the
mean, divided by the population standard deviation; a feature that never varies is left
at 0 and gets ``beta = 0``). FastChat normalises length, headers, lists and bold this way.

Fit (``fit_style_controlled_bt``): damped Newton on the joint (theta, beta) likelihood.
Without a prior, theta is defined up to a shift; like ``fit_bradley_terry`` the result
has mean-zero log-strengths, and with all-zero covariates it *is* plain BT. FastChat's
``compute_style_control`` adds an L2 penalty (``reg=0.5``) on all parameters; pass
``prior``/``beta_prior`` for a penalised fit (``prior * sum(theta**2)``, same meaning as
in ``fit_bradley_terry``). ``beta`` is in natural log-odds per standard deviation of the
normalised difference: ``beta_length = 0.3`` means that one SD more relative length
multiplies the odds of winning by e^0.3.

Confidence intervals: ``rounds > 0`` bootstraps battles with the same machinery as
``bootstrap_bradley_terry`` (per-round generators spawned from the seed, Poisson(1) or
multinomial battle weights, refit warm-started at the point estimate, resamples whose
comparison graph lost strong connectivity refitted with ``fallback_prior`` and counted).
As in FastChat, the covariates are standardised once on the full data, not per round.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.linalg  # type: ignore[import-untyped]
import scipy.special  # type: ignore[import-untyped]
from numpy.typing import ArrayLike, NDArray

from ratings.bootstrap import IntervalResult, Resample, resample_counts
from ratings.bradley_terry import (
    check_mle_exists,
    mle_exists,
    pair_table,
    strengths_to_ratings,
)
from ratings.data import Battles, aggregate
from ratings.newton import damped_newton

__all__ = [
    "FEATURES",
    "StyleControlResult",
    "StyleFeatures",
    "answer_features",
    "fit_style_controlled_bt",
    "style_features",
]

#: The style features of an answer, in covariate order (FastChat's four).
FEATURES: tuple[str, ...] = ("length", "headers", "lists", "bold")

_TOKEN = re.compile(r"\w+|[^\w\s]")
_CODE_BLOCK = re.compile(r"```.*?```", re.DOTALL)
_HEADER = re.compile(r"^#{1,6} ", re.MULTILINE)
_LIST_ITEM = re.compile(r"^[ \t]*(?:[-*+]|\d+\.) ", re.MULTILINE)
_BOLD = re.compile(r"\*\*[^*\n]+?\*\*|__[^_\n]+?__")


def answer_features(text: str) -> dict[str, float]:
    """Style features of one answer: ``length``, ``headers``, ``lists``, ``bold``.

    See the module docstring for the exact rules (tokens by regex, code blocks skipped
    for markdown counts).
    """
    if not isinstance(text, str):
        raise TypeError(f"answer_features: expected str, got {type(text).__name__}")
    prose = _CODE_BLOCK.sub("", text)
    return {
        "length": float(len(_TOKEN.findall(text))),
        "headers": float(len(_HEADER.findall(prose))),
        "lists": float(len(_LIST_ITEM.findall(prose))),
        "bold": float(len(_BOLD.findall(prose))),
    }


@dataclass(frozen=True, eq=False)
class StyleFeatures:
    """Standardised per-battle covariates ``matrix[battle, feature]`` and how they were made.

    ``mean``/``std`` are of the normalised differences before standardising, so new
    battles can be put on the same scale; ``std == 0`` marks a feature that never varied.
    """

    names: tuple[str, ...]
    matrix: NDArray[np.float64]
    mean: NDArray[np.float64]
    std: NDArray[np.float64]
    normalize: bool

    def __len__(self) -> int:
        return int(self.matrix.shape[0])


def _feature_matrix(
    values: Sequence[Mapping[str, float]] | ArrayLike, names: tuple[str, ...], side: str
) -> NDArray[np.float64]:
    """Per-answer features as an (n, k) float array; dicts are read by feature name."""
    if isinstance(values, Sequence) and values and isinstance(values[0], Mapping):
        rows: list[list[float]] = []
        for row, record in enumerate(values):
            if not isinstance(record, Mapping):
                raise ValueError(f"row {row}: {side}: expected a mapping of features")
            missing = [name for name in names if name not in record]
            if missing:
                raise ValueError(f"row {row}: {side}: missing feature {missing[0]!r}")
            rows.append([float(record[name]) for name in names])
        matrix = np.array(rows, dtype=np.float64)
    else:
        matrix = np.asarray(values, dtype=np.float64)
        if matrix.size == 0:
            matrix = matrix.reshape(0, len(names))
    if matrix.ndim != 2 or matrix.shape[1] != len(names):
        raise ValueError(f"{side}: expected shape (n_battles, {len(names)}), got {matrix.shape}")
    bad = np.flatnonzero(~np.all(np.isfinite(matrix) & (matrix >= 0), axis=1))
    if bad.size:
        raise ValueError(f"row {bad[0]}: {side}: features must be finite and >= 0")
    return matrix


def style_features(
    features_a: Sequence[Mapping[str, float]] | ArrayLike,
    features_b: Sequence[Mapping[str, float]] | ArrayLike,
    *,
    names: Sequence[str] = FEATURES,
    normalize: bool = True,
    add_one: bool = False,
) -> StyleFeatures:
    """Covariates from the features of each battle's two answers (A's row, B's row).

    ``features_a``/``features_b`` are lists of dicts (as from ``answer_features``) or
    (n_battles, len(names)) arrays of counts. With ``normalize`` (FastChat's choice) the
    difference is ``(a - b) / (a + b)``, 0 when both are 0; otherwise the raw ``a - b``.
    ``add_one`` divides by ``a + b + 1`` instead, as FastChat's current code does for
    conv_metadata counts (``preprocess_for_style(add_one=True)`` in ``rating_systems.py``,
    ``construct_style_matrices`` in ``elo_analysis.py``). Each column is then standardised
    across battles.
    """
    names = tuple(names)
    if not names or len(set(names)) != len(names):
        raise ValueError("names: need distinct feature names")
    a = _feature_matrix(features_a, names, "features_a")
    b = _feature_matrix(features_b, names, "features_b")
    if a.shape != b.shape:
        raise ValueError(f"features_b: expected {a.shape[0]} rows, got {b.shape[0]}")
    diff = a - b
    if normalize:
        total = a + b + (1.0 if add_one else 0.0)
        diff = np.divide(diff, total, out=np.zeros_like(diff), where=total > 0)
    mean = diff.mean(axis=0) if len(diff) else np.zeros(len(names))
    std = diff.std(axis=0) if len(diff) else np.zeros(len(names))
    # relative threshold: a column that is constant up to rounding is constant
    varies = std > 1e-12 * np.maximum(1.0, np.abs(mean))
    std = np.where(varies, std, 0.0)
    matrix = np.divide(diff - mean, std, out=np.zeros_like(diff), where=varies)
    for array in (matrix, mean, std):
        array.setflags(write=False)
    return StyleFeatures(names=names, matrix=matrix, mean=mean, std=std, normalize=normalize)


@dataclass(frozen=True, eq=False)
class StyleControlResult:
    """Style-controlled BT: Elo-scale ratings, style coefficients, optional bootstrap.

    ``coefficients[k]`` is beta for ``feature_names[k]`` (natural log-odds per SD of the
    normalised difference). With ``rounds > 0``, ``samples[r, m]`` and
    ``coefficient_samples[r, k]`` hold the bootstrap replicates.
    """

    models: tuple[str, ...]
    ratings: NDArray[np.float64]
    log_strengths: NDArray[np.float64]
    feature_names: tuple[str, ...]
    coefficients: NDArray[np.float64]
    feature_mean: NDArray[np.float64]
    feature_std: NDArray[np.float64]
    normalize: bool
    matches: NDArray[np.int64]
    log_likelihood: float
    n_iterations: int
    converged: bool
    scale: float
    base: float
    init_rating: float
    anchor: tuple[str, float] | None
    prior: float
    beta_prior: float
    tol: float
    rounds: int
    seed: int
    resample: str
    fallback_prior: float
    samples: NDArray[np.float64] | None
    coefficient_samples: NDArray[np.float64] | None
    degenerate_rounds: int
    method: str = "style_controlled_bradley_terry"

    def as_dict(self) -> dict[str, float]:
        return dict(zip(self.models, self.ratings.tolist(), strict=True))

    def coefficients_dict(self) -> dict[str, float]:
        return dict(zip(self.feature_names, self.coefficients.tolist(), strict=True))

    def params(self) -> dict[str, object]:
        return {
            "features": list(self.feature_names),
            "normalize": self.normalize,
            "scale": self.scale,
            "base": self.base,
            "init_rating": self.init_rating,
            "anchor": None if self.anchor is None else {self.anchor[0]: self.anchor[1]},
            "prior": self.prior,
            "beta_prior": self.beta_prior,
            "tol": self.tol,
            "rounds": self.rounds,
            "seed": self.seed,
            "resample": self.resample,
            "fallback_prior": self.fallback_prior,
        }

    def interval(self, level: float = 0.95) -> IntervalResult:
        """Bootstrap percentile intervals of the ratings (needs ``rounds > 0``)."""
        low, high = _percentiles(self.samples, level)
        return IntervalResult(self.models, self.ratings, low, high, level, self.method)

    def coefficient_interval(
        self, level: float = 0.95
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Bootstrap percentile intervals (low, high) of the style coefficients."""
        return _percentiles(self.coefficient_samples, level)


def _percentiles(
    samples: NDArray[np.float64] | None, level: float
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    if samples is None:
        raise ValueError("no bootstrap samples: fit with rounds > 0")
    if not 0 < level < 1:
        raise ValueError("level must be in (0, 1)")
    tail = (1 - level) / 2
    low, high = np.quantile(samples, [tail, 1 - tail], axis=0)
    return np.asarray(low, dtype=np.float64), np.asarray(high, dtype=np.float64)


# --------------------------------------------------------------------------- the model


@dataclass(frozen=True, eq=False)
class _Problem:
    """Everything the likelihood needs; ``x`` holds only the covariates that vary."""

    n_models: int
    a: NDArray[np.intp]
    b: NDArray[np.intp]
    score: NDArray[np.float64]
    weight: NDArray[np.float64]
    x: NDArray[np.float64]
    prior: float
    beta_prior: float

    def reweighted(self, weight: NDArray[np.float64], prior: float) -> _Problem:
        return _Problem(
            self.n_models, self.a, self.b, self.score, weight, self.x, prior, self.beta_prior
        )


def _split(problem: _Problem, params: NDArray[np.float64]) -> tuple[NDArray[np.float64], ...]:
    return params[: problem.n_models], params[problem.n_models :]


def _logits(problem: _Problem, params: NDArray[np.float64]) -> NDArray[np.float64]:
    theta, beta = _split(problem, params)
    eta = theta[problem.a] - theta[problem.b]
    if beta.size:
        eta = eta + problem.x @ beta
    return np.asarray(eta, dtype=np.float64)


def _penalty(problem: _Problem, params: NDArray[np.float64]) -> float:
    theta, beta = _split(problem, params)
    return problem.prior * float(theta @ theta) + problem.beta_prior * float(beta @ beta)


def _neg_log_likelihood(problem: _Problem, params: NDArray[np.float64]) -> float:
    eta = _logits(problem, params)
    # -[s log p + (1 - s) log(1 - p)] = log(1 + e^eta) - s eta, overflow-free
    loss = np.sum(problem.weight * (np.logaddexp(0.0, eta) - problem.score * eta))
    return float(loss)


def _gradient_hessian(
    problem: _Problem, params: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Gradient and Hessian of the penalised negative log-likelihood."""
    n, k = problem.n_models, problem.x.shape[1]
    theta, beta = _split(problem, params)
    p = scipy.special.expit(_logits(problem, params))
    residual = problem.weight * (p - problem.score)  # d loss / d eta
    curvature = problem.weight * p * (1.0 - p)  # d2 loss / d eta2
    a, b, x = problem.a, problem.b, problem.x
    grad = np.empty(n + k)
    grad[:n] = np.bincount(a, residual, n) - np.bincount(b, residual, n)
    grad[n:] = residual @ x
    hess = np.empty((n + k, n + k))
    pair = np.bincount(a * n + b, curvature, n * n).reshape(n, n)
    hess[:n, :n] = -(pair + pair.T)
    hess[np.diag_indices(n)] = pair.sum(axis=0) + pair.sum(axis=1)
    weighted_x = curvature[:, None] * x
    cross = np.array([np.bincount(a, c, n) - np.bincount(b, c, n) for c in weighted_x.T])
    hess[:n, n:] = cross.T.reshape(n, k)
    hess[n:, :n] = cross.reshape(k, n)
    hess[n:, n:] = x.T @ weighted_x
    grad[:n] += 2.0 * problem.prior * theta
    grad[n:] += 2.0 * problem.beta_prior * beta
    hess[np.diag_indices(n)] += 2.0 * problem.prior
    hess[n:, n:] += 2.0 * problem.beta_prior * np.eye(k)
    return grad, hess


def _newton(
    problem: _Problem, start: NDArray[np.float64], tol: float, max_iter: int
) -> tuple[NDArray[np.float64], int, bool]:
    """Damped Newton; with no prior the theta block gets ``1 1^T`` to fix the shift."""
    n = problem.n_models
    params = start.copy()
    if problem.prior == 0:
        params[:n] -= params[:n].mean()

    def gradient_hessian(x: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        grad, hess = _gradient_hessian(problem, x)
        if problem.prior == 0:
            hess[:n, :n] += 1.0
        return grad, hess

    return damped_newton(
        lambda x: _neg_log_likelihood(problem, x) + _penalty(problem, x),
        gradient_hessian,
        params,
        tol,
        max_iter,
    )


def _bootstrap(
    problem: _Problem,
    battles: Battles,
    point: NDArray[np.float64],
    rounds: int,
    seed: int,
    resample: Resample,
    fallback_prior: float,
) -> tuple[NDArray[np.float64], int]:
    """Refits on reweighted battles, one spawned generator per round (as in BT's bootstrap)."""
    children = np.random.SeedSequence(seed).spawn(rounds)
    ones = np.ones(len(battles), dtype=np.int64)
    fits = np.empty((rounds, point.size))
    degenerate = 0
    for r in range(rounds):
        counts = resample_counts(np.random.default_rng(children[r]), ones, resample)
        weight = problem.weight * counts
        use_prior = problem.prior
        if use_prior == 0:
            cells = aggregate(dataclasses.replace(battles, weight=weight))
            if not mle_exists(pair_table(cells)):
                use_prior = fallback_prior
                degenerate += 1
        fits[r], _, _ = _newton(problem.reweighted(weight, use_prior), point, 1e-8, 100)
    return fits, degenerate


def _covariates(
    battles: Battles, features: StyleFeatures | ArrayLike
) -> tuple[tuple[str, ...], NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], bool]:
    """(names, matrix, mean, std, normalize) from a ``StyleFeatures`` or a raw matrix."""
    if isinstance(features, StyleFeatures):
        names, matrix = features.names, features.matrix
        mean, std, normalize = features.mean, features.std, features.normalize
    else:
        matrix = np.asarray(features, dtype=np.float64)
        if matrix.ndim == 1:
            matrix = matrix[:, None]
        if matrix.ndim != 2:
            raise ValueError(f"features: expected a 2-d matrix, got shape {matrix.shape}")
        names = tuple(f"feature_{k}" for k in range(matrix.shape[1]))
        mean, std, normalize = np.full(len(names), np.nan), np.full(len(names), np.nan), False
    if matrix.shape[0] != len(battles):
        raise ValueError(f"features: expected {len(battles)} rows, got {matrix.shape[0]}")
    bad = np.flatnonzero(~np.all(np.isfinite(matrix), axis=1))
    if bad.size:
        raise ValueError(f"row {bad[0]}: features: not a finite number")
    return names, matrix, mean, std, normalize


def fit_style_controlled_bt(
    battles: Battles,
    features: StyleFeatures | ArrayLike,
    *,
    scale: float = 400.0,
    base: float = 10.0,
    init_rating: float = 1000.0,
    anchor: tuple[str, float] | None = None,
    prior: float = 0.0,
    beta_prior: float = 0.0,
    tol: float = 1e-10,
    max_iter: int = 100,
    rounds: int = 0,
    seed: int = 0,
    resample: Resample = "poisson",
    fallback_prior: float = 1e-3,
) -> StyleControlResult:
    """Fit BT with style covariates (one row of ``features`` per battle; see module doc).

    ``features`` is a ``StyleFeatures`` from ``style_features`` or an already standardised
    (n_battles, k) matrix. Raises ``NoMLEError`` when ``prior == 0`` and the plain BT MLE
    does not exist (a model that never wins or never loses stays infinite whatever the
    covariates). A covariate column that is all zero is not fitted: its beta is 0.
    """
    if scale <= 0 or base <= 1:
        raise ValueError("need scale > 0 and base > 1")
    for name, value in (("prior", prior), ("beta_prior", beta_prior)):
        if value < 0 or not math.isfinite(value):
            raise ValueError(f"{name} must be a finite number >= 0")
    if rounds < 0:
        raise ValueError("rounds must be >= 0")
    if resample not in ("poisson", "multinomial"):
        raise ValueError(f"resample: unknown value {resample!r} (expected poisson or multinomial)")
    if fallback_prior <= 0:
        raise ValueError("fallback_prior must be > 0")
    names, matrix, mean, std, normalize = _covariates(battles, features)
    active = np.flatnonzero(np.any(matrix != 0, axis=0))
    problem = _Problem(
        n_models=battles.n_models,
        a=battles.model_a,
        b=battles.model_b,
        score=battles.score_a,
        weight=battles.weight,
        x=np.ascontiguousarray(matrix[:, active]),
        prior=prior,
        beta_prior=beta_prior,
    )
    if prior == 0:
        check_mle_exists(pair_table(aggregate(battles)), battles.models)
    start = np.zeros(battles.n_models + active.size)
    params, iterations, converged = _newton(problem, start, tol, max_iter)
    n = battles.n_models
    convert = {"scale": scale, "base": base, "init_rating": init_rating, "anchor": anchor}

    def coefficients_of(fitted: NDArray[np.float64]) -> NDArray[np.float64]:
        full = np.zeros(fitted.shape[:-1] + (len(names),))
        full[..., active] = fitted[..., n:]
        return full

    samples = coefficient_samples = None
    degenerate = 0
    if rounds:
        boot, degenerate = _bootstrap(
            problem, battles, params, rounds, seed, resample, fallback_prior
        )
        samples = strengths_to_ratings(boot[:, :n], battles.models, **convert)  # type: ignore[arg-type]
        coefficient_samples = coefficients_of(boot)
    theta = params[:n]
    ratings = strengths_to_ratings(theta, battles.models, **convert)  # type: ignore[arg-type]
    coefficients = coefficients_of(params)
    matches = battles.matches_per_model()
    for array in (theta, ratings, coefficients, matches, samples, coefficient_samples):
        if array is not None:
            array.setflags(write=False)
    return StyleControlResult(
        models=battles.models,
        ratings=ratings,
        log_strengths=theta,
        feature_names=names,
        coefficients=coefficients,
        feature_mean=mean,
        feature_std=std,
        normalize=normalize,
        matches=matches,
        log_likelihood=-_neg_log_likelihood(problem, params),
        n_iterations=iterations,
        converged=converged,
        scale=scale,
        base=base,
        init_rating=init_rating,
        anchor=anchor,
        prior=prior,
        beta_prior=beta_prior,
        tol=tol,
        rounds=rounds,
        seed=seed,
        resample=resample,
        fallback_prior=fallback_prior,
        samples=samples,
        coefficient_samples=coefficient_samples,
        degenerate_rounds=degenerate,
    )

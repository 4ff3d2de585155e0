"""Damped Newton for the smooth, convex negative log-likelihoods of this package."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.linalg  # type: ignore[import-untyped]
from numpy.typing import NDArray

Vector = NDArray[np.float64]


def damped_newton(
    loss: Callable[[Vector], float],
    gradient_hessian: Callable[[Vector], tuple[Vector, NDArray[np.float64]]],
    start: Vector,
    tol: float,
    max_iter: int,
) -> tuple[Vector, int, bool]:
    """Newton steps halved until the loss does not rise; (x, iterations, converged).

    The caller makes the Hessian positive definite (a prior, or ``1 1^T`` on a block whose
    parameters are only defined up to a shift). If it still is not, a least-squares step
    keeps going rather than stopping on a singular matrix.
    """
    x, current = start, loss(start)
    for iteration in range(1, max_iter + 1):
        grad, hess = gradient_hessian(x)
        try:
            step = scipy.linalg.solve(hess, -grad, assume_a="pos")
        except (np.linalg.LinAlgError, scipy.linalg.LinAlgError):
            step = np.linalg.lstsq(hess, -grad, rcond=None)[0]
        shrink = 1.0
        for _ in range(40):
            candidate = x + shrink * step
            new = loss(candidate)
            if new <= current + 1e-12 * abs(current):
                break
            shrink *= 0.5
        x, current = candidate, new
        if np.max(np.abs(shrink * step)) < tol:
            return x, iteration, True
    return x, max_iter, False

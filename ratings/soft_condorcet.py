"""Soft Condorcet Optimization (SCO): ratings that agree with as many votes as possible.

Lanctot et al. 2024, "Soft Condorcet Optimization for Ranking of General Agents"
(arXiv:2411.00119), as in open_spiel ``python/voting/soft_condorcet_optimization.py``:

    L(theta) = 1/|V| * sum over votes v, over pairs (a above b in v) of
               w_v * sigmoid((theta_b - theta_a) / tau)

minimised by full-batch projected gradient descent from the midpoint of
``[lower, upper]`` (open_spiel defaults: tau 1, lr 0.01, 1000 iterations, [0, 1000]).
The loss counts smoothed pairwise disagreements, so unlike Elo/BT it is not pulled by
margins: it approximates the Kemeny ranking and puts a Condorcet winner first.
Votes are tiered rankings; entries tied in one tier express no preference and add no
pair (for the sigmoid loss a tie counted half each way would add a constant anyway). This
is the deterministic full-batch mode (the C++ SGD variant samples batches).

Why open_spiel's defaults say nothing on an arena's data: the loss is a mean over votes,
so a model's gradient is its share of the votes (about 2/M for M models) times at most
1/(4 tau); 1000 steps of 0.01 then move a rating by at most 2.5 points, and on LLMFAO
(59 models) by about 0.1, so every model stays at the midpoint. Running the plain loss to
convergence does not help either: a pair one side wins more often is pushed apart until
the sigmoid saturates, so on sparse pairwise data most ratings end on a bound (33 of the
59 LLMFAO models in [0, 1000]).

``RATING_SCALE`` is this library's informative setting, used by ``python -m ratings`` and
the app's boards. It keeps the loss and adds, as documented here:

- ``temperature = 400 / ln 10`` (``ELO_TEMPERATURE``): sigmoid((theta_a - theta_b) / tau)
  is then the Elo expected score, so a gap of 400 points reads as 10 to 1;
- ``step="normalized"``: each model's step is its gradient over a bound on its curvature,
  ((1/4 + penalty) * W_i + prior) / (|V| tau^2) with W_i the weight of the preferences it
  is in, so ``learning_rate`` is a fraction of a full step (1.0), whatever |V| and M are;
- ``penalty = 0.03``: every preference adds penalty / 2 * (z_a^2 + z_b^2), z = (theta -
  midpoint) / tau, to its vote's loss (weight decay per preference): the optimum is finite
  and inside the bounds however many votes there are;
- ``prior = 2``: a Gaussian prior on each rating around the midpoint (prior / 2 * z^2 in
  the summed loss, a standard deviation of tau / sqrt(2), about 120 points), so a handful
  of votes moves ratings by tens of points, not hundreds; its pull fades as votes add up;
- run until no rating moves by more than ``tolerance`` (1e-6 points), at most
  ``iterations`` steps, within [0, 2000] from the midpoint 1000.

The two terms trade the ways the scale can mislead: on 4,000 battles among eight models
100 Elo apart the ratings span about 670 of the true 700 points (penalty 0.05: 540; 0.1:
390); an eight-player bracket's seven games span about 80 points (penalty alone: 840);
on LLMFAO's crowd votes the fit converges in about 100 steps to a span of about 560
points (BT's is about 330) and an order with Kendall tau 0.87 with BT's (ties count
there, not here; penalty 0.05 without the prior: 0.84).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from ratings.data import RankingInput, normalize_ranking

__all__ = [
    "ELO_TEMPERATURE",
    "RATING_SCALE",
    "SoftCondorcetResult",
    "fit_soft_condorcet",
    "fit_soft_condorcet_pairs",
    "preference_pairs",
]


Step = Literal["fixed", "normalized"]

# sigmoid(x / ELO_TEMPERATURE) = 1 / (1 + 10 ** (-x / 400)): the Elo expected score.
ELO_TEMPERATURE = 400.0 / math.log(10.0)

# The informative setting (module docstring): ratings around 1000 whose gaps read like Elo
# points, at a converged optimum.
RATING_SCALE: dict[str, Any] = {
    "temperature": ELO_TEMPERATURE,
    "learning_rate": 1.0,
    "iterations": 10_000,
    "lower": 0.0,
    "upper": 2000.0,
    "step": "normalized",
    "penalty": 0.03,
    "prior": 2.0,
    "tolerance": 1e-6,
}


@dataclass(frozen=True, eq=False)
class SoftCondorcetResult:
    """SCO ratings (higher is better) with the final loss and every hyper-parameter."""

    models: tuple[str, ...]
    ratings: NDArray[np.float64]
    loss: float
    temperature: float
    learning_rate: float
    iterations: int
    lower: float
    upper: float
    method: str = "soft_condorcet"
    step: Step = "fixed"
    penalty: float = 0.0
    prior: float = 0.0
    tolerance: float = 0.0
    steps_run: int = 0  # iterations, or fewer when the ratings stopped moving

    def as_dict(self) -> dict[str, float]:
        return dict(zip(self.models, self.ratings.tolist(), strict=True))

    def params(self) -> dict[str, float | str]:
        """The hyper-parameters (open_spiel's five; a fit with another step, a penalty, a
        prior or a tolerance records those and the steps it ran too)."""
        params: dict[str, float | str] = {
            "temperature": self.temperature,
            "learning_rate": self.learning_rate,
            "iterations": self.iterations,
            "lower": self.lower,
            "upper": self.upper,
        }
        if self.step != "fixed" or self.penalty or self.prior or self.tolerance:
            params |= {
                "step": self.step,
                "penalty": self.penalty,
                "prior": self.prior,
                "tolerance": self.tolerance,
                "steps_run": self.steps_run,
            }
        return params


def preference_pairs(
    rankings: Sequence[RankingInput],
    models: Sequence[str] | None = None,
    weights: Sequence[float] | None = None,
) -> tuple[tuple[str, ...], NDArray[np.intp], NDArray[np.intp], NDArray[np.float64]]:
    """Every strict preference (above, below, vote weight) in the votes, as index arrays."""
    if weights is not None and len(weights) != len(rankings):
        raise ValueError(f"weights: expected {len(rankings)} values, got {len(weights)}")
    tiers_per_vote = []
    for index, ranking in enumerate(rankings):
        try:
            tiers_per_vote.append(normalize_ranking(ranking))
        except ValueError as exc:
            raise ValueError(f"vote {index}: {exc}") from None
    names = {name for tiers in tiers_per_vote for tier in tiers for name in tier}
    universe = tuple(sorted(names if models is None else set(models)))
    if not names <= set(universe):
        raise ValueError(f"votes name models outside 'models': {sorted(names - set(universe))}")
    lookup = {name: k for k, name in enumerate(universe)}
    above: list[int] = []
    below: list[int] = []
    pair_weight: list[float] = []
    for index, tiers in enumerate(tiers_per_vote):
        weight = 1.0 if weights is None else float(weights[index])
        for level, tier in enumerate(tiers):
            worse = [lookup[name] for lower_tier in tiers[level + 1 :] for name in lower_tier]
            for name in tier:
                above.extend([lookup[name]] * len(worse))
                below.extend(worse)
                pair_weight.extend([weight] * len(worse))
    return (
        universe,
        np.asarray(above, dtype=np.intp),
        np.asarray(below, dtype=np.intp),
        np.asarray(pair_weight, dtype=np.float64),
    )


def _sigmoid(x: NDArray[np.float64]) -> NDArray[np.float64]:
    return np.asarray(0.5 * (1.0 + np.tanh(0.5 * x)), dtype=np.float64)


def fit_soft_condorcet(
    votes: Sequence[RankingInput],
    *,
    temperature: float = 1.0,
    learning_rate: float = 0.01,
    iterations: int = 1000,
    lower: float = 0.0,
    upper: float = 1000.0,
    weights: Sequence[float] | None = None,
    models: Sequence[str] | None = None,
    step: Step = "fixed",
    penalty: float = 0.0,
    prior: float = 0.0,
    tolerance: float = 0.0,
) -> SoftCondorcetResult:
    """Full-batch SCO on tiered votes (best first); deterministic, no seed needed. The
    defaults are open_spiel's; ``RATING_SCALE`` is the informative setting."""
    if not votes:
        raise ValueError("votes: need at least one vote")
    universe, above, below, weight = preference_pairs(votes, models, weights)
    return fit_soft_condorcet_pairs(
        universe,
        above,
        below,
        weight,
        n_votes=len(votes),
        temperature=temperature,
        learning_rate=learning_rate,
        iterations=iterations,
        lower=lower,
        upper=upper,
        step=step,
        penalty=penalty,
        prior=prior,
        tolerance=tolerance,
    )


def fit_soft_condorcet_pairs(
    models: Sequence[str],
    above: NDArray[np.intp],
    below: NDArray[np.intp],
    weight: NDArray[np.float64],
    *,
    n_votes: float,
    temperature: float = 1.0,
    learning_rate: float = 0.01,
    iterations: int = 1000,
    lower: float = 0.0,
    upper: float = 1000.0,
    step: Step = "fixed",
    penalty: float = 0.0,
    prior: float = 0.0,
    tolerance: float = 0.0,
) -> SoftCondorcetResult:
    """The same from the votes' strict preferences already summed per (above, below) pair
    (``preference_pairs`` gives them one per vote; counts per pair give the same fit):
    what a leaderboard kept as counts has. ``n_votes`` is the number of votes |V|.

    ``step="fixed"`` is open_spiel's projected gradient step ``learning_rate * gradient``;
    ``"normalized"`` divides each model's gradient by a bound on its curvature (module
    docstring). ``penalty`` adds the weight decay per preference and ``prior`` the Gaussian
    prior; with ``tolerance`` > 0 the descent stops once no rating moves by more than it."""
    if temperature <= 0 or learning_rate <= 0 or iterations < 0 or not lower < upper:
        raise ValueError("need temperature > 0, learning_rate > 0, iterations >= 0, lower < upper")
    if n_votes <= 0:
        raise ValueError("n_votes: need at least one vote")
    if step not in ("fixed", "normalized") or min(penalty, prior, tolerance) < 0:
        raise ValueError('need step "fixed" or "normalized", penalty, prior, tolerance >= 0')
    n = len(models)
    middle = (upper - lower) / 2 + lower
    theta = np.full(n, middle)
    scale = weight / temperature / n_votes
    # Weight of the preferences each model is in, over |V|: its share of the loss.
    share = (np.bincount(above, weight, n) + np.bincount(below, weight, n)) / n_votes
    decay = (penalty * share + prior / n_votes) / temperature**2
    rate = np.full(n, learning_rate)
    if step == "normalized":
        curvature = (0.25 * share) / temperature**2 + decay
        rate = np.divide(learning_rate, curvature, out=np.zeros(n), where=curvature > 0)
    steps_run = 0
    for _ in range(iterations):
        s = _sigmoid((theta[below] - theta[above]) / temperature)
        push = s * (1.0 - s) * scale
        grad = np.asarray(np.bincount(below, push, n) - np.bincount(above, push, n), np.float64)
        if penalty or prior:
            grad = grad + decay * (theta - middle)
        moved = np.clip(theta - rate * grad, lower, upper)
        steps_run += 1
        done = tolerance > 0 and float(np.max(np.abs(moved - theta), initial=0.0)) <= tolerance
        theta = moved
        if done:
            break
    z = (theta - middle) / temperature
    loss = float(np.sum(weight * _sigmoid((theta[below] - theta[above]) / temperature)) / n_votes)
    if penalty or prior:
        loss += float(np.sum(weight * (z[above] ** 2 + z[below] ** 2)) * penalty / 2 / n_votes)
        loss += float(np.sum(z**2)) * prior / 2 / n_votes
    theta.setflags(write=False)
    return SoftCondorcetResult(
        models=tuple(models),
        ratings=theta,
        loss=loss,
        temperature=temperature,
        learning_rate=learning_rate,
        iterations=iterations,
        lower=lower,
        upper=upper,
        step=step,
        penalty=penalty,
        prior=prior,
        tolerance=tolerance,
        steps_run=steps_run,
    )

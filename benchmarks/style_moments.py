"""Style control from cell moments (``ratings.style_moments``) against the exact fit.

Three parts, each printing a markdown table (benchmarks/README.md, "Style control from
cell moments"):

- ``accuracy``: the largest rating gap (Elo points) and coefficient gap between
  ``fit_style_moments`` and the exact per-battle ``fit_style_controlled_bt`` (same
  penalties, covariates ``z = d / RMS(d)``), over a grid of true style effects, for both
  approximations, worst over ``--seeds`` simulated arenas per row; and the gap to the
  exact fit with ``style_features``' centred standardisation (FastChat's) on the same
  random-side battles.
- ``coverage``: how often the 95% intervals contain the truth (every pairwise rating
  difference, every centred rating, the length coefficient) over ``--reps`` simulated
  arenas per setting, with the tie counts (sandwich; ± its Monte Carlo standard error),
  without them (the sandwich then equals the model-based interval); at large counts and
  a strong style effect the approximation's bias is no longer small beside the interval.
- ``speed``: 100 models, 1M battles in 16 slices per pair (~79k cells, as the app keeps
  them per tournament, source and category), summed to 4,950 pairs and fitted; median
  wall time of ``--repeat`` runs, and one exact per-battle fit for comparison.

Simulated arena (the same as tests/ratings/test_style_moments.py): log-strengths
N(0, 0.6^2); answer lengths log-normal per model (longer for stronger models), clipped to
100-1000 tokens; headers, list items and bold spans Poisson per model (more for
stronger models), 0 for a per-model share of plain answers, capped at 20; sides at random;
P(a wins) + P(tie) / 2 = sigmoid(theta_a - theta_b + beta . z) with ties
``0.3 * 4 p (1 - p)`` (about 25% of battles).

    PYTHONPATH=. python benchmarks/style_moments.py --part accuracy
    PYTHONPATH=. nice -n 10 python benchmarks/style_moments.py --part coverage --reps 200
    PYTHONPATH=. python benchmarks/style_moments.py --part speed
"""

from __future__ import annotations

import os

# n x n algebra with n = 104: a threaded BLAS only adds synchronisation on a busy machine
for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import argparse  # noqa: E402
import math  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass  # noqa: E402

import numpy as np  # noqa: E402
from numpy.typing import NDArray  # noqa: E402

from ratings.data import Battles, battles_from_arrays  # noqa: E402
from ratings.style import fit_style_controlled_bt, style_features  # noqa: E402
from ratings.style_moments import (  # noqa: E402
    Approximation,
    fit_style_moments,
    moments_from_battles,
    product_pairs,
    style_moments,
)

UNIT = 400.0 / math.log(10.0)


@dataclass(frozen=True)
class Arena:
    battles: Battles
    features_a: NDArray[np.float64]
    features_b: NDArray[np.float64]
    theta: NDArray[np.float64]
    d: NDArray[np.float64]

    def z(self) -> NDArray[np.float64]:
        rms = np.sqrt(np.mean(self.d * self.d, axis=0))
        return np.divide(self.d, rms, out=np.zeros_like(self.d), where=rms > 0)


def simulate(
    n_models: int, n_battles: int, beta: NDArray[np.float64], seed: int, tie: float = 0.3
) -> Arena:
    rng = np.random.default_rng(seed)
    theta = rng.normal(0.0, 0.6, n_models)
    theta -= theta.mean()
    log_length = np.log(350.0) + 0.4 * theta + rng.normal(0.0, 0.35, n_models)
    markdown = np.exp(rng.normal(0.5, 0.8, (n_models, 3)) + 0.3 * theta[:, None])
    plain = rng.uniform(0.05, 0.6, n_models)
    a = rng.integers(0, n_models, n_battles)
    b = (a + rng.integers(1, n_models, n_battles)) % n_models

    def answers(model: NDArray[np.int64]) -> NDArray[np.float64]:
        length = np.clip(np.rint(np.exp(rng.normal(log_length[model], 0.45))), 100, 1000)
        counts = rng.poisson(markdown[model] * rng.gamma(2.0, 0.5, (model.size, 1)))
        counts = np.where(rng.random((model.size, 1)) < plain[model, None], 0, counts)
        return np.column_stack([length, np.minimum(counts, 20)]).astype(np.float64)

    fa, fb = answers(a), answers(b)
    total = fa + fb
    d = np.divide(fa - fb, total, out=np.zeros_like(total), where=total > 0)
    rms = np.sqrt(np.mean(d * d, axis=0))
    p = 1.0 / (1.0 + np.exp(-(theta[a] - theta[b] + (d / rms) @ beta)))
    p_tie = tie * 4.0 * p * (1.0 - p)
    u = rng.random(n_battles)
    outcome = np.where(u < p - p_tie / 2, 2, np.where(u < p + p_tie / 2, 1, 0))
    names = np.array([f"m{k:03d}" for k in range(n_models)])
    battles = battles_from_arrays(names[a], names[b], outcome, models=list(names))
    return Arena(battles, fa, fb, theta, d)


# --------------------------------------------------------------------------- accuracy

BETAS: list[tuple[str, tuple[float, float, float, float]]] = [
    ("0, 0, 0, 0", (0.0, 0.0, 0.0, 0.0)),
    ("0.1, .05 x 3", (0.1, 0.05, 0.05, 0.05)),
    ("0.3, .05 x 3", (0.3, 0.05, 0.05, 0.05)),
    ("0.5, .05 x 3", (0.5, 0.05, 0.05, 0.05)),
    ("0.7, .05 x 3", (0.7, 0.05, 0.05, 0.05)),
    ("1.0, .05 x 3", (1.0, 0.05, 0.05, 0.05)),
    ("0.3, 0.3 x 3", (0.3, 0.3, 0.3, 0.3)),
    ("1.0, 0.3 x 3", (1.0, 0.3, 0.3, 0.3)),
]


def accuracy(sizes: list[tuple[int, int]], seeds: int) -> None:
    print(
        "| models, battles | true beta (length; headers, lists, bold) | gaussian: Elo, beta "
        "| taylor: Elo, beta | within-pair spread | vs FastChat-standardised exact: Elo |"
    )
    print("|---|---|---:|---:|---:|---:|")
    for n_models, n_battles in sizes:
        for label, beta in BETAS:
            gaps: dict[Approximation, list[tuple[float, float]]] = {"gaussian": [], "taylor": []}
            spread, centred = [], []
            for seed in range(seeds):
                arena = simulate(n_models, n_battles, np.array(beta), seed=seed)
                exact = fit_style_controlled_bt(arena.battles, arena.z(), prior=0.1, beta_prior=0.1)
                moments = moments_from_battles(arena.battles, arena.features_a, arena.features_b)
                for how in gaps:
                    fit = fit_style_moments(moments, approximation=how)
                    gaps[how].append(
                        (
                            float(np.max(np.abs(fit.ratings - exact.ratings))),
                            float(np.max(np.abs(fit.coefficients - exact.coefficients))),
                        )
                    )
                    if how == "gaussian":
                        spread.append(fit.within_spread)
                        fastchat = fit_style_controlled_bt(
                            arena.battles,
                            style_features(arena.features_a, arena.features_b),
                            prior=0.1,
                            beta_prior=0.1,
                        )
                        centred.append(float(np.max(np.abs(fit.ratings - fastchat.ratings))))
            cells = [
                f"{max(g[0] for g in gaps[h]):.2f}, {max(g[1] for g in gaps[h]):.4f}"
                for h in ("gaussian", "taylor")
            ]
            print(
                f"| {n_models}, {n_battles:,} | {label} | {cells[0]} | {cells[1]} "
                f"| {statistics.mean(spread):.2f} | {max(centred):.2f} |"
            )


# --------------------------------------------------------------------------- coverage


def coverage(settings: list[tuple[int, int, tuple[float, float, float, float]]], reps: int) -> None:
    print(
        "| models | battles per pair | true beta | ties | pair differences: sandwich / no ties "
        "| centred ratings: sandwich / no ties | beta length: sandwich / no ties "
        "| median half-width of a difference (Elo) |"
    )
    print("|---:|---:|---|---:|---:|---:|---:|---:|")
    for n_models, per_pair, true_beta in settings:
        beta = np.array(true_beta)
        n_battles = per_pair * n_models * (n_models - 1) // 2
        i, j = np.triu_indices(n_models, 1)
        pairs: dict[str, list[float]] = {"sandwich": [], "none": []}
        models: dict[str, list[float]] = {"sandwich": [], "none": []}
        betas: dict[str, list[float]] = {"sandwich": [], "none": []}
        ties, widths = [], []
        for rep in range(reps):
            arena = simulate(n_models, n_battles, beta, seed=10_000 + rep)
            ties.append(float(np.mean(arena.battles.outcome == 1)))
            full = moments_from_battles(arena.battles, arena.features_a, arena.features_b)
            bare = style_moments(
                full.model_a,
                full.model_b,
                full.n,
                full.sy,
                full.sd,
                full.syd,
                full.sdd,
                models=full.models,
            )
            truth = arena.theta * UNIT
            for kind, moments in (("sandwich", full), ("none", bare)):
                fit = fit_style_moments(moments)
                c = fit.covariance[:n_models, :n_models] * UNIT**2
                half = 1.959964 * np.sqrt(c[i, i] + c[j, j] - 2.0 * c[i, j])
                error = (fit.ratings[i] - fit.ratings[j]) - (truth[i] - truth[j])
                pairs[kind].append(float(np.mean(np.abs(error) <= half)))
                centred = truth - truth.mean() + 1000.0
                models[kind].append(
                    float(np.mean((fit.ci_low <= centred) & (centred <= fit.ci_high)))
                )
                low, high = fit.coefficient_low[0], fit.coefficient_high[0]
                betas[kind].append(float(low <= beta[0] <= high))
                if kind == "sandwich":
                    widths.append(float(np.median(half)))

        def share(values: dict[str, list[float]]) -> str:
            # Monte Carlo standard error from the spread of the per-arena shares
            error = float(np.std(values["sandwich"]) / math.sqrt(reps))
            return (
                f"{np.mean(values['sandwich']):.3f} ± {error:.3f} / {np.mean(values['none']):.3f}"
            )

        label = f"{true_beta[0]:g}, {true_beta[1]:g} x 3"
        print(
            f"| {n_models} | {per_pair:,} | {label} | {statistics.mean(ties):.0%} "
            f"| {share(pairs)} | {share(models)} | {share(betas)} "
            f"| {statistics.median(widths):.1f} |"
        )


# --------------------------------------------------------------------------- speed


def speed(repeat: int, exact: bool) -> None:
    n_models, slices = 100, 16
    arena = simulate(n_models, 1_000_000, np.array([0.3, 0.05, 0.05, 0.05]), seed=7)
    rng = np.random.default_rng(0)
    a, b = arena.battles.model_a, arena.battles.model_b
    y, d = arena.battles.score_a, arena.d
    flip = a > b  # the app writes cells with a < b
    y = np.where(flip, 1.0 - y, y)
    d = np.where(flip[:, None], -d, d)
    low, high = np.minimum(a, b), np.maximum(a, b)
    key = (low.astype(np.int64) * n_models + high) * slices + rng.integers(0, slices, y.size)
    cells, index = np.unique(key, return_inverse=True)

    def per_cell(values: NDArray[np.float64]) -> NDArray[np.float64]:
        # Weighted counts are float64 (numpy's stub types every bincount as integers).
        return np.bincount(index, values, cells.size).astype(np.float64, copy=False)

    columns = {
        "n": per_cell(np.ones(y.size)),
        "sy": per_cell(y),
        "sd": np.column_stack([per_cell(d[:, f]) for f in range(4)]),
        "syd": np.column_stack([per_cell(y * d[:, f]) for f in range(4)]),
        "sdd": np.column_stack([per_cell(d[:, f] * d[:, g]) for f, g in product_pairs(4)]),
        "ties": per_cell((y == 0.5).astype(np.float64)),
    }
    cell_a, cell_b = cells // slices // n_models, cells // slices % n_models
    names = np.array(arena.battles.models)
    timings: dict[str, list[float]] = {}

    def timed(label: str, start: float) -> float:
        now = time.perf_counter()
        timings.setdefault(label, []).append(1000.0 * (now - start))
        return now

    for _ in range(repeat):
        start = time.perf_counter()
        moments = style_moments(
            cell_a,
            cell_b,
            columns["n"],
            columns["sy"],
            columns["sd"],
            columns["syd"],
            columns["sdd"],
            ties=columns["ties"],
            models=arena.battles.models,
        )
        start = timed("sum 79k cells to pairs (indices)", start)
        fit = fit_style_moments(moments)
        start = timed(f"fit, gaussian ({fit.n_iterations} Newton steps), intervals", start)
        taylor = fit_style_moments(moments, approximation="taylor")
        start = timed(f"fit, taylor ({taylor.n_iterations} Newton steps), intervals", start)
        style_moments(
            names[cell_a],
            names[cell_b],
            columns["n"],
            columns["sy"],
            columns["sd"],
            columns["syd"],
            columns["sdd"],
            ties=columns["ties"],
        )
        timed("sum 79k cells to pairs (names)", start)
    print(f"{cells.size:,} cells, {len(moments):,} pairs, {moments.n.sum():,.0f} battles\n")
    print("| step | median ms | min ms |")
    print("|---|---:|---:|")
    for label, values in timings.items():
        print(f"| {label} | {statistics.median(values):.1f} | {min(values):.1f} |")
    if exact:
        start = time.perf_counter()
        reference = fit_style_controlled_bt(arena.battles, arena.z(), prior=0.1, beta_prior=0.1)
        elapsed = time.perf_counter() - start
        gap = float(np.max(np.abs(reference.ratings - fit.ratings)))
        beta_gap = float(np.max(np.abs(reference.coefficients - fit.coefficients)))
        print(
            f"| exact per-battle fit, 1M rows ({reference.n_iterations} Newton steps) "
            f"| {1000 * elapsed:.0f} | (once; gap to the moments fit {gap:.2f} Elo, "
            f"beta {beta_gap:.4f}) |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--part", choices=["accuracy", "coverage", "speed", "all"], default="all")
    parser.add_argument("--seeds", type=int, default=3, help="arenas per accuracy row")
    parser.add_argument("--reps", type=int, default=200, help="arenas per coverage row")
    parser.add_argument("--repeat", type=int, default=7, help="timed runs for speed")
    parser.add_argument("--no-exact", action="store_true", help="speed: skip the exact fit")
    args = parser.parse_args()
    if args.part in ("accuracy", "all"):
        accuracy([(10, 20_000), (30, 100_000)], args.seeds)
        print()
    if args.part in ("coverage", "all"):
        realistic, strong = (0.3, 0.05, 0.05, 0.05), (1.0, 0.05, 0.05, 0.05)
        coverage(
            [
                (8, 30, realistic),
                (8, 500, realistic),
                (30, 10, realistic),
                (30, 150, realistic),
                (8, 5_000, realistic),
                (8, 500, strong),
                (8, 5_000, strong),
            ],
            args.reps,
        )
        print()
    if args.part in ("speed", "all"):
        speed(args.repeat, not args.no_exact)


if __name__ == "__main__":
    main()

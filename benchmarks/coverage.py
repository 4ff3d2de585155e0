"""Interval coverage: how often 95% intervals contain the true ratings, by verdicts per model.

    PYTHONPATH=. python benchmarks/coverage.py                       # the README's tables
    PYTHONPATH=. python benchmarks/coverage.py --settings issue --reps 1000 --sizes 2,5
    PYTHONPATH=. python benchmarks/coverage.py --speed-only

Simulated tournaments with known ratings. Each repetition draws true log-strengths from
N(0, spread^2), centres them (ratings are identified only up to a shift, and both methods
report centred ratings, mean 1000), plays the battles and fits the cells twice on the same
data: ``ratings.hierarchical.hierarchical_bradley_terry`` and the leaderboards' current
``sandwich_bradley_terry(prior=0.1)``. A 95% interval "covers" when it contains the model's
true centred rating; the share is over repetitions x models.

Ties: P(tie) = t * 4 p (1 - p) and P(A wins) = p - P(tie) / 2, with p = sigmoid(theta_a -
theta_b) and t set so that ties are the setting's share of all verdicts. Then a verdict's
expected score (tie = half a win) is exactly p, so the true ratings are what BT with half-win
ties estimates, for both methods alike; ties only lower a verdict's variance, by P(tie) / 4.

Pairings: ``rounds`` plays random perfect matchings, one battle per model per round, so
every model has exactly the stated number of verdicts; ``skewed`` draws battles at random
with pair weights w_a * w_b, two models of eight weighing 6 and the rest 1, so those two play
about four times as often as the others (the stated number is then the mean per model).
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # small dense solves: BLAS threads only add overhead

import numpy as np  # noqa: E402
from numpy.typing import NDArray  # noqa: E402

from ratings.bootstrap import sandwich_bradley_terry  # noqa: E402
from ratings.data import Battles, Cells, aggregate  # noqa: E402
from ratings.hierarchical import SPREAD_PRIOR_WIDTH, hierarchical_bradley_terry  # noqa: E402

ELO_PER_NAT = 400.0 / math.log(10.0)
SIZES = (1, 2, 5, 20, 100, 1000)
REPS = 300


@dataclass(frozen=True)
class Setting:
    """A kind of board: how many models, how spread out, how many ties, who plays whom."""

    label: str
    models: int = 8
    spread: float = 100.0  # standard deviation of the true ratings, Elo
    ties: float = 0.2  # share of all verdicts
    pairing: str = "rounds"  # or "skewed"
    spread_log_sd: float = 0.0  # > 0: each board's spread is spread * exp(N(0, this^2))


SETTINGS: dict[str, Setting] = {
    "issue": Setting("8 models, sd 100, 20% ties (the issue's)"),
    "sd50": Setting("sd 50", spread=50.0),
    "sd200": Setting("sd 200", spread=200.0),
    "models30": Setting("30 models", models=30),
    "skewed": Setting("skewed pairings", pairing="skewed"),
    "noties": Setting("no ties", ties=0.0),
    "ties40": Setting("40% ties", ties=0.4),
    "prior": Setting("sd drawn from the prior", spread_log_sd=SPREAD_PRIOR_WIDTH),
}

Interval = tuple[NDArray[np.float64], NDArray[np.float64]]


def hierarchical(cells: Cells) -> Interval:
    fit = hierarchical_bradley_terry(cells)
    return fit.ci_low, fit.ci_high


def sandwich(cells: Cells) -> Interval:
    fit = sandwich_bradley_terry(cells, prior=0.1)
    return fit.ci_low, fit.ci_high


METHODS: dict[str, Callable[[Cells], Interval]] = {
    "hierarchical": hierarchical,
    "sandwich (prior 0.1)": sandwich,
}


def tie_scale(setting: Setting, rng: np.random.Generator) -> float:
    """t such that ties are ``setting.ties`` of all verdicts (Monte Carlo over pairs)."""
    if setting.ties == 0:
        return 0.0
    diff = rng.normal(0.0, setting.spread / ELO_PER_NAT, (200_000, 2)) @ np.array([1.0, -1.0])
    p = 1.0 / (1.0 + np.exp(-diff))
    t = setting.ties / float(np.mean(4.0 * p * (1.0 - p)))
    if t > 0.5:  # beyond this P(A wins) would go negative for an even pair
        raise ValueError(f"{setting.label}: {setting.ties:.0%} ties is not reachable")
    return t


def pairings(
    setting: Setting, verdicts: int, rng: np.random.Generator
) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """Model indices of each battle's two sides."""
    n = setting.models
    if setting.pairing == "rounds":
        if n % 2:
            raise ValueError("rounds pairing needs an even number of models")
        order = np.stack([rng.permutation(n) for _ in range(verdicts)])
        return order[:, 0::2].ravel().astype(np.intp), order[:, 1::2].ravel().astype(np.intp)
    if setting.pairing == "skewed":
        weight = np.ones(n)
        weight[:2] = 6.0
        low, high = np.triu_indices(n, 1)
        pair_weight = weight[low] * weight[high]
        chosen = rng.choice(low.size, size=n * verdicts // 2, p=pair_weight / pair_weight.sum())
        flip = rng.random(chosen.size) < 0.5
        a = np.where(flip, high[chosen], low[chosen])
        b = np.where(flip, low[chosen], high[chosen])
        return a.astype(np.intp), b.astype(np.intp)
    raise ValueError(f"unknown pairing {setting.pairing!r}")


def simulate(
    setting: Setting, verdicts: int, rng: np.random.Generator, ties: float
) -> tuple[NDArray[np.float64], Cells]:
    """True centred log-strengths and the cells of one simulated board.

    ``ties`` is the scale t of the tie probability (``tie_scale``).
    """
    n = setting.models
    spread = setting.spread
    if setting.spread_log_sd > 0:
        spread *= math.exp(rng.normal(0.0, setting.spread_log_sd))
    theta = rng.normal(0.0, spread / ELO_PER_NAT, n)
    theta -= theta.mean()
    a, b = pairings(setting, verdicts, rng)
    p = 1.0 / (1.0 + np.exp(-(theta[a] - theta[b])))
    p_tie = ties * 4.0 * p * (1.0 - p)
    draw = rng.random(p.size)
    outcome = np.where(draw < p - p_tie / 2, 2, np.where(draw < p + p_tie / 2, 1, 0))
    battles = Battles(
        models=tuple(f"m{k:03d}" for k in range(n)),
        model_a=a,
        model_b=b,
        outcome=outcome.astype(np.int8),
        weight=np.ones(a.size),
    )
    return theta, aggregate(battles)


@dataclass
class Tally:
    """Per-repetition coverage shares and interval widths of one method."""

    shares: list[float]
    widths: list[float]
    zero_width: int = 0
    models: int = 0

    @property
    def coverage(self) -> float:
        return statistics.fmean(self.shares)

    @property
    def binomial_se(self) -> float:
        c, trials = self.coverage, len(self.shares) * self.models
        return math.sqrt(c * (1 - c) / trials)

    @property
    def repetition_se(self) -> float:
        """SE from the spread of per-repetition shares: models of one board are not
        independent trials (they share its data and its spread)."""
        return statistics.stdev(self.shares) / math.sqrt(len(self.shares))


def coverage(
    setting: Setting,
    verdicts: int,
    reps: int,
    seed: int = 0,
    methods: dict[str, Callable[[Cells], Interval]] | None = None,
) -> dict[str, Tally]:
    """Coverage of the true centred ratings by each method, on the same simulated boards."""
    methods = METHODS if methods is None else methods
    rng = np.random.default_rng(np.random.SeedSequence([seed, setting.models, verdicts]))
    ties = tie_scale(setting, rng)
    tallies = {name: Tally([], [], models=setting.models) for name in methods}
    for _ in range(reps):
        theta, cells = simulate(setting, verdicts, rng, ties)
        truth = 1000.0 + ELO_PER_NAT * theta
        for name, method in methods.items():
            low, high = method(cells)
            tally = tallies[name]
            tally.shares.append(float(np.mean((low <= truth) & (truth <= high))))
            tally.widths.append(float(np.mean(high - low)))
            tally.zero_width += int(np.sum(high - low <= 1e-9))
    return tallies


def _cell(tally: Tally) -> str:
    return f"{tally.coverage:.3f} ± {tally.binomial_se:.3f} ({tally.repetition_se:.3f})"


def print_table(rows: Sequence[tuple[Setting, int, int, dict[str, Tally]]]) -> None:
    names = list(METHODS)
    head = ["setting", "verdicts per model", "reps"]
    for name in names:
        head += [f"{name}: covered ± se (rep se)", f"{name}: mean width"]
    head.append("sandwich zero-width intervals")
    print("| " + " | ".join(head) + " |")
    print("|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|")
    for setting, verdicts, reps, tallies in rows:
        cells = [setting.label, f"{verdicts:,}", str(reps)]
        for name in names:
            cells += [_cell(tallies[name]), f"{statistics.fmean(tallies[name].widths):.0f}"]
        cells.append(f"{tallies[names[1]].zero_width}")
        print("| " + " | ".join(cells) + " |", flush=True)


#: (models, battles) of the boards ``speed`` times: 100 models give about 20k cells.
SPEED_BOARDS = ((8, 400), (30, 3_000), (100, 40_000), (200, 160_000))


def speed(runs: int = 20) -> None:
    """Wall time (median, fastest) and CPU time (median) of one fit per method on boards of
    growing size; on a shared machine the CPU time moves less with the load."""
    print("| models | cells | method | wall median ms | wall min ms | CPU median ms |")
    print("|---:|---:|---|---:|---:|---:|")
    for models, battles in SPEED_BOARDS:
        rng = np.random.default_rng(0)
        setting = Setting("speed", models=models)
        _, cells = simulate(setting, 2 * battles // models, rng, tie_scale(setting, rng))
        for name, method in METHODS.items():
            method(cells)  # warm caches and imports
            wall, cpu = [], []
            for _ in range(runs):
                start, start_cpu = time.perf_counter(), time.process_time()
                method(cells)
                wall.append(time.perf_counter() - start)
                cpu.append(time.process_time() - start_cpu)
            median, fastest = statistics.median(wall) * 1e3, min(wall) * 1e3
            on_cpu = statistics.median(cpu) * 1e3
            row = [f"{models}", f"{len(cells):,}", name, f"{median:.1f}", f"{fastest:.1f}"]
            print("| " + " | ".join([*row, f"{on_cpu:.1f}"]) + " |")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--settings", default=",".join(SETTINGS), help="comma-separated keys")
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)), help="verdicts per model")
    parser.add_argument("--reps", type=int, default=REPS)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--speed-only", action="store_true")
    args = parser.parse_args(argv)
    if not args.speed_only:
        sizes = [int(size) for size in args.sizes.split(",")]
        rows = []
        for key in args.settings.split(","):
            setting = SETTINGS[key]
            for verdicts in sizes:
                tallies = coverage(setting, verdicts, args.reps, args.seed)
                rows.append((setting, verdicts, args.reps, tallies))
                print(f"  done: {setting.label}, {verdicts} verdicts", file=sys.stderr, flush=True)
        print_table(rows)
    speed()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Sample efficiency: judge calls each strategy needs to rank M simulated models.

    PYTHONPATH=. python benchmarks/sample_efficiency.py                      # M = 20 and 50
    PYTHONPATH=. python benchmarks/sample_efficiency.py --models 20 --seeds 10 --jobs 2

Runs ``arena.formats.simulation`` (no model, no Django) for every strategy on the same
seeded truths and prints one Markdown table per M. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # small dense solves: BLAS threads only add overhead

from concurrent.futures import ProcessPoolExecutor  # noqa: E402

from arena.formats.simulation import STRATEGIES, Settings, format_table, simulate  # noqa: E402

# Weng-Lin online updates are a pure-Python loop per vote: too slow for the default run.
DEFAULT = [name for name in STRATEGIES if name != "kwise_balanced_bayes"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="20,50", help="comma-separated M values")
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--strategies", default=",".join(DEFAULT))
    parser.add_argument("--calls-per-model", type=int, default=600, help="cap = this x M")
    parser.add_argument("--batch", type=int, default=32, help="adaptive batch size")
    parser.add_argument("--spread", type=float, default=100.0)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args(argv)
    names = [n for n in args.strategies.split(",") if n]
    for m in (int(v) for v in args.models.split(",")):
        settings = Settings(
            n_models=m,
            spread=args.spread,
            max_calls=args.calls_per_model * m,
            batch=args.batch,
        )
        started = time.perf_counter()
        with ProcessPoolExecutor(args.jobs) as pool:
            summaries = simulate(names, range(args.seeds), settings, map_fn=pool.map)
        elapsed = time.perf_counter() - started
        print(
            f"\nM = {m}, {args.seeds} seeds, spread sd {args.spread:g} Elo, "
            f"cap {settings.cap():,} calls, adaptive batch {args.batch}, {elapsed:.0f} s\n"
        )
        print(format_table(summaries))
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Speed of the ``ratings`` package against evalica and arena-rank on synthetic arena data.

Synthetic data: ``--models`` models with normal(0, 1) log-strengths, ``--battles``
uniformly drawn pairs, ``--tie-rate`` of them ties, the rest decided by BT
probabilities; everything from ``--seed``. Each row of the output table is one task,
timed once (wall clock), with the largest rating gap to our answer in Elo points, so
speed is never bought with a different answer.

Peak memory (our rows): the pipeline is run again in a fresh subprocess (``--peak-only``)
so earlier tasks cannot inflate it; ``resource.getrusage`` ``ru_maxrss`` is read after
encoding, after aggregating and after BT fit + bootstrap, and ``tracemalloc`` (which sees
numpy's buffers) gives the peak allocated by fit + bootstrap alone. Linux reports
``ru_maxrss`` in KiB; ``--no-memory`` skips the subprocess.

    PYTHONPATH=. python benchmarks/ratings_speed.py            # 200 models, 2M battles
    PYTHONPATH=. python benchmarks/ratings_speed.py --battles 200000 --skip-elo

Competitors are optional: a library that is not installed is reported as skipped.
(``pip install evalica arena-rank pandas``; FastChat's ``rating_systems.py`` is not on
PyPI: the ``fschat`` 0.2.36 wheel predates it.)

End to end from files (``--skip-files`` to leave out, ``--only-files`` for these alone):
the same battles are written once as FastChat battle files (``model_a``, ``model_b``,
``winner``, ``tstamp``) in Parquet, JSON lines and CSV into ``--files-dir`` (a temporary
folder by default), then each is fitted in a fresh process, timed as wall clock around
the subprocess so both sides pay interpreter start-up and imports:

- ours: ``python -m ratings fit FILE`` (its default for BT: a 100-round bootstrap; the
  script spells out ``--ci bootstrap --bootstrap ROUNDS --seed SEED --output json``);
- evalica: ``pandas.read_parquet`` / ``read_json(lines=True)`` / ``read_csv``, winners
  mapped to ``evalica.Winner``, one ``evalica.bradley_terry`` fit (no intervals).

The peak RSS of each subprocess comes from ``os.wait4``; "max gap" compares evalica's
scores with our BT ratings on the Elo scale.

    PYTHONPATH=. python benchmarks/ratings_speed.py --only-files --files-dir /tmp/battles
"""

from __future__ import annotations

import os

# Our linear algebra is on n_models x n_models matrices (200 x 200): a threaded BLAS only
# adds synchronisation, and on a busy 2-core machine its spinning threads made the BT fit
# 20x slower. Set before numpy loads; override by exporting the variables yourself.
for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import argparse  # noqa: E402
import importlib.util  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import multiprocessing  # noqa: E402
import resource  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any, TypeVar  # noqa: E402

import numpy as np  # noqa: E402
from numpy.typing import NDArray  # noqa: E402

from ratings.bootstrap import bootstrap_bradley_terry, sandwich_bradley_terry  # noqa: E402
from ratings.bradley_terry import fit_bradley_terry  # noqa: E402
from ratings.data import aggregate, battles_from_arrays  # noqa: E402
from ratings.elo import online_elo  # noqa: E402

T = TypeVar("T")
LABELS = np.array(["model_b", "tie", "model_a"])


@dataclass(frozen=True)
class Row:
    library: str
    task: str
    seconds: float | None
    gap: float | None = None
    note: str = ""
    peak_mib: float | None = None


@dataclass(frozen=True)
class Synthetic:
    names: NDArray[np.str_]
    model_a: NDArray[np.str_]
    model_b: NDArray[np.str_]
    winner: NDArray[np.str_]


def synthetic(n_models: int, n_battles: int, tie_rate: float, seed: int) -> Synthetic:
    """Uniform random pairs; ties at ``tie_rate``; other outcomes drawn from BT."""
    rng = np.random.default_rng(seed)
    strength = rng.normal(0.0, 1.0, n_models)
    a = rng.integers(0, n_models, n_battles)
    b = (a + rng.integers(1, n_models, n_battles)) % n_models
    p_a = 1.0 / (1.0 + np.exp(strength[b] - strength[a]))
    tie = rng.random(n_battles) < tie_rate
    outcome = np.where(tie, 1, np.where(rng.random(n_battles) < p_a, 2, 0))
    names = np.array([f"model-{k:03d}" for k in range(n_models)])
    return Synthetic(names, names[a], names[b], LABELS[outcome])


def timed(function: Callable[[], T]) -> tuple[T, float]:
    start = time.perf_counter()
    result = function()
    seconds = time.perf_counter() - start
    print(f"  {getattr(function, '__name__', 'task')}: {seconds:.3f} s", file=sys.stderr)
    return result, seconds


def gap(ours: dict[str, float], theirs: dict[str, float]) -> float:
    return max(abs(ours[name] - theirs[name]) for name in ours)


MIB = 1024 * 1024


def max_rss_mib() -> float:
    """Peak resident set size of this process so far (Linux: ru_maxrss in KiB)."""
    scale = 1 if sys.platform == "darwin" else 1024  # macOS reports bytes
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / MIB


def peak_memory(args: argparse.Namespace) -> dict[str, float]:
    """Run in a fresh process (``--peak-only``): peak RSS per stage, in MiB."""
    data = synthetic(args.models, args.battles, args.tie_rate, args.seed)
    after_data = max_rss_mib()
    battles = battles_from_arrays(data.model_a, data.model_b, data.winner)
    after_encode = max_rss_mib()
    cells = aggregate(battles)
    after_aggregate = max_rss_mib()
    tracemalloc.start()
    fit_bradley_terry(cells)
    bootstrap_bradley_terry(cells, rounds=args.rounds, seed=args.seed)
    _, traced = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {
        "synthetic_data": after_data,
        "encode": after_encode,
        "aggregate": after_aggregate,
        "fit_bootstrap": max_rss_mib(),
        "fit_bootstrap_traced": traced / MIB,
    }


def measure_in_subprocess(args: argparse.Namespace) -> dict[str, float]:
    command = [
        sys.executable,
        __file__,
        "--peak-only",
        *("--models", str(args.models), "--battles", str(args.battles)),
        *("--tie-rate", str(args.tie_rate), "--rounds", str(args.rounds)),
        *("--seed", str(args.seed)),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    result: dict[str, float] = json.loads(done.stdout)
    return result


def add_memory(rows: list[Row], peaks: dict[str, float]) -> list[Row]:
    """Attach the subprocess's peak RSS to our encode / aggregate / fit + bootstrap rows."""
    out = []
    for row in rows:
        if row.library == "ratings" and row.task.startswith("encode"):
            row = Row(**{**row.__dict__, "peak_mib": peaks["encode"]})
        elif row.library == "ratings" and row.task.startswith("aggregate"):
            row = Row(**{**row.__dict__, "peak_mib": peaks["aggregate"]})
        elif row.library == "ratings" and row.task.startswith("BT fit + bootstrap"):
            note = (
                f"{row.note}; process peak RSS (input arrays included), "
                f"fit + bootstrap allocate {peaks['fit_bootstrap_traced']:.0f} MiB at peak"
            )
            row = Row(**{**row.__dict__, "note": note, "peak_mib": peaks["fit_bootstrap"]})
        out.append(row)
    return out


def bench_ours(
    data: Synthetic, rounds: int, seed: int, skip_elo: bool
) -> tuple[list[Row], dict[str, float]]:
    battles, t_encode = timed(lambda: battles_from_arrays(data.model_a, data.model_b, data.winner))
    cells, t_aggregate = timed(lambda: aggregate(battles))
    fit, t_fit = timed(lambda: fit_bradley_terry(cells))
    _, t_boot = timed(lambda: bootstrap_bradley_terry(cells, rounds=rounds, seed=seed))
    _, t_multi = timed(
        lambda: bootstrap_bradley_terry(cells, rounds=rounds, seed=seed, resample="multinomial")
    )
    _, t_sandwich = timed(lambda: sandwich_bradley_terry(cells))
    rows = [
        Row("ratings", "encode names + validate", t_encode, note=f"{len(battles):,} battles"),
        Row("ratings", "aggregate to cells", t_aggregate, note=f"{len(cells):,} cells"),
        Row("ratings", "BT fit (Newton)", t_fit, 0.0, f"{fit.n_iterations} iterations"),
        Row("ratings", f"BT bootstrap, {rounds} rounds", t_boot, note="Poisson(1) weights"),
        Row("ratings", "BT fit + bootstrap (from cells)", t_fit + t_boot, note="the target"),
        Row("ratings", f"BT bootstrap, {rounds} rounds", t_multi, note="multinomial, as FastChat"),
        Row("ratings", "BT sandwich CIs", t_sandwich),
    ]
    if not skip_elo:
        _, t_elo = timed(lambda: online_elo(battles))
        rows.append(Row("ratings", "online Elo (pure Python loop)", t_elo))
    return rows, fit.as_dict()


def bench_evalica(data: Synthetic, ours: dict[str, float], skip_elo: bool) -> list[Row]:
    try:
        import evalica
    except ImportError:
        return [Row("evalica", "BT fit", None, note="not installed")]
    to_winner = {
        "model_a": evalica.Winner.X,
        "model_b": evalica.Winner.Y,
        "tie": evalica.Winner.Draw,
    }
    winners = [to_winner[w] for w in data.winner.tolist()]
    xs, ys = data.model_a.tolist(), data.model_b.tolist()
    result, seconds = timed(lambda: evalica.bradley_terry(xs, ys, winners))
    scores = result.scores
    logs = {name: math.log(float(scores[name])) for name in ours}
    centre = sum(logs.values()) / len(logs)
    theirs = {name: 1000 + 400 * (value - centre) / math.log(10) for name, value in logs.items()}
    rows = [Row("evalica", "BT fit (pyo3 MM, tol 1e-6)", seconds, gap(ours, theirs))]
    if not skip_elo:
        _, seconds = timed(lambda: evalica.elo(xs, ys, winners))
        rows.append(Row("evalica", "online Elo (Rust)", seconds))
    return rows


def bench_arena_rank(data: Synthetic, ours: dict[str, float], rounds: int, seed: int) -> list[Row]:
    try:
        import pandas as pd
        from arena_rank.models.bradley_terry import BradleyTerry
        from arena_rank.utils.data_utils import PairDataset
    except ImportError:
        return [Row("arena-rank", "BT fit", None, note="not installed")]
    frame = pd.DataFrame({"model_a": data.model_a, "model_b": data.model_b, "winner": data.winner})
    dataset, t_data = timed(lambda: PairDataset.from_pandas(frame))

    def fit(method: str) -> dict[str, Any]:
        model = BradleyTerry(len(dataset.competitors))
        out: dict[str, Any] = model.compute_ratings_and_cis(
            dataset, ci_method=method, num_bootstrap=rounds, seed=seed
        )
        return out

    # arena-rank bootstraps in a multiprocessing pool; forking a process that has started
    # jax threads deadlocks, so the pool must spawn
    multiprocessing.set_start_method("spawn", force=True)
    sandwich, t_sandwich = timed(lambda: fit("sandwich"))
    theirs = {
        str(n): float(r) for n, r in zip(sandwich["competitors"], sandwich["ratings"], strict=True)
    }
    _, t_boot = timed(lambda: fit("bootstrap"))
    return [
        Row("arena-rank", "PairDataset.from_pandas", t_data),
        Row("arena-rank", "BT fit + sandwich CIs (jax L-BFGS)", t_sandwich, gap(ours, theirs)),
        Row(
            "arena-rank",
            f"BT fit + bootstrap, {rounds} rounds",
            t_boot,
            note="multiprocessing pool",
        ),
    ]


# --------------------------------------------------------------------------- end to end

ROOT = Path(__file__).resolve().parents[1]
FILE_KINDS = ("parquet", "jsonl", "csv")

# Each child reports its own peak RSS (VmHWM, Linux): ru_maxrss from wait4 would start
# from this process's size, which the kernel hands on to a forked child at exec.
PEAK = """
import atexit, sys
def _report_peak():
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    print("peak-kib", line.split()[1], file=sys.stderr)
    except OSError:
        pass
atexit.register(_report_peak)
"""

OURS_FIT = (
    PEAK
    + """
import runpy
sys.argv = ["ratings", *sys.argv[1:]]
runpy.run_module("ratings", run_name="__main__", alter_sys=True)
"""
)

EVALICA_FIT = (
    PEAK
    + """
import json, sys
import evalica, pandas as pd
path, kind = sys.argv[1], sys.argv[2]
if kind == "parquet":
    frame = pd.read_parquet(path)
elif kind == "jsonl":
    frame = pd.read_json(path, lines=True)
else:
    frame = pd.read_csv(path)
winners = frame["winner"].map(
    {"model_a": evalica.Winner.X, "model_b": evalica.Winner.Y,
     "tie": evalica.Winner.Draw, "tie (bothbad)": evalica.Winner.Draw}
)
result = evalica.bradley_terry(frame["model_a"], frame["model_b"], winners)
print(json.dumps({str(k): float(v) for k, v in result.scores.items()}))
"""
)


def write_battle_files(data: Synthetic, folder: Path, seed: int) -> dict[str, Path]:
    """The battles as FastChat files, written once per (size, seed) into ``folder``."""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    folder.mkdir(parents=True, exist_ok=True)
    stem = f"battles-{len(data.model_a)}-{len(data.names)}-{seed}"
    paths = {kind: folder / f"{stem}.{kind}" for kind in FILE_KINDS}
    if all(path.exists() for path in paths.values()):
        return paths
    stamps = 1.7e9 + np.arange(len(data.model_a), dtype=np.float64)
    table = pa.table(
        {"model_a": data.model_a, "model_b": data.model_b, "winner": data.winner, "tstamp": stamps}
    )
    pq.write_table(table, paths["parquet"])
    pacsv.write_csv(table, paths["csv"])
    line = '{"model_a": "%s", "model_b": "%s", "winner": "%s", "tstamp": %.1f}\n'
    columns = np.column_stack([data.model_a, data.model_b, data.winner]).astype(object)
    with paths["jsonl"].open("w") as handle:
        for start in range(0, len(stamps), 100_000):
            rows = np.column_stack(
                [columns[start : start + 100_000], stamps[start : start + 100_000]]
            )
            handle.write((line * len(rows)) % tuple(rows.ravel()))
    return paths


def run_child(command: list[str]) -> tuple[float, float | None, str]:
    """(wall seconds, peak RSS MiB or None, stdout) of one subprocess."""
    start = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command[:2])}... failed: {done.stderr.strip()}")
    peaks = [line.split()[1] for line in done.stderr.splitlines() if line.startswith("peak-kib")]
    print(f"  {' '.join(command[3:6])} ...: {seconds:.3f} s", file=sys.stderr)
    return seconds, float(peaks[-1]) / 1024 if peaks else None, done.stdout


def bench_files(
    data: Synthetic, folder: Path, seed: int, rounds: int, repeat: int = 1
) -> list[Row]:
    """Both sides on each file, ``repeat`` times in turn (ours, evalica, ours, ...), so a
    busy machine slows both alike; the fastest run of each is reported."""
    paths = write_battle_files(data, folder, seed)
    have_evalica = all(importlib.util.find_spec(name) for name in ("evalica", "pandas"))
    rows = []
    for kind, path in paths.items():
        # python -m ratings fit ..., run through runpy so the child can report its peak RSS
        ours_command = [sys.executable, "-c", OURS_FIT, "fit", str(path), "--output", "json"]
        ours_command += ["--ci", "bootstrap", "--bootstrap", str(rounds), "--seed", str(seed)]
        theirs_command = [sys.executable, "-c", EVALICA_FIT, str(path), kind]
        runs: dict[str, list[tuple[float, float | None, str]]] = {"ours": [], "theirs": []}
        for _ in range(repeat):
            runs["ours"].append(run_child(ours_command))
            if have_evalica:
                runs["theirs"].append(run_child(theirs_command))
        ours = {r["model"]: r["rating"] for r in json.loads(runs["ours"][0][2])["ratings"]}
        size = path.stat().st_size / MIB
        rows.append(
            Row(
                "ratings",
                f"`python -m ratings fit` {kind}: read + BT + {rounds}-round bootstrap",
                min(run[0] for run in runs["ours"]),
                note=f"{size:.0f} MiB file; {spread(runs['ours'])}",
                peak_mib=runs["ours"][0][1],
            )
        )
        if not have_evalica:
            rows.append(Row("evalica", f"pandas read {kind} + BT fit", None, note="not installed"))
            continue
        logs = {n: math.log(score) for n, score in json.loads(runs["theirs"][0][2]).items()}
        centre = sum(logs.values()) / len(logs)
        theirs = {n: 1000 + 400 * (v - centre) / math.log(10) for n, v in logs.items()}
        mean = sum(ours.values()) / len(ours)
        ours_centred = {n: v - mean + 1000 for n, v in ours.items()}
        rows.append(
            Row(
                "evalica",
                f"pandas read {kind} + `evalica.bradley_terry` (no intervals)",
                min(run[0] for run in runs["theirs"]),
                gap(ours_centred, theirs),
                spread(runs["theirs"]),
                runs["theirs"][0][1],
            )
        )
    return rows


def spread(runs: list[tuple[float, float | None, str]]) -> str:
    if len(runs) == 1:
        return "subprocess wall time"
    return "fastest of " + ", ".join(f"{run[0]:.2f}" for run in runs) + " s"


def table(rows: list[Row]) -> str:
    lines = [
        "| library | task | seconds | max gap to ours (Elo) | peak RSS (MiB) | note |",
        "|---|---|---:|---:|---:|---|",
    ]
    for row in rows:
        seconds = "skipped" if row.seconds is None else f"{row.seconds:.3f}"
        gap_text = "" if row.gap is None else f"{row.gap:.1e}"
        peak = "" if row.peak_mib is None else f"{row.peak_mib:.0f}"
        lines.append(
            f"| {row.library} | {row.task} | {seconds} | {gap_text} | {peak} | {row.note} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--models", type=int, default=200)
    parser.add_argument("--battles", type=int, default=2_000_000)
    parser.add_argument("--tie-rate", type=float, default=0.3)
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-elo", action="store_true", help="skip the sequential Elo timings")
    parser.add_argument("--only-ours", action="store_true")
    parser.add_argument(
        "--skip-arena-rank", action="store_true", help="its bootstrap takes minutes"
    )
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-RSS subprocess")
    parser.add_argument("--skip-files", action="store_true", help="skip the end-to-end rows")
    parser.add_argument("--only-files", action="store_true", help="only the end-to-end rows")
    parser.add_argument(
        "--files-dir", type=Path, default=None, help="keep (and reuse) the battle files here"
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="end-to-end runs per side and file (fastest shown)"
    )
    parser.add_argument("--peak-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.peak_only:
        print(json.dumps(peak_memory(args)))
        return
    data = synthetic(args.models, args.battles, args.tie_rate, args.seed)
    rows: list[Row] = []
    peaks = None
    if not args.only_files:
        peaks = None if args.no_memory else measure_in_subprocess(args)
        rows, ours = bench_ours(data, args.rounds, args.seed, args.skip_elo)
        if peaks is not None:
            rows = add_memory(rows, peaks)
        if not args.only_ours:
            rows += bench_evalica(data, ours, args.skip_elo)
            if not args.skip_arena_rank:
                rows += bench_arena_rank(data, ours, args.rounds, args.seed)
    if not args.skip_files:
        if args.files_dir is not None:
            rows += bench_files(data, args.files_dir, args.seed, args.rounds, args.repeat)
        else:
            with tempfile.TemporaryDirectory() as folder:
                rows += bench_files(data, Path(folder), args.seed, args.rounds, args.repeat)
    setup = f"{args.models} models, {args.battles:,} battles, {args.tie_rate:.0%} ties"
    print(f"{setup}, seed {args.seed}\n")
    if peaks is not None:
        print(
            f"peak RSS of a fresh process: {peaks['synthetic_data']:.0f} MiB after making the "
            f"synthetic data, {peaks['fit_bootstrap']:.0f} MiB after BT fit + "
            f"{args.rounds}-round bootstrap\n"
        )
    print(table(rows))


if __name__ == "__main__":
    main()

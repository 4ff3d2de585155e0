"""Importing a public arena's votes: ``manage.py import_battles`` on an LMArena-layout file,
then the global boards as a reader meets them.

Writes (once, then reuses) a Parquet file in LMArena's current layout
(``lmarena-ai/arena-human-preference-100k`` / ``-140k``: ``model_a``, ``model_b``,
``winner`` with ``both_bad``, ``conversation_a``/``_b``, ``conv_metadata`` per-side style
counts, ``category_tag``, ``timestamp``, ``question_id``): ``--rows`` battles among
``--models`` models with drawn strengths, prompts drawn from ``--prompts`` (so answers to one
prompt meet many pairs), 30% ties (some both bad), answers whose length helps them win a
little (style control has something to find). Then, in a fresh PostgreSQL database (the
schema of this tree's ``manage.py migrate``), times ``manage.py import_battles FILE`` as a
subprocess (wall time, rows/s, its peak RSS), starts one web process (``manage.py serve
--workers 1``, services mode) and times the global boards cold (fresh process, empty
cache) and warm (p50 of ``--repeat``) with the process's peak RSS: ``/leaderboard/``, with
style control, ``/leaderboard/data.json``, with style control, and a category.

The app's role owns its database and is no superuser. ``--roles`` runs all of the above
once per kind of role, in a fresh database each: ``plain`` (PostgreSQL checks each copied
row's foreign keys at commit) and ``granted`` (``GRANT SET ON PARAMETER
session_replication_role`` to the role: the import checks each key once, arena.sql.bulk_load).

    nice -n 10 .venv/bin/python benchmarks/import_battles.py --rows 1000000

Reuses app_scale.py's database, server and request helpers (PostgreSQL 127.0.0.1:5432 as
postgres, Redis DB 12, flushed).
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import psycopg
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
import app_scale  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CRITERIA = (
    "specificity", "domain_knowledge", "complexity", "problem_solving", "creativity",
    "technical_accuracy", "real_world",
)  # fmt: skip
BOARDS = {
    "leaderboard": "/leaderboard/",
    "leaderboard-style": "/leaderboard/?style=on",
    "leaderboard-judges": "/leaderboard/judges/",  # the page fetches it after the ratings
    "data-json": "/leaderboard/data.json",
    "data-json-style": "/leaderboard/data.json?style=on",
    "data-json-math": "/leaderboard/data.json?category=math",
    "leaderboard-math-style": "/leaderboard/?category=math&style=on",
}


def arena_file(path: Path, rows: int, models: int, prompts: int, seed: int) -> Path:
    """The LMArena-layout Parquet file (built as columns: a million rows in seconds)."""
    if path.exists():
        return path
    rng = np.random.default_rng(seed)
    names = np.array([f"model-{i:03d}" for i in range(models)])
    strength = rng.normal(0, 0.6, models)
    verbosity = rng.normal(0, 0.3, models)
    a = rng.integers(0, models, rows)
    b = (a + rng.integers(1, models, rows)) % models
    tokens_a = np.exp(rng.normal(6.0 + verbosity[a], 0.4)).astype(np.int64)
    tokens_b = np.exp(rng.normal(6.0 + verbosity[b], 0.4)).astype(np.int64)
    lead = strength[a] - strength[b] + 0.8 * (tokens_a - tokens_b) / (tokens_a + tokens_b)
    p_a = 1 / (1 + np.exp(-lead))
    draw = rng.random(rows)
    winner = np.where(draw < 0.22, "tie", np.where(draw < 0.30, "both_bad", ""))
    decided = winner == ""
    winner[decided] = np.where(rng.random(decided.sum()) < p_a[decided], "model_a", "model_b")
    prompt = rng.integers(0, prompts, rows)
    prompt_text = np.array(
        [f"Question {k}: how would you approach problem {k}?" for k in range(prompts)]
    )
    math = rng.random(prompts) < 0.3

    def conversation(side_tokens: np.ndarray) -> pa.Array:
        """[{"role": "user", "content": the prompt}, {"role": "assistant", ...}] per battle."""
        content = np.empty(2 * rows, dtype=object)
        content[0::2] = prompt_text[prompt]
        content[1::2] = np.char.add(
            "An answer of about this many tokens: ", side_tokens.astype(str)
        )
        turns = pa.StructArray.from_arrays(
            [pa.array(np.tile(["user", "assistant"], rows)), pa.array(content)],
            names=["role", "content"],
        )
        return pa.ListArray.from_arrays(
            pa.array(np.arange(0, 2 * rows + 1, 2, dtype=np.int32)), turns
        )

    def counts(keys: list[str], lam: np.ndarray) -> pa.Array:
        return pa.StructArray.from_arrays(
            [pa.array(rng.poisson(lam / len(keys))) for _ in keys], names=keys
        )

    headers = [f"h{k}" for k in range(1, 7)]
    fancy_a, fancy_b = verbosity[a] > 0, verbosity[b] > 0
    lists = ["ordered", "unordered"]
    meta = pa.StructArray.from_arrays(
        [
            pa.array(tokens_a),
            pa.array(tokens_b),
            counts(headers, 1 + 3 * fancy_a),
            counts(headers, 1 + 3 * fancy_b),
            counts(lists, 2 + 4 * fancy_a),
            counts(lists, 2 + 4 * fancy_b),
            counts(["**", "__"], 2 + 3 * fancy_a),
            counts(["**", "__"], 2 + 3 * fancy_b),
        ],
        names=[
            "sum_assistant_a_tokens", "sum_assistant_b_tokens", "header_count_a", "header_count_b",
            "list_count_a", "list_count_b", "bold_count_a", "bold_count_b",
        ],
    )  # fmt: skip
    criteria = pa.StructArray.from_arrays(
        [pa.array(rng.random(rows) < 0.6) for _ in CRITERIA], names=list(CRITERIA)
    )
    tag = pa.StructArray.from_arrays(
        [
            criteria,
            pa.StructArray.from_arrays([pa.array(math[prompt])], names=["math"]),
            pa.StructArray.from_arrays([pa.array(rng.random(rows) < 0.2)], names=["if"]),
        ],
        names=["criteria_v0.1", "math_v0.1", "if_v0.1"],
    )
    start = np.datetime64("2024-05-01T00:00:00")
    times = start + (np.sort(rng.random(rows)) * 120 * 86400 * 1e6).astype("timedelta64[us]")
    table = pa.table(
        {
            "question_id": pa.array(np.char.add("q", prompt.astype(str))),
            "model_a": pa.array(names[a]),
            "model_b": pa.array(names[b]),
            "winner": pa.array(winner),
            "conversation_a": conversation(tokens_a),
            "conversation_b": conversation(tokens_b),
            "conv_metadata": meta,
            "category_tag": tag,
            "language": pa.array(["English"] * rows),
            "timestamp": pa.array(np.datetime_as_string(times)),
        }
    )
    path.parent.mkdir(exist_ok=True)
    pq.write_table(table, path)
    return path


def timed_import(tree: app_scale.Tree, args: argparse.Namespace, path: Path) -> dict[str, Any]:
    started = time.perf_counter()
    done = subprocess.run(
        [str(tree.python), "manage.py", "import_battles", str(path), "--name", "lmarena"],
        cwd=tree.path, env=app_scale.tree_env(args), capture_output=True, text=True,
    )  # fmt: skip
    seconds = time.perf_counter() - started
    if done.returncode:
        raise RuntimeError(f"import_battles failed:\n{(done.stdout + done.stderr)[-3000:]}")
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"seconds": seconds, "peak_rss_mb": peak, "log": done.stderr.strip().splitlines()}


def measure(tree: app_scale.Tree, args: argparse.Namespace, url: str, log: Path) -> dict[str, Any]:
    app_scale.flush_cache(args)
    proc = app_scale.start_server(tree, args, log)
    try:
        with httpx.Client(timeout=httpx.Timeout(args.timeout, connect=10)) as client:
            base = f"http://127.0.0.1:{args.port}"
            cold = app_scale.timed_get(client, base + url, args.timeout, proc.pid)
            warm = [
                app_scale.timed_get(client, base + url, args.timeout, proc.pid)
                for _ in range(args.repeat)
            ]
        hwm = app_scale.memory_mb(proc.pid, "VmHWM")
    finally:
        app_scale.stop_process(proc)
        app_scale.terminate_backends(args)
    return {
        "cold_s": cold.seconds,
        "warm_p50_s": statistics.median([t.seconds or float("inf") for t in warm]),
        "errors": [t.error for t in [cold, *warm] if t.error],
        "peak_rss_mb": hwm,
    }


def grant(args: argparse.Namespace, *, on: bool) -> None:
    """Let the app's role turn off row triggers for its session (PostgreSQL 15), or not;
    a role holding the grant cannot be dropped."""
    with psycopg.connect(app_scale.admin_dsn(args), autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [args.db]).fetchone():
            return
        verb = "GRANT" if on else "REVOKE"
        word = "TO" if on else "FROM"
        conn.execute(f'{verb} SET ON PARAMETER session_replication_role {word} "{args.db}"')


def import_and_measure(
    tree: app_scale.Tree, args: argparse.Namespace, path: Path, log: Path, *, granted: bool
) -> dict[str, Any]:
    """A fresh database, the import (as a plain or a granted role), then the boards."""
    grant(args, on=False)
    app_scale.recreate_database(args)
    app_scale.manage(tree, args, "migrate", "--noinput")
    grant(args, on=granted)
    print(f"\n## {'granted' if granted else 'plain'} role ({args.db})")
    results: dict[str, Any] = {"import": timed_import(tree, args, path)}
    imp = results["import"]
    print(f"import_battles: {imp['seconds']:.1f} s ({args.rows / imp['seconds']:,.0f} rows/s), "
          f"peak RSS {imp['peak_rss_mb']:.0f} MB")  # fmt: skip
    for line in imp["log"]:
        print(f"    {line}")
    with psycopg.connect(app_scale.load_dsn(args), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    results["boards"] = {}
    print("\n| request | cold s | warm p50 s | web peak RSS MB |\n|---|---:|---:|---:|")
    for name, url in BOARDS.items():
        r = measure(tree, args, url, log)
        results["boards"][name] = r
        cold = "err" if r["errors"] else f"{r['cold_s']:.3f}"
        print(f"| `{url}` | {cold} | {r['warm_p50_s']:.3f} | {r['peak_rss_mb']:.0f} |", flush=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--models", type=int, default=100)
    parser.add_argument("--prompts", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--file", type=Path, help="default: var/lmarena-<rows>.parquet")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--port", type=int, default=8797)
    parser.add_argument("--db", default="arena_import")
    parser.add_argument("--pg-host", default="127.0.0.1")
    parser.add_argument("--pg-port", type=int, default=5432)
    parser.add_argument("--pg-user", default="postgres")
    parser.add_argument("--pg-conn-limit", type=int, default=50)
    parser.add_argument("--redis-host", default="127.0.0.1")
    parser.add_argument("--redis-port", type=int, default=6379)
    parser.add_argument("--redis-db", type=int, default=12)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--json-out", type=Path)
    parser.add_argument(
        "--roles", default="plain,granted", help="plain and/or granted (see the docstring)"
    )
    args = parser.parse_args()
    tree = app_scale.tree_of(str(ROOT))
    path = args.file or ROOT / "var" / f"lmarena-{args.rows}.parquet"
    t0 = time.perf_counter()
    arena_file(path, args.rows, args.models, args.prompts, args.seed)
    print(f"{path} ({path.stat().st_size / 2**20:.0f} MB, {time.perf_counter() - t0:.1f} s)")
    log = ROOT / "var" / "import-battles-server.log"
    results: dict[str, Any] = {
        "tree": tree.label,
        "rows": args.rows,
        "load_before": __import__("os").getloadavg(),
    }
    try:
        for role in args.roles.split(","):
            results[role] = import_and_measure(tree, args, path, log, granted=role == "granted")
    finally:
        grant(args, on=False)
        if not args.keep:
            app_scale.recreate_database(args, create=False)
        app_scale.flush_cache(args)
    if args.json_out:
        args.json_out.write_text(json.dumps(results, indent=1, default=str))


if __name__ == "__main__":
    main()

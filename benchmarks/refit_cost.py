"""What one leaderboard publish costs as a tournament grows: the fit over all its verdicts
(BT with sandwich CIs, online Elo, Soft Condorcet) and the progress counts.

It is why results are published at most once per window by a worker
(``arena/services/tournaments.py``, ``RESULTS_WINDOW_*``): one fit per verdict would cost a
tournament of n matches O(n^2). Seeds, per size, a PostgreSQL database (``--db``, dropped
after) with one human-judged round robin of ``--contestants`` and N completed matches with
their judgments (web_load.py's setup), then times ``tournament_leaderboard`` with an empty
cache (twice) and the progress and spend queries.

    .venv/bin/python benchmarks/refit_cost.py --verdicts 20000,60000
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import web_load  # noqa: E402


def measure(size: int, options: argparse.Namespace) -> str:
    """One size, in a process of its own (Django is set up once per process)."""
    args = argparse.Namespace(
        db=options.db,
        pg_host="127.0.0.1",
        pg_port=5432,
        pg_user="postgres",
        pg_conn_limit=50,
        redis_host="127.0.0.1",
        redis_port=6379,
        redis_db=options.redis_db,
        variant="as-is",
        contestants=options.contestants,
        matches=10,
        preload=size,
    )
    web_load.recreate_database(args)
    web_load.migrate(args)
    try:
        seeded = web_load.seed(args, [1])[1]
        from django.core.cache import cache
        from django.db import connection

        from arena.boards import tournament_leaderboard
        from arena.models import Tournament
        from arena.selectors import tournament_progress, tournament_spend

        tournament = Tournament.objects.get(pk=seeded.tournament_id)
        cpu, wall = [], []
        for _ in range(2):
            cache.clear()
            cpu0, wall0 = time.process_time(), time.perf_counter()
            tournament_leaderboard(tournament)
            cpu.append(time.process_time() - cpu0)
            wall.append(time.perf_counter() - wall0)
        start = time.perf_counter()
        tournament_progress(tournament)
        tournament_spend(tournament)
        counts = time.perf_counter() - start
        cache.clear()
        connection.close_pool()  # type: ignore[attr-defined]  # PostgreSQL's wrapper has it
    finally:
        web_load.recreate_database(args, create=False)
    return (
        f"| {size:,} | {cpu[0]:.2f} · {cpu[1]:.2f} | {wall[0]:.2f} · {wall[1]:.2f} | {counts:.3f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--verdicts", default="20000,60000", help="comma-separated sizes")
    parser.add_argument("--contestants", type=int, default=20)
    parser.add_argument("--db", default="arena_refit")
    parser.add_argument("--redis-db", type=int, default=10)
    parser.add_argument("--one", type=int, default=0, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.one:
        print(measure(options.one, options), flush=True)
        return
    print("| verdicts | fit CPU s (1st · 2nd) | fit wall s (1st · 2nd) | progress + spend s |")
    print("|---:|---:|---:|---:|", flush=True)
    for size in options.verdicts.split(","):
        subprocess.run(
            [
                sys.executable,
                __file__,
                "--one",
                size,
                "--contestants",
                str(options.contestants),
                "--db",
                options.db,
                "--redis-db",
                str(options.redis_db),
            ],
            check=True,
        )


if __name__ == "__main__":
    main()

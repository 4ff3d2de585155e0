"""App scale: what pages, JSON endpoints, exports and the live refit cost as an arena grows.

Measures, per code tree and per arena size (verdicts), in services mode (PostgreSQL, Redis,
one web process started as a user would: ``manage.py serve --workers 1``):

- the time of each request, cold (first request after flushing the cache's Redis DB and
  restarting the web process) and warm (p50 of ``--repeat`` requests after it), and the
  web process's peak RSS (VmHWM of it and its children) over that endpoint's requests:
  ``/leaderboard/`` (also ``?style=on``), its judges' panel ``/leaderboard/judges/``
  (fetched by the page after it), ``/leaderboard/data.json`` (also ``?style=on``),
  the human tournament's page, its ``charts.json``, its API leaderboard, and the export
  ``battles.jsonl`` (time to first byte, rows/s, bytes, RSS sampled during the stream; its
  row count is checked against the tournament's verdicts);
- the debounced live refit, ``tournament_results_publish`` (what the ``publish_leaderboard``
  task runs), cold (empty cache) and again warm, in a ``manage.py shell`` of the tree;
- with ``--live``: the delay from a vote's HTTP response to the first ``leaderboard.updated``
  (websocket) that counts it, while ``--live-voters`` browsers, each holding a battle,
  post ``--live-rate`` votes/s through the vote page's JSON endpoint for
  ``--live-seconds`` (a Celery worker, threads, runs the refits);
- the growth exponent of each request's time: the slope of log(time) over log(size).

The arena (the same for every tree; seeded): 100 contestants with drawn strengths, 1,000
prompts in 8 categories (coding, math, creative_writing, hard_prompts,
instruction_following, multi_turn, longer_query, other), one Markdown-ish answer of 1-3.6 kB
per (contestant, prompt) that a match uses (headers, lists and bold in amounts that vary by
contestant; length mildly helps an answer win), and two round-robin tournaments: a
human-judged one (``running``: 70% of the verdicts, each with its Vote, plus
``--awaiting`` matches in ``awaiting_vote`` for the live test) and a ``completed`` one
judged by one LLM judge (a Judge of kind ``openai``: 30%). 30% of the verdicts are ties,
some of them "both bad". Rows are loaded with PostgreSQL COPY and explicit column lists
(columns a newer tree adds must be nullable or have a database default; triggers are off
during the load, and every foreign key is checked after it) into a database
of its own (``--db``, owned by a role of that name limited to ``--pg-conn-limit``
connections), after the tree's own ``manage.py migrate``; then, if the tree has the command,
``manage.py aggregates backfill`` (timed), then ``VACUUM ANALYZE``. Each tree runs its own
``manage.py`` (migrate, serve, shell) and Celery from its directory, with its ``.venv``.

Loopback only: PostgreSQL 127.0.0.1:5432 (user postgres), Redis 127.0.0.1:6379 DB
``--redis-db`` (12; flushed at the start, before every cold request and at the end: give it
to this benchmark alone). Requests slower than ``--timeout`` are recorded as "> T s" and the
web process is restarted, so the old code's multi-minute requests cannot stall a run.

    nice -n 10 .venv/bin/python benchmarks/app_scale.py --sizes 10000,100000
    git worktree add /tmp/base 15e0c01 && ln -s "$PWD/.venv" /tmp/base/.venv
    nice -n 10 .venv/bin/python benchmarks/app_scale.py --trees /tmp/base,. \\
        --sizes 10000,100000,1000000 --live --json-out var/app-scale.json
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import math
import os
import random
import re
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import psycopg
import redis
import websockets
from websockets.typing import Origin

ROOT = Path(__file__).resolve().parents[1]

CONTESTANTS = 100
PROMPTS = 1000
# Eight of LMArena's category names, with the share of prompts in each.
CATEGORIES = {
    "coding": 0.20,
    "math": 0.10,
    "creative_writing": 0.10,
    "hard_prompts": 0.15,
    "instruction_following": 0.12,
    "multi_turn": 0.08,
    "longer_query": 0.10,
    "other": 0.15,
}
HUMAN_SHARE = 0.7
TIE_RATE = 0.3
BOTH_BAD_OF_TIES = 0.3
STRENGTH_SD = 0.8  # log-odds: contestants about 280 Elo apart per SD
VERBOSITY_SD = 0.3  # log of an answer's length, between contestants
LENGTH_NOISE_SD = 0.2  # ... between one contestant's answers
LENGTH_EFFECT = {"human": 2.0, "llm": 3.0}  # log-odds per unit of (La - Lb) / (La + Lb)
POSITION_BIAS = 0.05  # log-odds for the answer shown first
ANSWER_BYTES = (1000, 3600)
HISTORY_DAYS = 30
ELO_K = 4.0

HUMAN_TOURNAMENT, LLM_TOURNAMENT = 1, 2
PROMPT_SET, JUDGE = 1, 1

ENDPOINTS: dict[str, str] = {
    "leaderboard": "/leaderboard/",
    "leaderboard-style": "/leaderboard/?style=on",
    "leaderboard-judges": "/leaderboard/judges/",  # the page fetches it after the ratings
    "data-json": "/leaderboard/data.json",
    "data-json-style": "/leaderboard/data.json?style=on",
    "tournament-page": "/tournaments/{t}/",
    "charts": "/tournaments/{t}/charts.json",
    "api-leaderboard": "/api/tournaments/{t}/leaderboard",
    "export-battles": "/tournaments/{t}/export/battles.jsonl/",
}
ALL_STEPS = [*ENDPOINTS, "publish"]

CSRF_FIELD = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
BATTLE_FIELD = re.compile(r'name="battle" value="([^"]+)"')
KEY_FIELD = re.compile(r'name="idempotency_key" value="([^"]+)"')
SHOWN_FIELD = re.compile(r'name="shown" value="([^"]+)"')
VOTE_OUTCOMES = ["a"] * 4 + ["b"] * 4 + ["tie", "bothbad"]


# ----------------------------------------------------------------------------- trees


@dataclass(frozen=True)
class Tree:
    path: Path
    label: str  # directory name @ short commit (+ "*" when the tree has changes)

    @property
    def python(self) -> Path:
        venv = self.path / ".venv" / "bin" / "python"
        return venv if venv.exists() else Path(sys.executable)


def tree_of(path: str) -> Tree:
    where = Path(path).resolve()
    if not (where / "manage.py").exists():
        sys.exit(f"--tree {path}: no manage.py there")
    git = ["git", "-C", str(where)]
    commit = subprocess.run(
        [*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    dirty = subprocess.run(
        [*git, "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True
    ).stdout.strip()
    return Tree(where, f"{where.name}@{commit or '?'}{'*' if dirty else ''}")


# ----------------------------------------------------------------------------- services


def admin_dsn(args: argparse.Namespace) -> str:
    return f"host={args.pg_host} port={args.pg_port} user={args.pg_user} dbname=postgres"


def owner_dsn(args: argparse.Namespace) -> str:
    return f"host={args.pg_host} port={args.pg_port} user={args.db} dbname={args.db}"


def load_dsn(args: argparse.Namespace) -> str:
    return f"host={args.pg_host} port={args.pg_port} user={args.pg_user} dbname={args.db}"


def database_url(args: argparse.Namespace) -> str:
    return f"postgres://{args.db}@{args.pg_host}:{args.pg_port}/{args.db}"


def redis_url(args: argparse.Namespace) -> str:
    return f"redis://{args.redis_host}:{args.redis_port}/{args.redis_db}"


def recreate_database(args: argparse.Namespace, *, create: bool = True) -> None:
    """The database, owned by a role of the same name that may open at most
    ``--pg-conn-limit`` connections (a leaking server fails alone)."""
    with psycopg.connect(admin_dsn(args), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{args.db}" WITH (FORCE)')
        conn.execute(f'DROP ROLE IF EXISTS "{args.db}"')
        if create:
            conn.execute(f'CREATE ROLE "{args.db}" LOGIN CONNECTION LIMIT {args.pg_conn_limit}')
            conn.execute(f'CREATE DATABASE "{args.db}" OWNER "{args.db}"')


def terminate_backends(args: argparse.Namespace) -> None:
    """End the queries a killed server left running (PostgreSQL notices a closed client
    only when it next writes to it)."""
    with psycopg.connect(admin_dsn(args), autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_backend_pid()",
            (args.db,),
        )


def flush_cache(args: argparse.Namespace) -> None:
    redis.Redis.from_url(redis_url(args)).flushdb()


def tree_env(args: argparse.Namespace) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"}}
    return env | {
        "DATABASE_URL": database_url(args),
        "REDIS_URL": redis_url(args),
        "DJANGO_SETTINGS_MODULE": "arena.settings",
        "DJANGO_DEBUG": "0",
        # The live test's voters come from one address and post 50 votes/s.
        "ARENA_VOTES_PER_MINUTE": "0",
        "ARENA_VOTES_PER_DAY": "0",
        "ARENA_VOTES_PER_IP_PER_DAY": "0",
        "PYTHONUNBUFFERED": "1",
    }


def manage(
    tree: Tree, args: argparse.Namespace, *command: str, check: bool = True, timeout: float = 0
) -> subprocess.CompletedProcess[str]:
    """``manage.py COMMAND`` in the tree; with ``check``, a failure stops the run naming
    the command and showing the end of its output."""
    done = subprocess.run(
        [str(tree.python), "manage.py", *command],
        cwd=tree.path,
        env=tree_env(args),
        capture_output=True,
        text=True,
        timeout=timeout or None,
    )
    if check and done.returncode:
        output = (done.stdout + done.stderr)[-3000:]
        raise RuntimeError(f"{tree.label}: manage.py {' '.join(command)} failed:\n{output}")
    return done


# ----------------------------------------------------------------------------- the arena


@dataclass(frozen=True)
class Plan:
    """How many rows of each kind one size makes."""

    verdicts: int
    human: int
    llm: int
    awaiting: int

    @staticmethod
    def of(verdicts: int, awaiting: int) -> Plan:
        human = round(verdicts * HUMAN_SHARE)
        return Plan(verdicts, human, verdicts - human, awaiting)


HEADINGS = [
    "Overview", "Short answer", "Step-by-step", "Why this works", "Trade-offs", "Example",
    "Details", "Edge cases", "Summary", "Background", "Approach", "Caveats", "Next steps",
    "Key points", "How to check it", "Alternatives", "Recommendation", "Complexity",
]  # fmt: skip
OPENERS = [
    "First,", "In practice,", "Note that", "As a rule,", "Importantly,", "In short,",
    "For example,", "By contrast,", "Put simply,", "On balance,", "Crucially,", "Then",
]  # fmt: skip
SUBJECTS = [
    "the function", "this approach", "the proof", "the second option", "a careful reader",
    "the loop invariant", "the main character", "the estimate", "your configuration",
    "the standard library", "the derivation", "each paragraph", "the test suite", "the query",
]  # fmt: skip
VERBS = [
    "handles", "depends on", "keeps", "avoids", "simplifies", "reveals", "checks",
    "relies on", "improves", "breaks", "explains", "preserves", "reduces", "extends",
]  # fmt: skip
OBJECTS = [
    "the boundary conditions", "every input in linear time", "the tone of the scene",
    "a clean separation of concerns", "the cost of each step", "the original constraint",
    "most of the memory traffic", "the reader's expectations", "a well-known identity",
    "the corner case of an empty list", "the units throughout", "the final answer",
    "the earlier assumption", "a consistent naming scheme", "the required format",
]  # fmt: skip
CLOSERS = [
    "", "", " without extra dependencies", " in most real cases", " as the prompt asks",
    " which is what we want", " at a small cost", " for the given numbers",
]  # fmt: skip
JUDGE_REASONS = [
    "Assistant {w} answers the question directly and its steps are correct, while the "
    "other answer drifts into background the user did not ask for.",
    "Both answers are relevant, but Assistant {w} covers the edge cases and explains why "
    "the approach works; the other one states the result without support.",
    "Assistant {w} follows the requested format and is more precise; the other response "
    "has a small factual slip in its second section.",
    "The responses are close. Assistant {w} is slightly better organised and easier to "
    "follow, with a clear summary at the end.",
]
TIE_REASONS = [
    "Both assistants give essentially the same correct answer with comparable detail; "
    "neither is clearly better.",
    "Both responses miss the core of the question and contain errors; neither is helpful.",
]


def sentence(rng: random.Random, bold: float) -> str:
    text = (
        f"{rng.choice(OPENERS)} {rng.choice(SUBJECTS)} {rng.choice(VERBS)} "
        f"{rng.choice(OBJECTS)}{rng.choice(CLOSERS)}."
    )
    if rng.random() < bold:
        words = text.split(" ")
        cut = rng.randint(2, 4)
        text = "**" + " ".join(words[:cut]) + "** " + " ".join(words[cut:])
    return text


def answer_text(seed: int, target: int, style: tuple[float, float, float]) -> str:
    """A Markdown-ish answer of about ``target`` bytes: paragraphs, and with the
    contestant's propensities, ``##`` headers, bullet or numbered lists, and bold."""
    rng = random.Random(seed)
    headers, lists, bold = style
    parts: list[str] = []
    size = 0
    while size < target:
        if parts and rng.random() < headers:
            parts.append(f"## {rng.choice(HEADINGS)}\n\n")
            size += len(parts[-1])
        if rng.random() < lists:
            numbered = rng.random() < 0.4
            items = [
                (f"{i + 1}. " if numbered else "- ") + sentence(rng, bold)
                for i in range(rng.randint(3, 6))
            ]
            parts.append("\n".join(items) + "\n\n")
        else:
            parts.append(" ".join(sentence(rng, bold) for _ in range(rng.randint(2, 4))) + "\n\n")
        size += len(parts[-1])
    text = "".join(parts).strip()
    if len(text) > ANSWER_BYTES[1]:
        cut = text.rfind("\n", ANSWER_BYTES[0], ANSWER_BYTES[1])
        text = text[: cut if cut > 0 else ANSWER_BYTES[1]]
    return text.strip()


@dataclass
class Truth:
    """The hidden state the verdicts are drawn from."""

    strength: np.ndarray  # log-odds, per contestant
    length: np.ndarray  # target answer bytes, contestants x prompts
    style: list[tuple[float, float, float]]  # header, list, bold propensity per contestant
    category: list[str]  # per prompt


def draw_truth(seed: int) -> Truth:
    rng = np.random.default_rng(seed)
    strength = rng.normal(0.0, STRENGTH_SD, CONTESTANTS)
    verbosity = rng.normal(0.0, VERBOSITY_SD, CONTESTANTS)
    noise = rng.normal(0.0, LENGTH_NOISE_SD, (CONTESTANTS, PROMPTS))
    length = np.clip(np.exp(np.log(2000) + verbosity[:, None] + noise), *ANSWER_BYTES)
    style = [
        (float(h), float(li), float(b))
        for h, li, b in zip(
            rng.uniform(0.0, 0.6, CONTESTANTS),
            rng.uniform(0.0, 0.7, CONTESTANTS),
            rng.uniform(0.0, 0.5, CONTESTANTS),
            strict=True,
        )
    ]
    names = list(CATEGORIES)
    category = rng.choice(names, size=PROMPTS, p=list(CATEGORIES.values())).tolist()
    return Truth(strength, length.astype(int), style, category)


_ESCAPE = str.maketrans({"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"})


def copy_text(value: str) -> str:
    """A value in PostgreSQL's COPY text format."""
    return value.translate(_ESCAPE)


def hex_ids(rng: np.random.Generator, n: int) -> list[str]:
    """n random 32-hex-digit strings (UUIDs, keys)."""
    hi = rng.integers(0, 2**63, n, dtype=np.int64).tolist()
    lo = rng.integers(0, 2**63, n, dtype=np.int64).tolist()
    return [f"{a:016x}{b:016x}" for a, b in zip(hi, lo, strict=True)]


def stamp(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat()


def settings_hash(name: str) -> str:
    """Contestant.settings_hash of a pregenerated contestant (the answer cache key)."""
    import hashlib

    blob = json.dumps({"backend": "pregenerated", "generation": {}, "model": name}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


@dataclass
class Matches:
    """One tournament's matches as arrays (contestant and prompt indices from 0)."""

    tournament: int
    first: np.ndarray
    second: np.ndarray
    prompt: np.ndarray
    completed: int  # the first ``completed`` matches have a verdict; the rest await a vote
    outcome: np.ndarray  # per completed match: 0 first wins, 1 second wins, 2 tie
    both_bad: np.ndarray
    rounds: int


PAIRS = np.array(list(itertools.combinations(range(CONTESTANTS), 2)))


def draw_matches(
    truth: Truth, rng: np.random.Generator, tournament: int, completed: int, awaiting: int,
    source: str,
) -> Matches:  # fmt: skip
    """Round-robin slots (round = k // pairs, slot = k % pairs), a random side first and a
    random prompt per match; outcomes from strengths, length and position, 30% ties."""
    total = completed + awaiting
    k = np.arange(total)
    pair = PAIRS[k % len(PAIRS)]
    flip = rng.random(total) < 0.5
    first = np.where(flip, pair[:, 1], pair[:, 0])
    second = np.where(flip, pair[:, 0], pair[:, 1])
    prompt = rng.integers(0, PROMPTS, total)
    f, s, p = first[:completed], second[:completed], prompt[:completed]
    la, lb = truth.length[f, p], truth.length[s, p]
    logit = (
        truth.strength[f]
        - truth.strength[s]
        + LENGTH_EFFECT[source] * (la - lb) / (la + lb)
        + POSITION_BIAS
    )
    first_wins = rng.random(completed) < 1.0 / (1.0 + np.exp(-logit))
    tie = rng.random(completed) < TIE_RATE
    outcome = np.where(tie, 2, np.where(first_wins, 0, 1))
    both_bad = tie & (rng.random(completed) < BOTH_BAD_OF_TIES)
    return Matches(
        tournament, first, second, prompt, completed, outcome, both_bad,
        rounds=-(-total // len(PAIRS)),
    )  # fmt: skip


class CopyWriter:
    """Rows for one table, spooled to a temporary file as COPY text, then sent with one
    COPY on ``close`` (a connection runs one COPY at a time, and rows that reference
    others must follow them in the same transaction)."""

    def __init__(self, cur: psycopg.Cursor[Any], table: str, columns: tuple[str, ...]) -> None:
        self.cur, self.table, self.columns = cur, table, columns
        self.spool = tempfile.TemporaryFile()
        self.lines: list[str] = []
        self.rows = 0

    def row(self, line: str) -> None:
        self.lines.append(line)
        if len(self.lines) >= 20000:
            self.flush()

    def flush(self) -> None:
        if self.lines:
            self.spool.write(("\n".join(self.lines) + "\n").encode())
            self.rows += len(self.lines)
            self.lines = []

    def close(self, timings: dict[str, float] | None = None) -> int:
        """COPY the rows into the table; ``timings[table]`` gets the COPY's seconds."""
        self.flush()
        started = time.perf_counter()
        self.spool.seek(0)
        with self.cur.copy(f"COPY {self.table} ({', '.join(self.columns)}) FROM STDIN") as copy:
            while chunk := self.spool.read(1 << 20):
                copy.write(chunk)
        self.spool.close()
        if timings is not None:
            timings[f"COPY {self.table}"] = time.perf_counter() - started
        return self.rows


# Column lists the loader writes, table by table: a newer tree may add columns, which must
# then be nullable or have a database default. Columns an older tree has and the loader
# no longer writes get a database default for the load (OLDER_COLUMNS).
COLUMNS: dict[str, tuple[str, ...]] = {
    "arena_contestant": (
        "id", "name", "backend", "base_url", "model_id", "api_key_env", "generation", "queue",
        "created_at",
    ),
    "arena_promptset": ("id", "name", "description", "source", "created_at"),
    "arena_prompt": ("id", "prompt_set_id", "external_id", "text", "category", "reference_answer"),
    "arena_judge": (
        "id", "name", "kind", "base_url", "model_id", "api_key_env", "settings", "queue",
    ),
    "arena_tournament": (
        "id", "name", "format", "config", "seed", "status", "budget", "budget_usd",
        "prompt_set_id", "judge_id", "manifest", "planned_matches", "error", "created_at",
        "started_at", "finished_at",
    ),
    "arena_tournament_contestants": ("id", "tournament_id", "contestant_id"),
    "arena_response": (
        "id", "contestant_id", "prompt_id", "settings_hash", "text", "prompt_tokens",
        "completion_tokens", "latency_ms", "cost", "error", "created_at",
    ),
    "arena_match": (
        "id", "public_id", "tournament_id", "round", "slot", "prompt_id", "status", "attempts",
        "claimed_at", "error", "created_at", "finished_at",
    ),
    "arena_matchentry": ("id", "match_id", "contestant_id", "position", "response_id"),
    "arena_judgment": (
        "id", "match_id", "judge_id", "ranking", "both_bad", "probabilities", "raw_output",
        "prompt_tokens", "completion_tokens", "cost", "latency_ms", "created_at",
    ),
    "arena_vote": (
        "id", "match_id", "user_id", "session_key", "ip_hash", "idempotency_key", "ranking",
        "both_bad", "created_at",
    ),
    "arena_standing": ("id", "tournament_id", "contestant_id", "elo", "matches", "wins", "ties"),
}  # fmt: skip
NULL = "\\N"


def elo_replay(matches: Matches) -> list[tuple[float, int, float, int]]:
    """Each contestant's online Elo (K = 4), matches, wins (ties 1/2) and ties."""
    elo = [1000.0] * CONTESTANTS
    played, wins, ties = [0] * CONTESTANTS, [0.0] * CONTESTANTS, [0] * CONTESTANTS
    n = matches.completed
    for a, b, o in zip(
        matches.first[:n].tolist(), matches.second[:n].tolist(), matches.outcome.tolist(),
        strict=True,
    ):  # fmt: skip
        score = 1.0 if o == 0 else 0.0 if o == 1 else 0.5
        expected = 1.0 / (1.0 + 10 ** ((elo[b] - elo[a]) / 400))
        elo[a] += ELO_K * (score - expected)
        elo[b] -= ELO_K * (score - expected)
        played[a] += 1
        played[b] += 1
        wins[a] += score
        wins[b] += 1.0 - score
        if o == 2:
            ties[a] += 1
            ties[b] += 1
    return list(zip(elo, played, wins, ties, strict=True))


# (table, column, default) of columns that older trees have, NOT NULL with only a Python
# default, and that the loader does not write: 15e0c01's Match.voter_session.
OLDER_COLUMNS = (("arena_match", "voter_session", "''"),)


def _defaults_for_older_columns(cur: psycopg.Cursor[Any]) -> None:
    for table, column, default in OLDER_COLUMNS:
        found = cur.execute(
            "SELECT 1 FROM information_schema.columns WHERE table_name = %s AND column_name = %s",
            [table, column],
        ).fetchone()
        if found:
            cur.execute(f"ALTER TABLE {table} ALTER COLUMN {column} SET DEFAULT {default}")


def load_arena(args: argparse.Namespace, plan: Plan) -> dict[str, float]:
    """Every row of the arena by COPY; returns the seconds each step took."""
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    truth = draw_truth(args.seed)
    rng = np.random.default_rng(args.seed + 1)
    human = draw_matches(truth, rng, HUMAN_TOURNAMENT, plan.human, plan.awaiting, "human")
    llm = draw_matches(truth, rng, LLM_TOURNAMENT, plan.llm, 0, "llm")
    now = time.time()
    start = now - HISTORY_DAYS * 86400
    names = [f"model-{i:03d}" for i in range(CONTESTANTS)]
    timings["draw"] = time.perf_counter() - t0

    # As the admin role, with triggers off (session_replication_role): PostgreSQL would
    # otherwise queue a deferred foreign-key check per row (Django's constraints are
    # DEFERRABLE INITIALLY DEFERRED); check_foreign_keys checks them all afterwards.
    with psycopg.connect(load_dsn(args)) as conn, conn.cursor() as cur:
        cur.execute("SET session_replication_role = replica")
        _defaults_for_older_columns(cur)
        for table in COLUMNS:
            (rows,) = cur.execute(f"SELECT count(*) FROM {table}").fetchone() or (0,)
            if rows:
                raise RuntimeError(f"{table} has {rows} rows after migrate: expected none")
        t0 = time.perf_counter()
        w = CopyWriter(cur, "arena_contestant", COLUMNS["arena_contestant"])
        for i, name in enumerate(names):
            w.row(f"{i + 1}\t{name}\tpregenerated\t\t{name}\t\t{{}}\tdefault\t{stamp(start)}")
        w.close(timings)
        w = CopyWriter(cur, "arena_promptset", COLUMNS["arena_promptset"])
        w.row(f"{PROMPT_SET}\tscale prompts\tapp_scale.py's prompts\tbenchmarks\t{stamp(start)}")
        w.close(timings)
        w = CopyWriter(cur, "arena_prompt", COLUMNS["arena_prompt"])
        prompt_rng = random.Random(args.seed)
        for p in range(PROMPTS):
            cat = truth.category[p]
            text = f"[{cat}] " + " ".join(sentence(prompt_rng, 0.0) for _ in range(1 + p % 4))
            w.row(f"{p + 1}\t{PROMPT_SET}\tq{p:04d}\t{copy_text(text)}\t{cat}\t")
        w.close(timings)
        w = CopyWriter(cur, "arena_judge", COLUMNS["arena_judge"])
        w.row(
            f"{JUDGE}\tscale-judge\topenai\thttp://127.0.0.1:9/v1\tjudge-model\t\t"
            f'{{"temperature": 0}}\tdefault'
        )
        w.close(timings)
        timings["small tables"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        used = np.unique(
            np.concatenate(
                [m.first * PROMPTS + m.prompt for m in (human, llm)]
                + [m.second * PROMPTS + m.prompt for m in (human, llm)]
            )
        ).tolist()
        hashes = [settings_hash(n) for n in names]
        w = CopyWriter(cur, "arena_response", COLUMNS["arena_response"])
        made = stamp(start)
        answer_bytes = 0
        for key in used:
            c, p = divmod(key, PROMPTS)
            text = answer_text(args.seed * 10**6 + key, int(truth.length[c, p]), truth.style[c])
            answer_bytes += len(text)
            w.row(
                f"{key + 1}\t{c + 1}\t{p + 1}\t{hashes[c]}\t{copy_text(text)}\t"
                f"{40 + p % 300}\t{len(text) // 4}\t{800 + len(text)}\t0.000000\t\t{made}"
            )
        w.close(timings)
        timings["responses"] = time.perf_counter() - t0
        timings["response_rows"] = len(used)
        timings["answer_mb"] = answer_bytes / 1e6

        t0 = time.perf_counter()
        ids = {"match": 0, "entry": 0, "judgment": 0, "vote": 0}
        writers = {
            t: CopyWriter(cur, t, COLUMNS[t])
            for t in ("arena_match", "arena_matchentry", "arena_judgment", "arena_vote")
        }
        voters = hex_ids(rng, max(50, plan.human // 15))
        ips = hex_ids(rng, max(20, plan.human // 40))
        for m in (human, llm):
            _write_matches(m, writers, ids, rng, start, now, voters, ips)
        for w in writers.values():
            w.close(timings)
        timings["matches, entries, verdicts, votes"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        w = CopyWriter(cur, "arena_tournament", COLUMNS["arena_tournament"])
        for m, judge in ((human, None), (llm, JUDGE)):
            total = len(m.first)
            running = judge is None
            name = "Human arena (votes)" if running else "LLM-judged arena"
            config = json.dumps({"k": 2, "rounds": m.rounds})
            manifest = json.dumps(
                {"seed": 0, "format": "round_robin", "config": json.loads(config)}
            )
            w.row(
                "\t".join(
                    [
                        str(m.tournament), name, "round_robin", config, "0",
                        "running" if running else "completed",
                        str(total), NULL, str(PROMPT_SET), NULL if judge is None else str(judge),
                        manifest, str(total), "", stamp(start - 60), stamp(start),
                        NULL if running else stamp(now),
                    ]
                )
            )  # fmt: skip
        w.close(timings)
        w = CopyWriter(cur, "arena_tournament_contestants", COLUMNS["arena_tournament_contestants"])
        standing_rows = []
        for n, m in enumerate((human, llm)):
            for i, (elo, played, wins, ties) in enumerate(elo_replay(m)):
                w.row(f"{n * CONTESTANTS + i + 1}\t{m.tournament}\t{i + 1}")
                standing_rows.append(
                    f"{n * CONTESTANTS + i + 1}\t{m.tournament}\t{i + 1}\t{elo!r}\t{played}\t"
                    f"{wins!r}\t{ties}"
                )
        w.close(timings)
        w = CopyWriter(cur, "arena_standing", COLUMNS["arena_standing"])
        for line in standing_rows:
            w.row(line)
        w.close(timings)
        for table in COLUMNS:
            cur.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                f" coalesce((SELECT max(id) FROM {table}), 0) + 1, false)"
            )
        timings["tournaments, standings"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        conn.commit()
        timings["commit"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    check_foreign_keys(args)
    timings["foreign key check"] = time.perf_counter() - t0
    with psycopg.connect(owner_dsn(args)) as conn:
        row = conn.execute("SELECT pg_database_size(current_database())").fetchone()
        timings["database_mb"] = row[0] / 1e6 if row else 0.0
    return timings


def check_foreign_keys(args: argparse.Namespace) -> None:
    """Every foreign key of the arena's tables holds (one anti-join per constraint)."""
    with psycopg.connect(owner_dsn(args)) as conn:
        keys = conn.execute(
            """
            SELECT c.conrelid::regclass::text, a.attname, c.confrelid::regclass::text, fa.attname
            FROM pg_constraint c
            JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
            JOIN pg_attribute fa ON fa.attrelid = c.confrelid AND fa.attnum = c.confkey[1]
            WHERE c.contype = 'f' AND cardinality(c.conkey) = 1
              AND c.conrelid::regclass::text LIKE 'arena%%'
            """
        ).fetchall()
        for table, column, target, target_column in keys:
            row = conn.execute(
                f"SELECT count(*) FROM {table} t WHERE t.{column} IS NOT NULL AND NOT EXISTS"
                f" (SELECT 1 FROM {target} f WHERE f.{target_column} = t.{column})"
            ).fetchone()
            if row and row[0]:
                raise RuntimeError(f"{row[0]} rows of {table}.{column} miss their {target}")


def _write_matches(
    m: Matches,
    writers: dict[str, CopyWriter],
    ids: dict[str, int],
    rng: np.random.Generator,
    start: float,
    now: float,
    voters: list[str],
    ips: list[str],
) -> None:
    """The matches of one tournament with their two entries each; the completed ones with a
    Judgment (and a Vote when people judged), finished evenly over the history."""
    human = m.tournament == HUMAN_TOURNAMENT
    total = len(m.first)
    public = hex_ids(rng, total)
    keys = hex_ids(rng, m.completed) if human else []
    voter = rng.integers(0, len(voters), m.completed).tolist()
    jitter = rng.random(total).tolist()
    span = now - start - 3600
    match_w, entry_w = writers["arena_match"], writers["arena_matchentry"]
    judgment_w, vote_w = writers["arena_judgment"], writers["arena_vote"]
    outcome, both_bad = m.outcome.tolist(), m.both_bad.tolist()
    pairs = len(PAIRS)
    judge = NULL if human else str(JUDGE)
    for k, (a, b, p) in enumerate(
        zip(m.first.tolist(), m.second.tolist(), m.prompt.tolist(), strict=True)
    ):
        ids["match"] += 1
        match_id = ids["match"]
        done = k < m.completed
        ts = start + span * (k + jitter[k]) / total
        session = voters[voter[k]] if done and human else ""
        match_w.row(
            f"{match_id}\t{public[k]}\t{m.tournament}\t{k // pairs}\t{k % pairs}\t{p + 1}\t"
            f"{'completed' if done else 'awaiting_vote'}\t1\t\\N\t\t"
            f"{stamp(ts - 90)}\t{stamp(ts) if done else NULL}"
        )
        for position, c in enumerate((a, b)):
            ids["entry"] += 1
            entry_w.row(f"{ids['entry']}\t{match_id}\t{c + 1}\t{position}\t{c * PROMPTS + p + 1}")
        if not done:
            continue
        o = outcome[k]
        ranking = (
            f"[[{a + 1}, {b + 1}]]"
            if o == 2
            else f"[[{a + 1}], [{b + 1}]]"
            if o == 0
            else f"[[{b + 1}], [{a + 1}]]"
        )
        bad = "t" if both_bad[k] else "f"
        ids["judgment"] += 1
        when = stamp(ts)
        if human:
            judgment_w.row(
                f"{ids['judgment']}\t{match_id}\t\\N\t{ranking}\t{bad}\t\\N\t\t0\t0\t0\t0\t{when}"
            )
            ids["vote"] += 1
            vote_w.row(
                f"{ids['vote']}\t{match_id}\t\\N\t{session}\t{ips[voter[k] % len(ips)]}\t"
                f"{keys[k]}\t{ranking}\t{bad}\t{when}"
            )
        else:
            if o == 2:
                raw = TIE_REASONS[1 if both_bad[k] else 0] + " [[C]]"
            else:
                side = "A" if o == 0 else "B"
                raw = JUDGE_REASONS[k % len(JUDGE_REASONS)].format(w=side) + f" [[{side}]]"
            judgment_w.row(
                f"{ids['judgment']}\t{match_id}\t{judge}\t{ranking}\t{bad}\t\\N\t{raw}\t"
                f"{1200 + k % 900}\t{150 + k % 200}\t0.000900\t{900 + k % 2000}\t{when}"
            )


# ----------------------------------------------------------------------------- processes


def with_children(pid: int) -> list[int]:
    """The process and its descendants."""
    parents: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        found.append(todo.pop())
        todo.extend(parents.get(found[-1], []))
    return found


def memory_mb(pid: int, key: str) -> float:
    """Sum of a /proc status field (VmRSS, VmHWM) over the process and its children."""
    total = 0
    for p in with_children(pid):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith(key + ":"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


class RssSampler(threading.Thread):
    """The highest VmRSS (process and children) seen every 50 ms while it runs."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak, self.done = pid, 0.0, threading.Event()

    def run(self) -> None:
        while True:
            self.peak = max(self.peak, memory_mb(self.pid, "VmRSS"))
            if self.done.wait(0.05):
                break

    def stop(self) -> float:
        self.done.set()
        self.join()
        return max(self.peak, memory_mb(self.pid, "VmRSS"))


def start_server(tree: Tree, args: argparse.Namespace, log: Path) -> subprocess.Popen[bytes]:
    """One web process, as a user starts services mode: ``manage.py serve --workers 1``,
    its address space capped at ``--memory-limit-mb`` (the code before the change reached
    19 GB on one request at 1M verdicts, on a 24 GB machine that also runs PostgreSQL: over
    the cap the request fails and is recorded as an error)."""
    limit = int(getattr(args, "memory_limit_mb", 0)) * 2**20

    def capped() -> None:
        if limit:
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    proc = subprocess.Popen(
        [str(tree.python), "manage.py", "serve", "--host", "127.0.0.1"]
        + ["--port", str(args.port), "--workers", "1"],
        cwd=tree.path,
        env=tree_env(args),
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        preexec_fn=capped,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {log.read_text(errors='replace')[-2000:]}")
        try:
            httpx.get(f"http://127.0.0.1:{args.port}/healthz/", timeout=2)
            return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    stop_process(proc)
    raise RuntimeError("server did not answer within 60 s")


def start_worker(tree: Tree, args: argparse.Namespace, log: Path) -> subprocess.Popen[bytes]:
    """The Celery worker (threads) that runs the debounced refits, as the README says."""
    return subprocess.Popen(
        [str(tree.python), "-m", "celery", "-A", "arena", "worker", "-Q", "default,judge,gpu"]
        + ["--pool", "threads", "-c", "2", "-n", f"app-scale-{os.getpid()}@%h"]
        + ["--without-gossip", "--without-mingle", "-l", "WARNING"],
        cwd=tree.path,
        env=tree_env(args) | {"OPENBLAS_NUM_THREADS": "1"},
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# ----------------------------------------------------------------------------- requests


@dataclass
class Timed:
    """One request: wall seconds (None: past the timeout), status, size, first byte."""

    seconds: float | None
    status: int = 0
    bytes: int = 0
    ttfb: float | None = None
    lines: int = 0
    rss_peak_mb: float = 0.0  # sampled VmRSS during the request
    error: str = ""


def timed_get(client: httpx.Client, url: str, timeout: float, pid: int) -> Timed:
    """GET ``url`` to its last byte (streamed: never held whole), bounded by ``timeout``."""
    sampler = RssSampler(pid)
    sampler.start()
    start = time.perf_counter()
    deadline = start + timeout
    timed = Timed(None)
    try:
        with client.stream("GET", url) as response:
            timed.status = response.status_code
            for chunk in response.iter_raw():
                if timed.ttfb is None:
                    timed.ttfb = time.perf_counter() - start
                timed.bytes += len(chunk)
                timed.lines += chunk.count(b"\n")
                if time.perf_counter() > deadline:
                    raise TimeoutError
        timed.seconds = time.perf_counter() - start
    except (httpx.TimeoutException, TimeoutError):
        timed.error = "timeout"
    except httpx.HTTPError as error:
        timed.error = type(error).__name__
    timed.rss_peak_mb = sampler.stop()
    if timed.seconds is not None and timed.status != 200:
        timed.error = f"HTTP {timed.status}"
    return timed


def measure_endpoint(tree: Tree, args: argparse.Namespace, name: str, log: Path) -> dict[str, Any]:
    """Cold (fresh process, empty cache) and warm requests of one endpoint, and the web
    process's peak RSS over them."""
    url = f"http://127.0.0.1:{args.port}" + ENDPOINTS[name].format(t=HUMAN_TOURNAMENT)
    flush_cache(args)
    proc = start_server(tree, args, log)
    try:
        idle_mb = memory_mb(proc.pid, "VmRSS")
        timeout = httpx.Timeout(args.timeout, connect=10)
        with httpx.Client(timeout=timeout) as client:
            cold = timed_get(client, url, args.timeout, proc.pid)
            warm: list[Timed] = []
            if cold.seconds is not None and not cold.error:
                repeat = args.repeat if cold.seconds <= args.warm_skip_above else 1
                for _ in range(repeat):
                    warm.append(timed_get(client, url, args.timeout, proc.pid))
                    if warm[-1].error:
                        break
        hwm = memory_mb(proc.pid, "VmHWM")
    finally:
        stop_process(proc)
        terminate_backends(args)
    warm_s = [t.seconds for t in warm if t.seconds is not None and not t.error]
    result: dict[str, Any] = {
        "url": url,
        "cold": asdict(cold),
        "warm": [asdict(t) for t in warm],
        "cold_s": cold.seconds if not cold.error else None,
        "warm_p50_s": statistics.median(warm_s) if warm_s and len(warm_s) == len(warm) else None,
        "timed_out": cold.error == "timeout" or any(t.error == "timeout" for t in warm),
        "errors": [t.error for t in [cold, *warm] if t.error],
        "idle_rss_mb": idle_mb,
        "peak_rss_mb": hwm,
    }
    if name.startswith("export"):
        streams = [t for t in [cold, *warm] if t.seconds and not t.error]
        result["rows"] = cold.lines
        result["rows_per_s"] = [t.lines / t.seconds for t in streams if t.seconds]
        result["ttfb_s"] = [t.ttfb for t in streams]
        result["bytes"] = cold.bytes
        result["stream_rss_peak_mb"] = max((t.rss_peak_mb for t in [cold, *warm]), default=0.0)
    return result


PUBLISH_SCRIPT = """
import json, resource, time
from arena.services.results import tournament_results_publish
out = {}
for label in ("cold", "warm"):
    t0 = time.perf_counter()
    tournament_results_publish(tournament_id=%d)
    out[label] = time.perf_counter() - t0
out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print("APP_SCALE " + json.dumps(out))
"""


def measure_publish(tree: Tree, args: argparse.Namespace) -> dict[str, Any]:
    """``tournament_results_publish`` (the ``publish_leaderboard`` task's body) on the human
    tournament with an empty cache, then once more (warm), in the tree's own shell."""
    flush_cache(args)
    code = PUBLISH_SCRIPT % HUMAN_TOURNAMENT
    try:
        done = manage(tree, args, "shell", "-c", code, check=False, timeout=2 * args.timeout)
    except subprocess.TimeoutExpired:
        terminate_backends(args)
        return {"cold_s": None, "warm_s": None, "timed_out": True, "errors": ["timeout"]}
    for line in done.stdout.splitlines():
        if line.startswith("APP_SCALE "):
            out = json.loads(line[len("APP_SCALE ") :])
            return {
                "cold_s": out["cold"],
                "warm_s": out["warm"],
                "peak_rss_mb": out["peak_rss_mb"],
                "timed_out": False,
                "errors": [],
            }
    error = (done.stderr or done.stdout)[-1500:]
    return {"cold_s": None, "warm_s": None, "timed_out": False, "errors": [error]}


# ----------------------------------------------------------------------------- live


@dataclass
class LiveRun:
    posts: list[tuple[float, float, int]] = field(default_factory=list)  # send, recv, status
    errors: dict[str, int] = field(default_factory=dict)
    no_battle: int = 0
    browsers: int = 0
    updated: list[tuple[float, int]] = field(default_factory=list)  # arrival, verdicts counted

    def error(self, what: str) -> None:
        self.errors[what] = self.errors.get(what, 0) + 1


def vote_form(page: str) -> dict[str, str] | None:
    """The vote form's fields in the vote page, if it shows a battle."""
    battle, key, csrf = BATTLE_FIELD.search(page), KEY_FIELD.search(page), CSRF_FIELD.search(page)
    if not (battle and key and csrf):
        return None
    shown = SHOWN_FIELD.search(page)  # the battle token of a page shown without a session
    return {
        "csrfmiddlewaretoken": csrf.group(1),
        "battle": battle.group(1),
        "idempotency_key": key.group(1),
        **({"shown": shown.group(1)} if shown else {}),
    }


class Browser:
    """A voter's browser: its own session and CSRF cookies, and the battle it holds."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.client = httpx.AsyncClient(base_url=base, timeout=120)
        self.form: dict[str, str] | None = None

    async def fetch(self, run: LiveRun) -> None:
        """GET the vote page for a battle."""
        try:
            response = await self.client.get(VOTE_URL)
        except httpx.HTTPError as error:
            run.error(f"GET {type(error).__name__}")
            return
        self.form = vote_form(response.text) if response.status_code == 200 else None
        if self.form is None:
            run.no_battle += 1

    async def vote(self, run: LiveRun, outcome: str) -> None:
        """POST the held battle's vote as vote.js does (``Accept: application/json``); the
        reveal brings the next battle, which the browser then holds."""
        assert self.form is not None
        data = {**self.form, "outcome": outcome}
        headers = {"Accept": "application/json", "Referer": self.base + VOTE_URL}
        self.form = None
        sent = time.perf_counter()
        try:
            response = await self.client.post(VOTE_URL, data=data, headers=headers)
        except httpx.HTTPError as error:
            run.error(f"POST {type(error).__name__}")
            return
        run.posts.append((sent, time.perf_counter(), response.status_code))
        if response.status_code != 200:
            run.error(f"POST {response.status_code}")
            return
        upcoming = response.json().get("next")
        if upcoming:
            self.form = {
                "csrfmiddlewaretoken": data["csrfmiddlewaretoken"],
                "battle": upcoming["battle"],
                "idempotency_key": upcoming["idempotency_key"],
            }


VOTE_URL = f"/tournaments/{HUMAN_TOURNAMENT}/vote/"


async def vote_at_rate(base: str, args: argparse.Namespace, run: LiveRun) -> float:
    """Vote i is cast at ``start + i / rate`` by an idle browser of ``--live-voters``, each
    holding a battle fetched before the clock starts (a vote waits for one when all are
    busy, so a server slower than ``voters / rate`` per vote gets fewer votes per second,
    which the report shows). Returns the seconds from the first slot to the last answer."""
    rng = random.Random(args.seed)
    everyone = [Browser(base) for _ in range(args.live_voters)]
    await asyncio.gather(*(b.fetch(run) for b in everyone))
    idle = [b for b in everyone if b.form]

    async def cast() -> None:
        while not idle:
            await asyncio.sleep(0.005)
        browser = idle.pop()
        if browser.form is not None:
            await browser.vote(run, rng.choice(VOTE_OUTCOMES))
        if browser.form is None:
            await browser.fetch(run)
        idle.append(browser)

    start = time.perf_counter()
    tasks = []
    for i in range(int(args.live_rate * args.live_seconds)):
        await asyncio.sleep(max(0.0, start + i / args.live_rate - time.perf_counter()))
        tasks.append(asyncio.create_task(cast()))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - start
    await asyncio.gather(*(b.client.aclose() for b in everyone))
    run.browsers = len(everyone)
    return elapsed


def listen(
    ws_url: str, origin: str, run: LiveRun, ready: threading.Event, stop: threading.Event
) -> None:
    """The tournament's websocket feed, in this thread's own event loop: every
    ``leaderboard.updated`` with its arrival time and the verdicts its rows count."""

    async def feed() -> None:
        async with websockets.connect(ws_url, origin=Origin(origin), max_size=None) as ws:
            ready.set()
            while not stop.is_set():
                try:
                    raw = await asyncio.wait_for(ws.recv(), timeout=0.2)
                except TimeoutError:
                    continue
                event = json.loads(raw)
                if event.get("type") == "leaderboard.updated":
                    verdicts = sum(row["matches"] for row in event["rows"]) // 2
                    run.updated.append((time.perf_counter(), verdicts))

    try:
        asyncio.run(feed())
    except Exception as error:  # a closed feed: fewer events, reported as such
        run.error(f"websocket {type(error).__name__}")
        ready.set()


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]


def live_test(tree: Tree, args: argparse.Namespace, plan: Plan, log: Path) -> dict[str, Any]:
    """Votes at ``--live-rate`` per second for ``--live-seconds`` into the human tournament
    through the vote page's JSON endpoint; the delay from each vote's response to the first
    ``leaderboard.updated`` whose rows count it (vote k of the run: ≥ preloaded + k)."""
    flush_cache(args)
    server = start_server(tree, args, log)
    worker = start_worker(tree, args, log.with_suffix(".worker.log"))
    run = LiveRun()
    ready, stop = threading.Event(), threading.Event()
    base = f"http://127.0.0.1:{args.port}"
    listener = threading.Thread(
        target=listen,
        args=(
            f"ws://127.0.0.1:{args.port}/ws/tournaments/{HUMAN_TOURNAMENT}/",
            base,
            run,
            ready,
            stop,
        ),
        daemon=True,
    )
    try:
        time.sleep(3)  # the worker connects to the broker
        listener.start()
        ready.wait(10)
        elapsed = asyncio.run(vote_at_rate(base, args, run))
        ok = sorted(recv for _, recv, status in run.posts if status == 200)
        deadline = time.perf_counter() + args.live_drain
        while time.perf_counter() < deadline:
            if run.updated and max(v for _, v in run.updated) >= plan.human + len(ok):
                break
            time.sleep(0.2)
        stop.set()
        listener.join(5)
        listened = time.perf_counter()
    finally:
        stop.set()
        stop_process(worker)
        stop_process(server)
        terminate_backends(args)
    updates = sorted(run.updated)
    # A vote no update counted before the listener stopped: its delay is at least the
    # time from its response to then (a lower bound, flagged).
    delays: list[tuple[float, bool]] = []
    u = 0
    for k, recv in enumerate(ok, start=1):
        while u < len(updates) and updates[u][1] < plan.human + k:
            u += 1
        if u < len(updates):
            delays.append((updates[u][0] - recv, False))
        else:
            delays.append((listened - recv, True))
    post_s = [recv - sent for sent, recv, _ in run.posts]
    p50, p99 = pct_bound(delays, 50), pct_bound(delays, 99)
    return {
        "votes": len(ok),
        "target_votes_per_s": args.live_rate,
        "votes_per_s": len(ok) / elapsed if elapsed > 0 else 0.0,
        "post_p50_s": pct(post_s, 50),
        "post_p99_s": pct(post_s, 99),
        "errors": run.errors,
        "no_battle": run.no_battle,
        "browsers": run.browsers,
        "updates": len(updates),
        "votes_unseen": sum(bound for _, bound in delays),
        "delay_p50_s": p50[0],
        "delay_p50_lower_bound": p50[1],
        "delay_p99_s": p99[0],
        "delay_p99_lower_bound": p99[1],
        "delay_max_s": max((d for d, _ in delays), default=None),
        "delay_max_lower_bound": any(bound for _, bound in delays),
    }


def pct_bound(values: list[tuple[float, bool]], q: float) -> tuple[float | None, bool]:
    """The q-th percentile of (value, is a lower bound) pairs, and whether it is a bound."""
    if not values:
        return None, False
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]


# ----------------------------------------------------------------------------- one run


def vacuum_analyze(args: argparse.Namespace) -> None:
    with psycopg.connect(owner_dsn(args), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")


def has_aggregates(tree: Tree, args: argparse.Namespace) -> bool:
    return manage(tree, args, "help", "aggregates", check=False).returncode == 0


def timed(phases: dict[str, float], name: str, step: Callable[[], Any]) -> Any:
    t0 = time.perf_counter()
    out = step()
    phases[name] = round(time.perf_counter() - t0, 2)
    print(f"    {name}: {phases[name]:.1f} s", flush=True)
    return out


def run_tree(tree: Tree, args: argparse.Namespace, plan: Plan, log: Path) -> dict[str, Any]:
    """Build the arena with ``tree``'s schema, measure every endpoint, then the live test."""
    phases: dict[str, float] = {}
    result: dict[str, Any] = {"tree": tree.label, "path": str(tree.path), "phases": phases}
    print(f"  {tree.label}, {plan.verdicts:,} verdicts", flush=True)
    if not args.reuse:
        recreate_database(args)
    try:
        timed(phases, "migrate", lambda: manage(tree, args, "migrate", "--noinput", "-v", "0"))
        if args.reuse:
            result["load"] = "reused the database a --keep run left"
        else:
            result["load"] = timed(phases, "load (COPY)", lambda: load_arena(args, plan))
            if has_aggregates(tree, args):
                timed(
                    phases,
                    "aggregates backfill",
                    lambda: manage(tree, args, "aggregates", "backfill"),
                )
            else:
                result["aggregates"] = "no `manage.py aggregates` command: skipped"
        timed(phases, "vacuum analyze", lambda: vacuum_analyze(args))
        endpoints: dict[str, Any] = {}
        result["endpoints"] = endpoints
        for name in ENDPOINTS:
            if name in args.skip:
                continue
            endpoints[name] = timed(phases, name, partial(measure_endpoint, tree, args, name, log))
            print(f"      {brief(endpoints[name])}", flush=True)
            if name == "export-battles" and endpoints[name].get("cold_s"):
                if endpoints[name]["rows"] != plan.human:
                    endpoints[name]["errors"].append(
                        f"rows {endpoints[name]['rows']} != verdicts {plan.human}"
                    )
        if "publish" not in args.skip:
            endpoints["publish"] = timed(phases, "publish", lambda: measure_publish(tree, args))
            print(f"      {brief(endpoints['publish'])}", flush=True)
        if args.live:
            result["live"] = timed(phases, "live", lambda: live_test(tree, args, plan, log))
            live = result["live"]
            print(f"      {live_line(live)}", flush=True)
    finally:
        if not args.keep:
            recreate_database(args, create=False)
    return result


def brief(m: dict[str, Any]) -> str:
    warm = m.get("warm_p50_s", m.get("warm_s"))
    warm_out = m["timed_out"] and m["cold_s"] is not None
    text = f"cold {fmt(m['cold_s'], m['timed_out'])} s, warm {fmt(warm, warm_out)} s"
    if "peak_rss_mb" in m:
        text += f", peak RSS {m['peak_rss_mb']:.0f} MB"
    if m.get("rows_per_s"):
        text += f", {m['rows']:,} rows, {max(m['rows_per_s']):,.0f} rows/s"
    if m.get("errors"):
        text += f", errors: {m['errors']}"
    return text


# ----------------------------------------------------------------------------- report

TIMEOUT_S = 0.0  # set from --timeout, for the "> T s" cells


def fmt(seconds: float | None, timed_out: bool = False) -> str:
    if seconds is None:
        return f"> {TIMEOUT_S:.0f}" if timed_out else "–"
    if seconds < 1:
        return f"{seconds:.3f}"
    if seconds < 10:
        return f"{seconds:.2f}"
    return f"{seconds:.1f}"


def live_line(live: dict[str, Any]) -> str:
    def delay(key: str) -> str:
        bound = "≥ " if live.get(f"{key}_lower_bound") else ""
        return bound + fmt(live[f"{key}_s"])

    return (
        f"{live['votes']} votes at {live['votes_per_s']:.1f}/s (offered "
        f"{live.get('target_votes_per_s', 0):.0f}/s, {live.get('browsers', 0)} browsers), POST p50 "
        f"{fmt(live['post_p50_s'])} s, p99 {fmt(live['post_p99_s'])} s; `leaderboard.updated` "
        f"after the vote's response p50 {delay('delay_p50')} s, p99 {delay('delay_p99')} s, "
        f"max {delay('delay_max')} s ({live['updates']} updates; {live['votes_unseen']} votes "
        f"in none before the listener stopped); errors {live['errors'] or 0}"
    )


def step_label(name: str) -> str:
    if name in ENDPOINTS:
        return f"`{ENDPOINTS[name].format(t='<id>')}`"
    return "`tournament_results_publish` (cold; warm = a 2nd call)"


def size_table(size: int, results: dict[str, dict[str, Any]]) -> str:
    """endpoint × tree: cold s, warm p50 s, peak RSS MB."""
    trees = list(results)
    head = "| request | " + " | ".join(f"{t}: cold s | warm p50 s | peak RSS MB" for t in trees)
    lines = [
        f"**{size:,} verdicts**",
        "",
        head + " |",
        "|---" + "|---:|---:|---:" * len(trees) + "|",
    ]
    for name in ALL_STEPS:
        cells = []
        seen = False
        for t in trees:
            m = results[t].get("endpoints", {}).get(name)
            if m is None:
                cells += ["", "", ""]
                continue
            seen = True
            warm = m.get("warm_p50_s", m.get("warm_s"))
            failed = [e for e in m.get("errors", []) if e != "timeout"]
            cells += [
                failed[0] if failed and m["cold_s"] is None else fmt(m["cold_s"], m["timed_out"]),
                fmt(warm, m["timed_out"] and m["cold_s"] is not None),
                f"{m['peak_rss_mb']:.0f}" if m.get("peak_rss_mb") else "",
            ]
        if seen:
            lines.append(f"| {step_label(name)} | " + " | ".join(cells) + " |")
    if len(lines) == 4:  # every request skipped
        lines[2:] = []
    lines.append("")
    for t in trees:
        r = results[t]
        m = r.get("endpoints", {}).get("export-battles")
        if m and m.get("rows_per_s"):
            lines.append(
                f"- {t} export: {m['rows']:,} rows, {m['bytes'] / 1e6:.1f} MB, "
                f"{statistics.median(m['rows_per_s']):,.0f} rows/s (p50), first byte "
                f"{statistics.median(m['ttfb_s']):.3f} s, RSS during the stream ≤ "
                f"{m['stream_rss_peak_mb']:.0f} MB"
            )
        phases = ", ".join(f"{k} {v:.1f} s" for k, v in r["phases"].items())
        lines.append(f"- {t} phases: {phases}")
        if "live" in r:
            lines.append(f"- {t} live: {live_line(r['live'])}")
    return "\n".join(lines)


def exponents(results: dict[int, dict[str, dict[str, Any]]]) -> tuple[str, dict[str, Any]]:
    """Slope of log(time) over log(size) per request and tree, cold and warm (a "≥" when a
    timed-out request entered as the timeout: the true slope is steeper)."""
    sizes = sorted(results)
    trees = list(dict.fromkeys(t for s in sizes for t in results[s]))
    table: dict[str, Any] = {}
    lines = [
        "| request | " + " | ".join(f"{t}: cold | warm" for t in trees) + " |",
        "|---" + "|---:|---:" * len(trees) + "|",
    ]
    for name in ALL_STEPS:
        cells, seen = [], False
        for t in trees:
            for kind in ("cold", "warm"):
                xs, ys, bound = [], [], False
                for s in sizes:
                    m = results[s].get(t, {}).get("endpoints", {}).get(name)
                    if m is None:
                        continue
                    value = m["cold_s"] if kind == "cold" else m.get("warm_p50_s", m.get("warm_s"))
                    # a timed-out cold request, or warm one after a cold one that was not
                    timed_out = m["timed_out"] and (m["cold_s"] is None) == (kind == "cold")
                    if value is None and timed_out:
                        value, bound = TIMEOUT_S, True
                    if value:
                        xs.append(math.log(s))
                        ys.append(math.log(value))
                if len(xs) >= 2:
                    slope = float(np.polyfit(xs, ys, 1)[0])
                    table.setdefault(name, {}).setdefault(t, {})[kind] = {
                        "exponent": slope,
                        "lower_bound": bound,
                    }
                    cells.append(("≥ " if bound else "") + f"{slope:.2f}")
                    seen = True
                else:
                    cells.append("")
        if seen:
            lines.append(f"| {step_label(name)} | " + " | ".join(cells) + " |")
    return "\n".join(lines), table


# ----------------------------------------------------------------------------- main


def main() -> None:
    global TIMEOUT_S
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--tree", action="append", default=[], help="a code tree to measure (repeatable)"
    )
    parser.add_argument("--trees", default="", help="comma-separated code trees")
    parser.add_argument("--sizes", default="10000,100000", help="verdicts, comma-separated")
    parser.add_argument("--repeat", type=int, default=3, help="warm requests (their p50)")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per request")
    parser.add_argument(
        "--memory-limit-mb",
        type=int,
        default=8000,
        help="the web process's address-space cap (0: none); a request over it fails",
    )
    parser.add_argument(
        "--warm-skip-above",
        type=float,
        default=120.0,
        help="one warm request instead of --repeat when the cold one took longer (s)",
    )
    parser.add_argument(
        "--skip", action="extend", nargs="+", default=[], choices=ALL_STEPS, metavar="STEP",
        help=f"steps to leave out: {', '.join(ALL_STEPS)}",
    )  # fmt: skip
    parser.add_argument("--live", action="store_true", help="also the live test (votes + refits)")
    parser.add_argument("--live-rate", type=float, default=50.0, help="votes per second")
    parser.add_argument("--live-seconds", type=float, default=20.0)
    parser.add_argument(
        "--live-voters",
        type=int,
        default=50,
        help="browsers (sessions), each holding a battle; a vote waits for an idle one",
    )
    parser.add_argument(
        "--live-drain", type=float, default=60.0, help="seconds to wait for the last update"
    )
    parser.add_argument(
        "--awaiting", type=int, default=2000, help="awaiting_vote matches (live test)"
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--port", type=int, default=8796)
    parser.add_argument("--db", default="arena_scale")
    parser.add_argument("--pg-host", default="127.0.0.1")
    parser.add_argument("--pg-port", type=int, default=5432)
    parser.add_argument("--pg-user", default="postgres", help="admin role (creates the DB)")
    parser.add_argument("--pg-conn-limit", type=int, default=50)
    parser.add_argument("--redis-host", default="127.0.0.1")
    parser.add_argument("--redis-port", type=int, default=6379)
    parser.add_argument("--redis-db", type=int, default=12, help="flushed: dedicate it")
    parser.add_argument("--keep", action="store_true", help="keep the last database")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="measure on the database a --keep run of the same --sizes and --seed left (no"
        " load; implies --keep); with one tree and one size",
    )
    parser.add_argument("--json-out", type=Path, help="write every figure here as JSON")
    args = parser.parse_args()
    TIMEOUT_S = args.timeout
    paths = args.tree + [p for p in args.trees.split(",") if p]
    trees = [tree_of(p) for p in paths or [str(ROOT)]]
    if len({t.label for t in trees}) < len(trees):
        trees = [Tree(t.path, f"{t.label} ({t.path})") for t in trees]
    sizes = [int(s) for s in args.sizes.split(",")]
    if args.reuse:
        if len(sizes) > 1 or len(trees) > 1:
            parser.error("--reuse measures one tree at one size")
        args.keep = True
    log = ROOT / "var" / f"app-scale-{os.getpid()}.log"
    log.parent.mkdir(exist_ok=True)

    flush_cache(args)
    started = time.time()
    meta: dict[str, Any] = {
        "started": stamp(started),
        "cores": os.cpu_count(),
        "load_average_before": os.getloadavg(),
        "args": {k: str(v) for k, v in vars(args).items()},
        "trees": [asdict(t) | {"path": str(t.path)} for t in trees],
    }
    print(f"cores {os.cpu_count()}; load average " + " ".join(f"{x:.2f}" for x in os.getloadavg()))
    results: dict[int, dict[str, dict[str, Any]]] = {}
    try:
        for size in sizes:
            plan = Plan.of(size, args.awaiting)
            results[size] = {}
            for tree in trees:
                results[size][tree.label] = run_tree(tree, args, plan, log)
                write_json(args, meta, results)
            print()
            print(size_table(size, results[size]))
            print(flush=True)
        if len(sizes) > 1:
            text, _ = exponents(results)
            print("Growth exponents (slope of log time over log verdicts):\n")
            print(text)
        meta["load_average_after"] = os.getloadavg()
        meta["minutes"] = round((time.time() - started) / 60, 1)
        write_json(args, meta, results)
        print(
            f"\n{meta['minutes']} min in all; load average after "
            + " ".join(f"{x:.2f}" for x in os.getloadavg())
        )
    finally:
        flush_cache(args)
        text = log.read_text(errors="replace") if log.exists() else ""
        if "Traceback" in text:
            print(f"server log ({log}) has tracebacks; tail:\n{text[-3000:]}", file=sys.stderr)
        else:
            log.unlink(missing_ok=True)
            log.with_suffix(".worker.log").unlink(missing_ok=True)


def write_json(
    args: argparse.Namespace, meta: dict[str, Any], results: dict[int, dict[str, Any]]
) -> None:
    if args.json_out:
        _, table = exponents(results) if len(results) > 1 else ("", {})
        document = {"meta": meta, "sizes": results, "exponents": table}
        args.json_out.write_text(json.dumps(document, indent=2, default=str))


if __name__ == "__main__":
    main()

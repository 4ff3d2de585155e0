"""Web load in services mode: human votes per second, vote latency, live-event delay.

What it does (see benchmarks/README.md, "Web load"):

1. Setup. Drops and creates a PostgreSQL database (``--db``, default ``arena_bench``), runs
   the migrations, and seeds, through the ORM in this process, one human-judged
   round-robin tournament per concurrency level (so every level starts from the same
   state), ``--contestants`` models, and enough matches already in ``awaiting_vote`` with
   their answers. The round-robin format would create one round at a time through Celery,
   so setup inserts the Match / MatchEntry / Response rows directly (bulk_create), marks
   the tournament running and creates its Standing rows, as ``tournament_start`` and
   ``match_play`` would have. ``--preload N`` also inserts N completed matches with a
   Judgment per tournament, to measure a tournament that already has votes.
2. Servers. ``manage.py serve`` as a subprocess: daphne in one process, or with
   ``--workers N`` the documented services deployment (N processes on one port under
   uvicorn's supervisor). ``--server uvicorn`` runs one plain uvicorn process instead (to
   compare servers); ``--servers N`` starts N of them on consecutive ports (voter i
   talks to server i mod N). DATABASE_URL is on the bench database, REDIS_URL on a
   dedicated Redis DB number (``--redis-db``, flushed at the end) and the three vote
   limits are 0 (off). The database belongs to a role of its own limited to
   ``--pg-conn-limit`` connections, so a server that leaks connections cannot exhaust the
   shared PostgreSQL. A ``celery worker`` (threads, -c 2) also runs, unless
   ``--no-worker``: votes defer the leaderboard refit, the progress event, the global
   ``leaderboard.changed`` nudge and the next-round check to it. ``--variant`` runs the
   server with one settings change written to a temporary module (``no-fast-votes``:
   every vote through Django; ``list-layer``, ``conn-max-age-0``, ``pool``…), to
   measure a change against the app as it is.
3. Load, per concurrency level C: C virtual voters, each an HTTP client of its own
   (``--client``: aiohttp, or httpx as in earlier runs; own cookie jar, so own session;
   one HTTP/1.1 keep-alive connection), voting through the browser's endpoint,
   ``/tournaments/<id>/vote/``, as the page does (``--browser js``): GET a battle, parse
   battle id, idempotency key and CSRF token, POST the vote as vote.js does (``Accept:
   application/json``), which services mode counts outside Django (arena.serving.fastvote).
   While plenty of battles are free the JSON reveal brings the voter's next battle, so the
   next vote is a POST straight away; a reveal without one sends the voter back to GET.
   ``--browser page`` posts as a browser without JavaScript (the reveal is a page that
   holds the next battle), ``--browser link`` follows the reveal's "Next battle" link
   (GET + POST per vote). For ``--duration`` seconds. Meanwhile two websocket
   clients, in a thread with their own event loop so that the voters do not delay their
   timestamps, listen on ``/ws/leaderboard/`` (``leaderboard.changed``) and
   ``/ws/tournaments/<id>/`` (``match.finished``, which carries the match's primary key,
   and ``leaderboard.updated``).
4. Report: votes/s (POSTs answered 200 over the run's wall time), p50/p95/p99 of the POST
   and of the GET, how many GETs, errors by status, CPU used by the server processes and
   by this client, and the event delay:
   - exact, per vote: ``match.finished`` arrival − POST response received for the same
     match (setup knows each match's pk and public id). The commit happens before the
     response is sent (``on_commit`` callbacks run inside the request), so the response
     time is an upper bound of the commit time and the delay from commit is at least the
     figure shown; it can be negative when the event overtakes the HTTP response. The
     "from send" column uses the POST's send time instead (a lower bound of the commit
     time), so the true delay lies between the two.
   - ``leaderboard.updated`` (the worker's debounced refit): the k-th vote is in the
     first update whose rows count at least k verdicts; delay from its POST response.
   - ``leaderboard.changed`` names only the tournament and comes from the same worker
     task, right after the update: a vote's is the first to arrive after its update.
   Also: CPU of the server(s), PostgreSQL (backends, including exited ones), Redis, the
   worker and this client, the machine's busy share, and the PostgreSQL connections the
   run opened (pg_stat_database.sessions) and the peak open at once.
5. Cleanup: stops the processes, drops the database and its role, flushes only the bench
   Redis DB. ``--profile C`` records the first server with py-spy during level C
   (``var/web-load-C<C>.txt``, collapsed stacks; ``--profile-gil``: only samples that
   hold the GIL, i.e. Python CPU).

Loopback only; client and server share the machine, so the client's CPU is reported.

    .venv/bin/python benchmarks/web_load.py --concurrency 1,8,32,64 --duration 20 --workers 2
    .venv/bin/python benchmarks/web_load.py --concurrency 32 --profile 32 --profile-gil
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import random
import re
import resource
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path
from typing import Any

import httpx
import psycopg
import websockets
from websockets.typing import Origin

ROOT = Path(__file__).resolve().parents[1]
CSRF_FIELD = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
BATTLE_FIELD = re.compile(r'name="battle" value="([^"]+)"')
KEY_FIELD = re.compile(r'name="idempotency_key" value="([^"]+)"')
SHOWN_FIELD = re.compile(r'name="shown" value="([^"]+)"')
OUTCOMES = ["a"] * 4 + ["b"] * 4 + ["tie", "bothbad"]


# ----------------------------------------------------------------------------- setup


def admin_dsn(args: argparse.Namespace, dbname: str = "postgres") -> str:
    return f"host={args.pg_host} port={args.pg_port} user={args.pg_user} dbname={dbname}"


def database_url(args: argparse.Namespace) -> str:
    return f"postgres://{args.db}@{args.pg_host}:{args.pg_port}/{args.db}"


def redis_url(args: argparse.Namespace) -> str:
    return f"redis://{args.redis_host}:{args.redis_port}/{args.redis_db}"


def recreate_database(args: argparse.Namespace, *, create: bool = True) -> None:
    """The bench database, owned by a role of the same name that may open at most
    ``--pg-conn-limit`` connections, so a server that leaks them (see README) fails alone
    instead of taking the shared PostgreSQL's last connection slots."""
    with psycopg.connect(admin_dsn(args), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{args.db}" WITH (FORCE)')
        conn.execute(f'DROP ROLE IF EXISTS "{args.db}"')
        if create:
            conn.execute(f'CREATE ROLE "{args.db}" LOGIN CONNECTION LIMIT {args.pg_conn_limit}')
            conn.execute(f'CREATE DATABASE "{args.db}" OWNER "{args.db}"')


# Settings variants, to measure a proposed fix without editing the app: a module that
# imports the app's settings and changes one thing, written to a temporary directory.
VARIANTS = {
    "as-is": "",
    # Every vote through Django (arena.serving.fastvote off).
    "no-fast-votes": "FAST_VOTES = False\n",
    # Live events over Redis lists (channels_redis's core layer, the default until
    # 2026-11-24) instead of pub/sub.
    "list-layer": 'CHANNEL_LAYERS["default"]["BACKEND"] ='
    ' "channels_redis.core.RedisChannelLayer"\n',
    # Django's advice under ASGI: every request runs in a new thread (asgiref
    # ThreadSensitiveContext), so a persistent connection is never reused, only leaked.
    "conn-max-age-0": 'DATABASES["default"]["CONN_MAX_AGE"] = 0\n',
    # Sessions read from PostgreSQL on every request (the default before cached_db).
    "db-sessions": 'SESSION_ENGINE = "django.contrib.sessions.backends.db"\n',
    # Django >= 5.1 psycopg pool (needs the psycopg_pool package).
    "pool": 'DATABASES["default"]["CONN_MAX_AGE"] = 0\n'
    'DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {"min_size": 4, "max_size": 20}\n',
}
VARIANT_DIR = Path(tempfile.mkdtemp(prefix="web-load-settings-"))


def server_env(args: argparse.Namespace) -> dict[str, str]:
    settings = "arena.settings"
    extra: dict[str, str] = {}
    if VARIANTS[args.variant]:
        (VARIANT_DIR / "web_load_settings.py").write_text(
            "from arena.settings import *  # noqa: F403\n" + VARIANTS[args.variant]
        )
        settings = "web_load_settings"
        extra["PYTHONPATH"] = os.pathsep.join(
            [str(VARIANT_DIR), str(ROOT), os.environ.get("PYTHONPATH", "")]
        )
    return (
        os.environ
        | extra
        | {
            "DATABASE_URL": database_url(args),
            "REDIS_URL": redis_url(args),
            "ARENA_VOTES_PER_MINUTE": "0",
            "ARENA_VOTES_PER_DAY": "0",
            "ARENA_VOTES_PER_IP_PER_DAY": "0",
            "DJANGO_SETTINGS_MODULE": settings,
            "DJANGO_DEBUG": "0",
            "PYTHONUNBUFFERED": "1",
        }
    )


@dataclass
class Seeded:
    tournament_id: int
    match_public: dict[int, str]  # match pk → public id (str)


def seed(args: argparse.Namespace, levels: list[int]) -> dict[int, Seeded]:
    """One running, human-judged tournament per concurrency level, matches awaiting votes."""
    os.environ.update(server_env(args))
    sys.path[:0] = [str(VARIANT_DIR), str(ROOT)]
    import django

    django.setup()
    from django.db import connection, transaction
    from django.utils import timezone

    from arena.models import (
        Contestant,
        Judgment,
        Match,
        MatchEntry,
        MatchStatus,
        Prompt,
        PromptSet,
        Response,
        Standing,
        Tournament,
        TournamentStatus,
    )
    from arena.services.tournaments import tournament_create

    n = args.contestants
    pairs = list(combinations(range(n), 2))
    per_tournament = args.matches + args.preload
    rounds = -(-per_tournament // len(pairs))
    rng = random.Random(0)
    filler = (
        "The answer weighs both options. First, consider the constraints stated in the "
        "prompt; then compare the costs; finally pick the option with the lower risk. "
    )
    with transaction.atomic():
        models = Contestant.objects.bulk_create(
            [Contestant(name=f"bench-{i:02d}", backend="simulated") for i in range(n)]
        )
        pset = PromptSet.objects.create(name="bench prompts")
        prompts = Prompt.objects.bulk_create(
            [
                Prompt(prompt_set=pset, external_id=f"p{r}", text=f"Question {r}: which is better?")
                for r in range(rounds)
            ]
        )
        responses = {
            (c.pk, p.pk): r
            for r, (c, p) in zip(
                Response.objects.bulk_create(
                    [
                        Response(
                            contestant=c,
                            prompt=p,
                            settings_hash=c.settings_hash,
                            text=f"**Answer {i}.** " + filler * 4,
                        )
                        for p in prompts
                        for i, c in enumerate(models)
                    ]
                ),
                [(c, p) for p in prompts for c in models],
                strict=True,
            )
        }
    out: dict[int, Seeded] = {}
    for level in levels:
        with transaction.atomic():
            t = tournament_create(
                name=f"bench C={level}",
                format="round_robin",
                contestants=[c.pk for c in models],
                prompt_set=pset.pk,
                judge=None,
                config={"rounds": rounds},
            )
            Tournament.objects.filter(pk=t.pk).update(
                status=TournamentStatus.RUNNING,
                started_at=timezone.now(),
                planned_matches=rounds * len(pairs),
            )
            Standing.objects.bulk_create([Standing(tournament=t, contestant=c) for c in models])
            slots = [(r, s, pair) for r in range(rounds) for s, pair in enumerate(pairs)]
            slots = slots[:per_tournament]
            matches = Match.objects.bulk_create(
                [
                    Match(
                        tournament=t,
                        round=r,
                        slot=s,
                        prompt=prompts[r],
                        status=MatchStatus.COMPLETED
                        if k < args.preload
                        else MatchStatus.AWAITING_VOTE,
                        finished_at=timezone.now() if k < args.preload else None,
                    )
                    for k, (r, s, _) in enumerate(slots)
                ]
            )
            entries = []
            judgments = []
            for k, (m, (r, _, (i, j))) in enumerate(zip(matches, slots, strict=True)):
                order = (i, j) if rng.random() < 0.5 else (j, i)
                for pos, ci in enumerate(order):
                    c = models[ci]
                    entries.append(
                        MatchEntry(
                            match=m,
                            contestant=c,
                            position=pos,
                            response=responses[c.pk, prompts[r].pk],
                        )
                    )
                if k < args.preload:
                    a, b = models[order[0]].pk, models[order[1]].pk
                    ranking = rng.choice([[[a], [b]], [[b], [a]], [[a, b]]])
                    judgments.append(Judgment(match=m, judge=None, ranking=ranking))
            MatchEntry.objects.bulk_create(entries, batch_size=5000)
            Judgment.objects.bulk_create(judgments, batch_size=5000)
        out[level] = Seeded(
            tournament_id=t.pk,
            match_public={m.pk: str(m.public_id) for m in matches[args.preload :]},
        )
    with connection.cursor() as cur:
        cur.execute("ANALYZE")
    connection.close()
    logging.getLogger("httpx").setLevel(logging.WARNING)  # Django's LOGGING set INFO
    return out


def migrate(args: argparse.Namespace) -> None:
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=server_env(args),
        check=True,
    )


def start_server(args: argparse.Namespace, log: Path, port: int) -> subprocess.Popen[bytes]:
    out = log.open("wb")
    command = {
        "daphne": [sys.executable, "manage.py", "serve", "--workers", str(args.workers)],
        "uvicorn": [
            sys.executable,
            "-m",
            "uvicorn",
            "arena.serving.asgi:application",
            "--no-access-log",
        ]
        + ["--log-level", "warning", "--loop", "uvloop", "--http", "httptools"],
    }[args.server]
    proc = subprocess.Popen(
        [*command, "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT,
        env=server_env(args),
        stdout=out,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/", timeout=2).status_code < 500:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError("server did not answer within 30 s")


def start_worker(args: argparse.Namespace, log: Path) -> subprocess.Popen[bytes]:
    """The Celery worker that runs the deferred leaderboard refits (arena.tasks)."""
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "arena",
            "worker",
            "-Q",
            "default,judge,gpu",
            "--pool",
            "threads",
            "-c",
            "2",
            "-n",
            f"web-load-{os.getpid()}@%h",
            "--without-gossip",
            "--without-mingle",
            "-l",
            "WARNING",
        ],
        cwd=ROOT,
        env=server_env(args) | {"OPENBLAS_NUM_THREADS": "1"},
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def with_children(pid: int) -> list[int]:
    """The process and its descendants (``serve --workers N`` forks N server processes)."""
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


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def service_cpu(names: tuple[str, ...]) -> float:
    """CPU seconds of every live process whose command name is in ``names``, plus what
    their exited children used (PostgreSQL forks a backend per connection)."""
    total, tick = 0.0, os.sysconf("SC_CLK_TCK")
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        comm, rest = text[text.index("(") + 1 : text.rindex(")")], text.rsplit(")", 1)[1].split()
        if comm.split(":")[0] in names or comm in names:
            total += sum(int(v) for v in rest[11:15]) / tick
    return total


class PgWatch(threading.Thread):
    """One admin connection: samples the bench database's open connections (peak) and
    reads pg_stat_database.sessions (connections ever opened, PG 14+) before and after."""

    def __init__(self, args: argparse.Namespace) -> None:
        super().__init__(daemon=True)
        self.db, self.stop, self.peak = args.db, threading.Event(), 0
        self.conn = psycopg.connect(admin_dsn(args), autocommit=True)
        self.sessions0 = self.sessions()

    def sessions(self) -> int:
        self.conn.execute("SELECT pg_stat_clear_snapshot()")
        row = self.conn.execute(
            "SELECT sessions FROM pg_stat_database WHERE datname = %s", (self.db,)
        ).fetchone()
        return int(row[0]) if row else 0

    def run(self) -> None:
        while not self.stop.wait(0.25):
            (n,) = self.conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s", (self.db,)
            ).fetchone() or (0,)
            self.peak = max(self.peak, int(n))

    def finish(self) -> tuple[int, int]:
        """(sessions opened during the run, peak open connections)."""
        self.stop.set()
        self.join()
        opened = self.sessions() - self.sessions0
        self.conn.close()
        return opened, self.peak


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of all CPUs, for the machine's utilisation during a run."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


# ----------------------------------------------------------------------------- load


@dataclass
class Run:
    concurrency: int
    elapsed: float = 0.0
    posts: list[tuple[float, float, int, str]] = field(
        default_factory=list
    )  # send, recv, status, battle
    gets: list[tuple[float, float, int]] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    no_battle: int = 0
    changed: list[float] = field(default_factory=list)  # leaderboard.changed arrivals
    finished: dict[int, float] = field(default_factory=dict)  # match pk → match.finished arrival
    updated: list[tuple[float, int]] = field(
        default_factory=list
    )  # leaderboard.updated: at, verdicts
    server_cpu: float = 0.0
    client_cpu: float = 0.0
    machine_util: float = 0.0
    postgres_cpu: float = 0.0
    redis_cpu: float = 0.0
    worker_cpu: float = 0.0
    pg_sessions: int = 0
    pg_peak: int = 0


class HttpxVoter:
    """A voter's browser: its own cookies (session, CSRF) and one keep-alive connection."""

    errors: tuple[type[BaseException], ...] = (httpx.HTTPError,)

    def __init__(self, base: str) -> None:
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        self.client = httpx.AsyncClient(base_url=base, limits=limits, timeout=30)

    async def request(
        self, method: str, path: str, data: dict[str, str] | None = None, headers: Any = None
    ) -> tuple[int, str]:
        response = await self.client.request(method, path, data=data, headers=headers)
        return response.status_code, response.text

    async def aclose(self) -> None:
        await self.client.aclose()


class AiohttpVoter(HttpxVoter):
    """The same with aiohttp, whose client costs this process less CPU per request than
    httpx's (both measured in benchmarks/README.md, "Web load"): the client shares the
    machine with the server it measures."""

    def __init__(self, base: str) -> None:
        import aiohttp

        self.errors = (aiohttp.ClientError, TimeoutError)
        self.session = aiohttp.ClientSession(
            base_url=base,
            cookie_jar=aiohttp.CookieJar(unsafe=True),  # cookies for 127.0.0.1
            connector=aiohttp.TCPConnector(limit=1),
            timeout=aiohttp.ClientTimeout(total=30),
        )

    async def request(
        self, method: str, path: str, data: dict[str, str] | None = None, headers: Any = None
    ) -> tuple[int, str]:
        async with self.session.request(method, path, data=data, headers=headers) as response:
            return response.status, await response.text()

    async def aclose(self) -> None:
        await self.session.close()


CLIENTS = {"aiohttp": AiohttpVoter, "httpx": HttpxVoter}


async def voter(
    base: str,
    tournament: int,
    deadline: float,
    run: Run,
    rng: random.Random,
    browser: str = "js",
    client: str = "aiohttp",
) -> None:
    """One voter, as the browser does it: GET a battle, then POST votes. While battles are
    plentiful each reveal brings the next battle, so the next vote is a POST straight away;
    otherwise the voter GETs the next one. ``browser``: "js" posts as vote.js does (the
    reveal and the next battle as JSON); "page" as a browser without JavaScript whose
    reveal page holds the next battle; "link" as one that follows the "Next battle" link
    (a GET per vote)."""
    url = f"/tournaments/{tournament}/vote/"
    headers = {"Referer": base + url}
    if browser == "js":
        headers["Accept"] = "application/json"
    http = CLIENTS[client](base)
    try:
        form: dict[str, str] | None = None  # the next battle's, when the reveal brought it
        link = url
        while time.perf_counter() < deadline:
            if form is None:
                t0 = time.perf_counter()
                try:
                    status, page = await http.request("GET", link)
                except http.errors as e:
                    run.errors[f"GET {type(e).__name__}"] += 1
                    continue
                run.gets.append((t0, time.perf_counter(), status))
                if status != 200:
                    run.errors[f"GET {status}"] += 1
                    continue
                form = page_form(page)
                if form is None:
                    run.no_battle += 1
                    await asyncio.sleep(0.1)
                    continue
            battle = form["battle"]
            data = {**form, "outcome": rng.choice(OUTCOMES)}
            t2 = time.perf_counter()
            try:
                status, body = await http.request("POST", url, data=data, headers=headers)
            except http.errors as e:
                run.errors[f"POST {type(e).__name__}"] += 1
                form = None
                continue
            t3 = time.perf_counter()
            run.posts.append((t2, t3, status, battle))
            link, form = url, None
            if status != 200:
                run.errors[f"POST {status}"] += 1
                continue
            form = next_form(browser, body, form=data)
            if form is not None and browser == "link":
                link, form = f"{url}?battle={form['battle']}", None
    finally:
        await http.aclose()


def page_form(page: str) -> dict[str, str] | None:
    """The vote form's fields in a page, if it shows a battle (with the token of a battle
    shown without a session: a voter's first page)."""
    battle, key, csrf = BATTLE_FIELD.search(page), KEY_FIELD.search(page), CSRF_FIELD.search(page)
    if not (battle and key and csrf):
        return None
    shown = SHOWN_FIELD.search(page)
    return {
        "csrfmiddlewaretoken": csrf.group(1),
        "battle": battle.group(1),
        "idempotency_key": key.group(1),
        **({"shown": shown.group(1)} if shown else {}),
    }


def next_form(browser: str, body: str, *, form: dict[str, str]) -> dict[str, str] | None:
    """The form of the battle the reveal brought, if any."""
    if browser == "js":
        upcoming = json.loads(body)["next"]
        if upcoming is None:
            return None
        return {
            "csrfmiddlewaretoken": form["csrfmiddlewaretoken"],
            "battle": upcoming["battle"],
            "idempotency_key": upcoming["idempotency_key"],
        }
    return page_form(body) if 'id="battle"' in body else None


async def warm_up(args: argparse.Namespace, tournament: int) -> None:
    """A few concurrent page loads per server process before measuring, so that no level
    pays for a process's first requests (imports, templates, its connection pool)."""
    urls = ["/", f"/tournaments/{tournament}/"]
    for n in range(args.servers):
        base = f"http://127.0.0.1:{args.port + n}"
        async with httpx.AsyncClient(base_url=base, timeout=60) as client:
            for _ in range(3):
                await asyncio.gather(*(client.get(u) for u in urls * 4 * args.workers))


def listen(
    ws_base: str,
    origin: str,
    tournament: int,
    run: Run,
    ready: threading.Event,
    stop: threading.Event,
) -> None:
    """Both websocket feeds, in this thread's own event loop."""

    async def feed(path: str, on_event: Any) -> None:
        async with websockets.connect(ws_base + path, origin=Origin(origin), max_size=None) as ws:
            ready_count.append(path)
            if len(ready_count) == 2:
                ready.set()
            while not stop.is_set():
                try:
                    raw = await asyncio.wait_for(ws.recv(), timeout=0.2)
                except TimeoutError:
                    continue
                on_event(time.perf_counter(), json.loads(raw))

    def changed(at: float, event: dict[str, Any]) -> None:
        if event.get("type") == "leaderboard.changed" and event.get("tournament") == tournament:
            run.changed.append(at)

    def finished(at: float, event: dict[str, Any]) -> None:
        if event.get("type") == "match.finished":
            run.finished.setdefault(event["match"], at)
        elif event.get("type") == "leaderboard.updated":
            verdicts = sum(row["matches"] for row in event["rows"]) // 2
            run.updated.append((at, verdicts))

    ready_count: list[str] = []

    async def main() -> None:
        results = await asyncio.gather(
            feed("/ws/leaderboard/", changed),
            feed(f"/ws/tournaments/{tournament}/", finished),
            return_exceptions=True,
        )
        for error in results:
            if error is not None:  # the server closed a feed: fewer events, reported as such
                run.errors[f"websocket {type(error).__name__}"] += 1

    asyncio.run(main())


async def load(
    args: argparse.Namespace,
    seeded: Seeded,
    concurrency: int,
    servers: list[int],
    worker_pid: int,
) -> Run:
    base = f"http://127.0.0.1:{args.port}"
    run = Run(concurrency)
    ready, stop = threading.Event(), threading.Event()
    listener = threading.Thread(
        target=listen,
        args=(f"ws://127.0.0.1:{args.port}", base, seeded.tournament_id, run, ready, stop),
        daemon=True,
    )
    listener.start()
    if not ready.wait(10):
        raise RuntimeError("websocket clients did not connect")
    server_pids = [pid for server in servers for pid in with_children(server)]
    cpu0, self0, busy0 = (
        sum(cpu_seconds(pid) for pid in server_pids),
        resource.getrusage(resource.RUSAGE_SELF),
        machine_busy(),
    )
    pg0, redis0 = service_cpu(("postgres",)), service_cpu(("redis-server",))
    watch = PgWatch(args)
    watch.start()
    worker0 = cpu_seconds(worker_pid) if worker_pid else 0.0
    start = time.perf_counter()
    deadline = start + args.duration
    await asyncio.gather(
        *(
            # voter i talks to server i mod N (client-side balancing over --servers)
            voter(
                f"http://127.0.0.1:{args.port + i % len(servers)}",
                seeded.tournament_id,
                deadline,
                run,
                random.Random(i),
                args.browser,
                args.client,
            )
            for i in range(concurrency)
        )
    )
    run.elapsed = time.perf_counter() - start
    self1, busy1 = resource.getrusage(resource.RUSAGE_SELF), machine_busy()
    run.server_cpu = sum(cpu_seconds(pid) for pid in server_pids) - cpu0
    run.client_cpu = (self1.ru_utime + self1.ru_stime) - (self0.ru_utime + self0.ru_stime)
    run.machine_util = (busy1[0] - busy0[0]) / max(1, busy1[1] - busy0[1])
    run.postgres_cpu = service_cpu(("postgres",)) - pg0
    run.redis_cpu = service_cpu(("redis-server",)) - redis0
    run.worker_cpu = (cpu_seconds(worker_pid) - worker0) if worker_pid else 0.0
    await asyncio.sleep(args.drain)  # events still in flight
    stop.set()
    listener.join(5)
    run.pg_sessions, run.pg_peak = watch.finish()
    return run


# ----------------------------------------------------------------------------- report


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


def summarize(run: Run, seeded: Seeded, preload: int) -> dict[str, Any]:
    ok = [p for p in run.posts if p[2] == 200]
    post_ms = [(r - s) * 1000 for s, r, _, _ in run.posts]
    get_ms = [(r - s) * 1000 for s, r, _ in run.gets]
    by_public = {pub: pk for pk, pub in seeded.match_public.items()}
    exact, exact_send = [], []
    for send, recv, _, battle in ok:
        arrival = run.finished.get(by_public.get(battle, -1))
        if arrival is not None:
            exact.append((arrival - recv) * 1000)
            exact_send.append((arrival - send) * 1000)
    recvs = sorted(r for _, r, _, _ in ok)
    changed = sorted(run.changed)
    # leaderboard.updated (deferred refit in a worker): the k-th vote (by response time) is
    # in the first update whose verdict count reaches preload + k. The same worker task
    # then sends leaderboard.changed (one per task, not per vote): the vote's is the first
    # to arrive after that update (on the other socket, so allow 50 ms of reordering).
    updates = sorted(run.updated)
    lb_delays, ranked, u, c = [], [], 0, 0
    for k, recv in enumerate(recvs, start=1):
        while u < len(updates) and updates[u][1] < preload + k:
            u += 1
        if u == len(updates):
            break
        lb_delays.append((updates[u][0] - recv) * 1000)
        while c < len(changed) and changed[c] < updates[u][0] - 0.05:
            c += 1
        if c < len(changed):
            ranked.append((changed[c] - recv) * 1000)
    quarter = max(1, len(ok) // 4)
    by_send = sorted(ok)
    first_q = [(r - s) * 1000 for s, r, _, _ in by_send[:quarter]]
    last_q = [(r - s) * 1000 for s, r, _, _ in by_send[-quarter:]]
    return {
        "C": run.concurrency,
        "votes": len(ok),
        "votes_per_s": len(ok) / run.elapsed if run.elapsed else 0.0,
        "post_p50": pct(post_ms, 50),
        "post_p95": pct(post_ms, 95),
        "post_p99": pct(post_ms, 99),
        "post_max": max(post_ms, default=float("nan")),
        "post_p50_first_q": pct(first_q, 50),
        "post_p50_last_q": pct(last_q, 50),
        "get_p50": pct(get_ms, 50),
        "get_p99": pct(get_ms, 99),
        "gets": len(get_ms),
        "errors": dict(run.errors),
        "no_battle": run.no_battle,
        "finished_events": len(exact),
        "delay_p50": pct(exact, 50),
        "delay_p99": pct(exact, 99),
        "delay_send_p50": pct(exact_send, 50),
        "delay_send_p99": pct(exact_send, 99),
        "changed_events": len(changed),
        "changed_p50": pct(ranked, 50),
        "changed_p99": pct(ranked, 99),
        "updated_events": len(updates),
        "updated_votes": len(lb_delays),
        "updated_p50": pct(lb_delays, 50),
        "updated_p99": pct(lb_delays, 99),
        "server_cpu_pct": 100 * run.server_cpu / run.elapsed,
        "postgres_cpu_pct": 100 * run.postgres_cpu / run.elapsed,
        "redis_cpu_pct": 100 * run.redis_cpu / run.elapsed,
        "worker_cpu_pct": 100 * run.worker_cpu / run.elapsed,
        "pg_sessions": run.pg_sessions,
        "pg_peak": run.pg_peak,
        "client_cpu_pct": 100 * run.client_cpu / run.elapsed,
        "machine_util_pct": 100 * run.machine_util,
    }


def print_table(rows: list[dict[str, Any]]) -> None:
    print(
        "| C | votes | votes/s | POST p50 | POST p95 | POST p99 | POST max | GETs | GET p50 "
        "| GET p99 | errors |"
    )
    print("|---:" * 11 + "|")
    for r in rows:
        errors = ", ".join(f"{k}: {v}" for k, v in sorted(r["errors"].items())) or "0"
        print(
            f"| {r['C']} | {r['votes']} | {r['votes_per_s']:.1f} | {r['post_p50']:.1f} "
            f"| {r['post_p95']:.1f} | {r['post_p99']:.1f} | {r['post_max']:.0f} "
            f"| {r['gets']} | {r['get_p50']:.1f} | {r['get_p99']:.1f} | {errors} |"
        )
    print()
    print(
        "| C | match.finished p50 / p99 | same, from send p99 | leaderboard.changed p50 / p99 "
        "(events) | leaderboard.updated p50 / p99 (events) | CPU: server / postgres / redis "
        "/ worker / client | machine busy | PG connections opened (peak open) |"
    )
    print("|---:" * 8 + "|")
    for r in rows:
        print(
            f"| {r['C']} | {r['delay_p50']:.1f} / {r['delay_p99']:.1f} | {r['delay_send_p99']:.1f} "
            f"| {r['changed_p50']:.1f} / {r['changed_p99']:.1f} ({r['changed_events']}) "
            f"| {r['updated_p50']:.0f} / {r['updated_p99']:.0f} ({r['updated_events']}) "
            f"| {r['server_cpu_pct']:.0f} / {r['postgres_cpu_pct']:.0f} / {r['redis_cpu_pct']:.0f} "
            f"/ {r['worker_cpu_pct']:.0f} / {r['client_cpu_pct']:.0f}% "
            f"| {r['machine_util_pct']:.0f}% | {r['pg_sessions']} ({r['pg_peak']}) |"
        )
    print("(ms; event delays from the POST response; CPU in % of one core; busy: all cores)")


# ----------------------------------------------------------------------------- main


def profile(args: argparse.Namespace, pid: int, out: Path) -> subprocess.Popen[bytes] | None:
    spy = Path(sys.executable).with_name("py-spy")
    if not spy.exists():
        print("py-spy not installed in this venv (pip install py-spy): no profile", file=sys.stderr)
        return None
    return subprocess.Popen(
        [
            str(spy),
            "record",
            "-d",
            str(int(args.duration)),
            "-r",
            "100",
            "-p",
            str(pid),
            "--format",
            args.profile_format,
            "-o",
            str(out),
            "--nonblocking",
            "--subprocesses",  # --workers N: the server processes are the pid's children
            *(["--gil"] if args.profile_gil else []),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--concurrency", default="1,8,32,64", help="comma-separated voter counts")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per level")
    parser.add_argument("--drain", type=float, default=2.0, help="seconds to wait for late events")
    parser.add_argument("--contestants", type=int, default=20)
    parser.add_argument("--matches", type=int, default=8000, help="awaiting_vote matches per level")
    parser.add_argument("--preload", type=int, default=0, help="completed votes per tournament")
    parser.add_argument("--port", type=int, default=8765, help="first server's port")
    parser.add_argument(
        "--servers", type=int, default=1, help="daphne processes on consecutive ports"
    )
    parser.add_argument(
        "--server",
        default="daphne",
        choices=["daphne", "uvicorn"],
        help="manage.py serve, or one plain uvicorn process (uvloop, httptools) to compare",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="manage.py serve --workers N: N processes on one port (uvicorn's supervisor)",
    )
    parser.add_argument(
        "--client",
        default="aiohttp",
        choices=sorted(CLIENTS),
        help="the voters' HTTP client (aiohttp: pip install -e '.[bench]')",
    )
    parser.add_argument(
        "--browser",
        default="js",
        choices=["js", "page", "link"],
        help="voters post as vote.js (JSON reveal), as a browser without JavaScript (the"
        " reveal page), or one that GETs the reveal's next-battle link (two requests a vote)",
    )
    parser.add_argument("--db", default="arena_bench")
    parser.add_argument("--pg-host", default="127.0.0.1")
    parser.add_argument("--pg-port", type=int, default=5432)
    parser.add_argument("--pg-user", default="postgres", help="admin role (creates the DB)")
    parser.add_argument("--pg-conn-limit", type=int, default=50)
    parser.add_argument("--redis-host", default="127.0.0.1")
    parser.add_argument("--redis-port", type=int, default=6379)
    parser.add_argument("--redis-db", type=int, default=11, help="flushed at the end: dedicate it")
    parser.add_argument("--profile", type=int, default=0, help="py-spy the server during level C")
    parser.add_argument(
        "--profile-format", default="raw", choices=["raw", "flamegraph", "speedscope"]
    )
    parser.add_argument(
        "--profile-gil", action="store_true", help="only samples holding the GIL (Python CPU)"
    )
    parser.add_argument(
        "--variant",
        default="as-is",
        choices=sorted(VARIANTS),
        help="run the server with the app's settings as they are, or with one change",
    )
    parser.add_argument(
        "--no-worker", action="store_true", help="no Celery worker: no leaderboard.updated events"
    )
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()
    levels = [int(c) for c in args.concurrency.split(",")]

    import redis

    r = redis.Redis.from_url(redis_url(args))
    if r.dbsize():
        sys.exit(f"Redis DB {args.redis_db} is not empty: pick a free --redis-db")
    load_before = os.getloadavg()
    print(
        f"cores: {os.cpu_count()}; load average before: "
        + " ".join(f"{x:.2f}" for x in load_before)
    )
    t0 = time.perf_counter()
    recreate_database(args)
    servers: list[subprocess.Popen[bytes]] = []
    worker = None
    log = ROOT / "var" / f"web-load-server-{os.getpid()}.log"
    worker_log = log.with_name(f"web-load-worker-{os.getpid()}.log")
    log.parent.mkdir(exist_ok=True)
    rows: list[dict[str, Any]] = []
    try:
        migrate(args)
        seeded = seed(args, levels)
        print(f"setup: {time.perf_counter() - t0:.1f} s ({args.matches} matches x {len(levels)})")
        servers = [
            start_server(args, log.with_suffix(f".{n}.log"), args.port + n)
            for n in range(args.servers)
        ]
        if not args.no_worker:
            worker = start_worker(args, worker_log)
            time.sleep(3)
        asyncio.run(warm_up(args, seeded[levels[0]].tournament_id))
        for level in levels:
            spy = None
            if args.profile == level:
                ext = {"raw": "txt", "flamegraph": "svg", "speedscope": "json"}[args.profile_format]
                spy = profile(args, servers[0].pid, ROOT / "var" / f"web-load-C{level}.{ext}")
            run = asyncio.run(
                load(
                    args,
                    seeded[level],
                    level,
                    [p.pid for p in servers],
                    worker.pid if worker else 0,
                )
            )
            if spy is not None:
                spy.wait(timeout=args.duration + 60)
                print(f"profile: var/web-load-C{level}.*")
            rows.append(summarize(run, seeded[level], args.preload))
            row = rows[-1]
            print(
                f"C={level}: {row['votes_per_s']:.1f} votes/s, POST p50 {row['post_p50']:.1f} "
                f"p99 {row['post_p99']:.1f} ms (p50 first quarter {row['post_p50_first_q']:.1f}, "
                f"last quarter {row['post_p50_last_q']:.1f}), errors {row['errors']}",
                flush=True,
            )
        load_after = os.getloadavg()
        print()
        print_table(rows)
        print("load average after: " + " ".join(f"{x:.2f}" for x in load_after))
        if args.json:
            args.json.write_text(json.dumps(rows, indent=2))
    finally:
        if worker is not None:
            stop_server(worker)
            text = worker_log.read_text(errors="replace")
            if "Traceback" in text or "ERROR" in text:
                print("worker log (tail):\n" + text[-3000:], file=sys.stderr)
            worker_log.unlink(missing_ok=True)
        for n, server in enumerate(servers):
            stop_server(server)
            server_log = log.with_suffix(f".{n}.log")
            text = server_log.read_text(errors="replace")
            if "Traceback" in text or "ERROR" in text:
                print(f"server {n} log (tail):\n" + text[-3000:], file=sys.stderr)
            server_log.unlink(missing_ok=True)
        if not args.keep:
            recreate_database(args, create=False)
        r.flushdb()


if __name__ == "__main__":
    main()

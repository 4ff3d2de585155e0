"""Voter supply under load: does every voter who asks get a battle, at once?

What it does (see benchmarks/README.md, "Voter supply"):

1. Setup. A PostgreSQL database of its own (``--db``, default ``arena_supply``, dropped
   and made again; web_load.py's helpers), migrated, with ``--contestants`` simulated
   models, ``--prompts`` prompts and every answer stored ahead (as an arena of imported
   answers has them). Each answer carries a hidden mark of its model (``[seat 3]``), no
   model's name, so that the client can vote by a ground truth (BT on ``STRENGTHS``)
   without the page naming anyone. Two running arenas judged by people: an adaptive one
   (``ci_reduction``, no batch planned: voters' asks draw the pairs) and a round robin
   (one round of M(M-1)/2 matches per prompt, made round by round by the worker). Both
   with budget to spare for the run.
2. Servers: ``manage.py serve --workers 2`` and a Celery worker (threads, -c 2), on the
   bench database and a dedicated Redis DB (``--redis-db``, flushed before and after);
   the vote limits are off.
3. Load: ``--sessions`` virtual people, half on each arena, for ``--duration`` seconds,
   each an HTTP client with its own cookie jar:
   - 60% voters: GET the vote page (the first is without a session: the page's token lets
     its vote count, and the vote makes the session), vote as vote.js does (JSON), take
     the next battle from the reveal, or GET the page when the reveal brings none; they
     read each battle for ``--reading`` seconds (mean; uniform from half to 1.5 times);
   - 30% abandoners: vote once (so they have a session), then walk away from the battle
     the reveal assigned them, and come back as a new person after as long;
   - 10% without cookies: GET the vote page as often, never vote (a crawler, a link
     preview).
   People arrive over the first 1.5 ``--reading`` seconds, after a few warm-up page loads.
   Every GET and every vote that brings a battle is a delivery: its latency, and whether
   it had a battle, are recorded per kind of person.
4. Report: deliveries, "no battle" answers while the arena runs with budget left (the
   figure that must be zero), p50/p95/p99 of a battle's delivery (GET; vote with next
   battle), errors; what requests without a session cost (assignments and matches they
   made); and the adaptive arena's drawn pairs: per pair the strength gap, how many were
   drawn, what uniform sampling would give, and the mean probability stored with them.

Loopback, bounded (``--duration`` + about a minute of setup). Dedicate the Redis DB.

    .venv/bin/python benchmarks/voter_supply.py --duration 60
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import re
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
import web_load  # noqa: E402  (the database and server helpers)

ROOT = Path(__file__).resolve().parents[1]
SEAT = re.compile(r"\[seat (\d+)\]")
# Hidden strengths (Elo scale) the client votes by, seat by seat.
STRENGTHS = [1250, 1200, 1180, 1100, 1080, 1000, 960, 900]


@dataclass
class Arena:
    name: str
    tournament_id: int


@dataclass
class Tally:
    """Per arena and kind of person: delivery latencies, 'no battle' answers, errors."""

    latency: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    no_battle: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    votes: int = 0


# ----------------------------------------------------------------------------- setup


def seed(args: argparse.Namespace) -> list[Arena]:
    os.environ.update(web_load.server_env(args))
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from arena.models import BackendKind, Contestant, Prompt, PromptSet, Response
    from arena.services.tournaments import tournament_create, tournament_start

    people = [
        Contestant.objects.create(name=f"model-{i}", backend=BackendKind.SIMULATED)
        for i in range(args.contestants)
    ]
    pset = PromptSet.objects.create(name="supply")
    prompts = [
        Prompt.objects.create(prompt_set=pset, external_id=str(i), text=f"Question {i}: explain.")
        for i in range(args.prompts)
    ]
    for seat, c in enumerate(people):
        Response.objects.bulk_create(
            Response(
                contestant=c,
                prompt=p,
                settings_hash=c.settings_hash,
                text=f"An answer to question {p.external_id}, line one.\nLine two. [seat {seat}]",
            )
            for p in prompts
        )
    names = [c.name for c in people]
    adaptive = tournament_create(
        name="adaptive arena",
        format="adaptive",
        contestants=names,
        prompt_set=pset.name,
        judge=None,
        config={"sampler": "ci_reduction", "batch": 8, "max_matches": 1_000_000},
    )
    rounds = tournament_create(
        name="round robin arena",
        format="round_robin",
        contestants=names,
        prompt_set=pset.name,
        judge=None,
        config={"rounds": args.prompts},
    )
    for t in (adaptive, rounds):
        tournament_start(tournament=t)
    return [Arena("adaptive", adaptive.pk), Arena("round robin", rounds.pk)]


# ----------------------------------------------------------------------------- load


def verdict(answers: list[str], rng: random.Random) -> str:
    """A vote by the hidden strengths (Bradley-Terry), as a person who prefers the better
    model would; a tie now and then."""
    seats = [int(m.group(1)) for a in answers if (m := SEAT.search(a))]
    if len(seats) != 2:
        return "tie"
    if rng.random() < 0.1:
        return "tie"
    gap = STRENGTHS[seats[0] % len(STRENGTHS)] - STRENGTHS[seats[1] % len(STRENGTHS)]
    return "a" if rng.random() < 1 / (1 + 10 ** (-gap / 400)) else "b"


def answers_in(page: str) -> list[str]:
    return re.findall(r'<div class="answer-body">(.*?)</div>', page, re.S)[1:]


class Person:
    def __init__(
        self,
        base: str,
        arena: Arena,
        tally: Tally,
        kind: str,
        seed: int,
        reading: tuple[float, float],
    ) -> None:
        self.base, self.arena, self.tally, self.kind = base, arena, tally, kind
        self.reading = reading
        self.url = f"/tournaments/{arena.tournament_id}/vote/"
        self.rng = random.Random(seed)

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.base,
            timeout=30,
            headers={"Referer": self.base + self.url},
            limits=httpx.Limits(max_connections=1),
        )

    async def ask(self, http: httpx.AsyncClient) -> tuple[dict[str, str] | None, list[str]]:
        t0 = time.perf_counter()
        try:
            response = await http.get(self.url)
        except httpx.HTTPError as e:
            self.tally.errors[f"GET {type(e).__name__}"] += 1
            return None, []
        self.tally.latency[f"{self.kind} GET"].append(time.perf_counter() - t0)
        if response.status_code != 200:
            self.tally.errors[f"GET {response.status_code}"] += 1
            return None, []
        form = web_load.page_form(response.text)
        if form is None:
            self.tally.no_battle[self.kind] += 1
        return form, answers_in(response.text)

    async def vote(
        self, http: httpx.AsyncClient, form: dict[str, str], answers: list[str]
    ) -> tuple[dict[str, str] | None, list[str]]:
        data = {**form, "outcome": verdict(answers, self.rng)}
        t0 = time.perf_counter()
        try:
            response = await http.post(self.url, data=data, headers={"Accept": "application/json"})
        except httpx.HTTPError as e:
            self.tally.errors[f"POST {type(e).__name__}"] += 1
            return None, []
        if response.status_code != 200:
            self.tally.errors[f"POST {response.status_code}"] += 1
            return None, []
        self.tally.votes += 1
        upcoming = response.json()["next"]
        if upcoming is None:
            return None, []
        self.tally.latency[f"{self.kind} vote+next"].append(time.perf_counter() - t0)
        return {
            "csrfmiddlewaretoken": form["csrfmiddlewaretoken"],
            "battle": upcoming["battle"],
            "idempotency_key": upcoming["idempotency_key"],
        }, [re.sub(r"<[^>]+>", "", a) for a in upcoming["answers_html"]]

    async def read(self) -> None:
        await asyncio.sleep(self.rng.uniform(*self.reading))

    async def run(self, deadline: float) -> None:
        await asyncio.sleep(self.rng.uniform(0, self.reading[1]))  # people arrive over time
        while time.perf_counter() < deadline:
            async with self.client() as http:
                if self.kind == "no cookies":
                    http.cookies.clear()
                    await self.ask(http)
                    await self.read()
                    continue
                form, answers = await self.ask(http)
                while form is not None and time.perf_counter() < deadline:
                    await self.read()
                    form, answers = await self.vote(http, form, answers)
                    if self.kind == "abandoner":
                        break  # walks away from the battle the reveal assigned
                    if form is None:
                        form, answers = await self.ask(http)
                if form is None and self.kind == "voter":
                    await asyncio.sleep(0.2)
            if self.kind == "abandoner":
                await self.read()  # and comes back as someone new


async def load(args: argparse.Namespace, arenas: list[Arena]) -> dict[str, Tally]:
    base = f"http://127.0.0.1:{args.port}"
    tallies = {a.name: Tally() for a in arenas}
    kinds = ["voter"] * 6 + ["abandoner"] * 3 + ["no cookies"]
    reading = (args.reading * 0.5, args.reading * 1.5)
    people = [
        Person(base, arenas[i % 2], tallies[arenas[i % 2].name], kinds[(i // 2) % 10], i, reading)
        for i in range(args.sessions)
    ]
    deadline = time.perf_counter() + args.duration
    await asyncio.gather(*(p.run(deadline) for p in people))
    return tallies


# ----------------------------------------------------------------------------- report


def pct(values: list[float], q: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def costs(arenas: list[Arena]) -> dict[str, Any]:
    from arena.models import Assignment, Match, Tournament, Vote

    out = {}
    for a in arenas:
        t = Tournament.objects.get(pk=a.tournament_id)
        matches = Match.objects.filter(tournament=t)
        out[a.name] = {
            "status": t.status,
            "matches": matches.count(),
            "open": matches.filter(status__in=["pending", "awaiting_vote"]).count(),
            "votes": Vote.objects.filter(match__tournament=t).count(),
            "judged": matches.filter(status="completed").count(),
            "assignments": Assignment.objects.filter(match__tournament=t).count(),
            "abandoned": Assignment.objects.filter(match__tournament=t, voted=False).count(),
            "without session": Assignment.objects.filter(
                match__tournament=t, session_key=""
            ).count(),
        }
    return out


def pair_counts(arena: Arena) -> list[tuple[str, int, int, float, float]]:
    """Per pair of seats: strength gap, drawn, uniform's expectation, mean stored p."""
    from arena.models import Match

    drawn: dict[tuple[int, int], list[float]] = defaultdict(list)
    seats: dict[int, int] = {}
    rows = Match.objects.filter(tournament_id=arena.tournament_id).prefetch_related("entries")
    for m in rows:
        ids = sorted(e.contestant_id for e in m.entries.all())
        drawn[(ids[0], ids[1])].append(m.draw_probability or math.nan)
    ids = sorted({c for pair in drawn for c in pair})
    seats = {c: i for i, c in enumerate(ids)}
    total = sum(len(v) for v in drawn.values())
    pairs = list(combinations(ids, 2))
    out = []
    for a, b in pairs:
        gap = abs(STRENGTHS[seats[a] % 8] - STRENGTHS[seats[b] % 8])
        got = drawn.get((a, b), [])
        mean_p = sum(got) / len(got) if got else math.nan
        out.append((f"{seats[a]}-{seats[b]}", gap, len(got), total / len(pairs), mean_p))
    return sorted(out, key=lambda r: r[1])


def report(tallies: dict[str, Tally], spent: dict[str, Any], arenas: list[Arena]) -> dict[str, Any]:
    print()
    header = f"{'arena':<12} {'person':<11} {'asks':>6} {'no battle':>9} {'p50 s':>7} {'p95 s':>7}"
    print(header + f" {'p99 s':>7} {'max s':>7}")
    summary: dict[str, Any] = {}
    for name, tally in tallies.items():
        for key in sorted(tally.latency):
            values = tally.latency[key]
            kind = key.rsplit(" ", 1)[0] if key.endswith("GET") else key.split(" vote")[0]
            missing = tally.no_battle[kind] if key.endswith("GET") else 0
            print(
                f"{name:<12} {key:<11.11} {len(values):>6} {missing:>9} {pct(values, 0.5):>7.3f}"
                f" {pct(values, 0.95):>7.3f} {pct(values, 0.99):>7.3f} {max(values):>7.3f}"
            )
        delivered = [v for k, v in tally.latency.items() if not k.startswith("no cookies")]
        flat = [x for v in delivered for x in v]
        summary[name] = {
            "votes": tally.votes,
            "deliveries": len(flat),
            "no_battle_with_session": tally.no_battle["voter"] + tally.no_battle["abandoner"],
            "no_battle_without_cookies": tally.no_battle["no cookies"],
            "p99_s": pct(flat, 0.99),
            "errors": dict(tally.errors),
            **spent[name],
        }
    print()
    for name, s in summary.items():
        print(f"{name}: {json.dumps(s)}")
    print("\nadaptive arena, drawn pairs (ci_reduction) beside uniform:")
    print(f"{'pair':<6} {'gap':>5} {'drawn':>6} {'uniform':>8} {'mean p':>7}")
    rows = pair_counts(arenas[0])
    for pair, gap, got, uniform, mean_p in rows:
        print(f"{pair:<6} {gap:>5} {got:>6} {uniform:>8.1f} {mean_p:>7.4f}")
    close = [got for _, gap, got, _, _ in rows if gap <= 100]
    far = [got for _, gap, got, _, _ in rows if gap >= 200]
    uniform = rows[0][3] if rows else math.nan
    print(
        f"mean drawn per pair: gap <= 100 Elo {sum(close) / max(len(close), 1):.1f},"
        f" gap >= 200 Elo {sum(far) / max(len(far), 1):.1f}, uniform {uniform:.1f}"
    )
    summary["pairs"] = rows
    return summary


def warm_up(args: argparse.Namespace, arenas: list[Arena]) -> None:
    """A few page loads per server process before measuring (imports, templates, its
    connections), and the round robin's first round made by the worker."""
    with httpx.Client(base_url=f"http://127.0.0.1:{args.port}", timeout=60) as client:
        for _ in range(4 * args.workers):
            for arena in arenas:
                client.get(f"/tournaments/{arena.tournament_id}/")
                client.get(f"/tournaments/{arena.tournament_id}/vote/")
    time.sleep(1)


def tree_cpu(pid: int) -> float:
    """CPU seconds of a process and its children (``serve --workers N`` forks N)."""
    total = 0.0
    for child in web_load.with_children(pid):
        try:
            total += web_load.cpu_seconds(child)
        except OSError:
            pass
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sessions", type=int, default=200)
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument(
        "--reading", type=float, default=10.0, help="mean seconds a person reads a battle"
    )
    parser.add_argument("--contestants", type=int, default=8)
    parser.add_argument("--prompts", type=int, default=40)
    parser.add_argument("--port", type=int, default=8781)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--db", default="arena_supply")
    parser.add_argument("--pg-host", default="127.0.0.1")
    parser.add_argument("--pg-port", type=int, default=5432)
    parser.add_argument("--pg-user", default="postgres")
    parser.add_argument("--pg-conn-limit", type=int, default=60)
    parser.add_argument("--redis-host", default="127.0.0.1")
    parser.add_argument("--redis-port", type=int, default=6379)
    parser.add_argument("--redis-db", type=int, default=13, help="flushed: dedicate it")
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    args = parser.parse_args()
    args.variant, args.server = "as-is", "daphne"
    import logging

    logging.getLogger("httpx").setLevel(logging.WARNING)

    import redis

    store = redis.Redis.from_url(web_load.redis_url(args))
    store.flushdb()
    print(f"cores: {os.cpu_count()}; load average before: {os.getloadavg()[0]:.2f}")
    web_load.recreate_database(args)
    procs = []
    logs = Path("var")
    logs.mkdir(exist_ok=True)
    try:
        web_load.migrate(args)
        arenas = seed(args)
        procs.append(web_load.start_worker(args, logs / "voter-supply-worker.log"))
        procs.append(web_load.start_server(args, logs / "voter-supply-server.log", args.port))
        warm_up(args, arenas)
        started = time.perf_counter()
        cpu = [tree_cpu(p.pid) for p in procs]
        client = time.process_time()
        tallies = asyncio.run(load(args, arenas))
        cpu = [tree_cpu(p.pid) - c for p, c in zip(procs, cpu, strict=True)]
        print(
            f"load: {time.perf_counter() - started:.0f} s, load average {os.getloadavg()[0]:.2f};"
            f" CPU s: worker {cpu[0]:.1f}, server {cpu[1]:.1f},"
            f" this client {time.process_time() - client:.1f}"
        )
        summary = report(tallies, costs(arenas), arenas)
        if args.json:
            args.json.write_text(json.dumps(summary, indent=2, default=str))
    finally:
        for proc in procs:
            web_load.stop_server(proc)
        from django.db import connections

        connections.close_all()
        web_load.recreate_database(args, create=False)
        store.flushdb()


if __name__ == "__main__":
    main()

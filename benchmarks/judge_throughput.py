"""Judgments per second of ONE worker process against a loopback judge with fixed latency.

A fake OpenAI-compatible server (a small asyncio HTTP/1.1 server, in its own process so
it does not share our GIL) answers every chat completion after ``--latency`` seconds and
fails a fraction ``--fail`` of requests at once with 429 (Retry-After 50 ms) or 500. One
client process judges N distinct pairs at concurrency C, two ways:

- threads:   a pool of C threads sharing one sync OpenAICompatJudge, retrying transient
             errors itself;
- per-match: the same pool, but every judgment builds its own OpenAICompatJudge, as
             arena.services.backends does for every match that a Celery worker with
             ``--pool threads -c C`` plays (the sync SDK client is shared per process).

Ideal throughput is C / latency. Each run checks that every judgment was stored exactly
once and that the usage summed over the verdicts equals what the server reported. Each
configuration runs ``--repeat`` times and the median run is shown, with the range, and
the client's CPU time per judgment (user + system, all threads), which does not depend
on how busy the machine is the way wall-clock throughput does.

    PYTHONPATH=. .venv/bin/python benchmarks/judge_throughput.py
    PYTHONPATH=. .venv/bin/python benchmarks/judge_throughput.py --latency 0.2 -c 1 8 64
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import random
import statistics
import sys
import time
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

# -- the fake server (child process) ------------------------------------------------------


class _Stats:
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.ok = 0
        self.failed = 0
        self.prompt_tokens = 0
        self.completion_tokens = 0


def _completion(request: dict[str, Any], stats: _Stats) -> bytes:
    prompt = " ".join(str(m.get("content", "")) for m in request.get("messages", []))
    content = "Both are fine, A is a little clearer. [[A]]"
    prompt_tokens, completion_tokens = len(prompt.split()), len(content.split())
    stats.ok += 1
    stats.prompt_tokens += prompt_tokens
    stats.completion_tokens += completion_tokens
    return json.dumps(
        {
            "id": "chatcmpl-bench",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": request.get("model", "bench"),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }
    ).encode()


def _response(status: int, body: bytes, extra: str = "") -> bytes:
    reason = {200: "OK", 429: "Too Many Requests", 500: "Internal Server Error"}[status]
    head = (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nconnection: keep-alive\r\n{extra}\r\n"
    )
    return head.encode() + body


async def _serve(port_queue: Any, latency: float, fail: float, seed: int) -> None:
    stats = _Stats()
    rng = random.Random(seed)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, path = lines[0].split(" ")[:2]
                length = 0
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value.strip())
                body = await reader.readexactly(length) if length else b""
                if path.endswith("/stats"):
                    payload = json.dumps(vars(stats)).encode()
                    writer.write(_response(200, payload))
                elif path.endswith("/reset"):
                    stats.reset()
                    writer.write(_response(200, b"{}"))
                elif rng.random() < fail:
                    stats.failed += 1
                    if rng.random() < 0.5:
                        error = b'{"error": {"message": "slow down", "type": "rate_limit"}}'
                        writer.write(_response(429, error, "retry-after-ms: 50\r\n"))
                    else:
                        error = b'{"error": {"message": "boom", "type": "server_error"}}'
                        writer.write(_response(500, error))
                else:
                    await asyncio.sleep(latency)
                    writer.write(_response(200, _completion(json.loads(body), stats)))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=1024)
    port_queue.put(server.sockets[0].getsockname()[1])
    async with server:
        await server.serve_forever()


def _server_main(port_queue: Any, latency: float, fail: float, seed: int) -> None:
    asyncio.run(_serve(port_queue, latency, fail, seed))


def _admin(base: str, what: str) -> dict[str, int]:
    request = urllib.request.Request(f"{base}/{what}", data=b"{}", method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:  # 127.0.0.1 only
        return json.loads(response.read())  # type: ignore[no-any-return]


# -- the client (this process) --------------------------------------------------------------


@dataclass
class Row:
    mode: str
    concurrency: int
    n: int
    seconds: float
    ideal: float
    failures: int
    stored_once: bool
    tokens_match: bool
    cpu_seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.n / self.seconds

    @property
    def cpu_ms_per_judgment(self) -> float:
        return self.cpu_seconds / self.n * 1000


def _items(n: int, run: str) -> list[tuple[str, Any]]:
    from judges.backends.base import Answer

    return [
        (
            f"Question {run}-{i}: which answer explains recursion better?",
            (Answer(f"Answer one number {i}, short."), Answer(f"Answer two number {i}, longer.")),
        )
        for i in range(n)
    ]


def _judge_config(base_url: str) -> dict[str, Any]:
    # No cache: every item is distinct anyway, and a benchmark must make every call.
    return {"base_url": base_url, "model": "bench-judge", "settings": {"cache": False}}


def _run_threads(
    base_url: str, items: list[tuple[str, Any]], c: int, store: Any, *, per_match: bool = False
) -> None:
    from judges.backends.base import TransientError
    from judges.backends.openai_judge import OpenAICompatJudge

    config = _judge_config(base_url)
    judge = OpenAICompatJudge(**config)  # one client shared by every thread, as in a worker
    rng = random.Random(0)

    def one(index: int) -> None:
        for attempt in range(10):
            try:
                this = OpenAICompatJudge(**config) if per_match else judge
                verdict = this.compare(*items[index])
            except TransientError as exc:  # the Celery task's retry, in miniature
                time.sleep(exc.retry_after or rng.uniform(0, 0.05 * 2**attempt))
                continue
            store(index, verdict)
            return
        raise RuntimeError(f"item {index} failed 10 times")

    with ThreadPoolExecutor(max_workers=c) as pool:
        list(pool.map(one, range(len(items))))
    judge.close()


def measure(mode: str, base_url: str, admin: str, c: int, n: int, latency: float) -> Row:
    items = _items(n, f"{mode}{c}")
    stored: dict[int, Any] = {}
    stores: Counter[int] = Counter()

    def store(index: int, verdict: Any) -> None:
        stores[index] += 1
        stored[index] = verdict

    _admin(admin, "reset")
    started, cpu = time.perf_counter(), time.process_time()
    _run_threads(base_url, items, c, store, per_match=mode == "per-match")
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    server = _admin(admin, "stats")
    ours = sum(v.prompt_tokens + v.completion_tokens for v in stored.values())
    theirs = server["prompt_tokens"] + server["completion_tokens"]
    return Row(
        mode=mode,
        concurrency=c,
        n=n,
        seconds=seconds,
        ideal=c / latency,
        failures=server["failed"],
        stored_once=len(stored) == n and set(stores.values()) == {1} and server["ok"] == n,
        tokens_match=ours == theirs,
        cpu_seconds=cpu,
    )


def _warm_up(base_url: str) -> None:
    # Imports and the first client's setup happen here, not inside the first timed run.
    _run_threads(base_url, _items(2, "warm"), 2, lambda index, verdict: None)


def _median_row(rows: list[Row]) -> Row:
    return sorted(rows, key=lambda r: r.rate)[len(rows) // 2]


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.2, help="server seconds per call")
    parser.add_argument("--fail", type=float, default=0.05, help="fraction of calls failed")
    parser.add_argument("-c", "--concurrency", type=int, nargs="+", default=[1, 8, 64])
    parser.add_argument("--waves", type=int, default=8, help="N = max(10, C * waves)")
    parser.add_argument(
        "--modes", nargs="+", choices=["threads", "per-match"], default=["threads", "per-match"]
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs per row; median shown")
    args = parser.parse_args(argv)

    ctx = multiprocessing.get_context("spawn")
    ports = ctx.Queue()
    server = ctx.Process(target=_server_main, args=(ports, args.latency, args.fail, 0), daemon=True)
    server.start()
    try:
        port = ports.get(timeout=30)
        base_url, admin = f"http://127.0.0.1:{port}/v1", f"http://127.0.0.1:{port}"
        _warm_up(base_url)
        print(f"latency {args.latency * 1000:.0f} ms, {args.fail:.0%} of calls fail (429/500)")
        print(f"load average before: {_load()}; {args.repeat} runs per row, median shown")
        header = "| mode | C | judgments | seconds | judgments/s | ideal C/latency | % of ideal"
        print(
            header + " | range of runs | client CPU ms/judgment | failures injected |"
            " stored once | tokens match |"
        )
        print("|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---|---|")
        ok = True
        for mode in args.modes:
            for c in args.concurrency:
                n = max(10, c * args.waves)
                rows = [
                    measure(mode, base_url, admin, c, n, args.latency) for _ in range(args.repeat)
                ]
                ok = ok and all(r.stored_once and r.tokens_match for r in rows)
                row = _median_row(rows)
                low, high = (min(r.rate for r in rows), max(r.rate for r in rows))
                print(
                    f"| {row.mode} | {c} | {n} | {row.seconds:.2f} | {row.rate:.1f} | "
                    f"{row.ideal:.1f} | {row.rate / row.ideal:.0%} | "
                    f"{low / row.ideal:.0%}–{high / row.ideal:.0%} | "
                    f"{statistics.median(r.cpu_ms_per_judgment for r in rows):.2f} | "
                    f"{row.failures} | "
                    f"{'yes' if all(r.stored_once for r in rows) else 'NO'} | "
                    f"{'yes' if all(r.tokens_match for r in rows) else 'NO'} |",
                    flush=True,
                )
        print(f"load average after: {_load()}")
        return 0 if ok else 1
    finally:
        server.terminate()
        server.join(timeout=5)


if __name__ == "__main__":
    sys.exit(main())

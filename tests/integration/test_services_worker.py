"""Services mode for real: a `celery worker` process, Redis broker, PostgreSQL, channels_redis.

Runs when REDIS_URL and a PostgreSQL DATABASE_URL are set (`make test` sets them when both
services answer); skipped otherwise, with the reason shown.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from asgiref.sync import async_to_sync
from channels_redis.core import RedisChannelLayer
from django.conf import settings
from django.db import connection

from arena.celery import app
from arena.models import (
    Judgment,
    Match,
    MatchEntry,
    MatchStatus,
    Response,
    Spend,
    Standing,
    TournamentStatus,
)
from arena.services.tournaments import tournament_start
from tests.conftest import served_round_robin
from tests.judges.fake_openai import FakeOpenAIServer, Scripted

AVAILABLE = not settings.EMBEDDED and settings.DATABASE_URL.startswith("postgres")
if os.environ.get("ARENA_REQUIRE_SERVICES") and not AVAILABLE:
    # CI must run these, not skip them: a misconfigured run fails at collection.
    raise RuntimeError("ARENA_REQUIRE_SERVICES is set but REDIS_URL/DATABASE_URL are not usable")

pytestmark = [
    pytest.mark.services,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not AVAILABLE, reason="needs REDIS_URL and a PostgreSQL DATABASE_URL"),
]
ROOT = Path(__file__).resolve().parents[2]


def test_database_url() -> str:
    """The URL of the test database pytest-django created, for the worker process."""
    s = connection.settings_dict
    auth = s["USER"] + (f":{s['PASSWORD']}" if s["PASSWORD"] else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


test_database_url.__test__ = False  # type: ignore[attr-defined]


@pytest.fixture
def celery_worker_process(request: pytest.FixtureRequest):
    """A worker process of 4 threads, or as many as the test's indirect parameter says."""
    threads = str(getattr(request, "param", 4))
    with app.connection_for_write() as conn:  # messages left by an earlier, killed run
        for queue in ("default", "judge", "gpu"):
            try:
                conn.default_channel.queue_purge(queue)
            except Exception:
                pass
    # Group memberships of earlier runs' dead test clients stay in Redis for a day, and
    # test tournaments reuse ids: start from an empty channel layer. (A layer of its own:
    # the shared one holds connections of the publishing loop, which flush would close
    # from a loop they do not belong to.)
    config = settings.CHANNEL_LAYERS["default"]["CONFIG"]
    async_to_sync(RedisChannelLayer(**config).flush)()
    env = os.environ | {"DATABASE_URL": test_database_url(), "REDIS_URL": settings.REDIS_URL}
    log = ROOT / "var" / f"test-worker-{uuid.uuid4().hex[:6]}.log"
    log.parent.mkdir(exist_ok=True)
    with log.open("w") as out:
        process = subprocess.Popen(
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
                threads,
                "-n",
                f"test-{uuid.uuid4().hex[:8]}@%h",
                "--without-gossip",
                "--without-mingle",
                "-l",
                "INFO",
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    yield process
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
    text = log.read_text()
    log.replace(log.with_name("test-worker-last.log"))
    assert "Traceback" not in text, text[-4000:]


def test_a_tournament_of_six_completes_through_a_celery_worker_process_with_live_events(
    celery_worker_process, make_tournament, wait_until_finished, start_and_watch
) -> None:
    tournament = make_tournament(n=6, rounds=2)
    events = start_and_watch(tournament, 90)
    wait_until_finished(tournament, 30)

    assert celery_worker_process.poll() is None, "the worker process died"
    assert tournament.status == TournamentStatus.COMPLETED
    assert Match.objects.filter(tournament=tournament, status=MatchStatus.COMPLETED).count() == 30
    assert Judgment.objects.filter(match__tournament=tournament).count() == 30
    assert (
        sum(Standing.objects.filter(tournament=tournament).values_list("matches", flat=True)) == 60
    )
    updates = [e for e in events if e["type"] == "leaderboard.updated"]
    assert 1 <= len(updates) < 30, [e["type"] for e in events]  # one refit per window
    assert sum(r["matches"] for r in updates[-1]["rows"]) == 60  # the final one, complete


def test_a_redelivered_task_on_the_real_broker_duplicates_nothing(
    celery_worker_process, make_tournament, wait_until_finished, start_and_watch
) -> None:
    from arena.tasks import advance_tournament, play_match

    tournament = tournament_start(tournament=make_tournament(n=4, rounds=1))
    wait_until_finished(tournament, 60)
    assert tournament.status == TournamentStatus.COMPLETED
    # The broker hands every task out again, as after a worker crash with acks_late.
    replays = [
        play_match.apply_async(args=[m.pk], ignore_result=False) for m in tournament.matches.all()
    ]
    advance = advance_tournament.apply_async(args=[tournament.pk], ignore_result=False)
    assert [r.get(timeout=60) for r in replays] == ["skipped"] * 6
    advance.get(timeout=60)
    assert Match.objects.filter(tournament=tournament).count() == 6
    assert Judgment.objects.filter(match__tournament=tournament).count() == 6
    assert (
        sum(Standing.objects.filter(tournament=tournament).values_list("matches", flat=True)) == 12
    )


def test_a_tournament_whose_judge_never_decides_ends_failed_through_a_worker_process(
    celery_worker_process, contestants, prompt_set, start_and_watch, wait_until_finished
) -> None:
    from tests.integration.test_failed_judgments import (
        FIRST_REPLY,
        REPAIR_REPLY,
        UndecidedOn,
        judged_by,
    )
    from tests.judges.fake_openai import FakeOpenAIServer

    with FakeOpenAIServer() as server:  # on loopback: the worker process calls it too
        server.responder = UndecidedOn()
        tournament = judged_by(server, contestants, rounds=1)
        events = start_and_watch(tournament, 60)
        wait_until_finished(tournament, 10)

    assert tournament.status == TournamentStatus.FAILED
    assert tournament.error.startswith("no match got a verdict: 3 of 3 failed; last error: ")
    outputs = [m.failure_outputs for m in Match.objects.filter(tournament=tournament)]
    expected = [{"call": "judge", "text": FIRST_REPLY}, {"call": "repair", "text": REPAIR_REPLY}]
    assert outputs == [expected] * 3
    last = [e for e in events if e["type"] == "tournament.progress"][-1]
    assert (last["status"], last["done"], last["failed"]) == ("failed", 3, 3)


def _slow_answers_quick_verdicts(request: dict) -> str | Scripted:
    if request["model"] == "judge":
        return "[[A]]"
    # Slow enough for the matches that need one answer to ask for it at the same time.
    return Scripted(content=f"{request['model']} says hello", delay_s=0.3)


@pytest.mark.parametrize("celery_worker_process", [32], indirect=True)
def test_thirty_two_worker_threads_generate_each_answer_once_and_spend_every_call(
    celery_worker_process, prompt_set, wait_until_finished
) -> None:
    price = {"price_in": 1_000_000, "price_out": 1_000_000}  # a dollar a token
    with FakeOpenAIServer() as server:
        server.responder = _slow_answers_quick_verdicts
        tournament = served_round_robin(server.base_url, prompt_set, models=8, seed=2, prices=price)
        tournament_start(tournament=tournament)
        wait_until_finished(tournament, 180)
        calls = [r["model"] for r in server.chat_requests]
        tokens = sum(prompt + completion for _, prompt, completion in server.usage)

    assert tournament.status == TournamentStatus.COMPLETED
    assert Judgment.objects.filter(match__tournament=tournament).count() == 28
    needed = set(
        MatchEntry.objects.filter(match__tournament=tournament).values_list(
            "contestant_id", "match__prompt_id"
        )
    )
    answer_calls = sum(1 for model in calls if model != "judge")
    assert answer_calls == Response.objects.count() == len(needed) < 2 * 28
    assert calls.count("judge") == 28
    spend = Spend.objects.get(tournament=tournament)
    assert spend.answers_usd + spend.judged_usd == tokens

"""One fault injected into a running, LLM-judged tournament at a time: it must still
complete by itself, every match judged exactly once, and say how long it took.

Each test runs a site of its own (tests/faults/conftest.py): a Redis server nobody else
uses, a worker and beat on it, the test database, a 4 s claim lease and a 1 s sweep (the
defaults are 240 s and 30 s, so a real deployment recovers within about 4.5 minutes).
The judge and the contestants are a loopback fake OpenAI-compatible server that takes
0.5 s per call, so matches are in flight when the fault strikes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
from django.db import connection

from arena.models import (
    Judgment,
    Match,
    MatchStatus,
    Response,
    Tournament,
    TournamentStatus,
)
from tests.conftest import served_round_robin
from tests.faults.conftest import SITE_APP, Site
from tests.judges.fake_openai import FakeOpenAIServer, Scripted

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

MATCHES = 10  # a round robin of five


def _slow(request: dict) -> Scripted:
    if request["model"] == "judge":
        return Scripted(content="[[A]]", delay_s=0.5)
    return Scripted(content=f"An answer from {request['model']}.", delay_s=0.5)


def _start(site: Site, tournament: Tournament) -> None:
    """Started from the site's own shell, so its first tasks reach the site's Redis."""
    site.shell(
        "from arena.models import Tournament\n"
        "from arena.services.tournaments import tournament_start\n"
        f"tournament_start(tournament=Tournament.objects.get(pk={tournament.pk}))"
    )


def _wait(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


def _playing(tournament: Tournament) -> int:
    return Match.objects.filter(tournament=tournament, status=MatchStatus.PLAYING).count()


def _finished(tournament: Tournament) -> bool:
    tournament.refresh_from_db()
    return tournament.status != TournamentStatus.RUNNING


def _judged_once_each(tournament: Tournament) -> None:
    assert tournament.status == TournamentStatus.COMPLETED, tournament.error
    matches = Match.objects.filter(tournament=tournament)
    assert matches.count() == MATCHES
    assert matches.filter(status=MatchStatus.COMPLETED).count() == MATCHES
    assert Judgment.objects.filter(match__tournament=tournament).count() == MATCHES


@contextmanager
def _in_flight(site: Site, prompt_set, responder=_slow) -> Iterator[Running]:
    """A started tournament with matches in flight on a worker of the site (and beat)."""
    with FakeOpenAIServer() as server:
        server.responder = responder
        tournament = served_round_robin(server.base_url, prompt_set, models=5, seed=3)
        worker = site.worker()
        site.beat()
        _start(site, tournament)
        assert _wait(lambda: _playing(tournament) >= 1, 30), "no match in flight"
        yield Running(tournament, worker)


@dataclass
class Running:
    tournament: Tournament
    worker: subprocess.Popen[bytes]

    def recovery_after(self, fault: str, ended: float, timeout: float = 90) -> float:
        """Seconds from the fault's end until the tournament completed."""
        assert _wait(lambda: _finished(self.tournament), timeout)
        took = time.monotonic() - ended
        print(f"\n{fault}: recovered and completed {took:.1f} s after the fault ended")
        return took


def test_a_worker_killed_with_matches_in_flight(site: Site, prompt_set) -> None:
    with _in_flight(site, prompt_set) as run:
        os.kill(run.worker.pid, signal.SIGKILL)
        run.worker.wait()
        ended = time.monotonic()
        site.worker()
        took = run.recovery_after("worker kill -9", ended)

    _judged_once_each(run.tournament)
    assert took < 60


def test_redis_stopped_and_started_again_the_worker_lives_on(site: Site, prompt_set) -> None:
    with _in_flight(site, prompt_set) as run:
        site.redis.stop()  # queued and unacknowledged messages are lost with it
        time.sleep(5)
        site.redis.start()
        took = run.recovery_after("Redis stop / start", time.monotonic(), timeout=120)
        assert run.worker.poll() is None, "the worker process exited"

    _judged_once_each(run.tournament)
    assert took < 90


def test_the_workers_postgresql_backends_terminated_mid_match(site: Site, prompt_set) -> None:
    with _in_flight(site, prompt_set) as run:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = current_database() AND application_name = %s",
                [SITE_APP],
            )
            (terminated,) = cursor.fetchone()
        assert terminated >= 1
        took = run.recovery_after(f"{terminated} PostgreSQL backends terminated", time.monotonic())

    _judged_once_each(run.tournament)
    assert took < 60


def test_a_nul_character_in_a_model_answer(site: Site, prompt_set) -> None:
    def nul_from_one_model(request: dict) -> Scripted:
        if request["model"] == "model-2":
            return Scripted(content="before\u0000after", delay_s=0.2)
        return _slow(request)

    with _in_flight(site, prompt_set, nul_from_one_model) as run:
        run.recovery_after("NUL in an answer (from its first match in flight)", time.monotonic())

    _judged_once_each(run.tournament)
    kept = Response.objects.get(contestant__name="model-2").text
    assert kept == "before\ufffdafter"

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
import random
import re
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
import pytest
from django.db import connection
from django.test import Client

from arena.models import (
    Judgment,
    Match,
    MatchStatus,
    Response,
    Spend,
    Tournament,
    TournamentStatus,
    Vote,
)
from tests.conftest import _free_port, served_round_robin
from tests.faults.conftest import SITE_APP, Site
from tests.judges.fake_openai import FakeOpenAIServer, Scripted, error_body

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
def _in_flight(site: Site, prompt_set, responder=_slow, prices=None) -> Iterator[Running]:
    """A started tournament with matches in flight on a worker of the site (and beat)."""
    with FakeOpenAIServer() as server:
        server.responder = responder
        tournament = served_round_robin(
            server.base_url, prompt_set, models=5, seed=3, prices=prices
        )
        worker = site.worker()
        site.beat()
        _start(site, tournament)
        assert _wait(lambda: _playing(tournament) >= 1, 30), "no match in flight"
        yield Running(tournament, worker, server)


@dataclass
class Running:
    tournament: Tournament
    worker: subprocess.Popen[bytes]
    server: FakeOpenAIServer

    def recovery_after(self, fault: str, ended: float, timeout: float = 90) -> float:
        """Seconds from the fault's end until the tournament completed."""
        assert _wait(lambda: _finished(self.tournament), timeout)
        took = time.monotonic() - ended
        print(f"\n{fault}: recovered and completed {took:.1f} s after the fault ended")
        return took


def _unsettled(tournament: Tournament) -> int:
    spend = Spend.objects.filter(tournament=tournament).first()
    return 0 if spend is None else spend.calls_begun - spend.calls_settled


def test_a_worker_killed_with_matches_in_flight(site: Site, prompt_set) -> None:
    with _in_flight(site, prompt_set) as run:
        assert _wait(lambda: _unsettled(run.tournament) >= 1, 30), "no model call in flight"
        os.kill(run.worker.pid, signal.SIGKILL)
        run.worker.wait()
        ended = time.monotonic()
        site.worker()
        took = run.recovery_after("worker kill -9", ended)

    _judged_once_each(run.tournament)
    assert took < 60
    # The calls the dead worker had in flight were billed and never came back: counted,
    # and said on the tournament's page and in the API, since their cost is unknown.
    lost = _unsettled(run.tournament)
    assert lost >= 1
    api = Client().get(f"/api/tournaments/{run.tournament.pk}").json()
    assert api["calls_unsettled"] == lost
    page = Client().get(f"/tournaments/{run.tournament.pk}/").content.decode()
    assert "lost with a worker that died" in page


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


def test_a_judge_failing_30_percent_of_its_calls(site: Site, prompt_set) -> None:
    """Three judge calls in ten answer HTTP 500 (at random, seeded): each is retried, and
    what the provider billed (the tokens of the calls that answered) is what was spent."""
    rng, lock = random.Random(30), threading.Lock()

    def flaky_judge(request: dict) -> Scripted:
        if request["model"] == "judge":
            with lock:
                failing = rng.random() < 0.3
            if failing:
                return Scripted(status=500, body=error_body("upstream", kind="server_error"))
        return _slow(request)

    price = {"price_in": 1_000_000, "price_out": 1_000_000}  # a dollar a token
    started = time.monotonic()
    with _in_flight(site, prompt_set, flaky_judge, prices=price) as run:
        run.recovery_after("a judge failing 30% of its calls", started, timeout=120)
        judge_calls = [r for r in run.server.chat_requests if r["model"] == "judge"]
        billed = sum(prompt + completion for _, prompt, completion in run.server.usage)

    _judged_once_each(run.tournament)
    assert len(judge_calls) > MATCHES  # some failed and were retried
    spend = Spend.objects.get(tournament=run.tournament)
    assert spend.judged_usd + spend.answers_usd == billed


_FIELD = {
    name: re.compile(rf'name="{name}" value="([^"]+)"')
    for name in ("csrfmiddlewaretoken", "battle", "idempotency_key", "shown")
}


def _vote_form(page: str) -> dict[str, str]:
    """The vote form's fields (``shown``: the first page, shown without a session)."""
    found = {name: pattern.search(page) for name, pattern in _FIELD.items()}
    assert all(found[name] for name in ("csrfmiddlewaretoken", "battle", "idempotency_key"))
    return {name: m.group(1) for name, m in found.items() if m} | {"outcome": "a"}


def test_the_web_process_killed_mid_vote(site: Site, human_tournament_of) -> None:
    """A voter votes through a human-judged round robin of six (15 battles) as vote.js
    does; the web process is killed (-9) while a vote is on its way. Sent again to a new
    process with the same key, the vote counts once, and the rest follow: 15 battles, 15
    votes, the tournament completed."""
    tournament = human_tournament_of(6)
    site.worker()
    port = _free_port()
    web = site.web(port)
    base, url = f"http://127.0.0.1:{port}", f"/tournaments/{tournament.pk}/vote/"
    headers = {"Accept": "application/json", "Referer": base + url}
    killed_at = recovered = None
    with httpx.Client(base_url=base, timeout=30) as voter:
        form = _vote_form(voter.get(url).text)
        for n in range(15):
            if n == 5:  # the sixth vote: the process dies while it is on its way
                sending = threading.Thread(
                    target=lambda f=form: _post_ignoring_errors(voter, url, f, headers)
                )
                sending.start()
                os.kill(web.pid, signal.SIGKILL)
                killed_at = time.monotonic()
                sending.join()
                web.wait()
                web = site.web(port)
            answer = voter.post(url, data=form, headers=headers)
            assert answer.status_code == 200, answer.text[:500]
            if recovered is None and killed_at is not None:
                recovered = time.monotonic() - killed_at
            upcoming = answer.json()["next"]
            if upcoming is None:
                assert n == 14, f"no battle after {n + 1} votes"
                break
            form = {k: v for k, v in form.items() if k != "shown"} | {
                "battle": upcoming["battle"],
                "idempotency_key": upcoming["idempotency_key"],
            }
    print(f"\nweb process kill -9 mid-vote: voting again {recovered:.1f} s after the kill")
    assert Vote.objects.filter(match__tournament=tournament).count() == 15
    assert _wait(lambda: _finished(tournament), 60)
    assert tournament.status == TournamentStatus.COMPLETED
    assert Judgment.objects.filter(match__tournament=tournament).count() == 15


def _post_ignoring_errors(client: httpx.Client, url: str, form: dict, headers: dict) -> None:
    try:
        client.post(url, data=form, headers=headers)
    except httpx.HTTPError:
        pass  # the process died with the request: the voter sends it again

"""Shared fixtures: a small world of simulated contestants, prompts and a simulated judge."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:  # imported lazily so that pure tests (ratings/) run without Django
    from arena.models import Contestant, Judge, PromptSet, Tournament

ROOT = Path(__file__).resolve().parents[1]
STRENGTHS = [1200.0, 1100.0, 1000.0, 950.0, 900.0, 800.0, 1050.0, 700.0]


@pytest.fixture
def contestants(db: None) -> Callable[[int], list[Contestant]]:
    from arena.models import BackendKind, Contestant

    def make(n: int) -> list[Contestant]:
        return [
            Contestant.objects.create(
                name=f"sim-{i}",
                backend=BackendKind.SIMULATED,
                generation={"strength": STRENGTHS[i % len(STRENGTHS)]},
            )
            for i in range(n)
        ]

    return make


@pytest.fixture
def prompt_set(db: None) -> PromptSet:
    from arena.models import Prompt, PromptSet

    pset = PromptSet.objects.create(name="tiny")
    for i, (text, category) in enumerate(
        [
            ("Explain recursion to a child.", "explain"),
            ("Write a haiku about rain.", "creative"),
            ("What is 17 * 23?", "math"),
        ]
    ):
        Prompt.objects.create(prompt_set=pset, external_id=str(i), text=text, category=category)
    return pset


@pytest.fixture
def judge(db: None) -> Judge:
    from arena.models import Judge, JudgeKind

    return Judge.objects.create(name="sim-judge", kind=JudgeKind.SIMULATED)


@pytest.fixture
def make_tournament(
    contestants: Callable[[int], list[Contestant]], prompt_set: PromptSet, judge: Judge
) -> Callable[..., Tournament]:
    from arena.services.tournaments import tournament_create

    def make(n: int = 4, rounds: int = 1, budget: int | None = None, seed: int = 7) -> Tournament:
        people = contestants(n)
        return tournament_create(
            name="t",
            format="round_robin",
            contestants=[c.name for c in people],
            prompt_set=prompt_set.name,
            judge=judge.name,
            config={"rounds": rounds},
            seed=seed,
            budget=budget,
        )

    return make


@pytest.fixture
def publish_now(monkeypatch: pytest.MonkeyPatch) -> None:
    """The worker's results publish runs at once, in the scheduling thread, instead of in a
    worker after its window (no worker runs in these tests)."""
    from arena import tasks
    from arena.services.results import tournament_results_publish

    def run(*, args: tuple[int, ...], **options: object) -> None:
        tournament_results_publish(tournament_id=args[0])

    monkeypatch.setattr(tasks.publish_leaderboard, "apply_async", run)
    _forget_scheduled_publishes()


def _forget_scheduled_publishes() -> None:
    """A transactional test's flush hands tournament ids out again, so an earlier test's
    "publish already queued" key (up to 10 s old) would swallow this test's publishes."""
    from arena.services.results import results_scheduled_key

    forget_cached(results_scheduled_key(0).removesuffix("0"))


def forget_cached(prefix: str) -> None:
    """Drop the cached keys that start with ``prefix`` (in memory: the whole cache), not
    the rest of a Redis database that other tests may share."""
    from django.core.cache import cache

    pattern = cache.make_key(prefix) + "*"
    if hasattr(cache, "_cache") and hasattr(cache._cache, "get_client"):  # Redis
        client = cache._cache.get_client(write=True)
        for key in client.scan_iter(match=pattern):
            client.delete(key)
    else:
        cache.clear()  # the process's own memory


@pytest.fixture
def play_out(db: None) -> Callable[..., Tournament]:
    """Drive a started tournament without Celery: advance, play what is pending, repeat."""
    from arena.models import MatchStatus, TournamentStatus
    from arena.services.advance import tournament_advance
    from arena.services.matches import match_play

    def play(tournament: Tournament, max_steps: int = 60) -> Tournament:
        for _ in range(max_steps):
            tournament_advance(tournament_id=tournament.pk)
            tournament.refresh_from_db()
            pending = tournament.matches.filter(status=MatchStatus.PENDING)
            if tournament.status != TournamentStatus.RUNNING or not pending.exists():
                break
            for match in pending:
                match_play(match_id=match.pk)
        return tournament

    return play


@pytest.fixture
def human_tournament_of(
    contestants: Callable[[int], list[Contestant]], prompt_set: PromptSet
) -> Callable[..., Tournament]:
    """A started, human-judged tournament whose first matches wait for votes."""
    from arena.services.advance import tournament_advance
    from arena.services.matches import match_play
    from arena.services.tournaments import tournament_create, tournament_start

    def make(
        n: int, *, format: str = "round_robin", config: dict[str, Any] | None = None, seed: int = 5
    ) -> Tournament:
        people = contestants(n)
        tournament = tournament_start(
            tournament=tournament_create(
                name="humans",
                format=format,
                contestants=[c.name for c in people],
                prompt_set=prompt_set.name,
                judge=None,
                config=config or {"rounds": 1},
                seed=seed,
            )
        )
        tournament_advance(tournament_id=tournament.pk)
        for match in tournament.matches.all():
            match_play(match_id=match.pk)
        return tournament

    return make


def served_in_slot_order(tournament: Tournament) -> None:
    """Battles are served in the order of their random public ids (arena.services.battles):
    give a tournament's battles ids in the order of their slots, for a test that needs the
    same battles in the same order every run."""
    import uuid

    for match in tournament.matches.all():
        match.public_id = uuid.UUID(int=(match.round << 96) | (match.slot << 64) | tournament.pk)
        match.save(update_fields=["public_id"])


@pytest.fixture
def unjudged_tournament(
    make_tournament: Callable[..., Tournament],
    play_out: Callable[..., Tournament],
    monkeypatch: pytest.MonkeyPatch,
) -> Tournament:
    """A played-out tournament of two contestants whose one match got no verdict: its
    judge's reply and its reply to the repair prompt were both unreadable."""
    from arena.services import matches
    from arena.services.tournaments import tournament_start
    from judges.backends.base import RawOutput
    from judges.backends.openai_judge import UnparseableVerdictError

    class Undecided:
        def compare(self, prompt: str, answers: object) -> object:
            raise UnparseableVerdictError(
                "judge output has no [[A]]/[[B]]/[[C]] verdict after one repair prompt",
                raw_outputs=[
                    RawOutput("judge", "<script>alert('both')</script> are fine"),
                    RawOutput("repair", "Still undecided."),
                ],
            )

    with monkeypatch.context() as patch:
        patch.setattr(matches, "judge_comparator", lambda **kwargs: Undecided())
        return play_out(tournament_start(tournament=make_tournament(n=2)))


class DemoSite:
    """A ``manage.py demo`` process in embedded mode with its own data directory."""

    def __init__(
        self, data_dir: Path, judge_delay: float, env: dict[str, str] | None = None
    ) -> None:
        self.data_dir = data_dir
        self.log = data_dir / "site.log"
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "DATABASE_URL"}}
        self.env["ARENA_DATA_DIR"] = str(data_dir)
        self.env |= env or {}
        # To a file, not a pipe: an unread pipe fills up and blocks the server's logging.
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "demo", "--port", str(self.port)]
            + ["--judge-delay", str(judge_delay)],
            cwd=ROOT,
            env=self.env,
            stdout=self.log.open("w"),
            stderr=subprocess.STDOUT,
        )

    def output(self) -> str:
        return self.log.read_text()[-3000:]

    def shell(self, code: str) -> str:
        """Run Python in the site's Django (``manage.py shell``): a test's way to set up
        data the pages have no form for."""
        done = subprocess.run(
            [sys.executable, "manage.py", "shell", "-c", code],
            cwd=ROOT, env=self.env, check=True, capture_output=True, text=True,
        )  # fmt: skip
        return done.stdout

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def demo_site_of() -> Iterator[Callable[..., DemoSite]]:
    """Start demo sites (stopped when the module's tests are done); ``env`` adds to the
    site's environment (its settings)."""
    sites: list[DemoSite] = []

    def start(data_dir: Path, judge_delay: float, env: dict[str, str] | None = None) -> DemoSite:
        sites.append(DemoSite(data_dir, judge_delay, env))
        return sites[-1]

    yield start
    for site in sites:
        site.stop()


def served_round_robin(
    base_url: str,
    prompt_set: PromptSet,
    *,
    models: int,
    seed: int = 0,
    prices: dict[str, float] | None = None,
) -> Tournament:
    """A one-round robin of ``models`` contestants ("model-0"…) and a judge ("judge"), all
    served at ``base_url`` (an OpenAI-compatible server, a fake one in tests), with the
    same ``prices`` (USD per million tokens) for all if given; created, not started."""
    from arena.models import BackendKind, Contestant, Judge, JudgeKind
    from arena.services.tournaments import tournament_create

    names = [f"model-{i}" for i in range(models)]
    price = prices or {}
    for name in names:
        Contestant.objects.create(
            name=name,
            backend=BackendKind.OPENAI,
            base_url=base_url,
            model_id=name,
            generation=price,
        )
    Judge.objects.create(
        name="judge", kind=JudgeKind.OPENAI, base_url=base_url, model_id="judge", settings=price
    )
    return tournament_create(
        name=f"{models} served models",
        format="round_robin",
        contestants=names,
        prompt_set=prompt_set.name,
        judge="judge",
        config={"rounds": 1},
        seed=seed,
    )

"""Load the demo data, start a demo tournament, and serve the site in embedded mode."""

from __future__ import annotations

from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from arena.management.commands.serve import serve
from arena.models import Tournament, TournamentStatus
from arena.services.demo import (
    demo_bracket_create,
    demo_load,
    demo_rank_tournament_create,
    demo_tournament_create,
    demo_vote_tournament_create,
)
from arena.services.tournaments import tournament_start


class Command(BaseCommand):
    help = "Migrate, load the demo, start a demo tournament and serve it on 127.0.0.1:8000."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--seed", type=int, default=None, help="default: a new one each run")
        parser.add_argument(
            "--judge-delay",
            type=float,
            default=1.0,
            help="seconds the simulated judge takes per verdict (paces the demo)",
        )

    def handle(
        self, *args: Any, host: str, port: int, seed: int | None, judge_delay: float, **options: Any
    ) -> None:
        call_command("migrate", interactive=False, verbosity=0)
        demo_load(judge_delay_s=judge_delay)
        url = f"http://{host}:{port}"

        def on_ready() -> None:
            # Started only once the server listens, so the first events find their page.
            next_seed = seed if seed is not None else Tournament.objects.count() + 1
            tournament = demo_tournament_create(seed=next_seed)
            tournament_start(tournament=tournament)
            self.stdout.write(
                f"Demo tournament running: {url}/tournaments/{tournament.pk}/ (leaderboard live)"
            )
            human = Tournament.objects.filter(judge=None, status=TournamentStatus.RUNNING)
            for fmt, create in (
                ("round_robin", demo_vote_tournament_create),
                ("kwise", demo_rank_tournament_create),
            ):
                voting = human.filter(format=fmt).first() or tournament_start(tournament=create())
                self.stdout.write(f"Vote on real answers: {url}/tournaments/{voting.pk}/vote/")
            bracket = tournament_start(tournament=demo_bracket_create(seed=next_seed))
            self.stdout.write(f"Demo bracket: {url}/tournaments/{bracket.pk}/")

        self.stdout.write(
            f"Arena demo at {url}/ (embedded mode, simulated judge). Ctrl-C stops it."
        )
        serve(host=host, port=port, on_ready=on_ready)

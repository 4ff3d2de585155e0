"""Run a tournament between models behind one OpenAI-compatible endpoint, from the shell.

    export ARENA_BASE_URL=http://127.0.0.1:11434/v1   # Ollama, vLLM, TGI, OpenAI, a gateway…
    export OPENAI_API_KEY=sk-…                        # leave unset for local servers
    python manage.py run_tournament --contestants llama3.2:1b,qwen2.5:0.5b --judge qwen2.5:7b

In embedded mode the command runs the worker threads itself and follows the tournament to
the end; in services mode it queues the tournament for the workers and follows it.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from arena.boards import tournament_leaderboard
from arena.models import BackendKind, Contestant, Judge, JudgeKind, PromptSet, Tournament
from arena.selectors import tournament_progress
from arena.services.demo import FIXTURES, PROMPT_SET
from arena.services.imports import prompt_set_import_jsonl
from arena.services.tournaments import tournament_create, tournament_start

KEY_VARIABLE = "OPENAI_API_KEY"


class Command(BaseCommand):
    help = "Create and run a tournament between models of the endpoint in $ARENA_BASE_URL."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--contestants", required=True, help="comma-separated model ids")
        parser.add_argument("--judge", required=True, help="the judge's model id")
        parser.add_argument(
            "--prompts",
            default=PROMPT_SET,
            help=f"a prompt set name, or a JSONL file (default: {PROMPT_SET})",
        )
        parser.add_argument("--format", default="round_robin")
        parser.add_argument("--rounds", type=int, default=None)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--budget", type=int, default=None)
        parser.add_argument(
            "--both-orders",
            action="store_true",
            help="judge each pair in both answer orders (position bias)",
        )
        parser.add_argument("--timeout", type=float, default=3600, help="seconds to follow it")

    def handle(self, *args: Any, **o: Any) -> None:
        base_url = os.environ.get("ARENA_BASE_URL", "").strip()
        if not base_url:
            raise CommandError("set ARENA_BASE_URL to the endpoint, e.g. http://127.0.0.1:8000/v1")
        key_env = KEY_VARIABLE if os.environ.get(KEY_VARIABLE) else ""
        models = [m.strip() for m in o["contestants"].split(",") if m.strip()]
        for model in models:
            Contestant.objects.update_or_create(
                name=model,
                defaults={
                    "backend": BackendKind.OPENAI,
                    "base_url": base_url,
                    "model_id": model,
                    "api_key_env": key_env,
                },
            )
        judge_name = f"judge:{o['judge']}"
        Judge.objects.update_or_create(
            name=judge_name,
            defaults={
                "kind": JudgeKind.OPENAI,
                "base_url": base_url,
                "model_id": o["judge"],
                "api_key_env": key_env,
                "settings": {"both_orders": o["both_orders"]},
            },
        )
        config = {} if o["rounds"] is None else {"rounds": o["rounds"]}
        try:
            tournament = tournament_create(
                name=f"{' vs '.join(models)} judged by {o['judge']}",
                format=o["format"],
                contestants=models,
                prompt_set=self._prompt_set(o["prompts"]).name,
                judge=judge_name,
                config=config,
                seed=o["seed"],
                budget=o["budget"],
            )
            if settings.EMBEDDED:
                from arena.embedded import embedded_worker_start

                embedded_worker_start()
            tournament = tournament_start(tournament=tournament)
        except ValidationError as error:
            raise CommandError(
                "; ".join(f"{k}: {' '.join(v)}" for k, v in error.message_dict.items())
            ) from None
        self._follow(tournament, o["timeout"])

    def _prompt_set(self, spec: str) -> PromptSet:
        path = Path(spec)
        if path.suffix == ".jsonl" and path.exists():
            return prompt_set_import_jsonl(name=path.stem, path=path, source=str(path))
        found = PromptSet.objects.filter(name=spec).first()
        if found is None and spec == PROMPT_SET:
            found = prompt_set_import_jsonl(name=PROMPT_SET, path=FIXTURES / "question.jsonl")
        if found is None:
            raise CommandError(f"no prompt set {spec!r} (give a name or a .jsonl file)")
        return found

    def _follow(self, tournament: Tournament, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            tournament.refresh_from_db()
            progress = tournament_progress(tournament)
            # The status too: the last match can finish before the tournament completes.
            if (tournament.status, progress) != last:
                self.stdout.write(
                    f"{tournament.status}: {progress.done} / {progress.planned or '?'} matches"
                    + (f", {progress.failed} failed" if progress.failed else "")
                )
                last = (tournament.status, progress)
            if tournament.is_finished:
                break
            time.sleep(0.5)
        self.stdout.write(f"Tournament {tournament.pk} is {tournament.status}.")
        for row in tournament_leaderboard(tournament):
            rated = (
                f"BT {row['bt']:6.0f} ({row['bt_low']:.0f}-{row['bt_high']:.0f})"
                if row["bt"] is not None
                else "BT      -"
            )
            self.stdout.write(
                f"{row['rank']:>3}  {row['contestant']:<30} {rated}  Elo {row['elo'] or 0:6.1f}  "
                f"{row['matches']:>4} matches  win rate {row['win_rate']:.3f}"
                + ("  (preliminary)" if row["preliminary"] else "")
            )
        if not tournament.is_finished:
            raise CommandError(f"still {tournament.status} after {timeout:.0f} s")

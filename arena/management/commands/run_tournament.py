"""Run a tournament between models behind one OpenAI-compatible endpoint, from the shell.

    export ARENA_BASE_URL=http://127.0.0.1:11434/v1   # Ollama, vLLM, TGI, OpenAI, a gateway…
    export OPENAI_API_KEY=sk-…                        # leave unset for local servers
    python manage.py run_tournament --contestants llama3.2:1b,qwen2.5:0.5b --judge qwen2.5:7b

Format options go through ``--option key=value`` or ``--config FILE.json`` and are checked
by the format itself, with the web form's messages. In embedded mode the command runs the
worker threads itself and follows the tournament to the end; in services mode it queues
the tournament for the workers and follows it. It exits non-zero when any match failed or
the tournament did not complete.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from arena.boards import tournament_leaderboard
from arena.models import (
    BackendKind,
    Contestant,
    Judge,
    JudgeKind,
    PromptSet,
    Tournament,
    TournamentStatus,
)
from arena.selectors import (
    Progress,
    tournament_failures,
    tournament_progress,
    tournament_spent,
)
from arena.services.demo import FIXTURES, PROMPT_SET
from arena.services.imports import prompt_set_import_jsonl
from arena.services.tournaments import tournament_create, tournament_start
from arena.standings import LeaderboardRow

KEY_VARIABLE = "OPENAI_API_KEY"


def _usd(text: str) -> float:
    """A price in USD per million tokens: a finite number, zero or more."""
    value = float(text)
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be a number of USD >= 0, got {text!r}")
    return value


def _option_value(text: str) -> Any:
    """JSON when it parses (3, true, [1, 2], "x"), else the text itself (a model name)."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def format_config(
    config_file: str | None, options: list[str], rounds: int | None
) -> dict[str, Any]:
    """The format options: the JSON file's, then each ``--option`` over them, then
    ``--rounds``. Checking them is the format's job (``tournament_create``)."""
    config: dict[str, Any] = {}
    if config_file:
        try:
            config = json.loads(Path(config_file).read_text())
        except (OSError, ValueError) as error:
            raise CommandError(f"--config {config_file}: {error}") from None
        if not isinstance(config, dict):
            raise CommandError(f"--config {config_file}: must hold a JSON object of options")
    for option in options:
        key, sep, value = option.partition("=")
        if not sep or not key.strip():
            raise CommandError(f"--option {option!r}: write it as key=value, e.g. k=4")
        config[key.strip()] = _option_value(value.strip())
    if rounds is not None:
        config["rounds"] = rounds
    return config


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
        parser.add_argument(
            "--format",
            default="round_robin",
            help="round_robin (default), single_elimination, kwise, anchor, swiss, adaptive",
        )
        parser.add_argument(
            "--option",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help="a format option, repeatable: k=4, seeding=rating, anchor=MODEL, "
            "sampler=info_gain, max_matches=200 (values read as JSON when they parse)",
        )
        parser.add_argument("--config", metavar="FILE.json", help="format options as a JSON object")
        parser.add_argument(
            "--rounds", type=int, default=None, help="prompts to play, where the format has rounds"
        )
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument(
            "--budget", type=int, default=None, help="most judge calls (both orders: 2 a match)"
        )
        parser.add_argument(
            "--budget-usd", default=None, help="most money (USD) to spend; pauses before it"
        )
        parser.add_argument(
            "--both-orders",
            action="store_true",
            help="judge each pair in both answer orders (position bias)",
        )
        parser.add_argument(
            "--price-in", type=_usd, default=None, help="the judge's USD per million input tokens"
        )
        parser.add_argument(
            "--price-out", type=_usd, default=None, help="the judge's USD per million output tokens"
        )
        parser.add_argument("--timeout", type=float, default=3600, help="seconds to follow it")

    def handle(self, *args: Any, **o: Any) -> None:
        base_url = os.environ.get("ARENA_BASE_URL", "").strip()
        if not base_url:
            raise CommandError("set ARENA_BASE_URL to the endpoint, e.g. http://127.0.0.1:8000/v1")
        config = format_config(o["config"], o["option"], o["rounds"])
        try:
            # The rows and the tournament together: a refused option changes no row.
            with transaction.atomic():
                judge_name = self._rows(base_url, o)
                tournament = tournament_create(
                    name=f"{' vs '.join(self._models(o))} judged by {o['judge']}",
                    format=o["format"],
                    contestants=self._models(o),
                    prompt_set=self._prompt_set(o["prompts"]).name,
                    judge=judge_name,
                    config=config,
                    seed=o["seed"],
                    budget=o["budget"],
                    budget_usd=o["budget_usd"],
                )
            if settings.EMBEDDED:
                from arena.serving.embedded import embedded_worker_start

                embedded_worker_start()
            tournament = tournament_start(tournament=tournament)
        except ValidationError as error:
            raise CommandError(
                "; ".join(f"{k}: {' '.join(v)}" for k, v in error.message_dict.items())
            ) from None
        progress = self._follow(tournament, o["timeout"])
        self._report(tournament, progress)
        self._exit_status(tournament, progress, o["timeout"])

    @staticmethod
    def _models(o: dict[str, Any]) -> list[str]:
        return [m.strip() for m in o["contestants"].split(",") if m.strip()]

    def _rows(self, base_url: str, o: dict[str, Any]) -> str:
        """The contestants and the judge at the endpoint, as the flags say; the judge's name."""
        key_env = KEY_VARIABLE if os.environ.get(KEY_VARIABLE) else ""
        for model in self._models(o):
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
        prices = {k: o[k] for k in ("price_in", "price_out") if o[k] is not None}
        Judge.objects.update_or_create(
            name=judge_name,
            defaults={
                "kind": JudgeKind.OPENAI,
                "base_url": base_url,
                "model_id": o["judge"],
                "api_key_env": key_env,
                "settings": {"both_orders": o["both_orders"], **prices},
            },
        )
        return judge_name

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

    def _follow(self, tournament: Tournament, timeout: float) -> Progress:
        deadline = time.monotonic() + timeout
        last = None
        while True:
            tournament.refresh_from_db()
            progress = tournament_progress(tournament)
            # The status too: the last match can finish before the tournament completes.
            if (tournament.status, progress) != last:
                self.stdout.write(f"{tournament.status}: {_progress_text(progress)}")
                last = (tournament.status, progress)
            # Paused is as far as it goes alone: the money budget stopped it.
            stopped = tournament.is_finished or tournament.status == TournamentStatus.PAUSED
            if stopped or time.monotonic() >= deadline:
                return progress
            time.sleep(0.5)

    def _report(self, tournament: Tournament, progress: Progress) -> None:
        self.stdout.write(
            f"\nTournament {tournament.pk} is {tournament.status}: {_progress_text(progress)}."
        )
        failures = tournament_failures(tournament)
        rows = tournament_leaderboard(tournament)
        self.stdout.write(_table(rows, failures.by_contestant))
        spent = tournament_spent(tournament)
        self.stdout.write(f"Spent ${spent.usd:.4f} (judge calls and answers).")
        lost = spent.calls_unsettled
        if lost:
            self.stdout.write(
                f"{lost} model call(s) have not come back (in flight, or lost with a worker"
                " that died): the provider may have billed them; their cost is not in the spend."
            )
        if tournament.error:
            self.stdout.write(f"Warning: {tournament.error}")
        if not any(row["matches"] for row in rows):
            self.stdout.write("Warning: no verdicts, so nothing is rated.")
        elif any(row["preliminary"] for row in rows):
            self.stdout.write(
                f"Warning: ratings marked * are preliminary: fewer than {settings.MIN_VERDICTS} "
                "verdicts (ARENA_MIN_VERDICTS), they may still move a lot."
            )
        if progress.failed:
            self.stdout.write(
                f"Warning: {progress.failed} of {progress.done} finished matches failed; "
                "the latest errors:"
            )
            for error in failures.last_errors:
                self.stdout.write(f"  - {error}")

    def _exit_status(self, tournament: Tournament, progress: Progress, timeout: float) -> None:
        if tournament.status != TournamentStatus.COMPLETED:
            running = tournament.status == TournamentStatus.RUNNING
            why = f"not done after {timeout:.0f} s" if running else tournament.error
            raise CommandError(
                f"the tournament is {tournament.status}" + (f": {why}" if why else "")
            )
        if progress.failed:
            raise CommandError(
                f"{progress.failed} of {progress.done} matches failed (the latest errors are above)"
            )


def _progress_text(progress: Progress) -> str:
    text = f"{progress.done} / {progress.planned or '?'} matches"
    return text + (f", {progress.failed} failed" if progress.failed else "")


HEADERS = ("rank", "model", "BT (95% CI)", "Elo", "matches", "failed")


def _table(rows: list[LeaderboardRow], failed: dict[str, int]) -> str:
    """The leaderboard as a text table, best first by BT (the ranks come from its CIs;
    Elo is the online rating in verdict order, so it need not be monotone)."""
    lines = [
        (
            str(row["rank"]),
            row["contestant"] + ("*" if row["preliminary"] and row["matches"] else ""),
            "-"
            if row["bt"] is None
            else f"{row['bt']:.0f} ({row['bt_low']:.0f} to {row['bt_high']:.0f})",
            "-" if row["elo"] is None or not row["matches"] else f"{row['elo']:.0f}",
            str(row["matches"]),
            str(failed.get(row["contestant"], 0)),
        )
        for row in rows
    ]
    widths = [max(len(c) for c in column) for column in zip(HEADERS, *lines, strict=False)]
    # Names read left-aligned, numbers right-aligned.
    return "\n".join(
        "  ".join(
            cell.ljust(w) if i == 1 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(line, widths, strict=True))
        )
        for line in (HEADERS, *lines)
    )

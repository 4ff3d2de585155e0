"""Load a public battle file (FastChat, LMArena, Kaggle 55k) as a completed tournament."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from arena.services.battle_imports import battles_import


class Command(BaseCommand):
    help = (
        "Import FILE (.parquet, .jsonl, .json, .csv: FastChat battles, LMArena's current "
        "layout, or Kaggle's 55k) as a completed tournament whose verdicts feed the global "
        "leaderboards; all or nothing. Prints the tournament's id."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument(
            "--name",
            default="",
            help="the tournament's and prompt set's name (default: the file's)",
        )
        parser.add_argument(
            "--source",
            default="humans",
            help="who gave the verdicts: humans (default) or judge:NAME",
        )

    def handle(self, *args: Any, file: Path, name: str, source: str, **options: Any) -> None:
        if not file.is_file():
            raise CommandError(f"{file}: no such file")
        try:
            done = battles_import(
                path=file, name=name, source=source, progress=lambda m: self.stderr.write(f"  {m}")
            )
        except ValidationError as error:
            raise CommandError(
                "; ".join(f"{field}: {' '.join(m)}" for field, m in error.message_dict.items())
            ) from None
        created = (
            f", {len(done.contestants_created)} new contestants" if done.contestants_created else ""
        )
        self.stderr.write(
            f"imported {done.battles:,} battles on {done.prompts:,} prompts ({done.styled:,} with "
            f"style features){created} in {done.seconds:.1f} s "
            f"({done.battles / max(done.seconds, 1e-9):,.0f} rows/s)"
        )
        self.stdout.write(str(done.tournament_id))

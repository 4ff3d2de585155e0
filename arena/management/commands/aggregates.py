"""Build the evidence cells from the verdicts, or check them against a full recount."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from arena.services.aggregates import (
    cells_backfill,
    cells_check,
    elo_points_backfill,
    responses_style_backfill,
    spend_backfill,
)


class Command(BaseCommand):
    help = (
        "backfill: compute missing answer styles, rebuild every leaderboard cell (K-wise "
        "ranking cells and the standings' Weng-Lin beliefs too) from the verdicts and store "
        "the Elo history of tournaments without one (after an upgrade, or an import "
        "that wrote rows directly); "
        "check: compare the cells with a full recount, exit 1 on any difference."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["backfill", "check"])

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        started = time.monotonic()

        def progress(n: int) -> None:
            self.stderr.write(f"  {n:,} verdicts read ({time.monotonic() - started:.0f} s)")

        if action == "backfill":
            styled = responses_style_backfill()
            self.stdout.write(f"answer styles computed: {styled:,}")
            cells = cells_backfill(progress)
            self.stdout.write(f"cells rebuilt: {cells:,} ({time.monotonic() - started:.1f} s)")
            points = elo_points_backfill()
            self.stdout.write(f"Elo history points stored: {points:,}")
            self.stdout.write(f"spends summed: {spend_backfill():,} tournaments")
            self.stdout.write(f"done in {time.monotonic() - started:.1f} s")
            return
        differences = cells_check(progress)
        for d in differences[:20]:
            self.stdout.write(
                f"{d.table} {d.cell}: {d.column} stored {d.stored:g}, recounted {d.recounted:g}"
            )
        if differences:
            raise CommandError(
                f"{len(differences):,} values differ from the recount: "
                "run `manage.py aggregates backfill`"
            )
        self.stdout.write("cells match a full recount")

"""Simulate tournament strategies against a known truth, or plan a budget; no model is called.

python manage.py simulate --models 20 --seeds 20 --strategies uniform_bt,adaptive_ucb
python manage.py simulate --models 20 --strategies adaptive_ucb --plan --price-per-call 0.002
python manage.py simulate --models 20 --prompt-sd 50 --strategies per_prompt_brackets_bt,anchor_bt
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from simulator.judge import JudgeModel
from simulator.planner import PLAN_SEEDS, plan
from simulator.runs import Settings
from simulator.strategies import STRATEGIES
from simulator.summaries import simulate
from simulator.tables import format_plan, format_table

DEFAULT_STRATEGIES = "uniform_elo,uniform_bt,adaptive_ci_reduction,adaptive_ucb,kwise_balanced_bt"


class Command(BaseCommand):
    help = "Judge calls each strategy needs to rank M simulated models (and what that costs)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--models", type=int, default=20)
        parser.add_argument(
            "--seeds", type=int, default=None, help="default 5; with --plan 60 held-out truths"
        )
        parser.add_argument(
            "--strategies",
            default=DEFAULT_STRATEGIES,
            help=f"comma-separated, or 'all': {', '.join(STRATEGIES)}",
        )
        parser.add_argument(
            "--streams", type=int, default=1, help="judge streams per truth (pooled medians)"
        )
        parser.add_argument("--spread", type=float, default=100.0, help="sd of true Elo")
        parser.add_argument("--max-calls", type=int, default=None, help="cap per run")
        parser.add_argument("--batch", type=int, default=8, help="adaptive batch size")
        parser.add_argument("--position-bias", type=float, default=0.0)
        parser.add_argument("--noise", type=float, default=0.0)
        parser.add_argument(
            "--prompt-sd", type=float, default=0.0, help="Elo sd of a model's offset per prompt"
        )
        parser.add_argument("--tau", type=float, default=0.9, help="planner's tau target")
        parser.add_argument("--half-width", type=float, default=None, help="planner: ±Elo")
        parser.add_argument("--plan", action="store_true", help="calls and dollars per strategy")
        parser.add_argument("--price-per-call", type=float, default=0.0)
        parser.add_argument("--jobs", type=int, default=1, help="worker processes")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args: Any, **o: Any) -> None:
        names = list(STRATEGIES) if o["strategies"] == "all" else o["strategies"].split(",")
        names = [n.strip() for n in names if n.strip()]
        unknown = [n for n in names if n not in STRATEGIES]
        if unknown:
            raise CommandError(f"--strategies: unknown {unknown[0]!r}; one of {list(STRATEGIES)}")
        if o["seeds"] is None:
            o["seeds"] = None if o["plan"] else 5
        if o["models"] < 2 or (o["seeds"] is not None and o["seeds"] < 1) or o["streams"] < 1:
            raise CommandError("--models must be >= 2, --seeds >= 1 and --streams >= 1")
        try:
            judge = JudgeModel(
                position_bias=o["position_bias"], noise=o["noise"], prompt_sd=o["prompt_sd"]
            )
        except ValueError as error:
            raise CommandError(f"--noise / --prompt-sd: {error}") from error
        settings = Settings(
            n_models=o["models"],
            spread=o["spread"],
            judge=judge,
            max_calls=o["max_calls"],
            batch=o["batch"],
            half_width=o["half_width"],
        )
        seeds = PLAN_SEEDS if o["seeds"] is None else range(o["seeds"])
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
        with ProcessPoolExecutor(o["jobs"]) if o["jobs"] > 1 else _Inline() as pool:
            if o["plan"]:
                plans = [
                    plan(
                        name, settings, seeds=seeds, tau=o["tau"],
                        price_per_call=o["price_per_call"], map_fn=pool.map,
                    )
                    for name in names
                ]  # fmt: skip
                if o["json"]:
                    self.stdout.write(json.dumps([p.__dict__ for p in plans], indent=2))
                else:
                    self.stdout.write("\n".join(format_plan(p) for p in plans))
                return
            summaries = simulate(names, seeds, settings, streams=o["streams"], map_fn=pool.map)
        if o["json"]:
            self.stdout.write(json.dumps([s.as_dict() for s in summaries], indent=2, default=str))
        else:
            self.stdout.write(format_table(summaries))


class _Inline:
    """A stand-in for a process pool that runs in this process."""

    map = staticmethod(map)

    def __enter__(self) -> _Inline:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

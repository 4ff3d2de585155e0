from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError


def test_simulate_prints_a_table_with_one_row_per_strategy() -> None:
    out = StringIO()
    call_command(
        "simulate", "--models", "6", "--seeds", "2", "--max-calls", "300",
        "--strategies", "uniform_bt,adaptive_ucb", stdout=out,
    )  # fmt: skip
    lines = out.getvalue().strip().splitlines()
    assert lines[0].startswith("| strategy | M | seeds | cap | calls to τ≥0.9")
    assert [line.split("|")[1].strip() for line in lines[2:]] == ["uniform_bt", "adaptive_ucb"]


def test_simulate_plans_calls_and_dollars_as_json() -> None:
    out = StringIO()
    call_command(
        "simulate", "--models", "5", "--seeds", "1", "--max-calls", "1500", "--plan",
        "--price-per-call", "0.5", "--strategies", "uniform_bt", "--json", stdout=out,
    )  # fmt: skip
    (row,) = json.loads(out.getvalue())
    assert row["strategy"] == "uniform_bt" and row["price_per_call"] == 0.5
    assert row["dollars_to_tau"] == row["calls_to_tau"] * 0.5


def test_an_unknown_strategy_is_a_clear_error() -> None:
    with pytest.raises(CommandError, match="--strategies"):
        call_command("simulate", "--strategies", "coin_flip", stdout=StringIO())


def test_simulate_runs_per_prompt_brackets_against_a_prompt_x_model_interaction() -> None:
    out = StringIO()
    call_command(
        "simulate", "--models", "6", "--seeds", "1", "--max-calls", "200", "--prompt-sd", "50",
        "--strategies", "per_prompt_brackets_bt,anchor_bt", stdout=out,
    )  # fmt: skip
    rows = out.getvalue().strip().splitlines()[2:]
    assert [row.split("|")[1].strip() for row in rows] == ["per_prompt_brackets_bt", "anchor_bt"]


def test_a_negative_prompt_sd_is_a_clear_error() -> None:
    with pytest.raises(CommandError, match="prompt_sd"):
        call_command("simulate", "--prompt-sd", "-5", stdout=StringIO())

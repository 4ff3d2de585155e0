"""``python -m ratings fit``: FastChat battle files in, leaderboard out, exit 2 on bad input."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ratings.__main__ import main
from ratings.bootstrap import rank_from_intervals
from ratings.io import BattleFileError, read_battle_text
from ratings.soft_condorcet import RATING_SCALE, fit_soft_condorcet

WINNER = {"left": "model_a", "right": "model_b", "tie": "tie"}


def fastchat_rows(path: Path) -> list[dict[str, Any]]:
    """An evalica/LLMFAO left/right/tie file as FastChat battle records."""
    with path.open(newline="") as handle:
        return [
            {"model_a": r["left"], "model_b": r["right"], "winner": WINNER[r["winner"]]}
            for r in csv.DictReader(handle)
        ]


def write_json(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text(json.dumps(rows, indent=2))
    return path


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    assert main(["fit", *args, "--output", "json"]) == 0
    payload: dict[str, Any] = json.loads(capsys.readouterr().out)
    return payload


def test_fit_bt_on_food_json_prints_choix_ratings_best_first(
    tmp_path: Path, golden_dir: Path, vectors: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_json(tmp_path / "food.json", fastchat_rows(golden_dir / "food.csv"))
    payload = run_json(capsys, str(path), "--method", "bt", "--ci", "none")
    expected = vectors["pairwise_food"]["choix"]["ties_as_half_wins_duplicated"][
        "on_elo_scale_400_over_ln10_plus_1000"
    ]
    assert payload["method"] == "bt"
    assert payload["params"]["scale"] == 400.0 and payload["params"]["anchor"] is None
    assert [row["model"] for row in payload["ratings"]] == [
        "Tacos",
        "Sushi",
        "Burger",
        "Pasta",
        "Pizza",
    ]
    for row in payload["ratings"]:
        assert row["rating"] == pytest.approx(expected[row["model"]], abs=1e-6)
        assert row["ci_low"] is None and row["ci_high"] is None
    assert [row["rank"] for row in payload["ratings"]] == [1, 2, 3, 4, 5]
    assert sum(row["matches"] for row in payload["ratings"]) == 60


def test_fit_elo_on_food_jsonl_prints_fastchat_online_elo(
    tmp_path: Path, golden_dir: Path, vectors: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_jsonl(tmp_path / "food.jsonl", fastchat_rows(golden_dir / "food.csv"))
    payload = run_json(capsys, str(path), "--method", "elo")
    expected = vectors["pairwise_food"]["fastchat"]["compute_elo_online_K4_rating_systems"]
    assert {row["model"]: row["rating"] for row in payload["ratings"]} == pytest.approx(
        expected, abs=1e-9
    )
    assert payload["params"]["k"] == 4.0


def test_fit_elo_replays_csv_battles_in_tstamp_order(
    tmp_path: Path, golden_dir: Path, vectors: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    rows = fastchat_rows(golden_dir / "food.csv")
    stamped = [row | {"tstamp": float(k)} for k, row in enumerate(rows)][::-1]
    path = tmp_path / "food_reversed.csv"
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["model_a", "model_b", "winner", "tstamp"])
        writer.writeheader()
        writer.writerows(stamped)
    payload = run_json(capsys, str(path), "--method", "elo")
    expected = vectors["pairwise_food"]["fastchat"]["compute_elo_online_K4_rating_systems"]
    assert {row["model"]: row["rating"] for row in payload["ratings"]} == pytest.approx(
        expected, abs=1e-9
    )
    assert payload["params"]["ordered_by_timestamp"] is True


def test_fit_with_bootstrap_anchor_and_seed_is_reproducible_and_ranks_by_interval(
    tmp_path: Path, golden_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_json(tmp_path / "food.json", fastchat_rows(golden_dir / "food.csv"))
    args = (str(path), "--bootstrap", "40", "--seed", "3", "--anchor", "Pizza=1000")
    first = run_json(capsys, *args)
    again = run_json(capsys, *args)
    assert first == again
    pizza = next(row for row in first["ratings"] if row["model"] == "Pizza")
    assert pizza["rating"] == pytest.approx(1000.0, abs=1e-9)
    assert pizza["ci_low"] == pytest.approx(1000.0, abs=1e-9) and pizza["ci_high"] == pytest.approx(
        1000.0, abs=1e-9
    )
    assert first["params"]["bootstrap"] == 40 and first["params"]["seed"] == 3
    for row in first["ratings"]:
        assert row["ci_low"] <= row["rating"] + 1e-9 <= row["ci_high"] + 2e-9
    assert first["params"]["resample"] == "poisson"
    low = np.array([row["ci_low"] for row in first["ratings"]])
    high = np.array([row["ci_high"] for row in first["ratings"]])
    ranks = [row["rank"] for row in first["ratings"]]
    assert ranks == rank_from_intervals(low, high).tolist()
    # with 30 battles the intervals are wide: at most one model is clearly behind
    assert ranks[:4] == [1, 1, 1, 1]


def test_fit_bootstrap_can_resample_multinomially_like_fastchat(
    tmp_path: Path, golden_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_json(tmp_path / "food.json", fastchat_rows(golden_dir / "food.csv"))
    args = (str(path), "--bootstrap", "40", "--seed", "3", "--resample", "multinomial")
    payload = run_json(capsys, *args)
    assert payload["params"]["resample"] == "multinomial"
    assert payload != run_json(capsys, *args[:-2])


def test_fit_elo_with_bootstrap_gives_intervals(
    tmp_path: Path, golden_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_json(tmp_path / "food.json", fastchat_rows(golden_dir / "food.csv"))
    payload = run_json(capsys, str(path), "--method", "elo", "--bootstrap", "20")
    assert all(row["ci_low"] < row["ci_high"] for row in payload["ratings"])


def test_fit_on_llmfao_crowd_votes_ranks_59_models_with_gpt4_first(
    tmp_path: Path, golden_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = fastchat_rows(golden_dir / "llmfao-crowd-comparisons.csv")
    path = write_jsonl(tmp_path / "llmfao.jsonl", rows)
    payload = run_json(capsys, str(path), "--bootstrap", "30")
    ratings = payload["ratings"]
    assert len(ratings) == 59 and len(rows) == 8931
    assert ratings[0]["model"] == "GPT 4" and ratings[0]["rank"] == 1
    assert sum(row["matches"] for row in ratings) == 2 * 8931
    assert [row["rating"] for row in ratings] == sorted(
        (row["rating"] for row in ratings), reverse=True
    )
    assert max(row["rank"] for row in ratings) > 20  # 9k votes separate the field


def test_table_output_lists_every_model_under_a_header(
    tmp_path: Path, golden_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_json(tmp_path / "food.json", fastchat_rows(golden_dir / "food.csv"))
    assert main(["fit", str(path), "--ci", "none"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["rank", "model", "rating", "matches"]
    assert lines[1].split() == ["1", "Tacos", "1159.80", "13"]
    assert len(lines) == 6


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        (
            "missing.jsonl",
            '{"model_a": "a", "model_b": "b", "winner": "tie"}\n\n'
            '{"model_a": "a", "winner": "tie"}\n',
            "missing.jsonl:3: field 'model_b': missing",
        ),
        (
            "bad.csv",
            "model_a,model_b,winner\na,b,tie\na,b,model_a\nb,a,left\n",
            "bad.csv:4: field 'winner': 'left' is not one of model_a, model_b, tie, tie (bothbad)",
        ),
        (
            "list.json",
            '[\n  {"model_a": "a", "model_b": "b", "winner": "tie"},\n'
            '  {"model_a": "a",\n   "model_b": "a", "winner": "tie"}\n]',
            "list.json:3: field 'model_b': same model on both sides",
        ),
        (
            "weights.jsonl",
            '{"model_a": "a", "model_b": "b", "winner": "tie", "weight": 1}\n'
            '{"model_a": "a", "model_b": "b", "winner": "tie", "weight": "x"}\n',
            "weights.jsonl:2: field 'weight': expected a number, got 'x'",
        ),
        (
            "stamps.jsonl",
            '{"model_a": "a", "model_b": "b", "winner": "tie", "tstamp": 1}\n'
            '{"model_a": "a", "model_b": "b", "winner": "tie"}\n',
            "stamps.jsonl:2: field 'tstamp': missing (other battles have it)",
        ),
        ("broken.jsonl", '{"model_a": "a",\n', "broken.jsonl:1: invalid JSON"),
        (
            "header.csv",
            "left,right,winner\na,b,left\n",
            "header.csv:1: field 'model_a': missing column",
        ),
        ("empty.json", "[]", "empty.json:1: no battles in file"),
    ],
)
def test_malformed_file_exits_2_naming_line_and_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, content: str, message: str
) -> None:
    path = tmp_path / name
    path.write_text(content)
    assert main(["fit", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert message in captured.err


def test_bt_bootstraps_100_rounds_unless_told_otherwise(
    tmp_path: Path, golden_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_json(tmp_path / "food.json", fastchat_rows(golden_dir / "food.csv"))
    default = run_json(capsys, str(path))
    assert default["params"]["bootstrap"] == 100 and default["params"]["seed"] == 0
    assert run_json(capsys, str(path), "--ci", "bootstrap") == default
    assert run_json(capsys, str(path), "--bootstrap", "100") == default
    assert all(row["ci_low"] < row["ci_high"] for row in default["ratings"])
    for args in (("--ci", "none"), ("--bootstrap", "0")):
        payload = run_json(capsys, str(path), *args)
        assert "bootstrap" not in payload["params"]
        assert all(row["ci_low"] is None for row in payload["ratings"])
    elo = run_json(capsys, str(path), "--method", "elo")
    assert all(row["ci_low"] is None for row in elo["ratings"])
    with pytest.raises(SystemExit):
        main(["fit", str(path), "--ci", "none", "--bootstrap", "20"])


def test_missing_file_and_bt_without_mle_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["fit", str(tmp_path / "nope.json")]) == 2
    assert "nope.json" in capsys.readouterr().err
    path = write_jsonl(
        tmp_path / "one_sided.jsonl", [{"model_a": "a", "model_b": "b", "winner": "model_a"}]
    )
    assert main(["fit", str(path)]) == 2
    assert "never won: ['b']" in capsys.readouterr().err
    assert main(["fit", str(path), "--prior", "0.1", "--output", "json"]) == 0


def test_bad_anchor_is_a_usage_error() -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["fit", "x.json", "--anchor", "no-rating"])
    assert exit_info.value.code == 2


def test_reader_accepts_fastchat_extra_fields_and_bothbad_ties() -> None:
    text = '[{"model_a": "a", "model_b": "b", "winner": "tie (bothbad)", "judge": "x", "turn": 1}]'
    battles = read_battle_text(text, source="battles.json")
    assert battles.outcome.tolist() == [3]
    with pytest.raises(BattleFileError) as error:
        read_battle_text('[{"model_a": "a", "model_b": "b", "winner": "tie"},]', source="x.json")
    assert error.value.line == 1


def test_module_entry_point_runs_as_a_process(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"model_a": "a", "model_b": "b", "winner": "draw"}\n')
    done = subprocess.run(
        [sys.executable, "-m", "ratings", "fit", str(path)],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert done.returncode == 2
    assert "bad.jsonl:1: field 'winner'" in done.stderr


def test_fit_sco_reads_battles_as_two_entry_votes(
    tmp_path: Path, golden_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = fastchat_rows(golden_dir / "food.csv")
    path = write_json(tmp_path / "food.json", rows)
    payload = run_json(capsys, str(path), "--method", "sco")
    votes = [
        [[r["model_a"], r["model_b"]]]
        if r["winner"] == "tie"
        else [[r["model_a"]], [r["model_b"]]]
        if r["winner"] == "model_a"
        else [[r["model_b"]], [r["model_a"]]]
        for r in rows
    ]
    direct = fit_soft_condorcet(votes, **RATING_SCALE).as_dict()
    assert {row["model"]: row["rating"] for row in payload["ratings"]} == pytest.approx(
        direct, abs=1e-12
    )
    assert payload["params"]["step"] == "normalized" and payload["params"]["steps_run"] < 10_000
    assert payload["ratings"][0]["model"] == "Tacos"
    assert main(["fit", str(path), "--method", "sco", "--bootstrap", "5"]) == 2

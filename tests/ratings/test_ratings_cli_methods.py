"""``python -m ratings fit`` with pl / bayes / winrate, K-wise JSONL input and Parquet."""

from __future__ import annotations

import csv
import json
import math
import statistics
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ratings.__main__ import METHODS, main
from ratings.bradley_terry import fit_bradley_terry
from ratings.data import Battles, battles_from_rankings
from ratings.elo import online_elo
from ratings.io import RankingData, read_rating_text
from ratings.metrics import win_rate_matrix
from ratings.soft_condorcet import RATING_SCALE, fit_soft_condorcet

WINNER = {"left": "model_a", "right": "model_b", "tie": "tie"}


def fastchat_rows(path: Path) -> list[dict[str, Any]]:
    """An evalica/LLMFAO left/right/tie file as FastChat battle records."""
    with path.open(newline="") as handle:
        return [
            {"model_a": r["left"], "model_b": r["right"], "winner": WINNER[r["winner"]]}
            for r in csv.DictReader(handle)
        ]


def llmfao_jsonl(directory: Path, golden_dir: Path) -> Path:
    """LLMFAO's crowd votes as a FastChat battle file."""
    rows = fastchat_rows(golden_dir / "llmfao-crowd-comparisons.csv")
    return write_jsonl(directory / "llmfao.jsonl", rows)


def write_json(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text(json.dumps(rows))
    return path


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    assert main(["fit", *args, "--output", "json"]) == 0
    payload: dict[str, Any] = json.loads(capsys.readouterr().out)
    return payload


ROW_KEYS = {"model", "rating", "ci_low", "ci_high", "rank", "matches", "preliminary"}


def kwise_file(
    path: Path, rankings: list[list[list[str]]], weights: list[float] | None = None
) -> Path:
    rows = [
        {"ranking": r} | ({} if weights is None else {"weight": w})
        for r, w in zip(rankings, weights or [1.0] * len(rankings), strict=True)
    ]
    return write_jsonl(path, rows)


def choix_rankings(vectors: dict[str, Any], case: str) -> list[list[list[str]]]:
    return [[[str(x)] for x in r] for r in vectors["choix_repo_testcases"][case]["data"]]


def check_schema(payload: dict[str, Any], method: str, with_ci: bool) -> None:
    assert set(payload) == {"method", "params", "ratings"}
    assert payload["method"] == method and isinstance(payload["params"], dict)
    rows = payload["ratings"]
    assert rows and all(set(row) == ROW_KEYS for row in rows)
    assert len({row["model"] for row in rows}) == len(rows)
    ratings = [row["rating"] for row in rows]
    assert ratings == sorted(ratings, reverse=True)
    for row in rows:
        assert isinstance(row["model"], str) and isinstance(row["rating"], float)
        assert isinstance(row["rank"], int) and 1 <= row["rank"] <= len(rows)
        assert isinstance(row["matches"], int) and row["matches"] > 0
        if with_ci:
            assert isinstance(row["ci_low"], float) and row["ci_low"] <= row["ci_high"]
        else:
            assert row["ci_low"] is None and row["ci_high"] is None
    assert rows[0]["rank"] == 1
    json.dumps(payload, allow_nan=False)


@pytest.mark.parametrize("method", METHODS)
def test_every_method_prints_the_json_schema_for_battles_and_kwise_files(
    method: str, tmp_path: Path, golden_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    battles = write_json(tmp_path / "food.json", fastchat_rows(golden_dir / "food.csv"))
    payload = run_json(capsys, str(battles), "--method", method)
    # intervals by default: bt's 100-round bootstrap, bayes' sigma; the others when asked
    check_schema(payload, method, with_ci=method in ("bt", "bayes"))
    assert sum(row["matches"] for row in payload["ratings"]) == 60
    rankings = [[["a"], ["b", "c"], ["d"]], [["d"], ["a"]], [["c"], ["a"], ["b"]], [["b"], ["d"]]]
    kwise = kwise_file(tmp_path / "k.jsonl", rankings)
    payload = run_json(capsys, str(kwise), "--method", method, "--prior", "0.05")
    check_schema(payload, method, with_ci=method in ("bt", "bayes"))
    assert {row["model"]: row["matches"] for row in payload["ratings"]} == {
        "a": 3,
        "b": 3,
        "c": 2,
        "d": 3,
    }


@pytest.mark.parametrize("case", ["rankings-1", "rankings-2"])
def test_pl_on_choix_rankings_file_gives_its_log_strengths(
    case: str, tmp_path: Path, vectors: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    golden = vectors["choix_repo_testcases"][case]
    path = kwise_file(tmp_path / f"{case}.jsonl", choix_rankings(vectors, case))
    payload = run_json(capsys, str(path), "--method", "pl")
    got = {row["model"]: row["rating"] for row in payload["ratings"]}
    expected = {str(k): v for k, v in enumerate(golden["ml_est_from_repo"])}
    assert got == pytest.approx(expected, abs=5e-5)
    order = sorted(expected, key=lambda k: -expected[k])
    if case == "rankings-2":  # rankings-1 is a cycle: all equal
        assert [row["model"] for row in payload["ratings"]] == order
    assert payload["params"]["scale"] == "natural log-strength, mean 0"


def test_pl_on_battles_is_bt_with_ties_as_half_wins_in_natural_units(
    tmp_path: Path, golden_dir: Path, vectors: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_json(tmp_path / "food.json", fastchat_rows(golden_dir / "food.csv"))
    pl = {r["model"]: r["rating"] for r in run_json(capsys, str(path), "--method", "pl")["ratings"]}
    bt = vectors["pairwise_food"]["choix"]["ties_as_half_wins_duplicated"][
        "on_elo_scale_400_over_ln10_plus_1000"
    ]
    natural = {m: (v - 1000) * math.log(10) / 400 for m, v in bt.items()}
    centre = sum(natural.values()) / len(natural)
    assert pl == pytest.approx({m: v - centre for m, v in natural.items()}, abs=1e-6)


def test_pl_bootstrap_is_seeded_and_anchored(
    tmp_path: Path, golden_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_json(tmp_path / "food.json", fastchat_rows(golden_dir / "food.csv"))
    args = (str(path), "--method", "pl", "--bootstrap", "20", "--seed", "1", "--anchor", "Pizza=0")
    first = run_json(capsys, *args)
    assert first == run_json(capsys, *args)
    check_schema(first, "pl", with_ci=True)
    pizza = next(row for row in first["ratings"] if row["model"] == "Pizza")
    assert pizza["rating"] == pizza["ci_low"] == pizza["ci_high"] == pytest.approx(0.0, abs=1e-9)
    assert first["params"]["bootstrap"] == 20
    assert 0 <= first["params"]["degenerate_rounds"] <= 20


def test_winrate_equals_metrics_and_evalica_average_win_rate(
    tmp_path: Path,
    golden_dir: Path,
    evalica_golden: Any,
    food: Battles,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = write_json(tmp_path / "food.json", fastchat_rows(golden_dir / "food.csv"))
    payload = run_json(capsys, str(path), "--method", "winrate")
    got = {row["model"]: row["rating"] for row in payload["ratings"]}
    ours = dict(zip(food.models, win_rate_matrix(food).average_win_rate(), strict=True))
    assert got == pytest.approx(ours, abs=1e-12)
    assert got == pytest.approx(evalica_golden("food", "average_win_rate"), abs=1e-9)
    boot = run_json(capsys, str(path), "--method", "winrate", "--bootstrap", "30", "--seed", "2")
    check_schema(boot, "winrate", with_ci=True)
    assert all(0 <= row["ci_low"] <= row["ci_high"] <= 1 for row in boot["ratings"])
    assert [row["rating"] for row in boot["ratings"]] == [
        row["rating"] for row in payload["ratings"]
    ]


def test_bayes_ranks_gpt4_first_on_llmfao_and_reports_mu_sigma_intervals(
    tmp_path: Path, golden_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = llmfao_jsonl(tmp_path, golden_dir)
    payload = run_json(capsys, str(path), "--method", "bayes")
    rows = payload["ratings"]
    assert len(rows) == 59 and rows[0]["model"] == "GPT 4"
    z = statistics.NormalDist().inv_cdf(0.975)
    for row in rows:
        mu = (row["ci_low"] + row["ci_high"]) / 2
        sigma = (row["ci_high"] - row["ci_low"]) / (2 * z)
        assert row["rating"] == pytest.approx(mu - 3 * sigma, abs=1e-9)
        assert 0 < sigma < 25 / 3
    assert payload["params"]["rating"].startswith("mu - 3 sigma")


def test_kwise_bt_elo_sco_use_pairwise_decomposition_or_votes(
    tmp_path: Path, vectors: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    rankings = [[[m] for m in r] for r in vectors["kwise_rankings"]["input"]["rankings_best_first"]]
    path = kwise_file(tmp_path / "k.jsonl", rankings)
    pairs = battles_from_rankings(rankings)
    for method, expected in [
        ("bt", fit_bradley_terry(pairs).as_dict()),
        ("elo", online_elo(pairs).as_dict()),
        ("sco", fit_soft_condorcet(rankings, **RATING_SCALE).as_dict()),
    ]:
        payload = run_json(capsys, str(path), "--method", method)
        got = {row["model"]: row["rating"] for row in payload["ratings"]}
        assert got == pytest.approx(expected, abs=1e-9), method


def test_kwise_weights_scale_the_fit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rankings = [[["a"], ["b"], ["c"]], [["c"], ["b"], ["a"]], [["b"], ["a", "c"]]]
    doubled = kwise_file(tmp_path / "w.jsonl", rankings, [2.0, 1.0, 1.0])
    repeated = kwise_file(tmp_path / "r.jsonl", [rankings[0], *rankings])
    for method in ("bt", "pl", "winrate", "bayes"):
        a = run_json(capsys, str(doubled), "--method", method)["ratings"]
        b = run_json(capsys, str(repeated), "--method", method)["ratings"]
        assert [(r["model"], r["rating"]) for r in a] == [
            (r["model"], pytest.approx(r["rating"], abs=1e-6)) for r in b
        ], method


def test_reader_detects_kwise_records() -> None:
    data = read_rating_text('{"ranking": [["x"], ["y", "z"]], "weight": 0.5}\n', source="k.jsonl")
    assert isinstance(data, RankingData)
    assert data.rankings == ((("x",), ("y", "z")),) and data.weights == (0.5,)
    assert data.models == ("x", "y", "z")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            '{"ranking": [["a"], ["b"]]}\n{"ranking": [["a"], ["a"]]}\n',
            "k.jsonl:2: field 'ranking': 'a' listed twice",
        ),
        (
            '{"ranking": [["a"], ["b"]]}\n\n{"ranking": ["a", "b"]}\n',
            "k.jsonl:3: field 'ranking': expected a list of tiers",
        ),
        ('{"ranking": [["a"], []]}\n', "k.jsonl:1: field 'ranking': empty tier"),
        ('{"ranking": [["a"]]}\n', "k.jsonl:1: field 'ranking': needs at least two models"),
        ('{"ranking": [["a"], [3]]}\n', "k.jsonl:1: field 'ranking': model names must be"),
        (
            '{"ranking": [["a"], ["b"]]}\n{"model_a": "a", "model_b": "b", "winner": "tie"}\n',
            "k.jsonl:2: field 'ranking': missing",
        ),
        (
            '{"ranking": [["a"], ["b"]], "weight": -1}\n',
            "k.jsonl:1: field 'weight': must be >= 0",
        ),
        (
            '{"ranking": [["a"], ["b"]], "weight": "two"}\n',
            "k.jsonl:1: field 'weight': expected a number",
        ),
    ],
)
def test_malformed_kwise_line_exits_2_naming_line_and_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, message: str
) -> None:
    path = tmp_path / "k.jsonl"
    path.write_text(content)
    assert main(["fit", str(path), "--method", "pl"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and message in captured.err


def test_unsupported_option_combinations_exit_2(
    tmp_path: Path, golden_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_json(tmp_path / "food.json", fastchat_rows(golden_dir / "food.csv"))
    assert main(["fit", str(path), "--method", "bayes", "--bootstrap", "5"]) == 2
    assert main(["fit", str(path), "--method", "winrate", "--anchor", "Pizza=1"]) == 2
    fractional = kwise_file(tmp_path / "f.jsonl", [[["a"], ["b"]]], [0.5])
    assert main(["fit", str(fractional), "--method", "bayes"]) == 2
    assert "whole number" in capsys.readouterr().err


def test_parquet_without_pyarrow_or_pandas_names_the_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("pyarrow", "pyarrow.parquet", "pandas"):
        monkeypatch.setitem(sys.modules, name, None)
    path = tmp_path / "battles.parquet"
    path.write_bytes(b"PAR1")
    assert main(["fit", str(path)]) == 2
    assert "needs the 'pyarrow' package" in capsys.readouterr().err


def test_parquet_battles_fit_like_json(
    tmp_path: Path, golden_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    rows = fastchat_rows(golden_dir / "food.csv")
    path = tmp_path / "food.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path)
    from_json = run_json(capsys, str(write_json(tmp_path / "food.json", rows)))
    assert run_json(capsys, str(path)) == from_json
    bad = tmp_path / "bad.parquet"
    pq.write_table(pa.Table.from_pylist([*rows[:3], rows[3] | {"winner": "draw"}]), bad)
    assert main(["fit", str(bad)]) == 2
    assert "bad.parquet:4: field 'winner'" in capsys.readouterr().err
    assert np.isfinite(from_json["ratings"][0]["rating"])

"""A battle file may carry a ``score`` (the share of the win credited to model_a) beside or
instead of ``winner``: ``bt`` and ``winrate`` fit it as a fractional outcome, and a score
out of [0, 1] is named by its row, whichever reader reads the file."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ratings.__main__ import main
from ratings.io import BattleFileError, _read_by_rows, read_battle_table, read_rating_text

MODELS = ("alpha", "beta", "gamma")
SCORE_OF = {"model_a": 1.0, "model_b": 0.0, "tie": 0.5}


def write(path: Path, rows: list[dict[str, Any]]) -> Path:
    if path.suffix == ".csv":
        buffer = io.StringIO()
        fields = sorted({key for row in rows for key in row})
        writer = csv.DictWriter(buffer, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
        path.write_text(buffer.getvalue())
    elif path.suffix == ".json":
        path.write_text(json.dumps(rows))
    else:
        path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def fit(capsys: pytest.CaptureFixture[str], path: Path, method: str) -> dict[str, Any]:
    # A small prior: a random file may have a model that never lost (no plain MLE).
    prior = ["--prior", "0.1"] if method == "bt" else []
    args = ["fit", str(path), "--method", method, "--ci", "none", *prior, "--output", "json"]
    assert main(args) == 0
    rows = json.loads(capsys.readouterr().out)["ratings"]
    return {row["model"]: (row["rating"], row["matches"]) for row in rows}


battles = st.lists(
    st.tuples(
        st.sampled_from(MODELS), st.sampled_from(MODELS), st.sampled_from(sorted(SCORE_OF))
    ).filter(lambda t: t[0] != t[1]),
    min_size=3,
    max_size=40,
)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=battles, method=st.sampled_from(["bt", "winrate"]))
def test_scores_of_one_zero_and_a_half_fit_as_winner_model_a_model_b_and_tie(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    rows: list[tuple[str, str, str]],
    method: str,
) -> None:
    won = [{"model_a": a, "model_b": b, "winner": w} for a, b, w in rows]
    scored = [{"model_a": a, "model_b": b, "score": SCORE_OF[w]} for a, b, w in rows]

    by_winner = fit(capsys, write(tmp_path / "won.jsonl", won), method)
    by_score = fit(capsys, write(tmp_path / "scored.jsonl", scored), method)

    assert by_score.keys() == by_winner.keys()
    for model, (rating, matches) in by_winner.items():
        assert by_score[model][1] == matches
        assert by_score[model][0] == pytest.approx(rating, abs=1e-9, nan_ok=True)


def test_a_fractional_score_is_a_win_and_a_loss_weighted_by_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scored = [
        {"model_a": "alpha", "model_b": "beta", "score": 0.7},
        {"model_a": "beta", "model_b": "alpha", "score": 0.1},
        {"model_a": "alpha", "model_b": "gamma", "score": 0.25},
        {"model_a": "beta", "model_b": "gamma", "score": 0.5},
    ]
    weighted = [
        {"model_a": "alpha", "model_b": "beta", "winner": "model_a", "weight": 0.7},
        {"model_a": "alpha", "model_b": "beta", "winner": "model_b", "weight": 0.3},
        {"model_a": "beta", "model_b": "alpha", "winner": "model_a", "weight": 0.1},
        {"model_a": "beta", "model_b": "alpha", "winner": "model_b", "weight": 0.9},
        {"model_a": "alpha", "model_b": "gamma", "winner": "model_a", "weight": 0.25},
        {"model_a": "alpha", "model_b": "gamma", "winner": "model_b", "weight": 0.75},
        {"model_a": "beta", "model_b": "gamma", "winner": "tie", "weight": 1.0},
    ]
    path = write(tmp_path / "scored.jsonl", scored)

    rates = fit(capsys, path, "winrate")
    bt = fit(capsys, path, "bt")
    reference = fit(capsys, write(tmp_path / "weighted.jsonl", weighted), "bt")

    assert rates["alpha"][0] == pytest.approx(((0.7 + 0.9) / 2 + 0.25) / 2)
    assert {m: r for m, (r, _) in bt.items()} == pytest.approx(
        {m: r for m, (r, _) in reference.items()}
    )
    assert {m: n for m, (_, n) in bt.items()} == {"alpha": 3, "beta": 3, "gamma": 2}


def test_a_score_beside_the_winner_decides_and_a_row_without_one_keeps_its_winner() -> None:
    text = "\n".join(
        json.dumps(row)
        for row in [
            {"model_a": "alpha", "model_b": "beta", "winner": "model_b", "score": 1},
            {"model_a": "alpha", "model_b": "beta", "winner": "tie (bothbad)", "score": None},
            {"model_a": "beta", "model_b": "gamma", "winner": "tie (bothbad)", "score": 0.5},
        ]
    )

    table = read_rating_text(text, file_format="jsonl")

    assert [int(x) for x in table.outcome] == [2, 3, 3]  # A wins, both bad, both bad


@pytest.mark.parametrize("suffix", [".jsonl", ".csv", ".json"])
@pytest.mark.parametrize(("bad", "phrase"), [(1.5, "between 0 and 1"), ("much", "number")])
def test_a_score_out_of_range_is_named_by_column_and_row_by_every_reader(
    tmp_path: Path, suffix: str, bad: object, phrase: str
) -> None:
    rows: list[dict[str, Any]] = [
        {"model_a": "alpha", "model_b": "beta", "score": 0.25} for _ in range(5)
    ]
    rows[3]["score"] = bad
    path = write(tmp_path / f"battles{suffix}", rows)
    line = 4 if suffix == ".jsonl" else (5 if suffix == ".csv" else None)

    with pytest.raises(BattleFileError) as columnar:
        read_battle_table(path)
    with pytest.raises(BattleFileError) as by_rows:
        _read_by_rows(path.read_bytes(), str(path), suffix[1:])  # type: ignore[arg-type]

    assert columnar.value.field == by_rows.value.field == "score"
    assert phrase in str(columnar.value) and str(columnar.value) == str(by_rows.value)
    if line is not None:
        assert columnar.value.line == line


def test_a_row_with_neither_winner_nor_score_is_named(tmp_path: Path) -> None:
    rows: list[dict[str, Any]] = [
        {"model_a": "alpha", "model_b": "beta", "score": 0.25},
        {"model_a": "alpha", "model_b": "beta"},
    ]
    path = write(tmp_path / "battles.jsonl", rows)

    with pytest.raises(BattleFileError) as error:
        read_battle_table(path)

    assert error.value.line == 2 and error.value.field in ("score", "winner")


def test_the_columnar_reader_splits_fractional_rows_keeping_their_file_rows(
    tmp_path: Path,
) -> None:
    rows = [
        {"model_a": "alpha", "model_b": "beta", "score": 0.6, "weight": 2},
        {"model_a": "beta", "model_b": "gamma", "score": 1, "weight": 1},
    ]
    table = read_battle_table(write(tmp_path / "battles.csv", rows))

    assert table.weight.tolist() == pytest.approx([1.2, 0.8, 1.0])
    assert [table.line_of(i) for i in range(len(table))] == [2, 2, 3]
    assert np.array_equal(table.battles_per_model(), [1, 2, 1])

"""Bad rows deep in large battle files are named by line and field; the columnar reader
and the per-row reader agree on every file, good or bad."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ratings.__main__ import main
from ratings.io import (
    KAGGLE_WINNERS,
    BattleFileError,
    BattleTable,
    RankingData,
    _read_by_rows,
    read_battle_table,
)

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")
pacsv = pytest.importorskip("pyarrow.csv")

N = 2_000_000
DEEP = 1_999_989  # 0-based row; its line is 1,999,990 (JSON lines, Parquet) or 1,999,991 (CSV)


@pytest.fixture(scope="module")
def columns() -> dict[str, np.ndarray[Any, Any]]:
    rng = np.random.default_rng(0)
    names = np.array([f"model-{k:03d}" for k in range(50)])
    a = rng.integers(0, 50, N)
    b = (a + rng.integers(1, 50, N)) % 50
    labels = np.array(["model_a", "model_b", "tie", "tie (bothbad)"])
    return {
        "model_a": names[a],
        "model_b": names[b],
        "winner": labels[rng.integers(0, 4, N)],
        "weight": np.where(rng.random(N) < 0.5, "1", "2.5").astype(object),
    }


def with_value(
    columns: dict[str, np.ndarray[Any, Any]], name: str, row: int, value: Any
) -> dict[str, np.ndarray[Any, Any]]:
    changed = dict(columns)
    changed[name] = columns[name].astype(object)
    changed[name][row] = value
    return changed


def write_parquet(path: Path, columns: dict[str, np.ndarray[Any, Any]]) -> Path:
    pq.write_table(pa.table({k: pa.array(v) for k, v in columns.items()}), path)
    return path


def write_csv(path: Path, columns: dict[str, np.ndarray[Any, Any]]) -> Path:
    table = pa.table({k: pa.array(v.astype(str)) for k, v in columns.items()})
    pacsv.write_csv(table, path, write_options=pacsv.WriteOptions(quoting_style="none"))
    return path


@pytest.fixture(scope="module")
def jsonl_around_deep_row(columns: dict[str, np.ndarray[Any, Any]]) -> tuple[str, str]:
    """The JSON lines before and after row DEEP, written once for the module."""
    rows = np.column_stack(
        [columns["model_a"], columns["model_b"], columns["winner"], columns["weight"]]
    )
    line = '{"model_a": "%s", "model_b": "%s", "winner": "%s", "weight": %s}\n'
    return (line * DEEP) % tuple(rows[:DEEP].ravel()), (line * (N - DEEP - 1)) % tuple(
        rows[DEEP + 1 :].ravel()
    )


def write_jsonl(path: Path, around: tuple[str, str], deep_line: str) -> Path:
    path.write_text(around[0] + deep_line + "\n" + around[1])
    return path


def error_of(path: Path) -> BattleFileError:
    with pytest.raises(BattleFileError) as error:
        read_battle_table(path, text=False, style=False, categories=False)
    return error.value


def test_a_bad_winner_at_row_1999990_of_a_parquet_file_is_named(
    tmp_path: Path, columns: dict[str, np.ndarray[Any, Any]]
) -> None:
    path = write_parquet(tmp_path / "battles.parquet", with_value(columns, "winner", DEEP, "draw"))
    error = error_of(path)
    assert (error.line, error.field) == (1_999_990, "winner")
    assert "'draw' is not one of model_a, model_b, tie, tie (bothbad), both_bad" in str(error)


def test_a_missing_model_name_deep_in_a_csv_file_is_named_by_its_line(
    tmp_path: Path, columns: dict[str, np.ndarray[Any, Any]]
) -> None:
    path = write_csv(tmp_path / "battles.csv", with_value(columns, "model_b", DEEP, ""))
    error = error_of(path)
    assert (error.line, error.field) == (1_999_991, "model_b")  # the header is line 1
    assert "expected a non-empty string, got ''" in str(error)


def test_a_non_numeric_weight_deep_in_csv_and_parquet_files_is_named(
    tmp_path: Path, columns: dict[str, np.ndarray[Any, Any]]
) -> None:
    heavy = with_value(columns, "weight", DEEP, "heavy")
    error = error_of(write_csv(tmp_path / "battles.csv", heavy))
    assert (error.line, error.field) == (1_999_991, "weight")
    assert "expected a number, got 'heavy'" in str(error)
    error = error_of(write_parquet(tmp_path / "battles.parquet", heavy))
    assert (error.line, error.field) == (1_999_990, "weight")


def test_bad_rows_deep_in_a_json_lines_file_are_named_by_line_and_field(
    tmp_path: Path, jsonl_around_deep_row: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_jsonl(
        tmp_path / "battles.jsonl",
        jsonl_around_deep_row,
        '{"model_a": "model-001", "winner": "tie", "weight": 1}',
    )
    error = error_of(path)
    assert (error.line, error.field, str(error).split(": ", 2)[2]) == (
        1_999_990,
        "model_b",
        "missing",
    )
    path = write_jsonl(
        tmp_path / "battles.jsonl",
        jsonl_around_deep_row,
        '{"model_a": "model-001", "model_b": "model-002", "winner": "bothbad", "weight": 1}',
    )
    assert main(["fit", str(path)]) == 2
    assert "battles.jsonl:1999990: field 'winner': 'bothbad' is not one of" in (
        capsys.readouterr().err
    )
    # a text weight among numbers: no single arrow table holds the column
    path = write_jsonl(
        tmp_path / "battles.jsonl",
        jsonl_around_deep_row,
        '{"model_a": "model-001", "model_b": "model-002", "winner": "tie", "weight": "heavy"}',
    )
    error = error_of(path)
    assert (error.line, error.field) == (1_999_990, "weight")
    assert "expected a number, got 'heavy'" in str(error)


# --------------------------------------------------------------------------- agreement

GOOD_NAMES = ["a", "b", "c", "x y", "d,e", 'q"t', "l\nm"]
LABELS = ["model_a", "model_b", "tie", "tie (bothbad)", "both_bad"]
GOOD_NUMBERS = st.one_of(st.integers(0, 9), st.sampled_from([0.5, 2.25, "2", " 3", "1e1", "0"]))
BAD = {
    "name": st.sampled_from(["", None, 5, True]),
    "winner": st.sampled_from(["draw", "", "Tie", None, 2]),
    "number": st.sampled_from([-1.5, -2, "nan", "inf", "x", "", "1_0", True, None]),
    "flag": st.sampled_from([2, None, "x", 0, 1, True]),
}
KIND = {"model_a": "name", "model_b": "name", "winner": "winner", "weight": "number"}
KIND |= {"tstamp": "number", "winner_model_a": "flag", "winner_model_b": "flag"}
KIND |= {"winner_tie": "flag"}
MISSING = object()


@st.composite
def battle_files(draw: st.DrawFn) -> tuple[str, list[dict[str, Any]], bool]:
    """Good rows in FastChat's or Kaggle's layout, then none, one or two defects: an odd
    value or a field left out (a defect may also happen to be harmless)."""
    layout = draw(st.sampled_from(["fastchat", "fastchat", "kaggle"]))
    optional = sorted(draw(st.sets(st.sampled_from(["weight", "tstamp"]))))
    rows = []
    for _ in range(draw(st.integers(1, 7))):
        a, b = draw(st.lists(st.sampled_from(GOOD_NAMES), min_size=2, max_size=2, unique=True))
        row: dict[str, Any] = {"model_a": a, "model_b": b}
        if layout == "kaggle":
            won = draw(st.integers(0, 2))
            row |= {name: int(k == won) for k, name in enumerate(KAGGLE_WINNERS)}
        else:
            row["winner"] = draw(st.sampled_from(LABELS))
        for name in optional:
            row[name] = draw(GOOD_NUMBERS)
        rows.append(row)
    for _ in range(draw(st.sampled_from([0, 0, 1, 1, 2]))):
        row = draw(st.sampled_from(rows))
        name = draw(st.sampled_from(sorted(row)))
        value = draw(st.one_of(BAD[KIND[name]], st.just(MISSING)))
        if value is MISSING:
            del row[name]
        else:
            row[name] = value
    return layout, rows, draw(st.booleans())


def summary(read: Any) -> tuple[Any, ...]:
    try:
        table = read()
    except BattleFileError as error:
        return ("error", str(error))
    assert isinstance(table, BattleTable) and not isinstance(table, RankingData)
    stamps = None if table.timestamp is None else table.timestamp.tolist()
    return (
        table.layout,
        table.models,
        table.model_a.tolist(),
        table.model_b.tolist(),
        table.outcome.tolist(),
        table.weight.tolist(),
        stamps,
    )


def write_file(path: Path, rows: list[dict[str, Any]], blank_lines: bool) -> None:
    kind = path.suffix
    if kind == ".jsonl":
        gap = "\n" if blank_lines else ""
        path.write_text("".join(json.dumps(row) + "\n" + gap for row in rows))
    elif kind == ".csv":
        header = sorted({key for row in rows for key in row} | {"model_a", "model_b"})
        with path.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=header, restval="")
            writer.writeheader()
            writer.writerows({k: "" if v is None else v for k, v in row.items()} for row in rows)
    else:
        names = sorted({key for row in rows for key in row})
        data = {}
        for name in names:
            values = [row.get(name) for row in rows]
            try:
                data[name] = pa.array(values)
            except (pa.ArrowException, TypeError, ValueError):  # mixed types: as text
                data[name] = pa.array([None if v is None else str(v) for v in values])
        pq.write_table(pa.table(data), path)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(case=battle_files(), kind=st.sampled_from([".jsonl", ".csv", ".parquet"]))
def test_columnar_and_per_row_readers_agree_on_random_small_files(
    tmp_path: Path, case: tuple[str, list[dict[str, Any]], bool], kind: str
) -> None:
    _, rows, blank_lines = case
    path = tmp_path / f"battles{kind}"
    write_file(path, rows, blank_lines)
    fast = summary(lambda: read_battle_table(path, text=False, style=False, categories=False))
    reference = summary(lambda: _read_by_rows(path.read_bytes(), str(path), kind[1:]))  # type: ignore[arg-type]
    assert fast == reference


def test_a_boolean_among_numbers_is_no_number_to_either_reader(tmp_path: Path) -> None:
    """Found by the property above: arrow would read true as 1.0 beside numbers."""
    row = {"model_a": "a", "model_b": "b", "winner": "model_a", "weight": 0}
    rows = [row | {"tstamp": 0}, row | {"tstamp": 0.5}, row | {"tstamp": True}]
    path = tmp_path / "f.jsonl"
    write_file(path, rows, blank_lines=False)
    fast = summary(lambda: read_battle_table(path, text=False, style=False, categories=False))
    assert fast == summary(lambda: _read_by_rows(path.read_bytes(), str(path), "jsonl"))
    assert fast[0] == "error" and "got True" in fast[1]


def test_blank_lines_count_in_json_lines_numbers(tmp_path: Path) -> None:
    good = [{"model_a": "a", "model_b": "b", "winner": "both_bad", "weight": "2"}]
    path = tmp_path / "f.jsonl"
    write_file(path, good + [good[0] | {"weight": math.inf}], blank_lines=True)
    error = error_of(path)
    assert (error.line, error.field) == (3, "weight")
    assert "expected a finite number, got inf" in str(error)
    write_file(path, good * 2, blank_lines=True)
    table = read_battle_table(path)
    assert table.weight.tolist() == [2.0, 2.0] and table.outcome.tolist() == [3, 3]


def test_without_pyarrow_json_lines_and_csv_are_still_read_row_by_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = [
        {"model_a": "a", "model_b": "b", "winner": "both_bad", "weight": 2},
        {"model_a": "b", "model_b": "c", "winner": "model_a", "weight": 1},
    ]
    tables = {}
    for kind in (".jsonl", ".csv"):
        path = tmp_path / f"battles{kind}"
        write_file(path, rows, blank_lines=False)
        tables[kind] = summary(lambda path=path: read_battle_table(path))
    monkeypatch.setitem(__import__("sys").modules, "pyarrow", None)
    for kind, expected in tables.items():
        path = tmp_path / f"battles{kind}"
        assert summary(lambda path=path: read_battle_table(path)) == expected
    assert tables[".jsonl"][4] == [3, 2] and tables[".csv"][5] == [2.0, 1.0]


def test_a_bad_record_deep_in_a_pretty_printed_json_list_is_named_by_its_first_line(
    tmp_path: Path,
) -> None:
    rows = [
        {"model_a": f"m{k % 7}", "model_b": f"m{(k + 1) % 7}", "winner": "tie"}
        for k in range(100_000)
    ]
    rows[99_000]["winner"] = "draw"
    text = json.dumps(rows, indent=2)  # each record spans 5 lines: counting is linear
    path = tmp_path / "clean_battle.json"
    path.write_text(text)
    error = error_of(path)
    opening = text.rfind("{", 0, text.index('"draw"'))
    assert (error.line, error.field) == (text.count("\n", 0, opening) + 1, "winner")
    assert error.line == 2 + 5 * 99_000


def test_a_parquet_dictionary_with_unused_names_lists_only_models_that_battled(
    tmp_path: Path,
) -> None:
    names = pa.array(["b", "ghost", "a"])  # as a pandas categorical with an unused category
    table = pa.table(
        {
            "model_a": pa.DictionaryArray.from_arrays(pa.array([0, 2, 0], pa.int32()), names),
            "model_b": pa.DictionaryArray.from_arrays(pa.array([2, 0, 2], pa.int32()), names),
            "winner": ["model_a", "tie", "model_b"],
        }
    )
    path = tmp_path / "battles.parquet"
    pq.write_table(table, path)
    battles = read_battle_table(path)
    assert battles.models == ("a", "b")
    assert battles.names("a").tolist() == ["b", "a", "b"]
    assert battles.to_battles().matches_per_model().tolist() == [3, 3]

"""Battle files in LMArena's current layout and Kaggle's 55k layout, read and fitted.

The fixture files are written here, in the column layouts of the public releases:
LMArena's arena-human-preference-100k / -140k (``winner`` with ``both_bad``,
``conv_metadata`` per-side style counts, ``category_tag`` nested flags, conversations,
ISO ``timestamp``) and Kaggle's "LMSYS - Chatbot Arena Human Preference Predictions"
(``winner_model_a`` / ``winner_model_b`` / ``winner_tie`` and JSON-encoded text lists).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ratings.__main__ import main
from ratings.bootstrap import sandwich_bradley_terry
from ratings.bradley_terry import fit_bradley_terry
from ratings.data import Outcome, battles_from_arrays
from ratings.io import BattleFileError, read_battle_table
from ratings.style import fit_style_controlled_bt

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

MODELS = ("gpt-4o-2024-05-13", "claude-3-5-sonnet-20240620", "gemini-1.5-pro", "verbose-70b")
CRITERIA = (
    "specificity",
    "domain_knowledge",
    "complexity",
    "problem_solving",
    "creativity",
    "technical_accuracy",
    "real_world",
)


def side_metadata(rng: np.random.Generator, side: str, verbose: bool) -> dict[str, Any]:
    tokens = int(np.exp(rng.normal(6.4 if verbose else 5.6, 0.4)))
    headers = rng.poisson(3.0 if verbose else 0.5, 6).tolist()
    return {
        f"sum_assistant_{side}_tokens": tokens,
        f"header_count_{side}": {f"h{k + 1}": int(c) for k, c in enumerate(headers)},
        f"list_count_{side}": {
            "ordered": int(rng.poisson(4 if verbose else 1)),
            "unordered": int(rng.poisson(2)),
        },
        f"bold_count_{side}": {"**": int(rng.poisson(3 if verbose else 1)), "__": 0},
    }


def lmarena_records(n: int = 3000, seed: int = 1) -> list[dict[str, Any]]:
    """Four models of equal strength; "verbose-70b" writes longer, more formatted answers
    and judges prefer the longer answer. About a third of the prompts are math."""
    rng = np.random.default_rng(seed)
    records = []
    for k in range(n):
        a, b = rng.choice(len(MODELS), 2, replace=False)
        meta_a = side_metadata(rng, "a", MODELS[a] == "verbose-70b")
        meta_b = side_metadata(rng, "b", MODELS[b] == "verbose-70b")
        la, lb = meta_a["sum_assistant_a_tokens"], meta_b["sum_assistant_b_tokens"]
        p_a = 1 / (1 + np.exp(-4.0 * (la - lb) / (la + lb)))
        draw = rng.random()
        winner = (
            "tie"
            if draw < 0.08
            else "both_bad"
            if draw < 0.12
            else "model_a"
            if rng.random() < p_a
            else "model_b"
        )
        criteria = {name: bool(rng.random() < 0.7) for name in CRITERIA}
        prompt = f"Question {k}: explain this."
        records.append(
            {
                "id": f"{k:08x}-0000-4000-8000-000000000000",
                "model_a": MODELS[a],
                "model_b": MODELS[b],
                "winner": winner,
                "evaluation_order": 1,
                "evaluation_session_id": f"{k // 2:08x}-1111-4000-8000-000000000000",
                # the 140k release's turns: content is a list of typed parts
                "conversation_a": [
                    {"role": "user", "content": [{"type": "text", "text": prompt}]},
                    {"role": "assistant", "content": [{"type": "text", "text": "# Answer"}]},
                ],
                "conversation_b": [
                    {"role": "user", "content": [{"type": "text", "text": prompt}]},
                    {"role": "assistant", "content": [{"type": "text", "text": "Short."}]},
                ],
                "conv_metadata": {
                    "sum_user_tokens": 9,
                    **meta_a,
                    **meta_b,
                    "context_a_tokens": 9,
                    "context_b_tokens": 9,
                    "turns": 1,
                },
                "category_tag": {
                    "criteria_v0.1": criteria,
                    "if_v0.1": {"if": bool(rng.random() < 0.2), "score": int(rng.integers(0, 6))},
                    "math_v0.1": {"math": bool(rng.random() < 0.35)},
                    "creative_writing_v0.1": {"creative_writing": False, "score": "no"},
                },
                "language": "en",
                "is_code": bool(rng.random() < 0.25),
                "timestamp": f"2024-07-{1 + k % 28:02d}T12:{k % 60:02d}:00.250000",
            }
        )
    return records


def write_jsonl(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(record) + "\n" for record in records))
    return path


def write_parquet(path: Path, records: list[dict[str, Any]]) -> Path:
    pq.write_table(pa.Table.from_pylist(records), path)
    return path


@pytest.fixture(scope="module")
def records() -> list[dict[str, Any]]:
    return lmarena_records()


@pytest.fixture(scope="module")
def lmarena_files(
    records: list[dict[str, Any]], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("lmarena")
    (folder / "arena-100k.json").write_text(json.dumps(records, indent=1))
    return {
        "jsonl": write_jsonl(folder / "arena-100k.jsonl", records),
        "parquet": write_parquet(folder / "arena-100k.parquet", records),
        "json": folder / "arena-100k.json",  # a JSON list: read record by record
    }


def counts(record: dict[str, Any], side: str) -> list[float]:
    """FastChat's rule, written out: a count that is a mapping is summed."""
    meta = record["conv_metadata"]
    return [
        float(meta[f"sum_assistant_{side}_tokens"]),
        float(sum(meta[f"header_count_{side}"].values())),
        float(sum(meta[f"list_count_{side}"].values())),
        float(sum(meta[f"bold_count_{side}"].values())),
    ]


def fastchat_style_matrix(records: list[dict[str, Any]]) -> np.ndarray[Any, Any]:
    """(a - b) / (a + b + 1), standardised: FastChat's preprocess_for_style, independently."""
    a = np.array([counts(r, "a") for r in records])
    b = np.array([counts(r, "b") for r in records])
    diff = (a - b) / (a + b + 1)
    return np.asarray((diff - diff.mean(axis=0)) / diff.std(axis=0))


def plain_battles(records: list[dict[str, Any]]) -> Any:
    labels = {"both_bad": "tie (bothbad)"}
    return battles_from_arrays(
        [r["model_a"] for r in records],
        [r["model_b"] for r in records],
        [labels.get(r["winner"], r["winner"]) for r in records],
    )


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    assert main(["fit", *args, "--output", "json"]) == 0
    payload: dict[str, Any] = json.loads(capsys.readouterr().out)
    return payload


# --------------------------------------------------------------------------- reading


@pytest.mark.parametrize("kind", ["jsonl", "parquet", "json"])
def test_an_lmarena_file_reads_both_bad_style_counts_categories_and_text(
    kind: str, records: list[dict[str, Any]], lmarena_files: dict[str, Path]
) -> None:
    table = read_battle_table(lmarena_files[kind])
    assert table.layout == "lmarena" and len(table) == len(records)
    assert table.models == tuple(sorted(MODELS))
    both_bad = np.array([r["winner"] == "both_bad" for r in records])
    assert both_bad.any()
    assert (table.outcome[both_bad] == Outcome.TIE_BOTHBAD).all()
    assert table.names("a").tolist() == [r["model_a"] for r in records]
    assert table.style_a is not None and table.style_b is not None
    assert table.style_a.tolist() == [counts(r, "a") for r in records]
    assert table.style_b.tolist() == [counts(r, "b") for r in records]
    math_flags = [r["category_tag"]["math_v0.1"]["math"] for r in records]
    hard = [sum(r["category_tag"]["criteria_v0.1"].values()) >= 6 for r in records]
    assert table.categories["math"].tolist() == math_flags
    assert table.categories["hard_prompt"].tolist() == hard
    assert table.categories["code"].tolist() == [r["is_code"] for r in records]
    assert not table.categories["creative_writing"].any()
    assert table.timestamp is not None
    assert table.timestamp[0] == pytest.approx(1719835200.25)  # 2024-07-01T12:00:00.25 UTC
    first_turns = table.text["conversation_a"][0].as_py()
    assert first_turns[0] == {
        "role": "user",
        "content": [{"type": "text", "text": "Question 0: explain this."}],
    }


def test_an_lmarena_csv_from_pandas_keeps_nested_fields_as_python_reprs_and_still_reads(
    tmp_path: Path, records: list[dict[str, Any]], lmarena_files: dict[str, Path]
) -> None:
    flat = [
        {k: str(v) if isinstance(v, (dict, list)) else v for k, v in r.items()} for r in records
    ]  # what DataFrame.to_csv writes for dict and list cells
    table = read_battle_table(write_csv(tmp_path / "arena.csv", flat))
    expected = read_battle_table(lmarena_files["parquet"])
    assert table.layout == "lmarena"
    assert table.style_a is not None and expected.style_a is not None
    assert np.array_equal(table.style_a, expected.style_a)
    for name in ("math", "hard_prompt", "if", "code"):
        assert np.array_equal(table.categories[name], expected.categories[name]), name


def test_a_category_filter_keeps_the_rows_and_drops_models_left_without_battles(
    lmarena_files: dict[str, Path],
) -> None:
    table = read_battle_table(lmarena_files["parquet"], text=False, style=False)
    only_two = (table.names("a") != "verbose-70b") & (table.names("b") != "verbose-70b")
    kept = table.take(only_two & table.categories["math"])
    assert "verbose-70b" not in kept.models and len(kept.models) == 3
    assert (
        kept.names("a").tolist() == table.names("a")[only_two & table.categories["math"]].tolist()
    )
    row = int(np.flatnonzero(only_two & table.categories["math"])[5])
    assert kept.line_of(5) == row + 1  # Parquet lines are rows, counted from 1


KAGGLE = ("winner_model_a", "winner_model_b", "winner_tie")


def kaggle_rows() -> list[dict[str, Any]]:
    """Kaggle 55k rows: prompt/response as JSON-encoded lists (commas, quotes, newlines)."""
    rng = np.random.default_rng(7)
    rows = []
    for k in range(400):
        a, b = rng.choice(3, 2, replace=False)
        result = rng.choice(3, p=[0.45, 0.35, 0.2])
        rows.append(
            {
                "id": 30192 + k,
                "model_a": MODELS[a],
                "model_b": MODELS[b],
                "prompt": json.dumps([f'Is "{k}" prime, or not?', "And, why?"]),
                # indented JSON: literal newlines inside a quoted CSV field
                "response_a": json.dumps([f"Line one,\nline two about {k}.", "Turn 2"], indent=1),
                "response_b": json.dumps(["No."]),
                "winner_model_a": int(result == 0),
                "winner_model_b": int(result == 1),
                "winner_tie": int(result == 2),
            }
        )
    return rows


def write_csv(path: Path, rows: list[dict[str, Any]]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_a_kaggle_55k_csv_reads_its_three_winner_columns_and_keeps_the_text(
    tmp_path: Path,
) -> None:
    rows = kaggle_rows()
    table = read_battle_table(write_csv(tmp_path / "train.csv", rows))
    assert table.layout == "kaggle"
    expected = [
        Outcome.A_WINS
        if r["winner_model_a"]
        else Outcome.B_WINS
        if r["winner_model_b"]
        else Outcome.TIE
        for r in rows
    ]
    assert table.outcome.tolist() == expected
    assert json.loads(table.text["prompt"][3].as_py()) == ['Is "3" prime, or not?', "And, why?"]
    assert json.loads(table.text["response_a"][3].as_py())[0] == "Line one,\nline two about 3."
    assert table.style_a is None and table.categories == {}


def test_a_kaggle_row_with_two_winners_is_reported_by_its_csv_line(tmp_path: Path) -> None:
    rows = kaggle_rows()
    rows[200] |= {"winner_model_a": 1, "winner_model_b": 1, "winner_tie": 0}
    path = write_csv(tmp_path / "train.csv", rows)
    with pytest.raises(BattleFileError) as error:
        read_battle_table(path)

    def lines(row: dict[str, Any]) -> int:
        return 1 + sum(str(value).count("\n") for value in row.values())

    assert lines(rows[0]) == 4  # the header is line 1, each row spans 4 lines
    assert error.value.line == 1 + sum(lines(row) for row in rows[:201])
    assert error.value.field == "winner_tie"
    assert "exactly one of winner_model_a, winner_model_b, winner_tie must be 1" in str(error.value)


# --------------------------------------------------------------------------- the CLI


def test_fit_with_style_control_matches_fastchat_normalisation_and_discounts_length(
    records: list[dict[str, Any]],
    lmarena_files: dict[str, Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    controlled = run_json(capsys, str(lmarena_files["parquet"]), "--style-control")
    plain = run_json(capsys, str(lmarena_files["parquet"]))
    direct = fit_style_controlled_bt(plain_battles(records), fastchat_style_matrix(records))
    ratings = {row["model"]: row["rating"] for row in controlled["ratings"]}
    assert ratings == pytest.approx(direct.as_dict(), abs=1e-6)
    coefficients = controlled["params"]["coefficients"]
    assert list(coefficients) == ["length", "headers", "lists", "bold"]
    assert coefficients["length"] > 0.5  # judges here reward length, nothing else
    plain_ratings = {row["model"]: row["rating"] for row in plain["ratings"]}
    assert plain["ratings"][0]["model"] == "verbose-70b"
    assert ratings["verbose-70b"] < plain_ratings["verbose-70b"] - 50
    assert controlled["params"]["layout"] == "lmarena"


def test_fit_in_one_category_equals_a_fit_of_those_battles_alone(
    records: list[dict[str, Any]],
    lmarena_files: dict[str, Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    payload = run_json(capsys, str(lmarena_files["jsonl"]), "--category", "math")
    math_records = [r for r in records if r["category_tag"]["math_v0.1"]["math"]]
    expected = fit_bradley_terry(plain_battles(math_records)).as_dict()
    assert {row["model"]: row["rating"] for row in payload["ratings"]} == pytest.approx(
        expected, abs=1e-9
    )
    assert payload["params"]["category"] == "math"
    assert payload["params"]["battles_in_category"] == len(math_records) < len(records)
    both = run_json(capsys, str(lmarena_files["parquet"]), "--category", "math", "--style-control")
    direct = fit_style_controlled_bt(
        plain_battles(math_records), fastchat_style_matrix(math_records)
    )
    assert {row["model"]: row["rating"] for row in both["ratings"]} == pytest.approx(
        direct.as_dict(), abs=1e-6
    )


def test_hard_prompt_and_code_categories_follow_lmarena_definitions(
    records: list[dict[str, Any]],
    lmarena_files: dict[str, Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    hard = run_json(capsys, str(lmarena_files["parquet"]), "--category", "hard_prompt")
    n_hard = sum(sum(r["category_tag"]["criteria_v0.1"].values()) >= 6 for r in records)
    assert hard["params"]["battles_in_category"] == n_hard
    code = run_json(capsys, str(lmarena_files["jsonl"]), "--category", "code")
    assert code["params"]["battles_in_category"] == sum(r["is_code"] for r in records)


def test_category_and_style_errors_name_the_field(
    tmp_path: Path,
    records: list[dict[str, Any]],
    lmarena_files: dict[str, Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["fit", str(lmarena_files["jsonl"]), "--category", "poetry"]) == 2
    err = capsys.readouterr().err
    assert "unknown category 'poetry'" in err and "hard_prompt" in err
    fastchat = tmp_path / "fastchat.jsonl"
    fastchat.write_text(
        '{"model_a": "a", "model_b": "b", "winner": "model_a"}\n'
        '{"model_a": "b", "model_b": "a", "winner": "both_bad"}\n'
    )
    assert main(["fit", str(fastchat), "--category", "math"]) == 2
    assert "fastchat.jsonl:1: field 'category_tag': no category_tag.math_v0.1.math" in (
        capsys.readouterr().err
    )
    assert main(["fit", str(fastchat), "--style-control"]) == 2
    assert "fastchat.jsonl:1: field 'conv_metadata': missing column" in capsys.readouterr().err
    broken = json.loads(json.dumps(records[:50]))  # a deep copy: the fixture is shared
    del broken[30]["conv_metadata"]["bold_count_b"]
    path = write_jsonl(tmp_path / "broken.jsonl", broken)
    assert main(["fit", str(path), "--style-control"]) == 2
    assert "broken.jsonl:31: field 'conv_metadata.bold_count_b'" in capsys.readouterr().err


def test_sandwich_intervals_and_the_default_bootstrap_rounds(
    records: list[dict[str, Any]],
    lmarena_files: dict[str, Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    sandwich = run_json(capsys, str(lmarena_files["parquet"]), "--ci", "sandwich")
    expected = sandwich_bradley_terry(plain_battles(records))
    lows = {row["model"]: row["ci_low"] for row in sandwich["ratings"]}
    assert lows == pytest.approx(dict(zip(expected.models, expected.ci_low, strict=True)))
    assert sandwich["params"]["ci"] == "sandwich"
    boot = run_json(capsys, str(lmarena_files["parquet"]), "--ci", "bootstrap")
    assert boot["params"]["bootstrap"] == 100
    assert all(row["ci_low"] < row["rating"] < row["ci_high"] for row in boot["ratings"])
    with pytest.raises(SystemExit) as usage:
        main(["fit", str(lmarena_files["parquet"]), "--ci", "sandwich", "--method", "elo"])
    assert usage.value.code == 2


def test_models_below_min_verdicts_stay_listed_as_preliminary(
    tmp_path: Path, records: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    newcomer = [
        {"model_a": "newcomer", "model_b": MODELS[k % 4], "winner": w}
        for k, w in enumerate(["model_a", "model_b", "tie", "model_a", "both_bad"])
    ]
    fastchat = [{key: r[key] for key in ("model_a", "model_b", "winner")} for r in records[:600]]
    path = write_jsonl(tmp_path / "battles.jsonl", fastchat + newcomer)
    payload = run_json(capsys, str(path), "--min-verdicts", "50")
    flags = {row["model"]: row["preliminary"] for row in payload["ratings"]}
    assert flags == {"newcomer": True} | {model: False for model in MODELS}
    assert payload["params"]["min_verdicts"] == 50
    assert main(["fit", str(path), "--min-verdicts", "50"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[-1] == "note"
    newcomer_line = next(line for line in table if "newcomer" in line)
    assert newcomer_line.endswith("preliminary")
    assert sum(line.endswith("preliminary") for line in table) == 1


def test_fit_on_a_kaggle_csv_equals_the_fit_of_the_same_battles_in_fastchat_form(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = kaggle_rows()
    kaggle = run_json(capsys, str(write_csv(tmp_path / "train.csv", rows)), "--ci", "sandwich")
    labels = ("model_a", "model_b", "tie")
    fastchat = [
        {
            "model_a": r["model_a"],
            "model_b": r["model_b"],
            "winner": next(label for label, flag in zip(labels, KAGGLE, strict=True) if r[flag]),
        }
        for r in rows
    ]
    expected = run_json(
        capsys, str(write_jsonl(tmp_path / "same.jsonl", fastchat)), "--ci", "sandwich"
    )
    assert kaggle["ratings"] == expected["ratings"]
    assert kaggle["params"]["layout"] == "kaggle" and expected["params"]["layout"] == "fastchat"


def test_style_counts_that_are_numbers_in_some_rows_and_mappings_in_others_are_summed(
    tmp_path: Path, records: list[dict[str, Any]]
) -> None:
    mixed = json.loads(json.dumps(records[:300]))
    for record in mixed[::3]:  # older exports: plain numbers, as FastChat also accepts
        meta = record["conv_metadata"]
        for key in ("header_count_a", "list_count_b", "bold_count_a"):
            meta[key] = sum(meta[key].values())
    table = read_battle_table(write_jsonl(tmp_path / "mixed.jsonl", mixed))
    assert table.style_a is not None and table.style_b is not None
    assert table.style_a.tolist() == [counts(r, "a") for r in records[:300]]
    assert table.style_b.tolist() == [counts(r, "b") for r in records[:300]]

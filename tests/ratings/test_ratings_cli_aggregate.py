"""``python -m ratings aggregate``: per-task scores or rankings in, orders side by side out,
exit 2 with the line and field on bad input (the reader is ``ratings.task_table``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ratings.__main__ import main

# Atari-style agent x game scores: higher is better, an empty cell a game not played.
WIDE = """agent,pong,breakout,seaquest,skiing
dqn,18.9,401.2,5286,
rainbow,20.9,417.5,15898.9,-12958
human,9.3,30.5,42054.7,-4336.9
random,-20.7,1.7,68.4,
"""
# The same table, long: one row per (agent, game), the unplayed games absent.
LONG_ROWS = [
    (agent, game, score)
    for agent, *scores in (line.split(",") for line in WIDE.splitlines()[1:])
    for game, score in zip(("pong", "breakout", "seaquest", "skiing"), scores, strict=True)
    if score
]


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    assert main(["aggregate", *args, "--json"]) == 0
    payload: dict[str, Any] = json.loads(capsys.readouterr().out)
    return payload


def error_of(capsys: pytest.CaptureFixture[str], path: str) -> str:
    assert main(["aggregate", path]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    return captured.err.strip()


def test_a_wide_score_table_ranks_the_agents_by_every_method(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    payload = run_json(capsys, write(tmp_path, "atari.csv", WIDE))
    assert payload["input"] == {"layout": "wide", "tasks": 4, "models": 4, "left_out": []}
    orders = {name: method["order"] for name, method in payload["methods"].items()}
    # rainbow beats dqn on 3 of 3 shared games, human on 2 of 4 (pong, breakout)
    assert orders["kemeny"] == ["rainbow", "dqn", "human", "random"]
    assert orders["borda"] == ["rainbow", "human", "dqn", "random"]
    assert payload["methods"]["copeland"]["scores"] == {
        "rainbow": 2.5,
        "dqn": 2.0,
        "human": 1.5,
        "random": 0.0,
    }
    assert payload["kendall_tau"]["kemeny"]["copeland"] == pytest.approx(1.0)


def test_a_long_csv_and_long_json_lines_give_the_wide_tables_orders(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wide = run_json(capsys, write(tmp_path, "wide.csv", WIDE))
    csv_text = "model,task,score\n" + "".join(f"{a},{g},{s}\n" for a, g, s in LONG_ROWS)
    jsonl_text = "".join(
        json.dumps({"agent": a, "task": g, "score": float(s)}) + "\n" for a, g, s in LONG_ROWS
    )
    for name, text in (("long.csv", csv_text), ("long.jsonl", jsonl_text)):
        long = run_json(capsys, write(tmp_path, name, text))
        assert long["input"]["layout"] == "long"
        assert long["methods"] == wide["methods"]


def test_per_task_rankings_in_json_lines_are_votes_with_their_weights(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [
        {"task": "math", "ranking": [["a"], ["b", "c"]], "weight": 2},
        {"task": "code", "ranking": [["c"], ["b"], ["a"]]},
    ]
    path = write(tmp_path, "ranks.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
    payload = run_json(capsys, path, "--method", "borda")
    assert payload["input"]["layout"] == "rankings" and payload["input"]["tasks"] == 2
    # a: 2 x 2 + 0; b: 2 x 0.5 + 1; c: 2 x 0.5 + 2
    assert payload["methods"]["borda"]["scores"] == {"a": 4.0, "c": 3.0, "b": 2.0}
    assert list(payload["methods"]) == ["borda"] and payload["kendall_tau"] == {"borda": {}}


def test_the_table_shows_each_methods_order_side_by_side_and_the_taus(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["aggregate", write(tmp_path, "atari.csv", WIDE)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["rank", "borda", "score", "copeland", "score"] + [
        "kemeny",
        "score",
        "sco",
        "score",
    ]
    assert lines[1].split()[:7] == ["1", "rainbow", "8.00", "rainbow", "2.50", "rainbow", "3.00"]
    assert "4 tasks (wide), 4 models" in lines
    assert "kemeny: exact" in lines
    tau_row = next(line for line in lines if line.startswith("copeland "))
    assert tau_row.split() == ["copeland", "0.667", "1.000", "0.667"]


def test_a_game_only_one_agent_played_is_left_out_and_said_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "t.csv", "model,pong,solo\na,1,\nb,2,7\n")
    payload = run_json(capsys, path)
    assert payload["input"]["left_out"] == ["solo"] and payload["input"]["tasks"] == 1
    assert main(["aggregate", path]) == 0
    assert "left out (fewer than two scored models): solo" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("empty.csv", "", "empty.csv:1: empty file: no scores or rankings"),
        ("blank.jsonl", "\n \n", "blank.jsonl:1: empty file"),
        ("header.csv", "model,pong\n", "header.csv:1: no scores in the file"),
        ("wide.csv", "model,pong\na,1\nb,high\n", "wide.csv:3: field 'pong': not a number: 'high'"),
        ("nan.csv", "model,pong\na,1\nb,nan\n", "nan.csv:3: field 'pong': not a finite number"),
        (
            "dup.csv",
            "model,pong\na,1\nb,2\na,3\n",
            "dup.csv:4: field 'model': duplicate model 'a', first on line 2",
        ),
        (
            "dup_long.csv",
            "model,task,score\na,pong,1\nb,pong,2\na,pong,3\n",
            "dup_long.csv:4: field 'score': duplicate (model, task) ('a', 'pong'), first on line 2",
        ),
        (
            "bad_long.csv",
            "agent,task,score\na,pong,1\nb,pong,x1\n",
            "bad_long.csv:3: field 'score': not a number: 'x1'",
        ),
        (
            "bad.jsonl",
            '{"model": "a", "task": "t", "score": 1}\n{"model": "b", "task": "t", "score": "?"}\n',
            "bad.jsonl:2: field 'score': not a number: '?'",
        ),
        (
            "dup.jsonl",
            '{"model": "a", "task": "t", "score": 1}\n{"model": "a", "task": "t", "score": 2}\n',
            "dup.jsonl:2: field 'score': duplicate (model, task) ('a', 't'), first on line 1",
        ),
        (
            "nomodel.jsonl",
            '{"task": "t", "score": 1}\n',
            "nomodel.jsonl:1: field 'model': missing (or 'agent')",
        ),
        (
            "ranks.jsonl",
            '{"task": "t", "ranking": [["a"], ["b"]]}\n{"task": "t", "ranking": [["b"], ["a"]]}\n',
            "ranks.jsonl:2: field 'task': duplicate task 't', first on line 1",
        ),
        (
            "badrank.jsonl",
            '{"ranking": [["a"], ["b"]]}\n{"ranking": [["a"], ["a"]]}\n',
            "badrank.jsonl:2: field 'ranking': 'a' listed twice",
        ),
        (
            "alone.csv",
            "model,pong,pitfall\na,1,\nb,,2\n",
            "alone.csv:1: field 'task': no task has two scored models: nothing to rank",
        ),
        ("twice.csv", "model,pong,pong\na,1,2\n", "twice.csv:1: field 'pong': column named twice"),
        ("long.csv", "model,pong\na,1,2\n", "long.csv:2: more cells than header columns"),
    ],
)
def test_bad_input_names_the_line_and_field_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, text: str, message: str
) -> None:
    error = error_of(capsys, write(tmp_path, name, text))
    assert error.startswith("error: " + str(tmp_path / name).rsplit(name, 1)[0])
    assert message in error


def test_a_missing_file_is_an_error_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = str(tmp_path / "nowhere.csv")
    assert error_of(capsys, path) == f"error: {path}: No such file or directory"

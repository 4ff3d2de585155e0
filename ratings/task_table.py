"""Reading rankings across tasks: per-task scores or per-task rankings, one vote per task.

Layouts (``read_task_rankings``), recognised by their content:

- Long scores, CSV or JSON lines: one row per (model, task) with ``model`` (or ``agent``),
  ``task`` and ``score``. Higher is better; an empty or null score, like a row that is not
  there, means the model was not run on that task.
- Wide scores, CSV: the Atari-57 style agent x game table. The first column names the
  model (any header), every other column is a task; an empty cell is a task the model was
  not run on.
- Rankings, JSON lines: ``{"ranking": [["best"], ["tied", "tied"], ...], "task": "name",
  "weight": 1}`` per task (``task`` and ``weight`` optional), checked as ``ratings.io``
  checks K-wise rankings.

Scores become per-task rankings with ``ratings.aggregate.rankings_from_scores``: equal
scores tie, and a task with fewer than two scored models ranks nothing and is left out
(``TaskRankings.left_out``). Every problem is a ``BattleFileError`` naming the 1-based
line (the CSV header is line 1) and the field: a score that is not a finite number, a
(model, task) given twice, a missing column, an empty file.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ratings.aggregate import rankings_from_scores
from ratings.io import BattleFileError, RankingData, read_rating_table

__all__ = ["TaskRankings", "read_task_rankings"]

Tiers = tuple[tuple[str, ...], ...]
Layout = Literal["long", "wide", "rankings"]
MODEL_FIELDS = ("model", "agent")


@dataclass(frozen=True)
class TaskRankings:
    """One tiered ranking (a vote) per task, with its weight, and the tasks left out."""

    tasks: tuple[str, ...]
    rankings: tuple[Tiers, ...]
    weights: tuple[float, ...]
    layout: Layout
    left_out: tuple[str, ...] = ()

    @property
    def models(self) -> tuple[str, ...]:
        return tuple(sorted({name for r in self.rankings for tier in r for name in tier}))


@dataclass
class _Scores:
    """Scores per task and model as read, with the line each came from."""

    source: str
    values: dict[str, dict[str, float]]
    lines: dict[tuple[str, str], int]

    def add(self, model: str, task: str, raw: Any, line: int, field: str) -> None:
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            return  # not run on this task
        score = _finite(raw, self.source, line, field)
        first = self.lines.get((model, task))
        if first is not None:
            raise BattleFileError(
                self.source,
                line,
                f"duplicate (model, task) ({model!r}, {task!r}), first on line {first}",
                field,
            )
        self.lines[model, task] = line
        self.values.setdefault(task, {})[model] = score


def _finite(raw: Any, source: str, line: int, field: str) -> float:
    if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
        raise BattleFileError(source, line, f"expected a number, got {raw!r}", field)
    try:
        value = float(raw)
    except ValueError:
        raise BattleFileError(source, line, f"not a number: {raw!r}", field) from None
    if not math.isfinite(value):
        raise BattleFileError(source, line, f"not a finite number: {raw!r}", field)
    return value


def _name(raw: Any, source: str, line: int, field: str) -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise BattleFileError(source, line, f"expected a non-empty name, got {raw!r}", field)
    return raw.strip()


def _long_record(scores: _Scores, values: Mapping[str, Any], line: int) -> None:
    model_field = next((f for f in MODEL_FIELDS if f in values), None)
    if model_field is None:
        raise BattleFileError(scores.source, line, "missing (or 'agent')", "model")
    for name in ("task", "score"):
        if name not in values:
            raise BattleFileError(scores.source, line, "missing", name)
    model = _name(values[model_field], scores.source, line, model_field)
    task = _name(values["task"], scores.source, line, "task")
    scores.add(model, task, values["score"], line, "score")


def _csv_rows(text: str) -> Iterator[tuple[int, list[str]]]:
    reader = csv.reader(io.StringIO(text))
    for row in reader:
        if any(cell.strip() for cell in row):
            yield reader.line_num, row


def _read_csv(text: str, source: str) -> tuple[_Scores, Layout]:
    rows = _csv_rows(text)
    _, header = next(rows, (1, []))
    header = [name.strip() for name in header]
    scores = _Scores(source, {}, {})
    long = "task" in header and "score" in header and any(f in header for f in MODEL_FIELDS)
    for position, name in enumerate(header):
        if not name and (long or position):
            raise BattleFileError(source, 1, f"column {position + 1} has no name in the header")
        if name in header[:position]:
            raise BattleFileError(source, 1, "column named twice in the header", name)
    if len(header) < 2:
        raise BattleFileError(
            source, 1, "expected a model column and task columns (or model, task, score)"
        )
    models: dict[str, int] = {}
    for line, row in rows:
        if len(row) > len(header):
            raise BattleFileError(source, line, "more cells than header columns")
        cells = dict(zip(header, row + [""] * (len(header) - len(row)), strict=True))
        if long:
            _long_record(scores, cells, line)
            continue
        model = _name(row[0], source, line, header[0] or "model")
        if model in models:
            raise BattleFileError(
                source,
                line,
                f"duplicate model {model!r}, first on line {models[model]}",
                header[0] or "model",
            )
        models[model] = line
        for task in header[1:]:
            scores.add(model, task, cells[task], line, task)
    return scores, "long" if long else "wide"


def _jsonl_records(text: str, source: str) -> Iterator[tuple[int, Any]]:
    for number, line in enumerate(text.split("\n"), start=1):
        if line.strip():
            try:
                yield number, json.loads(line)
            except json.JSONDecodeError as exc:
                raise BattleFileError(source, number, f"invalid JSON ({exc.msg})") from None


def _read_long_jsonl(records: list[tuple[int, Any]], source: str) -> _Scores:
    scores = _Scores(source, {}, {})
    for line, values in records:
        if not isinstance(values, Mapping):
            raise BattleFileError(source, line, "each line must be a JSON object")
        _long_record(scores, values, line)
    return scores


def _read_rankings(path: Path, records: list[tuple[int, Any]]) -> TaskRankings:
    source = str(path)
    data = read_rating_table(path, file_format="jsonl", text=False, style=False, categories=False)
    if not isinstance(data, RankingData):  # the first record has a ranking: cannot happen
        raise BattleFileError(source, 1, "expected rankings", "ranking")
    by_line = dict(records)
    tasks: dict[str, int] = {}
    for line in data.lines:
        raw = by_line[line].get("task", f"line {line}")
        task = _name(raw, source, line, "task")
        if task in tasks:
            raise BattleFileError(
                source, line, f"duplicate task {task!r}, first on line {tasks[task]}", "task"
            )
        tasks[task] = line
    return TaskRankings(tuple(tasks), data.rankings, data.weights, "rankings")


def _from_scores(scores: _Scores, layout: Layout) -> TaskRankings:
    if not scores.values:
        raise BattleFileError(scores.source, 1, "no scores in the file")
    rankings = rankings_from_scores(scores.values)
    left_out = tuple(task for task in scores.values if task not in rankings)
    if not rankings:
        raise BattleFileError(
            scores.source, 1, "no task has two scored models: nothing to rank", "task"
        )
    return TaskRankings(
        tuple(rankings),
        tuple(rankings.values()),
        (1.0,) * len(rankings),
        layout,
        left_out,
    )


def read_task_rankings(path: str | Path) -> TaskRankings:
    """Per-task rankings from a long or wide score table or a rankings file (module
    docstring). Raises ``BattleFileError`` naming the line and field at fault."""
    path = Path(path)
    source = str(path)
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig").replace("\r\n", "\n").replace("\r", "\n")
    except UnicodeDecodeError as exc:
        raise BattleFileError(source, 1, f"not UTF-8 text ({exc.reason})") from None
    if not text.strip():
        raise BattleFileError(source, 1, "empty file: no scores or rankings")
    start = text.lstrip()[:1]
    if start == "[":
        raise BattleFileError(source, 1, "a JSON list: write one JSON object per line")
    if start != "{":
        return _from_scores(*_read_csv(text, source))
    records = list(_jsonl_records(text, source))
    first = records[0][1]
    if isinstance(first, Mapping) and "ranking" in first:
        return _read_rankings(path, records)
    return _from_scores(_read_long_jsonl(records, source), "long")

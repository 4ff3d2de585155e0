"""Reading battle files (JSON list, JSON lines, CSV, Parquet) and K-wise rankings.

Battle files are read into a ``BattleTable``: numpy columns (model indices, outcome codes,
weights, optional timestamps, per-side style counts and category flags) plus the text
columns as pyarrow arrays. JSON lines, CSV and Parquet go through pyarrow's columnar
readers and vectorised checks (JSON lines whose fields change type block by block, see
``_jsonl_blocks``); JSON list files, and files pyarrow cannot read at all (invalid JSON, a
line that is not one object, a short CSV row...), are read record by record instead, with
the same checks and the same messages, which the columnar path reuses for the row it
finds at fault. Every problem
is a ``BattleFileError`` naming the 1-based line (JSON lines: the line; CSV: the line, the
header being line 1; Parquet: the row) and the field, so a bad row deep in a million-row
export is found at once. The first bad row is the one reported, checks in this order: the
model names and outcome of every row, then ``weight`` and ``tstamp`` (on every row or
none, finite numbers), then negative weights.

Layouts, recognised by their columns
------------------------------------
- FastChat battles: ``model_a``, ``model_b``, ``winner`` in ``model_a | model_b | tie |
  tie (bothbad)``; optional ``weight`` and ``tstamp`` (seconds). Other columns are ignored
  except those below. (FastChat ``fastchat/serve/monitor/clean_battle_data.py`` and
  ``elo_analysis.py``, lm-sys/FastChat on GitHub.)
- LMArena's current releases (``lmarena-ai/arena-human-preference-100k`` and ``-140k`` on
  Hugging Face; the 140k dataset card's overview and ``dataset_info`` list ``id``,
  ``model_a``, ``model_b``, ``winner`` ("model_a, model_b, tie, or both_bad"),
  ``evaluation_session_id``, ``conversation_a``/``conversation_b`` (turns whose content is
  a list of typed parts), ``full_conversation``, ``conv_metadata``, ``category_tag``,
  ``language``, ``is_code``, ``timestamp``): ``both_bad`` is read as ``tie (bothbad)``.
  ``conv_metadata`` holds per-side style counts:
  ``sum_assistant_a_tokens``/``_b_tokens``, ``header_count_a``/``_b`` (``{"h1": .., ...,
  "h6": ..}``), ``list_count_a``/``_b`` (``{"ordered": .., "unordered": ..}``) and
  ``bold_count_a``/``_b`` (``{"**": .., "__": ..}``); as FastChat's ``construct_style_matrices``
  (``elo_analysis.py``) and ``preprocess_for_style`` (``rating_systems.py``), a count that
  is a mapping is summed over its values. These become ``style_a``/``style_b`` in
  ``ratings.style.FEATURES`` order (length, headers, lists, bold). ``category_tag`` is
  ``{"criteria_v0.1": {7 criteria: bool}, "math_v0.1": {"math": bool}, "if_v0.1": {"if":
  bool, "score": int}, "creative_writing_v0.1": {"creative_writing": bool, "score": str}}``;
  the categories derived from it are defined once, in ``CATEGORIES``. The LMArena
  ``timestamp`` (ISO 8601) is used as the battle time when there is no ``tstamp`` and every
  row has a readable one.
- Kaggle's "LMSYS - Chatbot Arena Human Preference Predictions" (55k; the competition's
  data description lists ``id``, ``model_[a/b]``, ``prompt``, ``response_[a/b]`` and the
  three targets): ``model_a``, ``model_b`` and three 0/1 columns ``winner_model_a``,
  ``winner_model_b``, ``winner_tie``, exactly one of them 1 (its ties do not say "both
  bad"); ``prompt``, ``response_a`` and ``response_b`` are JSON-encoded lists of strings,
  kept as text.

Text columns (``TEXT_COLUMNS``, when present: conversations, prompts, responses, ids) are
kept as pyarrow arrays, untouched.

K-wise files (JSON lines or a JSON list) hold ``{"ranking": [["a"], ["b", "c"]], "weight": 1}``
records: tiers best first, models in one tier tied, ``weight`` optional (default 1). A file
is read as rankings when its first record has a ``ranking`` field.

pyarrow is a dependency; without it JSON lines and CSV are still read (record by record,
slowly) and reading Parquet is a ``BattleFileError`` naming the missing package.
"""

from __future__ import annotations

import ast
import csv
import dataclasses
import functools
import io
import itertools
import json
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from ratings.data import WINNER_LABELS, Battles, Outcome

__all__ = [
    "CATEGORIES",
    "FILE_WINNER_LABELS",
    "TEXT_COLUMNS",
    "BattleFileError",
    "BattleTable",
    "RankingData",
    "read_battle_file",
    "read_battle_table",
    "read_battle_text",
    "read_rating_file",
    "read_rating_table",
    "read_rating_text",
]

Format = Literal["json", "jsonl", "csv", "parquet"]
Layout = Literal["fastchat", "lmarena", "kaggle"]
REQUIRED = ("model_a", "model_b", "winner")
KAGGLE_WINNERS = ("winner_model_a", "winner_model_b", "winner_tie")
KAGGLE_REQUIRED = ("model_a", "model_b", *KAGGLE_WINNERS)
#: The share of the win credited to model_a, in [0, 1]: beside or instead of ``winner``.
SCORE = "score"
OPTIONAL = ("weight", "tstamp")

#: Winner labels accepted in files: FastChat's, and LMArena's ``both_bad``.
FILE_WINNER_LABELS: Mapping[str, Outcome] = {**WINNER_LABELS, "both_bad": Outcome.TIE_BOTHBAD}

#: Columns kept as text (pyarrow arrays) when present.
TEXT_COLUMNS = (
    "id",
    "question_id",
    "prompt",
    "response_a",
    "response_b",
    "conversation_a",
    "conversation_b",
    "full_conversation",
    "language",
)

#: ``conv_metadata`` keys per style feature (``ratings.style.FEATURES`` order), per side.
STYLE_KEYS = (
    ("sum_assistant_a_tokens", "header_count_a", "list_count_a", "bold_count_a"),
    ("sum_assistant_b_tokens", "header_count_b", "list_count_b", "bold_count_b"),
)

HARD_PROMPT_CRITERIA = (
    "specificity",
    "domain_knowledge",
    "complexity",
    "problem_solving",
    "creativity",
    "technical_accuracy",
    "real_world",
)


@dataclass(frozen=True)
class CategoryRule:
    """How a category flag is read: a boolean at ``path`` in ``category_tag``, or at least
    ``at_least`` of the booleans under ``path`` + each of ``any_of``; ``column`` reads a
    top-level boolean column instead."""

    path: tuple[str, ...] = ()
    at_least: int = 0
    any_of: tuple[str, ...] = ()
    column: str | None = None


#: Categories for ``--category``, as LMArena defines them. ``hard_prompt``: at least 6 of
#: the 7 ``criteria_v0.1`` criteria ("Introducing Hard Prompts Category in Chatbot Arena",
#: lmsys.org blog, 2024-05-20); ``code``: the top-level ``is_code`` flag.
CATEGORIES: Mapping[str, CategoryRule] = {
    "math": CategoryRule(path=("math_v0.1", "math")),
    "creative_writing": CategoryRule(path=("creative_writing_v0.1", "creative_writing")),
    "if": CategoryRule(path=("if_v0.1", "if")),
    "hard_prompt": CategoryRule(path=("criteria_v0.1",), at_least=6, any_of=HARD_PROMPT_CRITERIA),
    "code": CategoryRule(column="is_code"),
}


class BattleFileError(ValueError):
    """A malformed battle file, with the 1-based line and the field at fault."""

    def __init__(self, source: str, line: int, message: str, field: str | None = None) -> None:
        self.source = source
        self.line = line
        self.field = field
        where = f"{source}:{line}: " + (f"field {field!r}: " if field else "")
        super().__init__(where + message)


@dataclass(frozen=True)
class _Record:
    line: int
    values: Mapping[str, Any]


# --------------------------------------------------------------------------- the table


class _Locator:
    """Maps a data row (0-based) to its file line and its record as the per-row reader
    sees it; subclasses compute both lazily, since only error messages need them."""

    #: whether a null cell means the field is absent (CSV, Parquet) or may be a JSON null
    nulls_are_absent = True

    def __init__(self, source: str) -> None:
        self.source = source

    def line(self, row: int) -> int:
        return row + 1

    def record(self, row: int) -> Mapping[str, Any]:
        return {}

    def first_absent(self, name: str, rows: NDArray[np.intp]) -> int | None:
        """The first of these rows (null in the column) whose record lacks the field."""
        return int(rows[0]) if rows.size else None


@dataclass(frozen=True, eq=False)
class BattleTable:
    """A battle file as columns (one row per battle).

    ``model_a``/``model_b`` index into ``models`` (sorted names, only those that appear);
    ``outcome`` holds ``ratings.data.Outcome`` codes; ``weight`` defaults to 1. Optional:
    ``timestamp`` (seconds), ``style_a``/``style_b`` ((n, 4) counts in
    ``ratings.style.FEATURES`` order, NaN where a row has none), ``categories`` (a flag per
    row for each ``CATEGORIES`` name the file can answer), ``text`` (pyarrow arrays of the
    ``TEXT_COLUMNS`` present). ``rows`` are the file rows (0-based) the table holds.
    """

    source: str
    layout: Layout
    models: tuple[str, ...]
    model_a: NDArray[np.intp]
    model_b: NDArray[np.intp]
    outcome: NDArray[np.int8]
    weight: NDArray[np.float64]
    timestamp: NDArray[np.float64] | None = None
    style_a: NDArray[np.float64] | None = None
    style_b: NDArray[np.float64] | None = None
    categories: Mapping[str, NDArray[np.bool_]] = field(default_factory=dict)
    text: Mapping[str, Any] = field(default_factory=dict)
    rows: NDArray[np.int64] | None = None
    locator: _Locator | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        arrays: list[NDArray[Any] | None] = [self.model_a, self.model_b, self.outcome]
        arrays += [self.weight, self.timestamp, self.style_a, self.style_b, self.rows]
        arrays += list(self.categories.values())
        for array in arrays:
            if array is not None:
                _frozen(array)

    def __len__(self) -> int:
        return int(self.model_a.shape[0])

    def names(self, side: Literal["a", "b"]) -> NDArray[np.str_]:
        """Model names of one side as a numpy string column."""
        index = self.model_a if side == "a" else self.model_b
        return np.asarray(self.models, dtype=str)[index]

    def line_of(self, index: int) -> int:
        """The file line (Parquet: row) of the battle at ``index`` in this table."""
        row = index if self.rows is None else int(self.rows[index])
        return row + 1 if self.locator is None else self.locator.line(row)

    def battles_per_model(self) -> NDArray[np.int64]:
        """File rows each model took part in: a battle split by its score counts once."""
        rows = np.arange(len(self)) if self.rows is None else self.rows
        _, first = np.unique(rows, return_index=True)
        n = len(self.models)
        counts = np.bincount(self.model_a[first], minlength=n)
        return np.asarray(counts + np.bincount(self.model_b[first], minlength=n), dtype=np.int64)

    def to_battles(self) -> Battles:
        """The battles, ready for the rating methods (no re-encoding of names; the arrays
        are shared, read-only)."""
        return Battles(
            models=self.models,
            model_a=self.model_a,
            model_b=self.model_b,
            outcome=self.outcome,
            weight=self.weight,
            timestamp=self.timestamp,
        )

    def take(self, keep: NDArray[np.bool_] | NDArray[np.intp]) -> BattleTable:
        """The battles selected by a mask or row indices; models without battles dropped."""
        index = np.flatnonzero(keep) if keep.dtype == bool else np.asarray(keep, dtype=np.intp)
        a, b = self.model_a[index], self.model_b[index]
        used = np.zeros(len(self.models), dtype=bool)
        used[a] = True
        used[b] = True
        renumber = np.cumsum(used) - 1
        rows = np.arange(len(self), dtype=np.int64) if self.rows is None else self.rows

        def pick(array: NDArray[Any] | None) -> Any:
            return None if array is None else array[index]

        return BattleTable(
            source=self.source,
            layout=self.layout,
            models=tuple(name for name, u in zip(self.models, used, strict=True) if u),
            model_a=renumber[a].astype(np.intp),
            model_b=renumber[b].astype(np.intp),
            outcome=self.outcome[index],
            weight=self.weight[index],
            timestamp=pick(self.timestamp),
            style_a=pick(self.style_a),
            style_b=pick(self.style_b),
            categories={name: flags[index] for name, flags in self.categories.items()},
            text={name: column.take(index) for name, column in self.text.items()},
            rows=rows[index],
            locator=self.locator,
        )


def _frozen(array: NDArray[Any]) -> NDArray[Any]:
    array.setflags(write=False)
    return array


# --------------------------------------------------------------------------- per-row reading


def _detect_format(path_name: str, text: str) -> Format:
    """By extension first, else by the first non-blank character."""
    suffix = Path(path_name).suffix.lower()
    if suffix == ".json":
        return "json"
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    if suffix == ".csv":
        return "csv"
    if suffix in (".parquet", ".pq"):
        return "parquet"
    start = text.lstrip()[:1]
    return "json" if start == "[" else "jsonl" if start == "{" else "csv"


def _line_of(text: str, position: int) -> int:
    return text.count("\n", 0, position) + 1


def _json_records(text: str, source: str) -> Iterator[_Record]:
    """Walk a JSON array element by element so every record knows its line."""
    decoder = json.JSONDecoder()
    position = len(text) - len(text.lstrip())
    if text[position : position + 1] != "[":
        raise BattleFileError(source, _line_of(text, position), "expected a JSON list of battles")
    position += 1
    expect_value, after_comma = True, False
    line, counted_to = _line_of(text, position), position  # lines counted once, onwards
    while True:
        while position < len(text) and text[position] in " \t\r\n":
            position += 1
        char = text[position : position + 1]
        if char == "]" and not after_comma:
            return
        if char == "," and not expect_value:
            position += 1
            expect_value, after_comma = True, True
            continue
        if not expect_value or char == "":
            raise BattleFileError(source, _line_of(text, position), "malformed JSON list")
        try:
            value, end = decoder.raw_decode(text, position)
        except json.JSONDecodeError as exc:
            raise BattleFileError(source, exc.lineno, f"invalid JSON ({exc.msg})") from None
        line, counted_to = line + text.count("\n", counted_to, position), position
        yield _Record(line, value)
        position, expect_value, after_comma = end, False, False


def _jsonl_records(text: str, source: str) -> Iterator[_Record]:
    # Lines end at "\n" only (JSON Lines): U+2028 and the like may appear in JSON strings
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            yield _Record(number, json.loads(line))
        except json.JSONDecodeError as exc:
            raise BattleFileError(source, number, f"invalid JSON ({exc.msg})") from None


def _required_columns(header: Sequence[str]) -> tuple[str, ...]:
    """The columns a layout needs: Kaggle's three 0/1 columns stand in for ``winner``."""
    if "winner" not in header and all(name in header for name in KAGGLE_WINNERS):
        return KAGGLE_REQUIRED
    if "winner" not in header and SCORE in header:
        return ("model_a", "model_b", SCORE)
    return REQUIRED


def _layout_of(header: Sequence[str]) -> Layout:
    return "kaggle" if _required_columns(header) == KAGGLE_REQUIRED else "fastchat"


def _csv_records(text: str, source: str) -> Iterator[_Record]:
    reader = csv.DictReader(io.StringIO(text))
    header = reader.fieldnames or []
    required = _required_columns(header)
    for name in required:
        if name not in header:
            raise BattleFileError(source, 1, "missing column in CSV header", name)
    for row in reader:
        if None in row:
            raise BattleFileError(source, reader.line_num, "more cells than header columns")
        present = {
            key: value for key, value in row.items() if value not in (None, "") or key in required
        }
        yield _Record(reader.line_num, present)


def _number(record: _Record, name: str, source: str) -> float:
    raw = record.values[name]
    if isinstance(raw, bool):
        raise BattleFileError(source, record.line, f"expected a number, got {raw!r}", name)
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise BattleFileError(
            source, record.line, f"expected a number, got {raw!r}", name
        ) from None
    if not math.isfinite(value):
        raise BattleFileError(source, record.line, f"expected a finite number, got {raw!r}", name)
    return value


def _check_name(record: _Record, name: str, source: str) -> None:
    if name not in record.values:
        raise BattleFileError(source, record.line, "missing", name)
    value = record.values[name]
    if not isinstance(value, str) or not value:
        raise BattleFileError(
            source, record.line, f"expected a non-empty string, got {value!r}", name
        )


def _kaggle_outcome(record: _Record, source: str) -> Outcome:
    flags = []
    for name in KAGGLE_WINNERS:
        if name not in record.values:
            raise BattleFileError(source, record.line, "missing", name)
        value = _number(record, name, source)
        if value not in (0.0, 1.0):
            raise BattleFileError(
                source, record.line, f"expected 0 or 1, got {record.values[name]!r}", name
            )
        flags.append(value)
    if sum(flags) != 1:
        shown = ", ".join(f"{flag:g}" for flag in flags)
        raise BattleFileError(
            source,
            record.line,
            f"exactly one of {', '.join(KAGGLE_WINNERS)} must be 1, got {shown}",
            "winner_tie",
        )
    return (Outcome.A_WINS, Outcome.B_WINS, Outcome.TIE)[flags.index(1.0)]


def _given(values: Mapping[str, Any], name: str) -> bool:
    return values.get(name) not in (None, "")


def _score(record: _Record, source: str) -> float:
    """The row's ``score``: a number in [0, 1]."""
    value = _number(record, SCORE, source)
    if not 0.0 <= value <= 1.0:
        raise BattleFileError(
            source, record.line, f"must be between 0 and 1, got {record.values[SCORE]!r}", SCORE
        )
    return value


def _check_record(record: _Record, source: str, layout: Layout = "fastchat") -> Outcome:
    """The outcome of one battle record, or the error naming its line and field. A row with
    a ``score`` needs no ``winner`` (its outcome is then a placeholder: ``_scored``)."""
    if not isinstance(record.values, Mapping):
        raise BattleFileError(source, record.line, "each battle must be an object")
    scored = _given(record.values, SCORE)
    if layout == "kaggle":
        for name in ("model_a", "model_b"):
            _check_name(record, name, source)
        outcome = _kaggle_outcome(record, source)
    elif scored and not _given(record.values, "winner"):
        for name in ("model_a", "model_b"):
            _check_name(record, name, source)
        outcome = Outcome.TIE
    else:
        if "winner" not in record.values and SCORE in record.values:
            raise BattleFileError(source, record.line, "missing (or give a winner)", SCORE)
        for name in REQUIRED:
            _check_name(record, name, source)
        label = record.values["winner"]
        if label not in FILE_WINNER_LABELS:
            allowed = ", ".join(FILE_WINNER_LABELS)
            raise BattleFileError(
                source, record.line, f"{label!r} is not one of {allowed}", "winner"
            )
        outcome = FILE_WINNER_LABELS[label]
    if record.values["model_a"] == record.values["model_b"]:
        raise BattleFileError(source, record.line, "same model on both sides", "model_b")
    if scored:
        _score(record, source)
    return outcome


def _scored(table: BattleTable, scores: NDArray[np.float64] | None) -> BattleTable:
    """The battles with their ``score`` (NaN where a row has none) taken in: a score of 1, 0
    or 0.5 is a win, a loss or a tie of model_a (a "tie (bothbad)" winner beside 0.5 stays
    one); a score s between is split into a win of model_a weighted s and a loss weighted
    1 - s, which is the same likelihood for Bradley-Terry and the same points for a win
    rate. Both halves keep their file row (``rows``), so a model's battles count it once
    (``BattleTable.battles_per_model``)."""
    if scores is None or np.isnan(scores).all():
        return table
    given = ~np.isnan(scores)
    outcome = table.outcome.copy()
    outcome[given & (scores == 1.0)] = Outcome.A_WINS
    outcome[given & (scores == 0.0)] = Outcome.B_WINS
    outcome[given & (scores == 0.5) & (outcome != Outcome.TIE_BOTHBAD)] = Outcome.TIE
    split = given & ~np.isin(scores, (0.0, 0.5, 1.0))
    if not split.any():
        return dataclasses.replace(table, outcome=outcome)
    copies = 1 + split.astype(np.intp)
    index = np.repeat(np.arange(len(table), dtype=np.intp), copies)
    loss = np.zeros(index.size, dtype=bool)
    loss[(np.cumsum(copies) - 1)[split]] = True  # the second copy of a split row
    win = split[index] & ~loss
    weight = table.weight[index].copy()
    weight[win] *= scores[index][win]
    weight[loss] *= 1.0 - scores[index][loss]
    outcome = outcome[index]
    outcome[win] = Outcome.A_WINS
    outcome[loss] = Outcome.B_WINS
    return dataclasses.replace(table.take(index), outcome=outcome, weight=weight)


@dataclass(frozen=True)
class RankingData:
    """K-wise rankings (tiers best first) with one weight and file line per ranking."""

    rankings: tuple[tuple[tuple[str, ...], ...], ...]
    weights: tuple[float, ...]
    lines: tuple[int, ...]

    @property
    def models(self) -> tuple[str, ...]:
        return tuple(sorted({name for r in self.rankings for tier in r for name in tier}))

    def __len__(self) -> int:
        return len(self.rankings)


def _check_ranking(record: _Record, source: str) -> tuple[tuple[str, ...], ...]:
    if not isinstance(record.values, Mapping):
        raise BattleFileError(source, record.line, "each ranking must be an object")
    if "ranking" not in record.values:
        raise BattleFileError(source, record.line, "missing", "ranking")
    tiers = record.values["ranking"]
    if not isinstance(tiers, list) or not all(isinstance(tier, list) for tier in tiers):
        raise BattleFileError(
            source, record.line, "expected a list of tiers (lists of model names)", "ranking"
        )
    seen: set[str] = set()
    for tier in tiers:
        if not tier:
            raise BattleFileError(source, record.line, "empty tier", "ranking")
        for name in tier:
            if not isinstance(name, str) or not name:
                raise BattleFileError(
                    source,
                    record.line,
                    f"model names must be non-empty strings, got {name!r}",
                    "ranking",
                )
            if name in seen:
                raise BattleFileError(source, record.line, f"{name!r} listed twice", "ranking")
            seen.add(name)
    if len(seen) < 2:
        raise BattleFileError(source, record.line, "needs at least two models", "ranking")
    return tuple(tuple(tier) for tier in tiers)


def _rankings_from_records(records: list[_Record], source: str) -> RankingData:
    rankings = []
    weights = []
    for record in records:
        rankings.append(_check_ranking(record, source))
        weight = _number(record, "weight", source) if "weight" in record.values else 1.0
        if weight < 0:
            raise BattleFileError(source, record.line, "must be >= 0", "weight")
        weights.append(weight)
    return RankingData(tuple(rankings), tuple(weights), tuple(r.line for r in records))


# ------------------------------------------------------------------ style and categories


def _count(value: Any) -> float:
    """A conv_metadata count: a number, or a mapping summed over its values (FastChat)."""
    if isinstance(value, Mapping):
        return float(sum(value.values())) if value else 0.0
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(value)
    return float(value)


def _nested(value: Any) -> Any:
    """A nested field kept as text (a CSV column): JSON, or the Python repr that pandas'
    ``to_csv`` writes for a dict; None when it is neither."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        pass
    try:
        return ast.literal_eval(value)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None


def _style_row(meta: Any) -> list[float]:
    """The 8 style counts (A's four, then B's) of one conv_metadata value; NaN if absent."""
    meta = _nested(meta)
    out = []
    for keys in STYLE_KEYS:
        for key in keys:
            try:
                out.append(_count(meta[key]))
            except (KeyError, TypeError, IndexError, ValueError):
                out.append(math.nan)
    return out


def _tag_row(tag: Any, rule: CategoryRule) -> bool:
    node = _nested(tag)
    for key in rule.path:
        node = node.get(key) if isinstance(node, Mapping) else None
    if rule.any_of:
        if not isinstance(node, Mapping):
            return False
        return sum(bool(node.get(name)) for name in rule.any_of) >= rule.at_least
    return node is True


def _style_from_rows(metas: Sequence[Any]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    matrix = np.array([_style_row(meta) for meta in metas], dtype=np.float64).reshape(-1, 8)
    return matrix[:, :4].copy(), matrix[:, 4:].copy()


def _categories_from_rows(
    tags: Sequence[Any] | None, columns: Mapping[str, Sequence[Any]]
) -> dict[str, NDArray[np.bool_]]:
    out: dict[str, NDArray[np.bool_]] = {}
    parsed = [_nested(tag) for tag in tags] if tags is not None else []
    for name, rule in CATEGORIES.items():
        if rule.column is not None:
            if rule.column in columns:
                out[name] = np.array([v is True for v in columns[rule.column]], dtype=bool)
        elif tags is not None:
            out[name] = np.array([_tag_row(tag, rule) for tag in parsed], dtype=bool)
    return out


def _parse_time(value: Any) -> float:
    """ISO 8601 (or a datetime) as seconds; a time without a zone is UTC, as in arrow."""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


@dataclass(frozen=True)
class _Want:
    """Which optional parts of the table to build (the CLI skips what it does not use)."""

    text: bool = True
    style: bool = True
    categories: bool = True


class _RecordLocator(_Locator):
    def __init__(self, source: str, records: Sequence[_Record]) -> None:
        super().__init__(source)
        self.records = records

    def line(self, row: int) -> int:
        return self.records[row].line

    def record(self, row: int) -> Mapping[str, Any]:
        return self.records[row].values


def _encode_sorted(
    names_a: list[str], names_b: list[str]
) -> tuple[tuple[str, ...], NDArray[np.intp], NDArray[np.intp]]:
    universe = tuple(sorted(set(names_a) | set(names_b)))
    lookup = {name: k for k, name in enumerate(universe)}
    a = np.fromiter(map(lookup.__getitem__, names_a), dtype=np.intp, count=len(names_a))
    b = np.fromiter(map(lookup.__getitem__, names_b), dtype=np.intp, count=len(names_b))
    return universe, a, b


def _text_arrays(columns: Mapping[str, list[Any]]) -> dict[str, Any]:
    try:
        import pyarrow as pa  # type: ignore[import-untyped,import-not-found,unused-ignore]
    except ImportError:
        return {}
    out = {}
    for name, values in columns.items():
        try:
            out[name] = pa.chunked_array([pa.array(values)])
        except (pa.ArrowException, TypeError, ValueError):
            out[name] = pa.chunked_array([pa.array([json.dumps(v) for v in values])])
    return out


def _table_from_records(
    records: list[_Record], source: str, want: _Want, columns: Sequence[str] = ()
) -> BattleTable:
    """The per-row reader: every record checked in turn, the first bad one reported.

    The layout follows the fields of all records, and ``columns`` (a Parquet schema's:
    a column that is null on every row still says which layout the file has)."""
    if not records:
        raise BattleFileError(source, 1, "no battles in file")
    # the layout by the fields of all records, as the columnar reader sees its columns
    keys: set[str] = set(columns)
    for record in records:
        if isinstance(record.values, Mapping):
            keys.update(record.values)
    layout = _layout_of(sorted(keys))
    outcomes = [int(_check_record(record, source, layout)) for record in records]
    values = [record.values for record in records]
    optional: dict[str, list[float]] = {}
    for name in OPTIONAL:
        holders = [name in record for record in values]
        if not any(holders):
            continue
        if not all(holders):
            missing = records[holders.index(False)]
            raise BattleFileError(source, missing.line, "missing (other battles have it)", name)
        optional[name] = [_number(record, name, source) for record in records]
    if "weight" in optional and min(optional["weight"]) < 0:
        bad = records[[w < 0 for w in optional["weight"]].index(True)]
        raise BattleFileError(source, bad.line, "must be >= 0", "weight")
    models, a, b = _encode_sorted([v["model_a"] for v in values], [v["model_b"] for v in values])
    stamps = optional.get("tstamp")
    if stamps is None and all("timestamp" in v for v in values):
        try:
            stamps = [_parse_time(v["timestamp"]) for v in values]
        except (TypeError, ValueError, OverflowError, OSError):
            stamps = None
    style_a = style_b = None
    if want.style and any("conv_metadata" in v for v in values):
        style_a, style_b = _style_from_rows([v.get("conv_metadata") for v in values])
        layout = "lmarena" if layout == "fastchat" else layout
    categories: dict[str, NDArray[np.bool_]] = {}
    if want.categories:
        has_tags = any("category_tag" in v for v in values)
        flags = (
            {"is_code": [v.get("is_code") for v in values]}
            if any("is_code" in v for v in values)
            else {}
        )
        tags = [v.get("category_tag") for v in values] if has_tags else None
        categories = _categories_from_rows(tags, flags)
        if has_tags and layout == "fastchat":
            layout = "lmarena"
    text = {}
    if want.text:
        names = [name for name in TEXT_COLUMNS if any(name in v for v in values)]
        text = _text_arrays({name: [v.get(name) for v in values] for name in names})
    weight = optional.get("weight")
    scores = None
    if any(_given(v, SCORE) for v in values):
        scores = np.array(
            [_score(r, source) if _given(r.values, SCORE) else np.nan for r in records]
        )
    table = BattleTable(
        source=source,
        layout=layout,
        models=models,
        model_a=a,
        model_b=b,
        outcome=np.array(outcomes, dtype=np.int8),
        weight=np.ones(len(records)) if weight is None else np.array(weight, dtype=np.float64),
        timestamp=None if stamps is None else np.array(stamps, dtype=np.float64),
        style_a=style_a,
        style_b=style_b,
        categories=categories,
        text=text,
        locator=_RecordLocator(source, records),
    )
    return _scored(table, scores)


# --------------------------------------------------------------------------- columnar reading


class _Fallback(Exception):
    """pyarrow could not read the file as a clean table: read it record by record."""


def _pyarrow() -> Any:
    try:
        import pyarrow as pa  # type: ignore[import-untyped,import-not-found,unused-ignore]
        import pyarrow.compute  # type: ignore[import-untyped,import-not-found,unused-ignore]  # noqa: F401
    except ImportError:
        return None
    return pa


class _ParquetLocator(_Locator):
    def __init__(self, source: str, table: Any) -> None:
        super().__init__(source)
        self.table = table

    def record(self, row: int) -> Mapping[str, Any]:
        values: dict[str, Any] = self.table.slice(row, 1).to_pylist()[0]
        return {k: v for k, v in values.items() if v is not None and not _is_nan(v)}


class _JsonlLocator(_Locator):
    """Lines of a JSON lines file; ``simple`` when row k is line k + 1 (no blank lines)."""

    nulls_are_absent = False  # a null may be a JSON null: the record says

    def __init__(self, source: str, data: bytes, simple: bool) -> None:
        super().__init__(source)
        self.data = data
        self.simple = simple
        self._lines: list[int] | None = None
        self._starts: NDArray[np.int64] | None = None

    def numbered(self) -> list[int]:
        """1-based numbers of the non-blank lines (the per-row reader's rule)."""
        if self._lines is None:
            text = self.data.decode("utf-8")
            self._lines = [k for k, line in enumerate(text.split("\n"), 1) if line.strip()]
        return self._lines

    def line(self, row: int) -> int:
        return row + 1 if self.simple else self.numbered()[row]

    def _text(self, line: int) -> str:
        if self._starts is None:
            newlines = np.flatnonzero(np.frombuffer(self.data, dtype=np.uint8) == 10)
            self._starts = np.concatenate([[0], newlines + 1, [len(self.data) + 1]])
        start, end = int(self._starts[line - 1]), int(self._starts[line]) - 1
        return self.data[start:end].decode("utf-8")

    def record(self, row: int) -> Mapping[str, Any]:
        value = json.loads(self._text(self.line(row)))
        return value if isinstance(value, Mapping) else {}

    def first_absent(self, name: str, rows: NDArray[np.intp]) -> int | None:
        return next((int(r) for r in rows if name not in self.record(int(r))), None)


class _CsvLocator(_Locator):
    """Line numbers and records as ``csv.DictReader`` reports them.

    Quoted fields may hold newlines, so a record ends at a newline with an even number of
    quote characters before it (RFC 4180 doubles quotes inside quoted fields); blank lines
    are counted but are not records. When that count disagrees with arrow's rows (a stray
    quote inside an unquoted field), one scan with ``csv.DictReader`` decides.
    """

    def __init__(self, source: str, data: bytes, rows: int) -> None:
        super().__init__(source)
        self.data = data
        self.rows = rows
        self._spans: tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]] | None
        self._spans = None
        self._text = b""
        self._found: dict[int, tuple[int, Mapping[str, Any]]] = {}

    def _records(self) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]] | None:
        """(start, end, last line) of the header and of every data row, or None."""
        if self._spans is None:
            text = self.data
            if b"\r" in text:  # as Path.read_text did before the csv module saw the text
                text = text.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
            self._text = text
            buf = np.frombuffer(text, dtype=np.uint8)
            newline = np.flatnonzero(buf == 10)
            lines = np.arange(1, newline.size + 1)
            if text and not text.endswith(b"\n"):  # the last record ends with the text
                newline = np.append(newline, len(text))
                lines = np.append(lines, lines.size + 1)
            if b'"' in text:  # quote parity: uint8 sums wrap, their parity does not
                quotes = np.cumsum(buf == 34, dtype=np.uint8)
                even = (quotes[np.minimum(newline, buf.size - 1)] & 1) == 0
                newline, lines = newline[even], lines[even]
            starts = np.concatenate([[0], newline[:-1] + 1])[: newline.size]
            keep = starts < newline  # blank lines are no records
            self._spans = (starts[keep], newline[keep], lines[keep])
        starts, ends, lines = self._spans
        return self._spans if starts.size == self.rows + 1 else None

    def _scan(self, row: int) -> tuple[int, Mapping[str, Any]]:
        if row not in self._found:
            self._found = {row: self._find(row)}
        return self._found[row]

    def _find(self, row: int) -> tuple[int, Mapping[str, Any]]:
        spans = self._records()
        if spans is not None:
            starts, ends, lines = spans
            header = self._text[starts[0] : ends[0]]
            body = self._text[starts[row + 1] : ends[row + 1]]
            reader = csv.DictReader(io.StringIO((header + b"\n" + body).decode("utf-8")))
            return int(lines[row + 1]), self._present(reader)
        text = self.data.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")
        reader = csv.DictReader(io.StringIO(text))
        for _ in itertools.islice(reader, row):
            pass
        record = self._present(reader)
        return reader.line_num, record

    @staticmethod
    def _present(reader: csv.DictReader[str]) -> Mapping[str, Any]:
        """The next row as the per-row reader keeps it (empty cells of optional fields out)."""
        required = _required_columns(reader.fieldnames or [])
        values: Mapping[str | Any, Any] = next(reader, {})
        return {k: v for k, v in values.items() if v not in (None, "") or k in required}

    def line(self, row: int) -> int:
        return self._scan(row)[0]

    def record(self, row: int) -> Mapping[str, Any]:
        return self._scan(row)[1]


def _is_nan(value: object) -> bool:
    return isinstance(value, float) and math.isnan(value)


def _string_type(pa: Any, kind: Any) -> bool:
    if pa.types.is_dictionary(kind):
        kind = kind.value_type
    return bool(pa.types.is_string(kind) or pa.types.is_large_string(kind))


def _encode_strings(
    pa: Any, columns: Sequence[Any | None], n: int
) -> tuple[list[str], list[NDArray[np.intp]]]:
    """Dictionary-encode string columns together: the values seen, sorted, and per column
    the index of each row's value in them (-1 for null, absent or non-string).

    Parquet hands over dictionary-encoded chunks as they are stored; other chunks are
    encoded by arrow's hash table. Only the (small) dictionaries become Python strings.
    """
    chunks: list[list[tuple[list[str], NDArray[Any]]] | None] = []
    universe: set[str] = set()
    for column in columns:
        if column is None or not _string_type(pa, column.type):
            chunks.append(None)
            continue
        parts = []
        for chunk in column.chunks:
            if not pa.types.is_dictionary(chunk.type):
                chunk = pa.compute.dictionary_encode(chunk)
            values = chunk.dictionary.to_pylist()
            universe.update(values)
            indices = chunk.indices.fill_null(-1) if chunk.null_count else chunk.indices
            parts.append((values, _numpy(pa, indices)))
        chunks.append(parts)
    names = sorted(universe)
    lookup = {name: k for k, name in enumerate(names)}
    encoded = []
    for column_parts in chunks:
        codes = np.empty(n, dtype=np.intp) if column_parts else np.full(n, -1, dtype=np.intp)
        start = 0
        for values, indices in column_parts or []:
            mapping = np.array([*(lookup[v] for v in values), -1], dtype=np.intp)
            # "wrap" sends -1 (null) to the last entry, -1; "raise" would buffer `out`
            np.take(mapping, indices, out=codes[start : start + indices.size], mode="wrap")
            start += indices.size
        encoded.append(codes)
    return names, encoded


# arrow's fixed-width number types (``DataType.to_pandas_dtype`` needs pandas in pyarrow 16)
_NUMPY_TYPES: dict[str, np.dtype[Any]] = {
    "int8": np.dtype(np.int8),
    "int16": np.dtype(np.int16),
    "int32": np.dtype(np.int32),
    "int64": np.dtype(np.int64),
    "uint8": np.dtype(np.uint8),
    "uint16": np.dtype(np.uint16),
    "uint32": np.dtype(np.uint32),
    "uint64": np.dtype(np.uint64),
    "halffloat": np.dtype(np.float16),
    "float": np.dtype(np.float32),
    "double": np.dtype(np.float64),
}


def _numpy(pa: Any, column: Any, fill: float | bool = 0) -> NDArray[Any]:
    """A numeric or boolean arrow column (or array) as numpy, nulls set to ``fill``.

    Reads arrow's buffers directly: ``to_numpy`` imports pandas whenever it is installed,
    a fifth of a second of every CLI run.
    """
    chunks = column.chunks if hasattr(column, "chunks") else [column]
    parts: list[NDArray[Any]] = []
    for chunk in chunks:
        if chunk.null_count:
            chunk = chunk.fill_null(fill)
        data, size, offset = chunk.buffers()[1], len(chunk), chunk.offset
        if pa.types.is_boolean(chunk.type):
            bits = (
                np.frombuffer(data, dtype=np.uint8) if data is not None else np.zeros(0, np.uint8)
            )
            parts.append(
                np.unpackbits(bits, bitorder="little")[offset : offset + size].astype(bool)
            )
        else:
            dtype = _NUMPY_TYPES[str(chunk.type)]
            parts.append(np.frombuffer(data, dtype=dtype, count=offset + size)[offset:])
    if not parts:
        return np.zeros(0)
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def _float_column(
    pa: Any, column: Any, nan_is_null: bool
) -> tuple[NDArray[np.float64], NDArray[np.bool_], NDArray[np.bool_]]:
    """(values, null, bad): numbers as the per-row reader's ``float(raw)`` reads them;
    ``bad`` marks non-null values that are not finite numbers."""
    kind = column.type
    null = _numpy(pa, column.is_null())
    if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        values = _numpy(pa, column.cast(pa.float64()), math.nan)
        if nan_is_null:
            null = null | np.isnan(values)
    elif _string_type(pa, kind):
        values = _parse_floats(pa, column.cast(pa.string()))
    else:  # booleans, nested values: never numbers
        values = np.full(len(column), np.nan)
    bad = ~null & ~np.isfinite(values)
    return values, null, bad


# Plain decimal numbers, inf and nan: arrow's string-to-float cast reads these
_PLAIN_NUMBER = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$|^[+-]?(inf|infinity|nan)$"


def _parse_floats(pa: Any, text: Any) -> NDArray[np.float64]:
    """Text as numbers: arrow casts what it can; what it cannot (" 3", "1_0", "heavy")
    goes through Python's ``float``, as in the per-row reader; NaN where that fails too."""
    try:
        return _numpy(pa, text.cast(pa.float64()), math.nan)
    except pa.ArrowInvalid:
        pass
    plain = pa.compute.match_substring_regex(text, _PLAIN_NUMBER, ignore_case=True)
    plain = plain.fill_null(False)
    values = np.full(len(text), np.nan)
    rows = np.flatnonzero(_numpy(pa, plain))
    try:
        values[rows] = _numpy(pa, text.filter(plain).cast(pa.float64()), math.nan)
    except pa.ArrowInvalid:  # the pattern let through something arrow refuses
        rows = np.zeros(0, dtype=np.intp)
    others = np.setdiff1d(np.flatnonzero(~_numpy(pa, text.is_null())), rows)
    strings = text.to_pylist() if others.size > len(text) // 8 else None
    for row in others.tolist():
        values[row] = _py_float(strings[row] if strings is not None else text[row].as_py())
    return values


def _py_float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


class _Columns:
    """The arrow table with the checks of the per-row reader, vectorised."""

    def __init__(self, pa: Any, table: Any, locator: _Locator, kind: Format) -> None:
        self.pa = pa
        self.table = table
        self.locator = locator
        self.kind = kind
        self.n = int(table.num_rows)
        self.names = set(table.column_names)
        self.source = locator.source

    def column(self, name: str) -> Any | None:
        return self.table.column(name) if name in self.names else None

    def fail(self, row: int, name: str, check: Callable[[_Record], object]) -> BattleFileError:
        """The per-row reader's own message for this row; a plain one if it finds none."""
        record = _Record(self.locator.line(row), self.locator.record(row))
        try:
            check(record)
        except BattleFileError as error:
            return error
        return BattleFileError(self.source, record.line, "invalid value", name)


def _score_column(cols: _Columns) -> tuple[NDArray[np.float64] | None, NDArray[np.bool_]]:
    """``score`` (NaN where a row has none) and the rows whose score is not in [0, 1]."""
    column = cols.column(SCORE)
    if column is None:
        return None, np.zeros(cols.n, dtype=bool)
    values, null, _ = _float_column(cols.pa, column, cols.kind == "parquet")
    bad = ~null & ~((values >= 0.0) & (values <= 1.0))  # NaN and text fail too
    return np.where(null, np.nan, values), bad


def _outcomes(
    cols: _Columns,
    layout: Layout,
    scores: NDArray[np.float64] | None = None,
    bad_scores: NDArray[np.bool_] | None = None,
) -> tuple[tuple[str, ...], NDArray[np.intp], NDArray[np.intp], NDArray[np.int8]]:
    """Encoded names and outcomes after the required checks of every row (a row with a
    ``score`` needs no ``winner``: its outcome is a placeholder, see ``_scored``)."""
    pa, n = cols.pa, cols.n
    names, (a, b) = _encode_strings(pa, [cols.column("model_a"), cols.column("model_b")], n)
    bad = (np.minimum(a, b) < 0) | (a == b)
    scored = np.zeros(n, dtype=bool) if scores is None else ~np.isnan(scores)
    if bad_scores is not None:
        bad |= bad_scores
    if names and names[0] == "":  # sorted first: an empty name is never a model
        bad |= (a == 0) | (b == 0)
    if layout == "kaggle":
        flags = []
        for name in KAGGLE_WINNERS:
            column = cols.column(name)
            assert column is not None
            values, null, not_number = _float_column(pa, column, cols.kind == "parquet")
            bad |= null | not_number | ((values != 0) & (values != 1))
            flags.append(values == 1)
        bad |= np.sum(flags, axis=0) != 1
        outcome = np.select(flags, [int(Outcome.A_WINS), int(Outcome.B_WINS), int(Outcome.TIE)])
    elif cols.column("winner") is None:
        outcome = np.full(n, int(Outcome.TIE), dtype=np.int8)
        bad |= ~scored
    else:
        winner = cols.column("winner")
        labels, (codes,) = _encode_strings(pa, [winner], n)
        table = np.array([*(FILE_WINNER_LABELS.get(v, -1) for v in labels), -1], dtype=np.int8)
        outcome = np.where(scored & (codes < 0), int(Outcome.TIE), table[codes])
        empty = np.array([*(v == "" for v in labels), True])[codes]  # null: code -1
        given = ~empty
        bad |= (table[codes] < 0) & (given | ~scored)
    if bad.any():
        row = int(np.argmax(bad))
        raise cols.fail(row, "model_a", lambda r: _check_record(r, cols.source, layout))
    # every row passed: drop dictionary entries no row uses (arrow may keep some)
    used = np.zeros(len(names), dtype=bool)
    used[a] = True
    used[b] = True
    if not used.all():
        renumber = np.cumsum(used) - 1
        a, b = renumber[a], renumber[b]
        names = [name for name, u in zip(names, used, strict=True) if u]
    return (
        tuple(names),
        a.astype(np.intp, copy=False),
        b.astype(np.intp, copy=False),
        outcome.astype(np.int8, copy=False),
    )


def _optional_numbers(cols: _Columns) -> dict[str, NDArray[np.float64]]:
    """``weight`` and ``tstamp``: on every row or none, finite, weights >= 0."""
    out: dict[str, NDArray[np.float64]] = {}
    for name in OPTIONAL:
        column = cols.column(name)
        if column is None:
            continue
        values, null, bad = _float_column(cols.pa, column, cols.kind == "parquet")
        null_rows = np.flatnonzero(null)
        if null_rows.size == cols.n and cols.locator.nulls_are_absent:
            continue  # no battle has it (a JSON lines column exists only if a record has it)
        row = cols.locator.first_absent(name, null_rows)
        if row is not None:
            raise BattleFileError(
                cols.source, cols.locator.line(row), "missing (other battles have it)", name
            )
        bad = bad | null  # explicit JSON nulls: the per-row reader calls them not numbers
        if bad.any():
            row = int(np.argmax(bad))
            raise cols.fail(row, name, functools.partial(_number, name=name, source=cols.source))
        out[name] = values
    weight = out.get("weight")
    if weight is not None and (weight < 0).any():
        row = int(np.argmax(weight < 0))
        raise BattleFileError(cols.source, cols.locator.line(row), "must be >= 0", "weight")
    return out


def _iso_times(cols: _Columns) -> NDArray[np.float64] | None:
    """LMArena's ``timestamp`` as seconds, when every row has one that parses."""
    pa, column = cols.pa, cols.column("timestamp")
    if column is None or column.null_count:
        return None
    try:
        if not pa.types.is_timestamp(column.type):
            column = column.cast(pa.timestamp("us"))
        micros = column.cast(pa.timestamp("us")).cast(pa.int64())
        return np.asarray(_numpy(pa, micros), dtype=np.float64) / 1e6
    except (pa.ArrowException, TypeError, ValueError):
        return None


def _struct_path(pa: Any, column: Any, path: Sequence[str]) -> Any | None:
    """The child at ``path`` of a struct column, or None when the type has no such field."""
    for key in path:
        kind = column.type
        if not pa.types.is_struct(kind) or kind.get_field_index(key) < 0:
            return None
        column = pa.compute.struct_field(column, [kind.get_field_index(key)])
    return column


def _count_column(pa: Any, column: Any | None, n: int) -> NDArray[np.float64]:
    """A conv_metadata count column as floats: numbers as they are, structs summed over
    their fields (NaN where a row or any summed field is null)."""
    if column is None:
        return np.full(n, np.nan)
    kind = column.type
    if pa.types.is_struct(kind):
        total = np.zeros(n)
        for k in range(kind.num_fields):
            total = total + _count_column(pa, pa.compute.struct_field(column, [k]), n)
        return np.where(_numpy(pa, column.is_null()), np.nan, total)
    if pa.types.is_integer(kind) or pa.types.is_floating(kind):
        return np.asarray(_numpy(pa, column.cast(pa.float64()), math.nan), np.float64)
    return np.full(n, np.nan)


def _style_columns(cols: _Columns) -> tuple[NDArray[np.float64], NDArray[np.float64]] | None:
    pa, column = cols.pa, cols.column("conv_metadata")
    if column is None:
        return None
    if not pa.types.is_struct(column.type):  # JSON text (e.g. a CSV export): row by row
        return _style_from_rows(column.to_pylist())
    sides = [
        np.column_stack(
            [_count_column(pa, _struct_path(pa, column, [key]), cols.n) for key in keys]
        )
        for keys in STYLE_KEYS
    ]
    return sides[0], sides[1]


def _bool_column(pa: Any, column: Any | None, n: int) -> NDArray[np.bool_]:
    if column is None or not pa.types.is_boolean(column.type):
        return np.zeros(n, dtype=bool)
    return np.asarray(_numpy(pa, column, False), dtype=bool)


def _category_columns(cols: _Columns) -> dict[str, NDArray[np.bool_]]:
    pa, n = cols.pa, cols.n
    tags = cols.column("category_tag")
    if tags is not None and not pa.types.is_struct(tags.type):  # JSON text: row by row
        plain = {c: cols.column(c) for c in ("is_code",) if c in cols.names}
        return _categories_from_rows(
            tags.to_pylist(), {k: v.to_pylist() for k, v in plain.items() if v is not None}
        )
    out: dict[str, NDArray[np.bool_]] = {}
    for name, rule in CATEGORIES.items():
        if rule.column is not None:
            if rule.column in cols.names:
                out[name] = _bool_column(pa, cols.column(rule.column), n)
            continue
        if tags is None:
            continue
        node = _struct_path(pa, tags, rule.path)
        if node is None:
            continue
        if rule.any_of:
            votes = [_bool_column(pa, _struct_path(pa, node, [c]), n) for c in rule.any_of]
            out[name] = np.sum(votes, axis=0) >= rule.at_least
        else:
            out[name] = _bool_column(pa, node, n)
    return out


def _table_from_arrow(cols: _Columns, want: _Want) -> BattleTable:
    names = cols.names
    if cols.kind == "csv" or cols.n == 0:
        for name in _required_columns(sorted(names)):
            if name not in names and cols.kind == "csv":
                raise BattleFileError(cols.source, 1, "missing column in CSV header", name)
    if cols.n == 0:
        raise BattleFileError(cols.source, 1, "no battles in file")
    layout = _layout_of(sorted(names))
    scores, bad_scores = _score_column(cols)
    models, a, b, outcome = _outcomes(cols, layout, scores, bad_scores)
    numbers = _optional_numbers(cols)
    stamps = numbers.get("tstamp")
    if stamps is None:
        stamps = _iso_times(cols)
    style = _style_columns(cols) if want.style else None
    categories = _category_columns(cols) if want.categories else {}
    if layout == "fastchat" and ("conv_metadata" in names or "category_tag" in names):
        layout = "lmarena"
    text = {name: cols.table.column(name) for name in TEXT_COLUMNS if name in names}
    weight = numbers.get("weight")
    table = BattleTable(
        source=cols.source,
        layout=layout,
        models=models,
        model_a=a,
        model_b=b,
        outcome=outcome,
        weight=np.ones(cols.n) if weight is None else weight,
        timestamp=stamps,
        style_a=None if style is None else style[0],
        style_b=None if style is None else style[1],
        categories=categories,
        text=text if want.text else {},
        locator=cols.locator,
    )
    return _scored(table, scores)


def _wanted_columns(names: Sequence[str], want: _Want) -> list[str]:
    wanted = {*REQUIRED, *KAGGLE_WINNERS, *OPTIONAL, SCORE, "timestamp", "ranking"}
    if want.style:
        wanted.add("conv_metadata")
    if want.categories:
        wanted |= {"category_tag", "is_code"}
    if want.text:
        wanted |= set(TEXT_COLUMNS)
    return [name for name in names if name in wanted]


def _parquet_table(path: Path, want: _Want) -> BattleTable | RankingData:
    source = str(path)
    pa = _pyarrow()
    if pa is None:
        return _from_records(*_parquet_records(path), source=source, want=want)
    import pyarrow.parquet as pq  # type: ignore[import-untyped,import-not-found,unused-ignore]

    try:
        # ParquetFile, not read_table: the latter loads pyarrow.dataset, which imports
        # pandas (a noticeable share of a CLI run's start)
        schema = pq.ParquetFile(path).schema_arrow
        if "ranking" in schema.names:
            return _from_records(*_parquet_records(path), source=source, want=want)
        columns = _wanted_columns(schema.names, want)
        strings = [
            name
            for name in ("model_a", "model_b", "winner")
            if name in columns and _string_type(pa, schema.field(name).type)
        ]
        table = pq.ParquetFile(path, read_dictionary=strings).read(columns=columns)
    except OSError as exc:
        if not path.exists():
            raise
        raise BattleFileError(source, 1, f"unreadable Parquet ({exc})") from None
    except pa.ArrowException as exc:
        raise BattleFileError(source, 1, f"unreadable Parquet ({exc})") from None
    return _table_from_arrow(_Columns(pa, table, _ParquetLocator(source, table), "parquet"), want)


def _blank_tail(data: bytes) -> int:
    """Lines after the last non-blank one, counting the empty one after a final newline."""
    end = len(data)
    while end and data[end - 1 : end].isspace():
        end -= 1
    return data.count(b"\n", end) + (1 if end == 0 else 0)


def _jsonl_arrow(data: bytes, source: str, want: _Want, first: Mapping[str, Any]) -> BattleTable:
    pa = _pyarrow()
    if pa is None:
        raise _Fallback
    import pyarrow.json as pj  # type: ignore[import-untyped,import-not-found,unused-ignore]

    if b"\r" in data and data.count(b"\r") != data.count(b"\r\n"):
        raise _Fallback  # a lone carriage return: the per-row reader ends a line there
    # Names are read as strings (arrow would make "2024-05-13" a timestamp), but only the
    # fields of the first record: a schema field no record has would become a null column
    strings = pa.schema([(name, pa.string()) for name in REQUIRED if name in first])

    def read(block: bytes) -> Any:
        return pj.read_json(
            pa.BufferReader(block),
            read_options=pj.ReadOptions(block_size=4 << 20),
            parse_options=pj.ParseOptions(
                explicit_schema=strings, unexpected_field_behavior="infer"
            ),
        )

    try:
        table = read(data)
    except (pa.ArrowException, ValueError):
        table = _jsonl_blocks(pa, read, data, want)
    lines = data.count(b"\n") + 1 - _blank_tail(data)
    locator = _JsonlLocator(source, data, simple=lines == table.num_rows)
    if lines != table.num_rows and len(locator.numbered()) != table.num_rows:
        raise _Fallback  # a record over several lines: the per-row reader says where
    return _table_from_arrow(_Columns(pa, table, locator, "jsonl"), want)


JSONL_BLOCK = 16 << 20


def _jsonl_blocks(pa: Any, read: Callable[[bytes], Any], data: bytes, want: _Want) -> Any:
    """The file block by block, for when one table cannot hold it (a field that changes
    type, a NaN): blocks arrow cannot read are parsed by ``json.loads``, and a field whose
    type differs between blocks becomes text, which the checks read as the per-row reader
    reads the values. Invalid JSON, or a line that is not an object, is left to the
    per-row reader."""
    tables = []
    start = 0
    while start < len(data):
        end = data.find(b"\n", min(start + JSONL_BLOCK, len(data)))
        end = len(data) if end < 0 else end + 1
        block, start = data[start:end], end
        if not block.strip():
            continue
        try:
            table = read(block)
        except (pa.ArrowException, ValueError):
            table = _table_of_lines(pa, block)
        wanted = _wanted_columns(table.column_names, want)
        tables.append(table.select(wanted))
    if not tables:
        raise _Fallback
    return pa.concat_tables(_same_types(pa, tables), promote_options="default")


def _table_of_lines(pa: Any, block: bytes) -> Any:
    try:
        records = [json.loads(line) for line in block.split(b"\n") if line.strip()]
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise _Fallback from None
    if not all(isinstance(record, dict) for record in records):
        raise _Fallback
    names = list(dict.fromkeys(key for record in records for key in record))
    columns = {}
    for name in names:
        values = [record.get(name) for record in records]
        try:
            if _booleans_among_numbers(values):
                raise TypeError  # arrow would read true as 1.0; the per-row reader refuses it
            columns[name] = pa.array(values, type=pa.string() if name in REQUIRED else None)
        except (pa.ArrowException, TypeError, ValueError, OverflowError):
            columns[name] = pa.array(
                [_as_text(v, keep_only_text=name in REQUIRED) for v in values], pa.string()
            )
    return pa.table(columns)


def _booleans_among_numbers(values: list[Any]) -> bool:
    kinds = {type(v) for v in values if v is not None}
    return bool in kinds and bool(kinds & {int, float})


def _as_text(value: Any, keep_only_text: bool = False) -> str | None:
    """A JSON value as text for a column of mixed types; names that are not text: null."""
    if value is None or isinstance(value, str):
        return value
    return None if keep_only_text else json.dumps(value, default=str)


def _same_types(pa: Any, tables: list[Any]) -> list[Any]:
    """Give each column one type across the blocks: floats for numbers only, else text."""
    kinds: dict[str, set[Any]] = {}
    for table in tables:
        for spec in table.schema:
            if not pa.types.is_null(spec.type):
                kinds.setdefault(spec.name, set()).add(spec.type)
    out = []
    for table in tables:
        for index, spec in enumerate(table.schema):
            types = kinds.get(spec.name, set())
            if not types or (len(types) == 1 and not pa.types.is_null(spec.type)):
                continue
            column = table.column(index)
            if len(types) == 1:
                target = next(iter(types))
            elif all(pa.types.is_integer(t) or pa.types.is_floating(t) for t in types):
                target = pa.float64()
            else:
                target = pa.string()
            if pa.types.is_null(spec.type) or spec.type == target:
                column = column.cast(target)
            elif spec.name in REQUIRED:  # a model name or label that is not text: null
                column = pa.nulls(len(column), pa.string())
            elif target == pa.string() and (
                pa.types.is_integer(spec.type)
                or pa.types.is_floating(spec.type)
                or pa.types.is_boolean(spec.type)
            ):
                column = column.cast(pa.string())
            else:
                column = pa.array([_as_text(v) for v in column.to_pylist()], pa.string())
            table = table.set_column(index, spec.name, column)
        out.append(table)
    return out


def _csv_arrow(data: bytes, source: str, want: _Want) -> BattleTable:
    pa = _pyarrow()
    if pa is None:
        raise _Fallback
    import pyarrow.csv as pacsv  # type: ignore[import-untyped,import-not-found,unused-ignore]

    as_text = (*REQUIRED, *OPTIONAL, "conv_metadata", "category_tag", *TEXT_COLUMNS)
    try:
        table = pacsv.read_csv(
            pa.BufferReader(data),
            parse_options=pacsv.ParseOptions(newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(
                column_types={name: pa.string() for name in as_text},
                null_values=[""],
                strings_can_be_null=True,
                true_values=["True", "true"],
                false_values=["False", "false"],
            ),
        )
    except (pa.ArrowException, ValueError):
        raise _Fallback from None
    if len(set(table.column_names)) != len(table.column_names):
        raise _Fallback
    locator = _CsvLocator(source, data, table.num_rows)
    return _table_from_arrow(_Columns(pa, table, locator, "csv"), want)


def _from_records(
    records: list[_Record], columns: Sequence[str] = (), *, source: str, want: _Want
) -> BattleTable | RankingData:
    if _is_ranking_file(records):
        return _rankings_from_records(records, source)
    return _table_from_records(records, source, want, columns)


def _decode(data: bytes, source: str) -> str:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BattleFileError(source, 1, f"not UTF-8 text ({exc.reason})") from None
    return text.replace("\r\n", "\n").replace("\r", "\n")  # as Path.read_text does


def _first_record(data: bytes) -> Mapping[str, Any] | None:
    """The first non-blank line of a JSON lines file as an object, if it is one."""
    for line in data.split(b"\n", 64)[:64]:
        if line.strip():
            try:
                first = json.loads(line)
            except (json.JSONDecodeError, UnicodeDecodeError):
                return None
            return first if isinstance(first, Mapping) else None
    return None


def _read_bytes(data: bytes, source: str, kind: Format, want: _Want) -> BattleTable | RankingData:
    if kind == "parquet":
        raise BattleFileError(source, 1, "Parquet is binary: use read_rating_file")
    first = _first_record(data) if kind == "jsonl" else None
    if kind == "jsonl" and "ranking" not in (first or {}):
        try:
            return _jsonl_arrow(data, source, want, first or {})
        except _Fallback:
            pass
    if kind == "csv":
        try:
            return _csv_arrow(data, source, want)
        except _Fallback:
            pass
    return _read_by_rows(data, source, kind, want)


def _read_by_rows(
    data: bytes, source: str, kind: Format, want: _Want | None = None
) -> BattleTable | RankingData:
    """The per-row reader alone: JSON lists, files arrow cannot read, and the reference
    the columnar path is tested against (Parquet: ``source`` is the path)."""
    want = want or _Want(text=False, style=False, categories=False)
    if kind == "parquet":
        return _from_records(*_parquet_records(Path(source)), source=source, want=want)
    text = _decode(data, source)
    reader = {"json": _json_records, "jsonl": _jsonl_records, "csv": _csv_records}[kind]
    return _from_records(list(reader(text, source)), source=source, want=want)


def _is_ranking_file(records: list[_Record]) -> bool:
    return (
        bool(records)
        and isinstance(records[0].values, Mapping)
        and ("ranking" in records[0].values)
    )


def _parquet_records(path: Path) -> tuple[list[_Record], list[str]]:
    """Rows of a Parquet file as records (line = 1-based row), via pyarrow or pandas, and
    the file's column names."""
    source = str(path)
    try:
        import pyarrow.parquet as pq  # type: ignore[import-untyped,import-not-found,unused-ignore]
    except ImportError:
        pq = None
    try:
        if pq is not None:
            table = pq.ParquetFile(path).read()
            rows: list[dict[str, Any]] = table.to_pylist()
            columns = list(table.column_names)
        else:
            try:
                import pandas as pd  # type: ignore[import-untyped,import-not-found,unused-ignore]
            except ImportError:
                raise BattleFileError(
                    source,
                    1,
                    "reading Parquet needs the 'pyarrow' package (or 'pandas' with a Parquet "
                    "engine): pip install pyarrow",
                ) from None
            frame = pd.read_parquet(path)
            rows, columns = frame.to_dict(orient="records"), [str(c) for c in frame.columns]
    except (BattleFileError, OSError):
        raise
    except Exception as exc:  # noqa: BLE001 - any reader failure is a bad file
        raise BattleFileError(source, 1, f"unreadable Parquet ({exc})") from None
    records = []
    for number, row in enumerate(rows, start=1):
        present = {k: v for k, v in row.items() if v is not None and not _is_nan(v)}
        if "ranking" in present:
            present["ranking"] = _as_list(present["ranking"])
        records.append(_Record(number, present))
    return records, columns


def _as_list(value: object) -> object:
    """Nested numpy arrays (pandas' view of Parquet lists) as plain lists."""
    if hasattr(value, "tolist") and not isinstance(value, str):
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        return [_as_list(item) for item in value]
    return value


def _read_path(path: Path, file_format: Format | None, want: _Want) -> BattleTable | RankingData:
    kind = file_format or _detect_format(str(path), "")
    if kind == "parquet":
        return _parquet_table(path, want)
    data = path.read_bytes()
    if file_format is None and Path(path).suffix.lower() not in (
        ".json",
        ".jsonl",
        ".ndjson",
        ".csv",
    ):
        kind = _detect_format(str(path), data[:4096].lstrip()[:1].decode("latin-1"))
    return _read_bytes(data, str(path), kind, want)


# --------------------------------------------------------------------------- public API


def read_battle_table(
    path: str | Path,
    *,
    file_format: Format | None = None,
    text: bool = True,
    style: bool = True,
    categories: bool = True,
) -> BattleTable:
    """Read a battle file (``.json`` list, ``.jsonl``, ``.csv``, ``.parquet``) as columns.

    The layout (FastChat, LMArena, Kaggle 55k) is recognised by its columns; ``text``,
    ``style`` and ``categories`` say whether to build those optional parts (leaving out
    what is not needed reads less of a Parquet file). A K-wise rankings file is an error.
    """
    path = Path(path)
    data = _read_path(path, file_format, _Want(text=text, style=style, categories=categories))
    if isinstance(data, RankingData):
        raise BattleFileError(str(path), 1, "a K-wise rankings file, not battles", "ranking")
    return data


def read_rating_table(
    path: str | Path,
    *,
    file_format: Format | None = None,
    text: bool = True,
    style: bool = True,
    categories: bool = True,
) -> BattleTable | RankingData:
    """Like ``read_battle_table``, but K-wise rankings files come back as ``RankingData``."""
    want = _Want(text=text, style=style, categories=categories)
    return _read_path(Path(path), file_format, want)


def read_battle_text(
    text: str, *, source: str = "<text>", file_format: Format | None = None
) -> Battles:
    """Parse battle records from text (format detected from ``source``'s name or content)."""
    data = read_rating_text(text, source=source, file_format=file_format)
    if isinstance(data, RankingData):
        raise BattleFileError(source, 1, "a K-wise rankings file, not battles", "ranking")
    return data


def read_rating_text(
    text: str, *, source: str = "<text>", file_format: Format | None = None
) -> Battles | RankingData:
    """Battles, or K-wise rankings when the first record has a ``ranking`` field."""
    kind = file_format or _detect_format(source, text)
    data = _read_bytes(text.encode("utf-8"), source, kind, _Want(False, False, False))
    return data if isinstance(data, RankingData) else data.to_battles()


def read_battle_file(path: str | Path, *, file_format: Format | None = None) -> Battles:
    """Read a battle file (``.json`` list, ``.jsonl``, ``.csv``, ``.parquet``)."""
    table = read_battle_table(
        path, file_format=file_format, text=False, style=False, categories=False
    )
    return table.to_battles()


def read_rating_file(
    path: str | Path, *, file_format: Format | None = None
) -> Battles | RankingData:
    """Read battles or K-wise rankings (see the module docstring for the formats)."""
    data = read_rating_table(
        path, file_format=file_format, text=False, style=False, categories=False
    )
    return data if isinstance(data, RankingData) else data.to_battles()

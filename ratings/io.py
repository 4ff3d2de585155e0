"""Reading FastChat battle files (JSON list, JSON lines, CSV, Parquet) and K-wise rankings.

Each battle record has ``model_a``, ``model_b`` and ``winner`` (``model_a``, ``model_b``,
``tie`` or ``tie (bothbad)``), optionally ``weight`` and ``tstamp``; other fields (FastChat
files carry many) are ignored. Every problem is reported as a ``BattleFileError`` naming
the file line and the field, so a bad row in a million-row export can be found at once.

K-wise files (JSON lines or a JSON list) hold ``{"ranking": [["a"], ["b", "c"]], "weight": 1}``
records: tiers best first, models in one tier tied, ``weight`` optional (default 1). A file
is read as rankings when its first record has a ``ranking`` field.

Parquet (rows numbered from 1 in errors) needs ``pyarrow`` or ``pandas`` (with a Parquet
engine); without them reading one is a ``BattleFileError`` naming the missing package.
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

from ratings.data import WINNER_LABELS, Battles, battles_from_arrays

__all__ = [
    "BattleFileError",
    "RankingData",
    "read_battle_file",
    "read_battle_text",
    "read_rating_file",
    "read_rating_text",
]

Format = Literal["json", "jsonl", "csv", "parquet"]
REQUIRED = ("model_a", "model_b", "winner")
OPTIONAL = ("weight", "tstamp")


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
        yield _Record(_line_of(text, position), value)
        position, expect_value, after_comma = end, False, False


def _jsonl_records(text: str, source: str) -> Iterator[_Record]:
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield _Record(number, json.loads(line))
        except json.JSONDecodeError as exc:
            raise BattleFileError(source, number, f"invalid JSON ({exc.msg})") from None


def _csv_records(text: str, source: str) -> Iterator[_Record]:
    reader = csv.DictReader(io.StringIO(text))
    header = reader.fieldnames or []
    for field in REQUIRED:
        if field not in header:
            raise BattleFileError(source, 1, "missing column in CSV header", field)
    for row in reader:
        if None in row:
            raise BattleFileError(source, reader.line_num, "more cells than header columns")
        present = {
            key: value for key, value in row.items() if value not in (None, "") or key in REQUIRED
        }
        yield _Record(reader.line_num, present)


def _number(record: _Record, field: str, source: str) -> float:
    raw = record.values[field]
    if isinstance(raw, bool):
        raise BattleFileError(source, record.line, f"expected a number, got {raw!r}", field)
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise BattleFileError(
            source, record.line, f"expected a number, got {raw!r}", field
        ) from None
    if not math.isfinite(value):
        raise BattleFileError(source, record.line, f"expected a finite number, got {raw!r}", field)
    return value


def _check_record(record: _Record, source: str) -> None:
    if not isinstance(record.values, Mapping):
        raise BattleFileError(source, record.line, "each battle must be an object")
    for field in REQUIRED:
        value = record.values.get(field)
        if field not in record.values:
            raise BattleFileError(source, record.line, "missing", field)
        if not isinstance(value, str) or not value:
            raise BattleFileError(
                source, record.line, f"expected a non-empty string, got {value!r}", field
            )
    if record.values["winner"] not in WINNER_LABELS:
        allowed = ", ".join(WINNER_LABELS)
        raise BattleFileError(
            source, record.line, f"{record.values['winner']!r} is not one of {allowed}", "winner"
        )
    if record.values["model_a"] == record.values["model_b"]:
        raise BattleFileError(source, record.line, "same model on both sides", "model_b")


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


def _battles_from_records(records: list[_Record], source: str) -> Battles:
    if not records:
        raise BattleFileError(source, 1, "no battles in file")
    columns: dict[str, list[Any]] = {field: [] for field in REQUIRED + OPTIONAL}
    for record in records:
        _check_record(record, source)
        for field in REQUIRED:
            columns[field].append(record.values[field])
    for field in OPTIONAL:
        holders = [field in record.values for record in records]
        if not any(holders):
            continue
        if not all(holders):
            missing = records[holders.index(False)]
            raise BattleFileError(source, missing.line, "missing (other battles have it)", field)
        columns[field] = [_number(record, field, source) for record in records]
    if columns["weight"] and min(columns["weight"]) < 0:
        bad = records[[w < 0 for w in columns["weight"]].index(True)]
        raise BattleFileError(source, bad.line, "must be >= 0", "weight")
    return battles_from_arrays(
        columns["model_a"],
        columns["model_b"],
        columns["winner"],
        weight=columns["weight"] or None,
        timestamp=columns["tstamp"] or None,
    )


def _text_records(text: str, source: str, kind: Format) -> list[_Record]:
    if kind == "parquet":
        raise BattleFileError(source, 1, "Parquet is binary: use read_rating_file")
    reader = {"json": _json_records, "jsonl": _jsonl_records, "csv": _csv_records}[kind]
    return list(reader(text, source))


def _is_ranking_file(records: list[_Record]) -> bool:
    return (
        bool(records)
        and isinstance(records[0].values, Mapping)
        and ("ranking" in records[0].values)
    )


def read_battle_text(
    text: str, *, source: str = "<text>", file_format: Format | None = None
) -> Battles:
    """Parse battle records from text (format detected from ``source``'s name or content)."""
    records = _text_records(text, source, file_format or _detect_format(source, text))
    return _battles_from_records(records, source)


def read_rating_text(
    text: str, *, source: str = "<text>", file_format: Format | None = None
) -> Battles | RankingData:
    """Battles, or K-wise rankings when the first record has a ``ranking`` field."""
    records = _text_records(text, source, file_format or _detect_format(source, text))
    if _is_ranking_file(records):
        return _rankings_from_records(records, source)
    return _battles_from_records(records, source)


def _parquet_records(path: Path) -> list[_Record]:
    """Rows of a Parquet file as records (line = 1-based row), via pyarrow or pandas."""
    source = str(path)
    try:
        import pyarrow.parquet as pq  # type: ignore[import-untyped,import-not-found,unused-ignore]
    except ImportError:
        pq = None
    try:
        if pq is not None:
            rows: list[dict[str, Any]] = pq.read_table(path).to_pylist()
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
            rows = pd.read_parquet(path).to_dict(orient="records")
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
    return records


def _is_nan(value: object) -> bool:
    return isinstance(value, float) and math.isnan(value)


def _as_list(value: object) -> object:
    """Nested numpy arrays (pandas' view of Parquet lists) as plain lists."""
    if hasattr(value, "tolist") and not isinstance(value, str):
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        return [_as_list(item) for item in value]
    return value


def _read_records(path: Path, file_format: Format | None) -> list[_Record]:
    kind = file_format or _detect_format(str(path), "")
    if kind == "parquet":
        return _parquet_records(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise BattleFileError(str(path), 1, f"not UTF-8 text ({exc.reason})") from None
    return _text_records(text, str(path), file_format or _detect_format(str(path), text))


def read_battle_file(path: str | Path, *, file_format: Format | None = None) -> Battles:
    """Read a FastChat battle file (``.json`` list, ``.jsonl``, ``.csv``, ``.parquet``)."""
    path = Path(path)
    return _battles_from_records(_read_records(path, file_format), str(path))


def read_rating_file(
    path: str | Path, *, file_format: Format | None = None
) -> Battles | RankingData:
    """Read battles or K-wise rankings (see the module docstring for the formats)."""
    path = Path(path)
    records = _read_records(path, file_format)
    if _is_ranking_file(records):
        return _rankings_from_records(records, str(path))
    return _battles_from_records(records, str(path))

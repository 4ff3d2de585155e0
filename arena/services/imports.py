"""Importing prompt sets and pre-generated answers from JSONL (and, for uploads, CSV) files.

A bad file is rejected whole, with the line and field named; nothing is half imported.
The ``*_jsonl`` functions read files on disk and are idempotent (the demo reloads its
fixtures with them); the ``*_file`` functions take an upload's bytes and are strict.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count

from arena.models import BackendKind, Contestant, Prompt, PromptSet, Response
from ratings.style import FEATURES


def _rows(path: Path, required: dict[str, type]) -> Iterator[tuple[int, dict[str, Any]]]:
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise ValidationError(f"{path.name} line {number}: not JSON ({e.msg})") from None
            if not isinstance(row, dict):
                raise ValidationError(f"{path.name} line {number}: expected a JSON object")
            for field, kind in required.items():
                if not isinstance(row.get(field), kind):
                    raise ValidationError(
                        f"{path.name} line {number}: field {field!r} must be a {kind.__name__}"
                    )
            yield number, row


def prompt_set_import_jsonl(*, name: str, path: Path, source: str = "") -> PromptSet:
    """Rows: {"question_id": int|str, "text": str, "category": str?}. Replaces nothing."""
    rows = list(_rows(path, {"text": str}))
    with transaction.atomic():
        pset, _ = PromptSet.objects.get_or_create(name=name, defaults={"source": source})
        for number, row in rows:
            external_id = str(row.get("question_id", number))
            Prompt.objects.update_or_create(
                prompt_set=pset,
                external_id=external_id,
                defaults={"text": row["text"], "category": str(row.get("category", ""))},
            )
    return pset


def responses_import_jsonl(*, contestant_name: str, prompt_set: PromptSet, path: Path) -> int:
    """Rows: {"question_id": ..., "text": str}. Creates the contestant as pre-generated."""
    rows = list(_rows(path, {"text": str}))
    prompts = {p.external_id: p for p in prompt_set.prompts.all()}
    for number, row in rows:
        if str(row.get("question_id")) not in prompts:
            raise ValidationError(
                f"{path.name} line {number}: field 'question_id' names no prompt of {prompt_set}"
            )
    with transaction.atomic():
        contestant, _ = Contestant.objects.get_or_create(
            name=contestant_name, defaults={"backend": BackendKind.PREGENERATED}
        )
        for _, row in rows:
            Response.objects.update_or_create(
                contestant=contestant,
                prompt=prompts[str(row["question_id"])],
                settings_hash=contestant.settings_hash,
                defaults={"text": row["text"]},
            )
    return len(rows)


# --- Uploads (web form and API): JSONL or CSV, validated whole before anything is saved ---

MAX_UPLOAD_BYTES = 20 * 1024 * 1024
MAX_REPORTED_PROBLEMS = 50  # enough to fix a file in one go, short enough to read
NAME_LENGTH = 100  # Contestant.name, Prompt.external_id and Prompt.category lengths


@dataclass(frozen=True)
class FileRow:
    line: int  # 1-based line of the file where the row starts
    values: dict[str, Any]


@dataclass
class Problems:
    """Collects what is wrong with a file, so one upload reports every bad line at once."""

    filename: str
    messages: list[str] = field(default_factory=list)

    def add(self, line: int, column: str | None, message: str) -> None:
        where = f"line {line}" + (f", field {column!r}" if column else "")
        self.messages.append(f"{self.filename} {where}: {message}")

    def raise_any(self) -> None:
        if self.messages:
            shown = self.messages[:MAX_REPORTED_PROBLEMS]
            if len(self.messages) > len(shown):
                shown.append(f"… and {len(self.messages) - len(shown)} more problems")
            raise ValidationError({"file": shown})


@dataclass(frozen=True)
class AnswersImported:
    rows: dict[str, int]  # answers imported per model
    created: list[str]  # models that did not exist and were created as pre-generated


def _file_error(filename: str, line: int, column: str | None, message: str) -> ValidationError:
    problems = Problems(filename)
    problems.add(line, column, message)
    return ValidationError({"file": problems.messages})


def _decode(data: bytes, filename: str) -> str:
    if len(data) > MAX_UPLOAD_BYTES:
        raise ValidationError(
            {
                "file": [
                    f"{filename} is {len(data) / 2**20:.1f} MB; the limit is "
                    f"{MAX_UPLOAD_BYTES // 2**20} MB"
                ]
            }
        )
    try:
        # utf-8-sig: spreadsheet programs start their CSV exports with a byte-order mark.
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise _file_error(filename, line, None, f"not UTF-8 text ({e.reason})") from None
    if not text.strip():
        raise _file_error(filename, 1, None, "the file is empty")
    return text


def _is_jsonl(filename: str, text: str) -> bool:
    suffix = Path(filename).suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        return True
    if suffix == ".csv":
        return False
    return text.lstrip().startswith("{")


def _jsonl_rows(text: str, problems: Problems) -> list[FileRow]:
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as e:
            problems.add(number, None, f"not JSON ({e.msg})")
            continue
        if not isinstance(value, dict):
            problems.add(number, None, "expected a JSON object")
            continue
        rows.append(FileRow(number, value))
    return rows


def _csv_rows(text: str, problems: Problems, columns: tuple[str, ...]) -> list[FileRow]:
    # strict: a quote left open is an error at its row, not the rest of the file in one cell.
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = [name.strip() for name in next(reader)]
    except csv.Error as e:
        problems.add(1, None, f"not CSV ({e})")
        return []
    for column in columns:
        if column not in header:
            problems.add(1, column, "column missing from the CSV header")
    if problems.messages:
        return []
    rows, start = [], reader.line_num + 1
    try:
        for cells in reader:
            # A quoted cell may span lines: a row starts where the previous one ended.
            line, start = start, reader.line_num + 1
            if not any(cell.strip() for cell in cells):
                continue
            if len(cells) > len(header):
                problems.add(line, None, f"{len(cells)} cells but {len(header)} header columns")
                continue
            rows.append(FileRow(line, dict(zip(header, cells, strict=False))))
    except csv.Error as e:
        problems.add(start, None, f"not CSV ({e})")
    return rows


def _read_rows(
    *, data: bytes, filename: str, csv_columns: tuple[str, ...]
) -> tuple[list[FileRow], Problems]:
    text = _decode(data, filename)
    problems = Problems(filename)
    if _is_jsonl(filename, text):
        rows = _jsonl_rows(text, problems)
    else:
        rows = _csv_rows(text, problems, csv_columns)
    if not rows and not problems.messages:
        problems.add(1, None, "no rows in the file")
    return rows, problems


def _missing(value: Any, kind: str) -> str:
    if value is None or (isinstance(value, str) and not value.strip()):
        return "missing or empty"
    return f"must be {kind}, got {value!r}"


def _key(row: FileRow, column: str, problems: Problems) -> str | None:
    """An identifier cell (question_id, model): a non-empty string or an integer."""
    value = row.values.get(column)
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        problems.add(row.line, column, _missing(value, "a string or an integer"))
        return None
    if len(value.strip()) > NAME_LENGTH:
        problems.add(row.line, column, f"longer than {NAME_LENGTH} characters")
        return None
    return value.strip()


def _text(row: FileRow, column: str, problems: Problems) -> str | None:
    value = row.values.get(column)
    if not isinstance(value, str) or not value.strip():
        problems.add(row.line, column, _missing(value, "a string"))
        return None
    return value


def prompt_set_import_file(
    *, name: str, data: bytes, filename: str, source: str = "", description: str = ""
) -> PromptSet:
    """A new prompt set from rows ``question_id, text[, category]`` (JSONL or CSV).

    An existing set is never changed: tournaments froze its prompts in their manifests.
    """
    name = name.strip()
    if not name:
        raise ValidationError({"name": ["a prompt set needs a name"]})
    if PromptSet.objects.filter(name=name).exists():
        raise ValidationError({"name": [f"a prompt set named {name!r} exists; choose another"]})
    rows, problems = _read_rows(data=data, filename=filename, csv_columns=("question_id", "text"))
    prompts: list[Prompt] = []
    seen: dict[str, int] = {}
    for row in rows:
        qid, text = _key(row, "question_id", problems), _text(row, "text", problems)
        category = row.values.get("category") or ""
        if not isinstance(category, str) or len(category) > NAME_LENGTH:
            problems.add(
                row.line,
                "category",
                f"must be a string of at most {NAME_LENGTH} characters, got {category!r}",
            )
        if qid is not None and qid in seen:
            problems.add(row.line, "question_id", f"{qid!r} repeats line {seen[qid]}")
        elif qid is not None:
            seen[qid] = row.line
        if qid is not None and text is not None:
            prompts.append(Prompt(external_id=qid, text=text, category=str(category).strip()))
    problems.raise_any()
    with transaction.atomic():
        pset = PromptSet.objects.create(name=name, source=source, description=description)
        for prompt in prompts:
            prompt.prompt_set = pset
        Prompt.objects.bulk_create(prompts)
    return pset


@dataclass(frozen=True)
class _Answer:
    line: int
    model: str
    prompt: Prompt
    text: str


def _answer_rows(
    rows: list[FileRow],
    *,
    model: str,
    prompts: dict[str, Prompt],
    pset: PromptSet,
    problems: Problems,
) -> list[_Answer]:
    answers: list[_Answer] = []
    seen: dict[tuple[str, str], int] = {}
    for row in rows:
        name = model or _key(row, "model", problems)
        if model and row.values.get("model") not in (None, "", model):
            problems.add(row.line, "model", f"{row.values['model']!r} but the form says {model!r}")
        qid, text = _key(row, "question_id", problems), _text(row, "text", problems)
        if qid is not None and qid not in prompts:
            problems.add(row.line, "question_id", f"{qid!r} names no prompt of {pset.name!r}")
            continue
        if name is None or qid is None or text is None:
            continue
        if (name, qid) in seen:
            problems.add(
                row.line,
                "question_id",
                f"{qid!r} repeats line {seen[name, qid]} for model {name!r}",
            )
            continue
        seen[name, qid] = row.line
        answers.append(_Answer(row.line, name, prompts[qid], text))
    return answers


def _check_models(answers: list[_Answer], problems: Problems) -> dict[str, Contestant]:
    """Existing contestants by name; a generating one must not get answers pasted in."""
    first_line: dict[str, int] = {}
    for answer in answers:
        first_line.setdefault(answer.model, answer.line)
    existing = {c.name: c for c in Contestant.objects.filter(name__in=first_line)}
    for name, contestant in existing.items():
        if contestant.backend != BackendKind.PREGENERATED:
            problems.add(
                first_line[name],
                "model",
                f"{name!r} is a {contestant.backend} contestant, not a pre-generated one",
            )
    return existing


def _check_used_answers(
    answers: list[_Answer], existing: dict[str, Contestant], problems: Problems
) -> dict[tuple[int, int], Response]:
    """Stored answers by (contestant, prompt). One a match showed may not change: the
    verdict on it would then describe a text nobody judged."""
    stored: dict[tuple[int, int], Response] = {
        (r.contestant_id, r.prompt_id): r
        for r in Response.objects.filter(contestant__in=existing.values()).annotate(
            uses=Count("matchentry")
        )
    }
    for answer in answers:
        contestant = existing.get(answer.model)
        old = stored.get((contestant.pk, answer.prompt.pk)) if contestant else None
        # `uses` is the annotation above, which the declared Response type does not carry.
        if old is not None and old.uses and old.text != answer.text:  # type: ignore[attr-defined]
            problems.add(
                answer.line,
                "text",
                f"model {answer.model!r} already has a different "
                "answer here that matches used; import under a new model name",
            )
    return stored


def responses_import_file(
    *, prompt_set: PromptSet, data: bytes, filename: str, model: str = ""
) -> AnswersImported:
    """Pre-generated answers (Varco Arena style) from JSONL or CSV.

    With ``model`` the rows are ``question_id, text`` of that one model; without it each
    row names its ``model``. Unknown models are created as pre-generated contestants; a
    stored answer is replaced unless a match already used it. All or nothing.
    """
    model = model.strip()
    if len(model) > NAME_LENGTH:
        raise ValidationError({"model": [f"longer than {NAME_LENGTH} characters"]})
    columns = ("question_id", "text") if model else ("model", "question_id", "text")
    rows, problems = _read_rows(data=data, filename=filename, csv_columns=columns)
    prompts = {p.external_id: p for p in prompt_set.prompts.all()}
    answers = _answer_rows(rows, model=model, prompts=prompts, pset=prompt_set, problems=problems)
    existing = _check_models(answers, problems)
    stored = _check_used_answers(answers, existing, problems)
    problems.raise_any()
    with transaction.atomic():
        created = []
        for name in dict.fromkeys(a.model for a in answers):
            if name not in existing:
                existing[name] = Contestant.objects.create(
                    name=name, backend=BackendKind.PREGENERATED
                )
                created.append(name)
        new, changed = [], []
        for answer in answers:
            contestant = existing[answer.model]
            old = stored.get((contestant.pk, answer.prompt.pk))
            if old is None:
                new.append(
                    Response(
                        contestant=contestant,
                        prompt=answer.prompt,
                        settings_hash=contestant.settings_hash,
                        text=answer.text,
                    )
                )
            elif old.text != answer.text or old.error:
                old.text, old.error = answer.text, ""
                changed.append(old)
        for response in (*new, *changed):
            response.set_style()
        Response.objects.bulk_create(new)
        style = [f"style_{name}" for name in FEATURES]
        Response.objects.bulk_update(changed, ["text", "error", *style])
    counts: dict[str, int] = {}
    for answer in answers:
        counts[answer.model] = counts.get(answer.model, 0) + 1
    return AnswersImported(rows=counts, created=created)

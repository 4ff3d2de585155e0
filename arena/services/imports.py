"""Importing prompt sets and pre-generated answers from JSONL files.

A bad file is rejected whole, with the line and field named; nothing is half imported.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from arena.models import BackendKind, Contestant, Prompt, PromptSet, Response


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

"""Data API: exports of a tournament (public, like its leaderboard) and imports (staff).

Mounted on the main API at ``/api/data`` (see the end of ``arena/api.py``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from itertools import islice
from typing import TYPE_CHECKING, Any, Literal

from asgiref.sync import sync_to_async
from django.core.exceptions import ValidationError
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from ninja import File, Form, Router, Schema, Status
from ninja.files import UploadedFile

from arena.api_errors import AUTH, BAD, MISSING
from arena.auth import TOKEN_OR_SESSION
from arena.auth import require_staff as _require_staff
from arena.models import PromptSet, Tournament
from arena.services.exports import EXPORTS, Export, tournament_export
from arena.services.imports import (
    MAX_UPLOAD_BYTES,
    prompt_set_import_file,
    responses_import_file,
)

router = Router(tags=["data"])


class AnswersImportedOut(Schema):
    prompt_set: str
    rows: dict[str, int]
    created: list[str]


class PromptSetImportedOut(Schema):
    id: int
    name: str
    prompts: int


def export_response(request: HttpRequest, export: Export) -> StreamingHttpResponse:
    """A streamed attachment, so a large tournament's export never sits whole in memory.

    Served by Django's ASGI handler (arena.serving.asgi routes exports there), a response must
    stream from an asynchronous iterator: Django reads a synchronous one to its end before
    sending a byte. The rows are still made by the sync code, a batch at a time, in the
    one thread that holds the database cursor."""
    chunks: Any = export.chunks
    if isinstance(request, ASGIRequest):
        chunks = _batches(iter(export.chunks))
    response = StreamingHttpResponse(chunks, content_type=export.content_type)
    response["Content-Disposition"] = f'attachment; filename="{export.filename}"'
    return response


# Lines per batch handed from the sync rows to the event loop (a few hundred kB).
EXPORT_BATCH = 2000


async def _batches(lines: Iterator[str]) -> AsyncIterator[bytes]:
    def batch() -> bytes:
        return "".join(islice(lines, EXPORT_BATCH)).encode()

    while data := await sync_to_async(batch, thread_sensitive=True)():
        yield data


def upload_bytes(upload: UploadedFile) -> bytes:
    """The upload's content, refused by its declared size before it is read into memory."""
    if upload.size is not None and upload.size > MAX_UPLOAD_BYTES:
        raise ValidationError(
            {
                "file": [
                    f"{upload.name} is {upload.size / 2**20:.1f} MB; the limit is "
                    f"{MAX_UPLOAD_BYTES // 2**20} MB"
                ]
            }
        )
    data: bytes = upload.read()
    return data


def _prompt_set(key: str) -> PromptSet:
    lookup = {"pk": int(key)} if key.isdigit() else {"name": key}
    try:
        return PromptSet.objects.get(**lookup)
    except PromptSet.DoesNotExist:
        raise ValidationError({"prompt_set": [f"unknown prompt set: {key}"]}) from None


# Built at run time (an enum in the schema), so to mypy a plain string.
if TYPE_CHECKING:
    ExportKind = str
else:
    ExportKind = Literal[tuple(EXPORTS)]


@router.get(
    "/tournaments/{tournament_id}/export/{kind}",
    response={200: None, **BAD, **MISSING},
    openapi_extra={"responses": {200: {"description": "the file, streamed", "content": {
        content_type: {"schema": {"type": "string"}} for content_type, _ in EXPORTS.values()
    }}}},
)  # fmt: skip
def export(request: HttpRequest, tournament_id: int, kind: ExportKind) -> Any:
    """``kind``: battles.jsonl, rankings.jsonl, leaderboard.csv or manifest.json."""
    tournament = get_object_or_404(Tournament, pk=tournament_id)
    return export_response(request, tournament_export(tournament=tournament, kind=kind))


@router.post(
    "/import/answers", response={201: AnswersImportedOut, **BAD, **AUTH}, auth=TOKEN_OR_SESSION
)
def import_answers(
    request: HttpRequest,
    file: File[UploadedFile],
    prompt_set: Form[str],
    model: Form[str] = "",
) -> Any:
    """JSONL or CSV of pre-generated answers; ``model`` names the one model of the file,
    or leave it empty when each row has a ``model`` field."""
    _require_staff(request)
    pset = _prompt_set(prompt_set)
    done = responses_import_file(
        prompt_set=pset, data=upload_bytes(file), filename=file.name or "upload", model=model
    )
    return Status(201, {"prompt_set": pset.name, "rows": done.rows, "created": done.created})


@router.post(
    "/import/prompts", response={201: PromptSetImportedOut, **BAD, **AUTH}, auth=TOKEN_OR_SESSION
)
def import_prompts(
    request: HttpRequest,
    file: File[UploadedFile],
    name: Form[str],
    source: Form[str] = "",
) -> Any:
    """JSONL or CSV with ``question_id``, ``text`` and optionally ``category``; a new set."""
    _require_staff(request)
    pset = prompt_set_import_file(
        name=name, data=upload_bytes(file), filename=file.name or "upload", source=source
    )
    return Status(201, {"id": pset.pk, "name": pset.name, "prompts": pset.prompts.count()})

"""One shape for every answer of the API that is not a success, as its schema documents:
``{"errors": {field: [message, ...]}}`` (``__all__`` when no one field is at fault), with
the status saying what kind: 400 a request the API cannot take (a bad or missing field, a
body that is not JSON), 401 no or an unknown token, 403 not allowed, 404 nothing there,
409 a vote on a battle that no longer takes one, 429 too many. django-ninja's own answers
(``{"detail": …}``, 422 for a field it cannot read) are turned into it here."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI, Schema
from ninja.errors import HttpError
from ninja.errors import ValidationError as RequestInvalid


class ErrorOut(Schema):
    errors: dict[str, list[str]]


# The error answers an operation documents: every operation may meet a bad request; those
# behind a login also 401 and 403; those naming a thing by its id also 404.
BAD = {400: ErrorOut}
AUTH = {401: ErrorOut, 403: ErrorOut}
MISSING = {404: ErrorOut}


def _field(location: Any) -> str:
    """``["body", "payload", "budget"]`` → ``budget``: the name a caller knows."""
    parts = [str(p) for p in location if p not in ("body", "payload", "query", "path", "form")]
    return ".".join(parts) or "__all__"


def errors_install(api: NinjaAPI) -> None:
    """Answer every error in the one shape."""

    def answer(request: HttpRequest, status: int, errors: dict[str, list[str]]) -> HttpResponse:
        return api.create_response(request, {"errors": errors}, status=status)

    @api.exception_handler(RequestInvalid)
    def request_invalid(request: HttpRequest, exc: RequestInvalid) -> HttpResponse:
        found: dict[str, list[str]] = {}
        for error in exc.errors:
            found.setdefault(_field(error.get("loc", ())), []).append(str(error.get("msg", "")))
        return answer(request, 400, found)

    @api.exception_handler(DjangoValidationError)
    def refused(request: HttpRequest, exc: DjangoValidationError) -> HttpResponse:
        found = exc.message_dict if hasattr(exc, "error_dict") else {"__all__": exc.messages}
        return answer(request, 400, found)

    @api.exception_handler(Http404)
    def missing(request: HttpRequest, exc: Http404) -> HttpResponse:
        return answer(request, 404, {"__all__": [str(exc) or "not found"]})

    @api.exception_handler(HttpError)
    def http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
        return answer(request, exc.status_code, {"__all__": [exc.message]})

"""What every request and response goes through: input no view can store is refused
before any view runs, and every page carries a Content-Security-Policy."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from asgiref.sync import iscoroutinefunction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.decorators import sync_and_async_middleware

NUL_REFUSED = "text with a NUL character (\\u0000) is refused: no field can store it"


Before = Callable[[HttpRequest], "HttpResponse | None"]
After = Callable[[HttpResponse], HttpResponse]


def _around(get_response: Callable[..., Any], before: Before, after: After) -> Callable[..., Any]:
    """A middleware of both kinds, so that an async view behind it is not pushed into a
    thread: ``before`` may answer instead of the view, ``after`` sees the view's answer."""
    if iscoroutinefunction(get_response):

        async def async_middleware(request: HttpRequest) -> HttpResponse:
            early = before(request)
            return early if early is not None else after(await get_response(request))

        return async_middleware

    def middleware(request: HttpRequest) -> HttpResponse:
        early = before(request)
        return early if early is not None else after(get_response(request))

    return middleware


@sync_and_async_middleware
def refuse_nul(get_response: Callable[..., Any]) -> Callable[..., Any]:
    """A 400 for a NUL character in the query string or a JSON body: PostgreSQL cannot
    store one in text, and would otherwise answer the view's query with a 500. (Django's
    forms refuse it in form fields themselves; JSON writes it as the escape ``\\u0000``.)"""
    return _around(
        get_response,
        before=lambda request: _refused() if _has_nul(request) else None,
        after=lambda response: response,
    )


def _refused() -> HttpResponse:
    return JsonResponse({"errors": {"__all__": [NUL_REFUSED]}}, status=400)


def _has_nul(request: HttpRequest) -> bool:
    query = request.META.get("QUERY_STRING", "")
    if "\x00" in query or "%00" in query:
        return True
    if request.method not in ("POST", "PUT", "PATCH"):
        return False
    if request.META.get("CONTENT_TYPE", "").startswith("application/json"):
        return b"\\u0000" in request.body or b"\x00" in request.body
    return False


# Scripts, styles, images and connections from this site only: answers are untrusted
# markdown, and a remote image in one would let its author track voters and could show
# whose answer it is (a logo) on a blind page; the browser now never fetches it.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "img-src 'self' data:",
        # Style attributes are inert (nh3 strips them from answers); Django's admin uses some.
        "style-src 'self' 'unsafe-inline'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


@sync_and_async_middleware
def content_security_policy(get_response: Callable[..., Any]) -> Callable[..., Any]:
    return _around(get_response, before=lambda request: None, after=_with_policy)


def _with_policy(response: HttpResponse) -> HttpResponse:
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    return response

"""API authentication: bearer tokens (hashed at rest) or a logged-in session (with CSRF)."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, User
from django.http import HttpRequest
from django.utils import timezone
from ninja.errors import HttpError
from ninja.security import HttpBearer, django_auth

from arena.models import TOKEN_SCOPES, ApiToken

TOKEN_PREFIX = "arena_"


def api_token_create(
    *,
    user: User,
    name: str = "",
    days: int | None = None,
    scopes: Sequence[str] = TOKEN_SCOPES,
) -> str:
    """Make a token for ``user`` and return it; it cannot be read back later. It expires
    after ``days`` (``settings.API_TOKEN_DAYS`` by default; 0: never) and may do only what
    its ``scopes`` say."""
    unknown = sorted(set(scopes) - set(TOKEN_SCOPES))
    if unknown or not scopes:
        raise ValueError(f"scopes are some of {', '.join(TOKEN_SCOPES)}; got {list(scopes)}")
    days = settings.API_TOKEN_DAYS if days is None else days
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    ApiToken.objects.create(
        user=user,
        name=name,
        digest=ApiToken.digest_of(token),
        expires_at=timezone.now() + timedelta(days=days) if days else None,
        scopes=sorted(set(scopes)),
    )
    return token


class TokenAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> AbstractBaseUser | None:
        found = ApiToken.objects.select_related("user").filter(digest=ApiToken.digest_of(token))
        api_token = found.first()
        now = timezone.now()
        if api_token is None or not api_token.user.is_active:
            return None
        if api_token.expires_at is not None and api_token.expires_at <= now:
            return None  # a 401, as for an unknown token
        ApiToken.objects.filter(pk=api_token.pk).update(last_used_at=now)
        request.user = api_token.user
        request.api_token = api_token  # type: ignore[attr-defined]
        return api_token.user


# Either a bearer token, or the browser session (django_auth checks CSRF for it).
TOKEN_OR_SESSION = [TokenAuth(), django_auth]


def require_staff(request: HttpRequest) -> None:
    """Creating and running things is for staff (with a token: one of scope "manage");
    everyone else gets a 403."""
    if not request.user.is_staff:
        raise HttpError(403, "staff only")
    require_scope(request, "manage")


def require_scope(request: HttpRequest, scope: str) -> None:
    """A request made with a token may do what the token's scopes allow; a browser session
    is not limited by scopes."""
    token = getattr(request, "api_token", None)
    if token is not None and scope not in token.scopes:
        allowed = ", ".join(token.scopes)
        raise HttpError(403, f"this token's scopes ({allowed}) do not allow {scope!r}")

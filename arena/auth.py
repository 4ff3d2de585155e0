"""API authentication: bearer tokens (hashed at rest) or a logged-in session (with CSRF)."""

from __future__ import annotations

import secrets

from django.contrib.auth.models import AbstractBaseUser
from django.http import HttpRequest
from django.utils import timezone
from ninja.security import HttpBearer, django_auth

from arena.models import ApiToken

TOKEN_PREFIX = "arena_"


def api_token_create(*, user: AbstractBaseUser, name: str = "") -> str:
    """Make a token for ``user`` and return it; it cannot be read back later."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    ApiToken.objects.create(user=user, name=name, digest=ApiToken.digest_of(token))
    return token


class TokenAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> AbstractBaseUser | None:
        found = ApiToken.objects.select_related("user").filter(digest=ApiToken.digest_of(token))
        api_token = found.first()
        if api_token is None or not api_token.user.is_active:
            return None
        ApiToken.objects.filter(pk=api_token.pk).update(last_used_at=timezone.now())
        request.user = api_token.user
        return api_token.user


# Either a bearer token, or the browser session (django_auth checks CSRF for it).
TOKEN_OR_SESSION = [TokenAuth(), django_auth]


def require_staff(request: HttpRequest) -> None:
    """Creating and running things is for staff; everyone else gets a 403."""
    from ninja.errors import HttpError

    if not request.user.is_staff:
        raise HttpError(403, "staff only")

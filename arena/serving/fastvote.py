"""The vote's fast path in services mode: vote.js's JSON vote, counted from the event loop.

A vote through Django costs the web server several times the CPU of the vote itself (its
request cycle, a thread hand-off; benchmarks/README.md, "Web load"). Here the common case,
an anonymous voter's ``POST /tournaments/<id>/vote/`` with ``Accept: application/json``,
is answered without them. This is a transport only: the request is checked by Django's
own CSRF middleware, the ballot by ``voting.ballot_of``, and the vote's writes and the
next battle are the voting services' own steps (``voting.vote_count``,
``battles.battle_upcoming``), played on an async PostgreSQL connection with each batch
in one round trip (``arena.sql.run_async``); the answer is ``arena.vote_json``'s, as
Django's.

Anything else goes on to Django untouched, and so does any vote this path does not count
(a signed-in voter's, whose session Django checks; a refusal, a replay of a key, no
session yet, bad input, a database error before the commit): it rolled back, and Django
gives the answer with its reason. After the commit nothing goes to Django.
"""

from __future__ import annotations

import asyncio
import functools
import io
import json
import logging
import re
from typing import Any

import psycopg
from django.conf import settings
from django.core.cache import cache
from django.core.handlers.asgi import ASGIRequest
from django.db import connections
from django.middleware.csrf import CsrfViewMiddleware
from django.utils import timezone

from arena import live
from arena.markdown import CACHED_CHARS
from arena.middleware import CONTENT_SECURITY_POLICY
from arena.services.battles import battle_upcoming
from arena.services.matches import any_open_match
from arena.services.results import (
    RESULTS_KEY_TIMEOUT_S,
    results_scheduled_key,
    tournament_queue_results,
)
from arena.services.voting import (
    Ballot,
    Counted,
    NotOpen,
    VoteRefused,
    ballot_of,
    vote_count,
    vote_finished,
    voter_key,
)
from arena.sql import POSTGRESQL, run_async
from arena.vote_json import posted_ranks, reveal_payload

log = logging.getLogger(__name__)

VOTE_PATH = re.compile(r"^/tournaments/(\d+)/vote/$")
# What Django's session keys look like (32 of [a-z0-9]); the API's voters ("user:<id>")
# and anything else are not sessions.
_SESSION_KEY = re.compile(r"[a-z0-9]{8,40}")
# A vote's form is a few hundred bytes; anything larger is not vote.js's.
BODY_MAX = 16 * 1024
# Connections to PostgreSQL per server process for this path (Django keeps its own pool),
# and how long a vote waits for one before it goes to Django instead.
POOL_SIZE = 4
POOL_WAIT_S = 5.0
REDIS_TIMEOUT_S = 5.0


class _Delegate(Exception):
    """This vote is Django's to answer (nothing was written, or it rolled back)."""


class FastVote:
    """ASGI middleware in front of Django's HTTP handling (arena.serving.asgi, services mode)."""

    def __init__(self, app: Any, *, pool_size: int = POOL_SIZE) -> None:
        self.app = app
        self.pool_size = pool_size
        self._pool: Any = None
        self._redis: Any = None
        # Only its request and view checks are called, never the response it would wrap.
        self._csrf = CsrfViewMiddleware(lambda request: None)  # type: ignore[arg-type]

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if not _is_json_vote(scope):
            await self.app(scope, receive, send)
            return
        body, complete = await _read_body(receive)
        if body is None:
            return  # the client left before its vote was read: nothing to answer
        answer = None
        if complete:
            try:
                answer = await self._vote(scope, body)
            except _Delegate:
                answer = None
            except Exception:
                log.exception("fast vote failed; Django answers it")
        if answer is None:
            await self.app(scope, _replay(body, complete, receive), send)
            return
        await _send_json(send, answer)

    async def close(self) -> None:
        """Close this path's connections (tests; a server's exit closes them anyway)."""
        if self._pool is not None:
            await self._pool.close()
            self._pool = None
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None

    async def _vote(self, scope: Any, body: bytes) -> dict[str, Any]:
        ballot = self._ballot(scope, body)
        pool = await self._connections()
        async with pool.connection() as conn:
            step = vote_count(ballot, now=timezone.now(), dialect=POSTGRESQL)
            try:
                counted = await run_async(step, conn, atomic=True)
            except (NotOpen, VoteRefused, psycopg.Error) as error:
                # Rolled back: Django counts it, refuses it with the reason, or replays it
                # (e.g. the key's unique constraint, a replay racing in).
                raise _Delegate from error
        # Committed. Nothing goes to Django from here on: it would only replay the key and
        # skip what the vote still owes. Each step that fails is logged and the answer goes
        # out without it, and a client that leaves does not cancel them.
        return await asyncio.shield(self._after_commit(pool, ballot, counted))

    async def _after_commit(self, pool: Any, ballot: Ballot, counted: Counted) -> dict[str, Any]:
        """Publish the match, schedule the refit, take the next battle, and queue the next
        round once no match is open (or when that cannot be checked: an advance with
        nothing to do is a no-op): what ``voting.vote_after_commit`` does on Django's side."""
        tournament = counted.tournament_id
        if counted.first:  # a later vote on the match finishes nothing
            group = live.tournament_group(tournament)
            await live.async_publish_or_log(group, vote_finished(counted))
        try:
            if await self._results_claimed(tournament):
                await asyncio.to_thread(tournament_queue_results, tournament_id=tournament)
        except Exception:
            log.exception("could not schedule the results of tournament %s", tournament)
        upcoming, idle = None, True
        try:
            # In an adaptive arena with none free the reveal brings none, and "Next
            # battle" asks Django's page, which draws one (battles.battle_next).
            claim = battle_upcoming(
                tournament_id=tournament, session_key=ballot.session_key, user_id=None
            )
            async with pool.connection() as conn:
                upcoming = await run_async(claim, conn, atomic=False)
                idle = upcoming is None and not await run_async(
                    any_open_match(tournament), conn, atomic=False
                )
        except Exception:
            log.exception("could not claim a next battle in tournament %s", tournament)
        if idle:
            try:
                await asyncio.to_thread(_advance, tournament)
            except Exception:
                log.exception("could not queue the next round of %s", tournament)
        answer = functools.partial(
            reveal_payload, tournament_id=tournament, reveal=counted.reveal, battle=upcoming
        )
        if upcoming and any(len(t) > CACHED_CHARS for t in (upcoming.prompt, *upcoming.answers)):
            return await asyncio.to_thread(answer)  # Markdown too long to cache: not in the loop
        return answer()

    def _ballot(self, scope: Any, body: bytes) -> Ballot:
        request = ASGIRequest(scope, io.BytesIO(body))
        refused: object  # Django's refusal, or True: anything but None refuses
        try:
            request.get_host()  # ALLOWED_HOSTS, as CommonMiddleware checks it
            self._csrf.process_request(request)
            refused = self._csrf.process_view(request, _vote_view(), (), {})
        except Exception:  # a host not allowed, say
            refused = True
        if refused is not None:
            raise _Delegate  # Django refuses it the same way, with its page
        session = request.COOKIES.get(settings.SESSION_COOKIE_NAME, "")
        if not _SESSION_KEY.fullmatch(session):
            raise _Delegate  # a new voter (Django makes the session), or not a session key
        try:
            return ballot_of(
                public_id=request.POST.get("battle", ""),
                idempotency_key=request.POST.get("idempotency_key", ""),
                session_key=voter_key(session),
                outcome=request.POST.get("outcome", ""),
                ranks=posted_ranks(request.POST),
                ip=request.META.get("REMOTE_ADDR", ""),
                tournament_id=int(VOTE_PATH.match(scope["path"]).group(1)),  # type: ignore[union-attr]
                user_known=False,
            )
        except VoteRefused:
            raise _Delegate from None  # Django refuses it, with the reason

    async def _connections(self) -> Any:
        """The pool, opened in the server's event loop on the first vote (``open`` is
        idempotent: votes that arrive while it opens wait for it)."""
        if self._pool is None:
            from psycopg_pool import AsyncConnectionPool

            self._pool = AsyncConnectionPool(
                kwargs={
                    **_connection_params(),
                    "autocommit": True,
                    "application_name": "arena-fastvote",
                },
                min_size=1,
                max_size=self.pool_size,
                timeout=POOL_WAIT_S,
                open=False,
            )
        if self._pool.closed:
            await self._pool.open()
        return self._pool

    async def _results_claimed(self, tournament: int) -> bool:
        """The cache's ``add`` of the scheduled key (tournament_schedule_results), on an
        async client of the same Redis: the key as the cache names it, its value as the
        cache stores an int."""
        if self._redis is None:
            from redis.asyncio import Redis

            self._redis = Redis.from_url(
                settings.REDIS_URL,
                socket_timeout=REDIS_TIMEOUT_S,
                socket_connect_timeout=REDIS_TIMEOUT_S,
            )
        key = cache.make_and_validate_key(results_scheduled_key(tournament))
        timeout = int(RESULTS_KEY_TIMEOUT_S)
        return bool(await self._redis.set(key, 1, nx=True, ex=timeout))


def _is_json_vote(scope: Any) -> bool:
    if scope["type"] != "http" or scope["method"] != "POST" or not VOTE_PATH.match(scope["path"]):
        return False
    headers = dict(scope.get("headers", []))
    return b"application/json" in headers.get(b"accept", b"") and b"transfer-encoding" not in (
        headers
    )


async def _read_body(receive: Any) -> tuple[bytes | None, bool]:
    """The request body, if it fits BODY_MAX (``complete``); else what was read so far;
    None if the client disconnected."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None, False
        chunks.append(message.get("body", b""))
        size += len(chunks[-1])
        if size > BODY_MAX:
            return b"".join(chunks), False
        if not message.get("more_body"):
            return b"".join(chunks), True


def _replay(body: bytes, complete: bool, receive: Any) -> Any:
    """``receive`` for Django: the body already read, then the rest from the client."""
    sent = False

    async def again() -> Any:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": not complete}

    return again


async def _send_json(send: Any, payload: dict[str, Any]) -> None:
    body = json.dumps(payload).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [*_HEADERS, (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _response_headers() -> list[tuple[bytes, bytes]]:
    """What Django's middleware adds to the view's JsonResponse (settings.MIDDLEWARE)."""
    headers = [(b"content-type", b"application/json"), (b"vary", b"Cookie")]
    if settings.SECURE_CONTENT_TYPE_NOSNIFF:
        headers.append((b"x-content-type-options", b"nosniff"))
    if settings.SECURE_REFERRER_POLICY:
        headers.append((b"referrer-policy", settings.SECURE_REFERRER_POLICY.encode()))
    if settings.SECURE_CROSS_ORIGIN_OPENER_POLICY:
        policy = settings.SECURE_CROSS_ORIGIN_OPENER_POLICY.encode()
        headers.append((b"cross-origin-opener-policy", policy))
    headers.append((b"x-frame-options", settings.X_FRAME_OPTIONS.upper().encode()))
    headers.append((b"content-security-policy", CONTENT_SECURITY_POLICY.encode()))
    return headers


_HEADERS = _response_headers()


def _vote_view() -> Any:
    from arena import views

    return views.vote


def _connection_params() -> dict[str, Any]:
    """libpq's parameters of Django's database (the test database under pytest); psycopg's
    own defaults otherwise, which prepare a statement run five times on a connection."""
    params = connections["default"].get_connection_params()
    django_only = {"cursor_factory", "context", "prepare_threshold"}
    return {k: v for k, v in params.items() if k not in django_only}


def _advance(tournament: int) -> None:
    """Queue the next round, as enqueue_advance does outside a transaction (but without
    its on_commit, which would take a database connection in this thread and keep it)."""
    from arena.tasks import advance_tournament

    advance_tournament.delay(tournament)

"""The vote's fast path in services mode: vote.js's JSON vote, counted from the event loop.

A vote through Django costs the web server about 10 ms of CPU (its request cycle, the ORM,
a thread hand-off; benchmarks/README.md, "Web load"), which caps two cores near 100 votes
a second. Here the common case, an anonymous voter's ``POST /tournaments/<id>/vote/``
with ``Accept: application/json``, is answered without them: the same checks (Django's
CSRF middleware on the request, the battle held by this session, the vote limits), then
two statements in one transaction on an async PostgreSQL connection, then the next battle
in one more, and the same JSON that ``views.vote`` answers (``views.vote_json``).

Anything else goes on to Django untouched, and so does any vote this path does not count
(a signed-in voter's, whose session Django checks; a refusal, a replay of a key, no
session yet, bad input, a database error before the commit): it rolled back, and Django
gives the answer with its reason. After the commit nothing goes to Django. The rules that stay
in Python (the verdict's tiers, the Elo update, the reveal, the IP hash) are the services'
own functions; the SQL below mirrors the ORM statements of ``vote_record`` and
``battle_claim``, and tests/arena/test_fastvote.py holds the two paths to the same rows
and answers.
"""

from __future__ import annotations

import asyncio
import functools
import io
import json
import logging
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
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
from arena.models import (
    OPEN_MATCH_STATUSES,
    Contestant,
    Judgment,
    Match,
    MatchEntry,
    MatchStatus,
    Prompt,
    Response,
    Standing,
    Tournament,
    TournamentStatus,
    Vote,
)
from arena.services import voting
from arena.services.tournaments import (
    RESULTS_KEY_TIMEOUT_S,
    results_scheduled_key,
    tournament_queue_results,
)
from arena.services.voting import (
    BATTLE_LEASE,
    OUTCOMES,
    Battle,
    VoteRefused,
    reveal_of,
    vote_ip_hash,
    vote_tiers,
)
from arena.standings import apply_ranking
from arena.views.vote_json import posted_ranks, reveal_payload

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


def _table(model: Any) -> str:
    return str(model._meta.db_table)


_M, _E, _C, _P, _R = (_table(m) for m in (Match, MatchEntry, Contestant, Prompt, Response))
_J, _V, _S, _T = (_table(m) for m in (Judgment, Vote, Standing, Tournament))
_AWAITING = MatchStatus.AWAITING_VOTE.value
_OPEN = ", ".join(f"'{s.value}'" for s in OPEN_MATCH_STATUSES)

# Take the battle (one vote wins it, as _TAKE_VOTED), read its contestants by position,
# and lock their standings in primary-key order (as standings_apply_ranking).
TAKE = f"""
WITH taken AS (
  UPDATE {_M} SET status = '{MatchStatus.COMPLETED.value}', finished_at = %(now)s
  WHERE public_id = %(battle)s AND tournament_id = %(tournament)s
    AND status = '{_AWAITING}' AND voter_session = %(session)s
  RETURNING id, round, slot, voter_user_id
), entries AS (
  SELECT e.position, e.contestant_id, c.name
  FROM {_E} e JOIN {_C} c ON c.id = e.contestant_id
  WHERE e.match_id = (SELECT id FROM taken)
), locked AS MATERIALIZED (
  SELECT id, contestant_id, elo, matches, wins, ties FROM {_S}
  WHERE tournament_id = %(tournament)s AND contestant_id IN (SELECT contestant_id FROM entries)
  ORDER BY id FOR UPDATE
)
SELECT t.id, t.round, t.slot, t.voter_user_id, e.contestant_id, e.name,
       s.id, s.elo, s.matches, s.wins, s.ties
FROM taken t CROSS JOIN entries e LEFT JOIN locked s ON s.contestant_id = e.contestant_id
ORDER BY e.position
"""
# The three vote limits of an anonymous voter in one count (as voting._check_limits).
LIMITS = f"""
SELECT count(*) FILTER (WHERE session_key = %(session)s AND created_at >= %(minute)s),
       count(*) FILTER (WHERE session_key = %(session)s),
       count(*) FILTER (WHERE ip_hash = %(ip)s AND %(ip)s <> '')
FROM {_V}
WHERE (session_key = %(session)s OR (ip_hash = %(ip)s AND %(ip)s <> ''))
  AND created_at >= %(day)s
"""
# The judgment, the standings and the vote in one statement; a used idempotency key fails
# it whole (the unique constraint), and the transaction rolls back.
RECORD = f"""
WITH judgment AS (
  INSERT INTO {_J} (match_id, judge_id, ranking, both_bad, probabilities, raw_output,
                    prompt_tokens, completion_tokens, cost, latency_ms, created_at)
  VALUES (%(match)s, NULL, %(ranking)s::jsonb, %(both_bad)s, NULL, %(raw)s, 0, 0, 0, 0, %(now)s)
), standings AS (
  UPDATE {_S} s SET elo = v.elo, wins = v.wins, ties = v.ties, matches = v.matches
  FROM unnest(%(ids)s::bigint[], %(elo)s::float8[], %(wins)s::float8[], %(ties)s::int[],
              %(matches)s::int[]) AS v(id, elo, wins, ties, matches)
  WHERE s.id = v.id
)
INSERT INTO {_V} (match_id, user_id, session_key, ip_hash, idempotency_key, ranking,
                  both_bad, created_at)
VALUES (%(match)s, NULL, %(session)s, %(ip)s, %(key)s, %(ranking)s::jsonb, %(both_bad)s,
        %(now)s)
"""
# The voter's next battle, claimed ahead only while plenty are free (as battle_claim with
# ahead=True); concurrent voters skip each other's rows instead of queueing on one.
_FREE = f"status = '{_AWAITING}' AND (voter_session = '' OR claimed_at < %(stale)s)"
CLAIM = f"""
WITH free AS (
  SELECT id FROM {_M} WHERE tournament_id = %(tournament)s AND {_FREE}
  ORDER BY round, slot LIMIT %(candidates)s
), pick AS (
  SELECT id FROM {_M}
  WHERE tournament_id = %(tournament)s AND {_FREE} AND id IN (SELECT id FROM free)
    AND (SELECT count(*) FROM free) >= %(candidates)s
    AND EXISTS (SELECT 1 FROM {_T} WHERE id = %(tournament)s
                AND status = '{TournamentStatus.RUNNING.value}' AND judge_id IS NULL)
  ORDER BY round, slot LIMIT 1 FOR UPDATE SKIP LOCKED
), claimed AS (
  UPDATE {_M} m SET voter_session = %(session)s, voter_user_id = NULL, claimed_at = %(now)s
  FROM pick WHERE m.id = pick.id
  RETURNING m.id, m.public_id, m.prompt_id
)
SELECT c.public_id, p.text, r.text
FROM claimed c JOIN {_P} p ON p.id = c.prompt_id JOIN {_E} e ON e.match_id = c.id
LEFT JOIN {_R} r ON r.id = e.response_id
ORDER BY e.position
"""
OPEN_MATCH = (
    f"SELECT 1 FROM {_M} WHERE tournament_id = %(tournament)s AND status IN ({_OPEN}) LIMIT 1"
)


@dataclass(frozen=True)
class Ballot:
    tournament: int
    battle: str
    session: str
    key: str
    outcome: str
    ranks: list[int] | None
    ip_hash: str


class FastVote:
    """ASGI middleware in front of Django's HTTP handling (arena.asgi, services mode)."""

    def __init__(self, app: Any, *, pool_size: int = POOL_SIZE) -> None:
        self.app = app
        self.pool_size = pool_size
        self._pool: Any = None
        self._redis: Any = None
        self._csrf = CsrfViewMiddleware(lambda request: None)

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
            match, contestants = await _record(conn, ballot)
        # Committed. Nothing goes to Django from here on: it would only replay the key and
        # skip what the vote still owes. Each step that fails is logged and the answer goes
        # out without it, and a client that leaves does not cancel them.
        return await asyncio.shield(self._after_commit(pool, ballot, match, contestants))

    async def _after_commit(
        self, pool: Any, ballot: Ballot, match: dict[str, Any], contestants: list[tuple[int, str]]
    ) -> dict[str, Any]:
        """Publish the match, schedule the refit, claim the next battle, and queue the next
        round once no match is open (or when that cannot be checked: an advance with
        nothing to do is a no-op)."""
        await self._publish(ballot.tournament, match, contestants)
        try:
            if await self._results_claimed(ballot.tournament):
                await asyncio.to_thread(tournament_queue_results, tournament_id=ballot.tournament)
        except Exception:
            log.exception("could not schedule the results of tournament %s", ballot.tournament)
        upcoming, idle = None, True
        try:
            async with pool.connection() as conn:
                upcoming = await _claim_next(conn, ballot)
                idle = upcoming is None and not await _any_open(conn, ballot.tournament)
        except Exception:
            log.exception("could not claim a next battle in tournament %s", ballot.tournament)
        if idle:
            try:
                await asyncio.to_thread(_advance, ballot.tournament)
            except Exception:
                log.exception("could not queue the next round of %s", ballot.tournament)
        reveal = reveal_of(match["public_id"], contestants, match["ranking"], match["both_bad"])
        answer = functools.partial(
            reveal_payload, tournament_id=ballot.tournament, reveal=reveal, battle=upcoming
        )
        if upcoming and any(len(t) > CACHED_CHARS for t in (upcoming.prompt, *upcoming.answers)):
            return await asyncio.to_thread(answer)  # Markdown too long to cache: not in the loop
        return answer()

    def _ballot(self, scope: Any, body: bytes) -> Ballot:
        request = ASGIRequest(scope, io.BytesIO(body))
        try:
            request.get_host()  # ALLOWED_HOSTS, as CommonMiddleware checks it
            self._csrf.process_request(request)
            refused = self._csrf.process_view(request, _vote_view(), (), {})
        except Exception:  # a host not allowed, say
            refused = True
        if refused is not None:
            raise _Delegate  # Django refuses it the same way, with its page
        try:
            battle = str(uuid.UUID(request.POST.get("battle", "")))
        except ValueError:
            raise _Delegate from None  # Django refuses it: unknown battle
        session = request.COOKIES.get(settings.SESSION_COOKIE_NAME, "")
        key = request.POST.get("idempotency_key", "")
        outcome = request.POST.get("outcome", "")
        ranks = posted_ranks(request.POST)
        if not _SESSION_KEY.fullmatch(session):
            raise _Delegate  # a new voter (Django makes the session), or not a session key
        if not key or len(key) > 64 or (ranks is None and outcome not in OUTCOMES):
            raise _Delegate  # a refusal, with Django's reason
        return Ballot(
            tournament=int(VOTE_PATH.match(scope["path"]).group(1)),  # type: ignore[union-attr]
            battle=battle,
            session=session,
            key=key,
            outcome=outcome,
            ranks=ranks,
            ip_hash=vote_ip_hash(request.META.get("REMOTE_ADDR", "")),
        )

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

    async def _publish(
        self, tournament: int, match: dict[str, Any], contestants: list[tuple[int, str]]
    ) -> None:
        names = dict(contestants)
        event = live.MatchFinished(
            type="match.finished",
            tournament=tournament,
            match=match["id"],
            round=match["round"],
            slot=match["slot"],
            status=MatchStatus.COMPLETED.value,
            ranking=[[names[c] for c in tier] for tier in match["ranking"]],
        )
        await live.async_publish_or_log(live.tournament_group(tournament), event)

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


async def _record(conn: Any, ballot: Ballot) -> tuple[dict[str, Any], list[tuple[int, str]]]:
    """Count an anonymous voter's vote in one transaction: the match (with the verdict)
    and its contestants by position.

    Pipelined: BEGIN goes with the battle's statement and COMMIT with the record, two
    round trips to PostgreSQL (three with the vote limits on)."""
    now = timezone.now()
    try:
        async with conn.pipeline(), conn.transaction():
            rows = await _rows(
                conn,
                TAKE,
                battle=ballot.battle,
                tournament=ballot.tournament,
                session=ballot.session,
                now=now,
            )
            if not rows:
                raise _Delegate  # not open for this voter: Django says why, or replays
            if any(row[6] is None for row in rows):
                raise _Delegate  # a missing standings row: the ORM path creates it
            match_id, round_, slot, user = rows[0][:4]
            if user is not None:
                # A signed-in voter's: Django checks that the session still signs them in
                # (a password changed elsewhere, a deactivated account), and the limits
                # count the user's votes.
                raise _Delegate
            contestants = [(row[4], row[5]) for row in rows]
            try:
                positions, both_bad = vote_tiers(len(contestants), ballot.outcome, ballot.ranks)
            except VoteRefused:
                raise _Delegate from None
            ranking = [[contestants[p][0] for p in tier] for tier in positions]
            await _check_limits(conn, ballot, now)
            standings = {row[4]: row[6:] for row in rows}
            await _apply(conn, ballot, match_id, ranking, both_bad, standings, now)
    except psycopg.Error as error:  # e.g. the key's unique constraint: a replay racing in
        raise _Delegate from error
    match = {
        "id": match_id,
        "public_id": ballot.battle,
        "round": round_,
        "slot": slot,
        "ranking": ranking,
        "both_bad": both_bad,
    }
    return match, contestants


async def _rows(conn: Any, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    cursor = await conn.execute(sql, params)
    return list(await cursor.fetchall())


async def _check_limits(conn: Any, ballot: Ballot, now: datetime) -> None:
    limits = (settings.VOTES_PER_MINUTE, settings.VOTES_PER_DAY, settings.VOTES_PER_IP_PER_DAY)
    if not any(limits):
        return
    (counts,) = await _rows(
        conn,
        LIMITS,
        session=ballot.session,
        ip=ballot.ip_hash,
        minute=now - timedelta(minutes=1),
        day=now - timedelta(days=1),
    )
    if any(limit and count >= limit for count, limit in zip(counts, limits, strict=True)):
        raise _Delegate  # Django refuses it (429), naming the limit


async def _apply(
    conn: Any,
    ballot: Ballot,
    match_id: int,
    ranking: list[list[int]],
    both_bad: bool,
    standings: dict[int, tuple[Any, ...]],
    now: datetime,
) -> None:
    """The judgment, the entrants' standings (pk, elo, matches, wins, ties by contestant,
    locked) after the verdict, and the vote."""
    stats = {
        str(cid): {"elo": elo, "matches": float(matches), "wins": wins, "ties": float(ties)}
        for cid, (_, elo, matches, wins, ties) in standings.items()
    }
    apply_ranking(stats, [[str(c) for c in tier] for tier in ranking])
    after = [stats[str(cid)] for cid in standings]
    await conn.execute(
        RECORD,
        {
            "match": match_id,
            "ranking": json.dumps(ranking),
            "both_bad": both_bad,
            "raw": f"human vote: {ballot.outcome}",
            "now": now,
            "ids": [row[0] for row in standings.values()],
            "elo": [s["elo"] for s in after],
            "wins": [s["wins"] for s in after],
            "ties": [int(s["ties"]) for s in after],
            "matches": [int(s["matches"]) for s in after],
            "session": ballot.session,
            "ip": ballot.ip_hash,
            "key": ballot.key,
        },
    )


async def _claim_next(conn: Any, ballot: Ballot) -> Battle | None:
    now = timezone.now()
    rows = await _rows(
        conn,
        CLAIM,
        tournament=ballot.tournament,
        session=ballot.session,
        now=now,
        stale=now - BATTLE_LEASE,
        candidates=voting.CLAIM_CANDIDATES,
    )
    if not rows:
        return None
    return Battle(
        public_id=rows[0][0], prompt=rows[0][1], answers=tuple(text or "" for _, _, text in rows)
    )


async def _any_open(conn: Any, tournament: int) -> bool:
    return bool(await _rows(conn, OPEN_MATCH, tournament=tournament))


def _advance(tournament: int) -> None:
    """Queue the next round, as enqueue_advance does outside a transaction (but without
    its on_commit, which would take a database connection in this thread and keep it)."""
    from arena.tasks import advance_tournament

    advance_tournament.delay(tournament)

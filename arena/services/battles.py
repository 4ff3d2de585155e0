"""Battles for human voters: a battle for every voter who asks, at once.

Showing a battle takes it from no one. A voter who asks is shown, in this order:

1. the battle they hold: shown to them within ``BATTLE_LEASE`` and not voted on (a reload
   shows it again; the "next battle" link names it, ``hint``);
2. a free one: awaiting a vote, held by no one, and showing no answer the voter has seen
   named (their votes' reveals);
3. in an adaptive arena, a pair its sampler draws now (arena.services.draws);
4. the open battle the fewest voters hold;
5. one of the tournament's voted battles (between the rounds of a planned format).

and never one they have been shown before. Steps 4 and 5 prefer battles showing no answer
the voter has seen named, and take one that does only when there is no other. Within a
round, battles are served in the order of their random public ids, which no one knows
before they are shown. So while a running tournament has a battle a
voter has not seen, they get one, whatever the other voters do: abandon a battle (it is
forgotten after ``BATTLE_LEASE`` and was never anyone's alone), open many tabs, crawl. A
shown battle is an ``Assignment`` (one per match and session). A request without a session
(a crawler, a link preview) is shown a battle and assigned nothing: it costs a read (or,
in an adaptive arena with no battle free, one draw that stays free for the next voter). How
the votes of a battle shown to several voters count is in arena.services.voting.

Nothing that identifies a model reaches the browser: a battle is known there by its random
``public_id``, its answers by position. Steps 1, 2, 4 and 5 are statements that Django's
requests and arena.serving.fastvote both run, so they are written once, as steps (arena.sql).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.core import signing
from django.utils import timezone

from arena import sql
from arena.formats import on_demand
from arena.models import Assignment, Match, MatchEntry, MatchStatus, Prompt, Response, Tournament
from arena.models import TournamentStatus as Status
from arena.services.draws import battle_draw
from arena.sql import Rows, Sql, Step

# A battle a voter walks away from stops counting as theirs after this long: others are
# no longer steered away from it, and the voter's next visit gets a fresh one.
BATTLE_LEASE = timedelta(minutes=5)
# How many of the first open battles the least-held one is chosen from (step 4).
SHARE_CANDIDATES = 50
# How long a battle shown without a session stays open for that browser's vote.
SHOWN_TOKEN_MAX_AGE_S = 3600

_M, _E, _P, _R, _T, _A = (
    sql.table(m) for m in (Match, MatchEntry, Prompt, Response, Tournament, Assignment)
)
_AWAITING = MatchStatus.AWAITING_VOTE.value
_VOTED = MatchStatus.COMPLETED.value


@dataclass(frozen=True)
class Battle:
    public_id: uuid.UUID
    prompt: str
    answers: tuple[str, ...]

    @property
    def lettered(self) -> list[tuple[int, str, str]]:
        """(position, letter, text) for each answer: A, B, C…"""
        return [(i, chr(ord("A") + i), text) for i, text in enumerate(self.answers)]

    @property
    def is_pairwise(self) -> bool:
        return len(self.answers) == 2


def _shown(match: str, params: dict[str, object]) -> Sql:
    """The battle's public id, prompt and answers by position; ``match`` gives its id."""
    return Sql(
        f"SELECT m.public_id, p.text, r.text FROM {_M} m JOIN {_P} p ON p.id = m.prompt_id"
        f" JOIN {_E} e ON e.match_id = m.id LEFT JOIN {_R} r ON r.id = e.response_id"
        f" WHERE m.id = ({match}) ORDER BY e.position",
        params,
    )


# The voter's battles in hand: shown within the lease, not voted on, still taking votes.
_IN_HAND = (
    f"FROM {_A} a JOIN {_M} x ON x.id = a.match_id WHERE a.session_key = %(session)s"
    " AND a.voted = FALSE AND a.shown_at >= %(stale)s AND x.tournament_id = %(tournament)s"
    f" AND x.status IN ('{_AWAITING}', '{_VOTED}')"
)
# The one a reload shows: the one the link names, else the latest.
_HELD = (
    f"SELECT a.match_id {_IN_HAND} ORDER BY CASE WHEN x.public_id = %(hint)s THEN 0 ELSE 1 END,"
    " a.shown_at DESC LIMIT 1"
)
_NOT_MINE = (
    f"NOT EXISTS (SELECT 1 FROM {_A} o WHERE o.match_id = f.id AND o.session_key = %(session)s)"
)
# The answers this voter has seen named (a vote reveals its battle's models): a battle
# showing one of them again would not be blind to them.
_REVEALED = (
    f"SELECT re.response_id FROM {_A} ra JOIN {_E} re ON re.match_id = ra.match_id"
    " WHERE ra.session_key = %(session)s AND ra.voted AND re.response_id IS NOT NULL"
)
_FRESH = (
    f"NOT EXISTS (SELECT 1 FROM {_E} fe WHERE fe.match_id = f.id"
    f" AND fe.response_id IN ({_REVEALED}))"
)
_LIVE = f"{_A} l WHERE l.match_id = f.id AND l.voted = FALSE AND l.shown_at >= %(stale)s"
_OPEN = f"f.tournament_id = %(tournament)s AND f.status = '{_AWAITING}' AND {_NOT_MINE}"
# Battles of a round are served in the order of their random public ids (the partial
# index match_awaiting): not in the order of their slots, which follows from the format
# and the contestants alone and so would tell a voter which pair comes next.
_SERVED = "f.round, f.public_id"
# Step 2: the first open battle no one holds and whose answers the voter has not seen named.
_FREE = (
    f"SELECT f.id FROM {_M} f WHERE {_OPEN} AND {_FRESH} AND NOT EXISTS (SELECT 1 FROM {_LIVE})"
    f" ORDER BY {_SERVED} LIMIT 1"
)


def _least_held(where: str) -> str:
    """Of the first open battles that meet ``where``, the one the fewest voters hold."""
    return (
        f"(SELECT f.id FROM (SELECT f.id, f.round, f.public_id FROM {_M} f WHERE {_OPEN}"
        f" AND {where} ORDER BY {_SERVED} LIMIT %(candidates)s) f"
        f" ORDER BY (SELECT COUNT(*) FROM {_LIVE}), {_SERVED} LIMIT 1)"
    )


def _latest_voted(where: str) -> str:
    return (
        f"(SELECT f.id FROM {_M} f WHERE f.tournament_id = %(tournament)s"
        f" AND f.status = '{_VOTED}' AND {_NOT_MINE} AND {where}"
        " ORDER BY f.finished_at DESC LIMIT 1)"
    )


# Steps 4 and 5: the least-held open battle, else the latest voted one; each with answers
# the voter has not seen named where there is one (a voter who has seen every answer
# still gets a battle: never none while the tournament has one they have not been shown).
_SHARED = (
    f"COALESCE({_least_held(_FRESH)}, {_least_held('TRUE')},"
    f" {_latest_voted(_FRESH)}, {_latest_voted('TRUE')})"
)


# An assignment's voter columns (session_key, user_id, shown_at) as INSERT … SELECT gives
# them: typed, since arena.serving.fastvote's psycopg binds parameters on the server, which cannot
# type a bare NULL or a string used both as text and as varchar.
ASSIGNED = "CAST(%(session)s AS VARCHAR(64)), CAST(%(user)s AS BIGINT), %(now)s"


def _assign(pick: str, params: dict[str, object]) -> Sql:
    """Show this voter the battle ``pick`` gives, unless they hold one or the tournament
    is not taking votes."""
    return Sql(
        f"INSERT INTO {_A} (match_id, session_key, user_id, shown_at, voted)"
        f" SELECT c.id, {ASSIGNED}, FALSE FROM {_M} c WHERE c.id = ({pick})"
        f" AND NOT EXISTS (SELECT 1 {_IN_HAND})"
        f" AND EXISTS (SELECT 1 FROM {_T} t WHERE t.id = %(tournament)s"
        f" AND t.status = '{Status.RUNNING.value}' AND t.judge_id IS NULL)"
        " ON CONFLICT (match_id, session_key) DO NOTHING",
        params,
    )


def _battle(rows: Rows) -> Battle | None:
    if not rows:
        return None
    public_id = rows[0][0]
    return Battle(
        public_id=public_id if isinstance(public_id, uuid.UUID) else uuid.UUID(str(public_id)),
        prompt=rows[0][1],
        answers=tuple(text or "" for _, _, text in rows),
    )


def _voter(
    tournament_id: int, session_key: str, user_id: int | None, hint: uuid.UUID | None
) -> dict[str, object]:
    now = timezone.now()
    return {
        "tournament": tournament_id,
        "session": session_key,
        "user": user_id,
        "now": now,
        "stale": now - BATTLE_LEASE,
        "hint": hint,
        "candidates": SHARE_CANDIDATES,
    }


def battle_take(
    *,
    tournament_id: int,
    session_key: str,
    user_id: int | None,
    hint: uuid.UUID | None = None,
    give: bool = True,
) -> Step[Battle | None]:
    """The battle this voter holds (the one ``hint`` names, if they hold it), else (with
    ``give``) a free one, now theirs; None when none is free. One round trip."""
    params = _voter(tournament_id, session_key, user_id, hint)
    batch = [_assign(_FREE, params)] if give else []
    *_, held = yield [*batch, _shown(_HELD, params)]
    return _battle(held)


def battle_share(
    *, tournament_id: int, session_key: str, user_id: int | None
) -> Step[Battle | None]:
    """What a voter who holds nothing and finds nothing free is given: the open battle the
    fewest voters hold, else a voted one; None when the tournament has none left that they
    have not been shown."""
    params = _voter(tournament_id, session_key, user_id, None)
    _, held = yield [_assign(_SHARED, params), _shown(_HELD, params)]
    return _battle(held)


def battle_upcoming(
    *, tournament_id: int, session_key: str, user_id: int | None
) -> Step[Battle | None]:
    """The next battle arena.serving.fastvote's reveal brings: held or free, else (unless the
    tournament draws its pairs, which only Django's page does) the least-held or a voted
    one. One round trip while one is free."""
    battle = yield from battle_take(
        tournament_id=tournament_id, session_key=session_key, user_id=user_id
    )
    if battle is not None:
        return battle
    (rows,) = yield [Sql(f"SELECT format FROM {_T} WHERE id = %(id)s", {"id": tournament_id})]
    if not rows or on_demand(rows[0][0]):
        return None
    return (
        yield from battle_share(
            tournament_id=tournament_id, session_key=session_key, user_id=user_id
        )
    )


def battle_preview(*, tournament_id: int) -> Step[Battle | None]:
    """A battle for a request without a session: shown, assigned to no one."""
    params = _voter(tournament_id, "", None, None)
    (rows,) = yield [_shown(f"COALESCE(({_FREE}), {_SHARED})", params)]
    return _battle(rows)


def _taking_votes(tournament: Tournament) -> bool:
    return tournament.status == Status.RUNNING and tournament.judge_id is None


def battle_next(
    *,
    tournament: Tournament,
    session_key: str,
    user_id: int | None = None,
    hint: uuid.UUID | str | None = None,
) -> Battle | None:
    """This voter's battle (see the module docstring); None when the tournament is not
    taking votes or has no battle left they have not been shown.

    ``session_key`` "": a request without a session, shown a battle assigned to no one (in
    an adaptive arena, drawn only when none is free). ``hint`` is the public id of the
    battle the voter was last shown (the "next battle" link carries it).
    """
    if not _taking_votes(tournament):
        return None
    if not session_key:
        battle = sql.run(battle_preview(tournament_id=tournament.pk))
        if battle is None and tournament.draws_on_demand:
            # Drawn for no one, the match stays free: the next request, with a session or
            # not, is shown it, so requests without one make at most one such match.
            battle_draw(tournament=tournament, session_key="", user_id=None)
            battle = sql.run(battle_preview(tournament_id=tournament.pk))
        return battle
    try:
        shown = uuid.UUID(str(hint)) if hint else None
    except ValueError:  # not a UUID
        shown = None
    voter: dict[str, Any] = {
        "tournament_id": tournament.pk,
        "session_key": session_key,
        "user_id": user_id,
    }
    battle = sql.run(battle_take(**voter, hint=shown))
    if battle is None and tournament.draws_on_demand:
        drawn = battle_draw(tournament=tournament, session_key=session_key, user_id=user_id)
        if drawn is not None:
            battle = sql.run(battle_take(**voter, hint=drawn, give=False))
    return battle if battle is not None else sql.run(battle_share(**voter))


def battle_held(*, tournament: Tournament, session_key: str) -> Battle | None:
    """The battle this voter holds and has not voted on yet, if any."""
    step = battle_take(
        tournament_id=tournament.pk, session_key=session_key, user_id=None, give=False
    )
    return sql.run(step)


def battle_token(public_id: uuid.UUID) -> str:
    """What a page shown without a session carries with its battle: the vote that comes
    back with it (and a new session) may count although no assignment was made."""
    return signing.dumps(str(public_id), salt="arena.battle-shown")


def battle_token_names(token: str, public_id: str) -> bool:
    """Whether ``token`` is one of ours, recent, for this battle."""
    try:
        shown = signing.loads(token, salt="arena.battle-shown", max_age=SHOWN_TOKEN_MAX_AGE_S)
    except signing.BadSignature:
        return False
    return bool(shown == public_id)

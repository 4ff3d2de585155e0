"""Battles for human voters: which battle a voter holds, and claiming a new one.

A voter (a session, and the user signed in to it) holds at most one battle at a time: a
reload shows it again, and a new one is claimed only when they hold none. Nothing that
identifies a model reaches the browser: a battle is known there by its random
``public_id``, its answers by position. A battle a voter walks away from goes to the next
voter after ``BATTLE_LEASE``.

The claim is a write that Django's requests and arena.fastvote both make, so it is written
once, as a step (arena.sql).
"""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.utils import timezone

from arena import sql
from arena.models import Match, MatchEntry, MatchStatus, Prompt, Response, Tournament
from arena.models import TournamentStatus as Status
from arena.sql import Dialect, Rows, Sql, Step

# A battle shown to a voter who walks away goes to the next voter after this long.
BATTLE_LEASE = timedelta(minutes=30)
# How many free battles a claim ahead of time wants to see (battle_claim).
CLAIM_CANDIDATES = 20

_M, _E, _P, _R, _T = (sql.table(m) for m in (Match, MatchEntry, Prompt, Response, Tournament))
_AWAITING = MatchStatus.AWAITING_VOTE.value


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


def _shown(which: str, params: dict[str, object]) -> Sql:
    """The battle's public id, prompt and answers by position, if it is open for this voter."""
    return Sql(
        f"SELECT m.public_id, p.text, r.text FROM {_M} m JOIN {_P} p ON p.id = m.prompt_id"
        f" JOIN {_E} e ON e.match_id = m.id LEFT JOIN {_R} r ON r.id = e.response_id"
        f" WHERE {which} AND m.tournament_id = %(tournament)s AND m.status = '{_AWAITING}'"
        " AND m.voter_session = %(session)s ORDER BY e.position",
        params,
    )


# The battle this voter holds and has not voted on yet.
_HELD = (
    f"m.id = (SELECT id FROM {_M} WHERE tournament_id = %(tournament)s"
    f" AND status = '{_AWAITING}' AND voter_session = %(session)s ORDER BY round, slot LIMIT 1)"
)
_FREE = "{t}status = '" + _AWAITING + "' AND ({t}voter_session = '' OR {t}claimed_at < %(stale)s)"


def _claim(params: dict[str, object], *, ahead: bool, dialect: Dialect) -> Sql:
    """Give this voter the first free battle (one no one holds, or whose holder walked
    away), unless they hold one or the tournament is not taking votes. ``ahead``: only
    while CLAIM_CANDIDATES are free. Voters claiming at once skip each other's rows
    (SKIP LOCKED) instead of queueing on the first free one."""
    plenty = (
        f" AND (SELECT count(*) FROM (SELECT 1 FROM {_M} c WHERE c.tournament_id = %(tournament)s"
        f" AND {_FREE.format(t='c.')} LIMIT %(candidates)s) AS c) >= %(candidates)s"
        if ahead
        else ""
    )
    skip = " FOR UPDATE SKIP LOCKED" if dialect.locks else ""
    return Sql(
        f"UPDATE {_M} SET voter_session = %(session)s, voter_user_id = %(user)s,"
        f" claimed_at = %(now)s WHERE {_FREE.format(t='')} AND id = ("
        f"SELECT f.id FROM {_M} f WHERE f.tournament_id = %(tournament)s"
        f" AND {_FREE.format(t='f.')}"
        f" AND NOT EXISTS (SELECT 1 FROM {_M} h WHERE h.tournament_id = %(tournament)s"
        f" AND h.status = '{_AWAITING}' AND h.voter_session = %(session)s)"
        f" AND EXISTS (SELECT 1 FROM {_T} t WHERE t.id = %(tournament)s"
        f" AND t.status = '{Status.RUNNING.value}' AND t.judge_id IS NULL){plenty}"
        f" ORDER BY f.round, f.slot LIMIT 1{skip})",
        params | {"candidates": CLAIM_CANDIDATES},
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
    tournament_id: int, session_key: str, user_id: int | None, now: datetime.datetime
) -> dict[str, object]:
    return {
        "tournament": tournament_id,
        "session": session_key,
        "user": user_id,
        "now": now,
        "stale": now - BATTLE_LEASE,
    }


def battle_take(
    *,
    tournament_id: int,
    session_key: str,
    user_id: int | None,
    dialect: Dialect,
    ahead: bool = False,
    hint: uuid.UUID | None = None,
    claim: bool = True,
) -> Step[Battle | None]:
    """The battle ``hint`` names if this voter holds it, else the one they hold, else (with
    ``claim``) a newly claimed one; None when none is free.

    ``ahead`` (right after a vote, when the voter holds nothing unless another tab of theirs
    does) goes straight to the claim, which shows the held battle with it: one round trip.
    """
    params = _voter(tournament_id, session_key, user_id, timezone.now())
    if not ahead:
        battle = None
        if hint is not None:
            (named,) = yield [_shown("m.public_id = %(hint)s", params | {"hint": hint})]
            battle = _battle(named)
        if battle is None:
            (held,) = yield [_shown(_HELD, params)]
            battle = _battle(held)
        if battle is not None or not claim:
            return battle
    _, held = yield [_claim(params, ahead=ahead, dialect=dialect), _shown(_HELD, params)]
    return _battle(held)


def _taken(
    tournament: Tournament, session_key: str, user_id: int | None, **options: Any
) -> Battle | None:
    if tournament.status != Status.RUNNING or tournament.judge_id is not None:
        return None  # not taking votes
    step = battle_take(
        tournament_id=tournament.pk,
        session_key=session_key,
        user_id=user_id,
        dialect=sql.dialect(),
        **options,
    )
    return sql.run(step)


def battle_next(
    *,
    tournament: Tournament,
    session_key: str,
    user_id: int | None = None,
    hint: uuid.UUID | str | None = None,
) -> Battle | None:
    """This voter's open battle, or a newly claimed one; None when none is ready.

    ``hint`` is the public id of the battle the voter was last shown (the "next battle" link
    carries it): found by its unique id, it spares the search for this voter's battle.
    """
    try:
        shown = uuid.UUID(str(hint)) if hint else None
    except ValueError:  # not a UUID
        shown = None
    return _taken(tournament, session_key, user_id, hint=shown)


def battle_claim(
    *, tournament: Tournament, session_key: str, user_id: int | None = None, ahead: bool = False
) -> Battle | None:
    """The battle this voter holds, or a newly claimed one.

    ``ahead``: the voter has not asked for it yet (it comes with the reveal of their vote),
    and may leave instead, holding it for BATTLE_LEASE. So it is claimed only while plenty
    are free; when few are (the end of a round), the voter asks for the next one.
    """
    return _taken(tournament, session_key, user_id, ahead=ahead)


def battle_held(*, tournament: Tournament, session_key: str) -> Battle | None:
    """The battle this voter holds and has not voted on yet, if any."""
    return _taken(tournament, session_key, None, claim=False)

"""Human votes: count one vote on a battle a voter was shown, then reveal the models.

A vote is idempotent by its key (a double click or a replay counts once), and each voter
(session) votes on a battle once. Only a voter the battle was shown to may vote on it:
one it was assigned to (arena.services.battles), or a browser that was shown it without a
session and brings the page's token (``shown``).

A battle may be shown to several voters, and every vote on it is a verdict like any
other: it moves the standings (online Elo) and adds to the evidence cells every board is
fitted from. The first vote completes the match and is its judgment, the result its
format plans from (a bracket advances its winner); later votes on the match, while its
tournament runs, add their evidence and their Vote row, and change no result. So a round
ends at the first vote on each of its matches, and no abandoned battle holds it up.

Its writes (take the battle, check the limits, the judgment, the standings, the vote)
are one step (``vote_count``, arena.sql) that Django's requests run here (``vote_record``)
and arena.serving.fastvote runs from the event loop: one implementation.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac

from arena import evidence, live, sql
from arena.models import Assignment, Match, MatchStatus, Tournament, TournamentStatus, Vote
from arena.services.battles import ASSIGNED, Battle, battle_held, battle_next
from arena.services.matches import match_finished_event, tournament_advance_when_idle
from arena.services.results import tournament_schedule_results
from arena.services.verdicts import (
    BY_PUBLIC_ID,
    JudgmentValues,
    entrants_of,
    entrants_read,
    standings_complete,
    standings_locked,
    verdict_writes,
)
from arena.sql import Dialect, Sql, Step

# Pairwise outcomes as tiers of answer positions, and whether "both bad" is flagged.
OUTCOMES: dict[str, tuple[list[list[int]], bool]] = {
    "a": ([[0], [1]], False),
    "b": ([[1], [0]], False),
    "tie": ([[0, 1]], False),
    "bothbad": ([[0, 1]], True),
}

_M, _V, _A, _T = (sql.table(m) for m in (Match, Vote, Assignment, Tournament))
_TC = sql.table(Tournament.contestants.through)


class VoteRefused(Exception):
    """The vote cannot be counted; ``field`` says which input, ``message`` why."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class NotOpen(Exception):
    """The battle is not open for this voter (voted on by them, not shown to them, unknown,
    taking no votes; or shown to a signed-in voter the caller cannot vouch for): nothing
    was written (the caller's transaction rolls back). Why, and whether the vote is a
    replay, is looked into afterwards."""


@dataclass(frozen=True)
class Reveal:
    public_id: uuid.UUID
    models: tuple[str, ...]  # by answer position
    ranking: tuple[tuple[str, ...], ...]
    both_bad: bool
    # The key's first vote's reveal, sent again (a double click, a replay): the same
    # reveal, so equal to it.
    replayed: bool = field(default=False, compare=False)


@dataclass(frozen=True)
class Ballot:
    """A vote as posted: checked for shape (``ballot_of``), not yet against the battle."""

    battle: str
    session_key: str
    idempotency_key: str
    outcome: str
    ranks: tuple[int, ...] | None
    user_id: int | None
    ip_hash: str
    # The tournament whose page the vote came from, if any (the API names the battle only).
    tournament_id: int | None = None
    # Whether ``user_id`` is who the session signs in (Django read it). arena.serving.fastvote
    # reads no session: a battle held by a signed-in voter is not its to count.
    user_known: bool = True
    # Whether the page the vote came from was shown without a session and vouches for the
    # battle (battles.battle_token): the vote may then count without an assignment.
    shown: bool = False


def ballot_of(
    *,
    public_id: uuid.UUID | str,
    idempotency_key: str,
    session_key: str,
    outcome: str = "",
    ranks: Sequence[int] | None = None,
    user_id: int | None = None,
    ip: str = "",
    tournament_id: int | None = None,
    user_known: bool = True,
    shown: bool = False,
) -> Ballot:
    if ranks is None and outcome not in OUTCOMES:
        raise VoteRefused("outcome", f"one of {', '.join(OUTCOMES)}")
    if not idempotency_key or len(idempotency_key) > 64:
        raise VoteRefused("idempotency_key", "required, at most 64 characters")
    return Ballot(
        battle=str(public_id),
        session_key=session_key,
        idempotency_key=idempotency_key,
        outcome=outcome,
        ranks=None if ranks is None else tuple(ranks),
        user_id=user_id,
        ip_hash=vote_ip_hash(ip),
        tournament_id=tournament_id,
        user_known=user_known,
        shown=shown,
    )


@dataclass(frozen=True)
class Counted:
    """A vote that was counted: its match, contestants (id, name) by answer position, and
    verdict as tiers of contestant ids."""

    match_id: int
    tournament_id: int
    round: int
    slot: int
    public_id: uuid.UUID
    contestants: list[tuple[int, str]]
    ranking: list[list[int]]
    both_bad: bool
    # Whether this vote completed the match (its judgment); else it added evidence only.
    first: bool = True

    @property
    def reveal(self) -> Reveal:
        return reveal_of(self.public_id, self.contestants, self.ranking, self.both_bad)


def vote_count(ballot: Ballot, *, now: datetime.datetime, dialect: Dialect) -> Step[Counted]:
    """Count the vote (run it in a transaction: a refusal raised after the first batch
    must roll back what it wrote): one batch takes the battle for this voter, completes the
    match if this is its first vote, reads its entrants, locks their standings and counts
    the voter's recent votes; one more writes the judgment (first vote only), the
    standings, the cells and the vote (with one more before it, in the rare case an entrant
    has no standings row yet). Raises NotOpen or VoteRefused."""
    try:
        battle = uuid.UUID(ballot.battle)
    except ValueError:
        raise VoteRefused("battle", "unknown battle") from None
    params = {"battle": battle, "session": ballot.session_key, "now": now}
    first = [
        *_take(ballot, params),
        entrants_read(BY_PUBLIC_ID),
        standings_locked(BY_PUBLIC_ID, params, dialect),
    ]
    limits = _limits(ballot, now)
    if limits is not None:
        first.append(limits[0])
    results = yield [Sql(s.text, {**params, **s.params}) for s in first]
    taken, completed, match, rows, standings, *counts = results
    if not taken:
        raise NotOpen
    (holder,) = taken[0]
    if holder is not None and not ballot.user_known:
        raise NotOpen
    if limits is not None:
        _check(limits[1], counts[0][0])
    match_id, tournament_id, round_, slot, probability, size = match[0]
    entrants = entrants_of(rows)
    contestants = entrants.contestants
    positions, both_bad = vote_tiers(len(contestants), ballot.outcome, ballot.ranks)
    ranking = [[contestants[p][0] for p in tier] for tier in positions]
    standings = yield from standings_complete(
        standings, len(contestants), BY_PUBLIC_ID, params, dialect
    )
    judgment = JudgmentValues(
        judge_id=None, both_bad=both_bad, raw_output=f"human vote: {ballot.outcome}"
    )
    writes = verdict_writes(
        match_id=match_id,
        tournament_id=tournament_id,
        entrants=entrants,
        ranking=ranking,
        judgment=judgment,
        standings=standings,
        now=now,
        judged=bool(completed),
        weight=evidence.ipw_weight(probability, size),
    )
    yield [*writes, _vote_insert(ballot, match_id, ranking, both_bad, now)]
    return Counted(
        match_id=match_id,
        tournament_id=tournament_id,
        round=round_,
        slot=slot,
        public_id=battle,
        contestants=contestants,
        ranking=ranking,
        both_bad=both_bad,
        first=bool(completed),
    )


def _take(ballot: Ballot, params: dict[str, object]) -> list[Sql]:
    """Take-once: this voter's assignment of the battle marked voted (made now for a
    battle the page vouches for, ``shown``) while the battle takes votes: awaiting its
    first or already voted, in a tournament still running (a paused or cancelled one
    takes none). Then the match completed if this is
    its first vote (exactly one vote completes it; the step's caller rolls it back if the
    take did not happen), and the match, with what its weight in the fit needs (the
    probability of its draw, the tournament's number of contestants)."""
    mine = " AND m.tournament_id = %(tournament)s" if ballot.tournament_id is not None else ""
    running = (
        f"EXISTS (SELECT 1 FROM {_T} t WHERE t.id = m.tournament_id"
        f" AND t.status = '{TournamentStatus.RUNNING.value}' AND t.judge_id IS NULL)"
    )
    awaiting, completed = MatchStatus.AWAITING_VOTE.value, MatchStatus.COMPLETED.value
    return [
        Sql(
            f"INSERT INTO {_A} (match_id, session_key, user_id, shown_at, voted)"
            f" SELECT m.id, {ASSIGNED}, TRUE FROM {_M} m"
            f" WHERE m.public_id = %(battle)s{mine} AND {running}"
            f" AND m.status IN ('{awaiting}', '{completed}') AND (%(shown)s OR EXISTS"
            f" (SELECT 1 FROM {_A} s WHERE s.match_id = m.id AND s.session_key = %(session)s))"
            " ON CONFLICT (match_id, session_key) DO UPDATE SET voted = TRUE"
            f" WHERE {_A}.voted = FALSE RETURNING user_id",
            {"tournament": ballot.tournament_id, "user": ballot.user_id, "shown": ballot.shown},
        ),
        Sql(
            f"UPDATE {_M} SET status = '{completed}', finished_at = %(now)s"
            f" WHERE public_id = %(battle)s AND status = '{awaiting}' RETURNING id"
        ),
        Sql(
            f"SELECT m.id, m.tournament_id, m.round, m.slot, m.draw_probability,"
            f" (SELECT COUNT(*) FROM {_TC} tc WHERE tc.tournament_id = m.tournament_id)"
            f" FROM {_M} m WHERE m.public_id = %(battle)s"
        ),
    ]


Limit = tuple[int, str]  # (most votes, over what span)


def _limits(ballot: Ballot, now: datetime.datetime) -> tuple[Sql, list[Limit]] | None:
    """The voter's recent votes, counted for each limit that is on (0 turns one off) in
    one statement: the per-voter rate, the per-voter daily cap and the per-address cap."""
    voter = "user_id = %(user)s" if ballot.user_id else "session_key = %(session)s"
    wanted = [
        (f"{voter} AND created_at >= %(minute)s", settings.VOTES_PER_MINUTE, "a minute"),
        (voter, settings.VOTES_PER_DAY, "a day"),
    ]
    if ballot.ip_hash:
        wanted.append(("ip_hash = %(ip)s", settings.VOTES_PER_IP_PER_DAY, "a day from one address"))
    wanted = [w for w in wanted if w[1]]
    if not wanted:
        return None
    counted = ", ".join(f"COUNT(*) FILTER (WHERE {which})" for which, _, _ in wanted)
    rows = f"({voter} OR ip_hash = %(ip)s)" if ballot.ip_hash else voter
    statement = Sql(
        f"SELECT {counted} FROM {_V} WHERE {rows} AND created_at >= %(day)s",
        {
            "user": ballot.user_id,
            "ip": ballot.ip_hash,
            "minute": now - timedelta(minutes=1),
            "day": now - timedelta(days=1),
        },
    )
    return statement, [(most, span) for _, most, span in wanted]


def _check(limits: list[Limit], counts: tuple[int, ...]) -> None:
    for (most, span), count in zip(limits, counts, strict=True):
        if count >= most:
            raise VoteRefused("rate", f"too many votes: at most {most} in {span}")


def _vote_insert(
    ballot: Ballot,
    match_id: int,
    ranking: list[list[int]],
    both_bad: bool,
    now: datetime.datetime,
) -> Sql:
    """The vote; a used idempotency key fails it (unique), and with it the transaction."""
    return Sql(
        f"INSERT INTO {_V} (match_id, user_id, session_key, ip_hash, idempotency_key, ranking,"
        " both_bad, created_at) VALUES (%(match)s, %(user)s, %(session)s, %(ip)s, %(key)s,"
        " %(ranking)s, %(both_bad)s, %(now)s)",
        {
            "match": match_id,
            "user": ballot.user_id,
            "session": ballot.session_key,
            "ip": ballot.ip_hash,
            "key": ballot.idempotency_key,
            "ranking": json.dumps(ranking),
            "both_bad": both_bad,
            "now": now,
        },
    )


def ranks_to_tiers(ranks: Sequence[int], k: int) -> list[list[int]]:
    """A rank per answer position (1 = best, equal ranks tie) → tiers of positions."""
    if len(ranks) != k:
        raise VoteRefused("ranks", f"give a rank to each of the {k} answers")
    if any(isinstance(r, bool) or not isinstance(r, int) or not 1 <= r <= k for r in ranks):
        raise VoteRefused("ranks", f"each rank must be a whole number from 1 to {k}")
    return [[p for p, r in enumerate(ranks) if r == value] for value in sorted(set(ranks))]


def vote_tiers(
    answers: int, outcome: str, ranks: Sequence[int] | None
) -> tuple[list[list[int]], bool]:
    """The verdict as tiers of answer positions, and whether both answers were bad."""
    if ranks is not None:
        return ranks_to_tiers(ranks, answers), False
    if answers != 2:
        raise VoteRefused("ranks", "this battle has more than two answers: rank them")
    return OUTCOMES[outcome]


def vote_record(
    *,
    public_id: uuid.UUID | str,
    idempotency_key: str,
    session_key: str,
    outcome: str = "",
    ranks: Sequence[int] | None = None,
    user_id: int | None = None,
    ip: str = "",
    tournament_id: int | None = None,
    shown: bool = False,
) -> Reveal:
    """Count one vote and return the reveal; a replayed key returns the same reveal.

    Pairwise battles take an ``outcome`` (a, b, tie, bothbad); K-wise battles take ``ranks``,
    one per answer position (1 = best; equal ranks are ties). A replay or a refusal is
    looked into only once the vote cannot count.
    """
    ballot = ballot_of(
        public_id=public_id,
        idempotency_key=idempotency_key,
        session_key=session_key,
        outcome=outcome,
        ranks=ranks,
        user_id=user_id,
        ip=ip,
        tournament_id=tournament_id,
        shown=shown,
    )
    try:
        with transaction.atomic():
            counted = sql.run(vote_count(ballot, now=timezone.now(), dialect=sql.dialect()))
            vote_after_commit(counted)
    except (VoteRefused, NotOpen, IntegrityError) as error:
        # A double click, a replay, or the same key racing in from a second request: the
        # first vote's reveal. Otherwise the refusal (or the error) stands.
        replay = _replay(idempotency_key, public_id)
        if replay is not None:
            return replay
        if isinstance(error, NotOpen):
            raise _refusal(ballot) from None
        raise
    return counted.reveal


def vote_after_commit(counted: Counted) -> None:
    """What a counted vote owes its tournament once committed (call inside the transaction).

    Votes do not lock the tournament row, so the next round comes from this vote's own
    check (once no match is open; of two last votes racing, the later commit sees the
    other's), first and robust so that no failing callback can skip it; then the finished
    match, and the deferred, debounced publish of progress and leaderboards, which sees
    every vote committed before it runs.
    """
    transaction.on_commit(lambda: tournament_advance_when_idle(counted.tournament_id), robust=True)
    if counted.first:
        live.publish_on_commit(live.tournament_group(counted.tournament_id), vote_finished(counted))
    tournament_schedule_results(tournament_id=counted.tournament_id)


def vote_finished(counted: Counted) -> live.MatchFinished:
    names = dict(counted.contestants)
    return match_finished_event(
        tournament_id=counted.tournament_id,
        match_id=counted.match_id,
        round=counted.round,
        slot=counted.slot,
        status=MatchStatus.COMPLETED,
        ranking=[[names[c] for c in tier] for tier in counted.ranking],
    )


def _refusal(ballot: Ballot) -> VoteRefused:
    """Why the battle could not take this vote (read again: it may have changed meanwhile)."""
    try:
        battle = uuid.UUID(ballot.battle)
    except ValueError:
        return VoteRefused("battle", "unknown battle")
    match = (
        Match.objects.filter(public_id=battle)
        .select_related("tournament")
        .only("tournament__status", "tournament__judge_id", "status")
        .first()
    )
    if match is None or (
        ballot.tournament_id is not None and match.tournament_id != ballot.tournament_id
    ):
        return VoteRefused("battle", "unknown battle")
    shown = Assignment.objects.filter(match=match, session_key=ballot.session_key).first()
    if shown is not None and shown.voted:
        return VoteRefused("battle", "this battle already has your vote")
    if shown is None and not ballot.shown:
        return VoteRefused("battle", "this battle was not shown to you")
    return VoteRefused("battle", "this battle no longer takes votes")


def battle_after_vote(
    *, tournament: Tournament, session_key: str, reveal: Reveal, user_id: int | None = None
) -> Battle | None:
    """The battle the reveal brings; for a replayed vote, the one its first request gave
    the voter, if any, rather than a second."""
    if reveal.replayed:
        return battle_held(tournament=tournament, session_key=session_key)
    return battle_next(tournament=tournament, session_key=session_key, user_id=user_id)


def voter_key(session_key: str) -> str:
    """The voter a browser session is, as stored: a keyed hash of its session key, as
    addresses are kept (``vote_ip_hash``). A session key in the database (votes, battles
    shown) would let whoever reads it, an admin page or a dump, sign in as that voter."""
    if not session_key:
        return ""
    return salted_hmac("arena.voter", session_key, algorithm="sha256").hexdigest()[:40]


def vote_ip_hash(ip: str) -> str:
    if not ip:
        return ""
    return hmac.new(settings.SECRET_KEY.encode(), ip.encode(), hashlib.sha256).hexdigest()[:32]


def _replay(idempotency_key: str, public_id: uuid.UUID | str) -> Reveal | None:
    """The key's first vote's reveal, if the key was used on this battle; and what that
    vote owed its tournament, again (harmless when done: the debounced publish, the next
    round once no match is open), in case its request was cut off after its commit (the
    fast path's connection dropped, say)."""
    vote = Vote.objects.select_related("match").filter(idempotency_key=idempotency_key).first()
    if vote is None:
        return None
    if vote.match.public_id != _uuid_or_none(public_id):
        raise VoteRefused("idempotency_key", "already used for another battle")
    tournament_schedule_results(tournament_id=vote.match.tournament_id)
    tournament_advance_when_idle(vote.match.tournament_id)
    entries = vote.match.entries.order_by("position")
    contestants = list(entries.values_list("contestant_id", "contestant__name"))
    return reveal_of(vote.match.public_id, contestants, vote.ranking, vote.both_bad, replayed=True)


def _uuid_or_none(value: uuid.UUID | str) -> uuid.UUID | None:
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except ValueError:
        return None


def reveal_of(
    public_id: uuid.UUID,
    contestants: list[tuple[int, str]],
    ranking: Sequence[Sequence[int]],
    both_bad: bool,
    *,
    replayed: bool = False,
) -> Reveal:
    names = dict(contestants)
    return Reveal(
        public_id=public_id,
        models=tuple(name for _, name in contestants),
        ranking=tuple(tuple(names[c] for c in tier) for tier in ranking),
        both_bad=both_bad,
        replayed=replayed,
    )

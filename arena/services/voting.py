"""Human battles: serve an anonymous battle to one voter, record the vote, then reveal.

Nothing that identifies a model reaches the voter before the vote: a battle is known to the
browser only by its random ``public_id``, and answers are shown by position. A vote is
idempotent by its key (a double click or a replay counts once), a battle takes one vote
(later ones are refused), and only the session the battle was shown to may vote on it.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from arena.models import Judgment, Match, MatchStatus, Tournament, TournamentStatus, Vote
from arena.services.matches import match_complete, match_lock

# A battle shown to a voter who walks away goes to the next voter after this long.
BATTLE_LEASE = timedelta(minutes=30)

# Pairwise outcomes as tiers of answer positions, and whether "both bad" is flagged.
OUTCOMES: dict[str, tuple[list[list[int]], bool]] = {
    "a": ([[0], [1]], False),
    "b": ([[1], [0]], False),
    "tie": ([[0, 1]], False),
    "bothbad": ([[0, 1]], True),
}


class VoteRefused(Exception):
    """The vote cannot be counted; ``field`` says which input, ``message`` why."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


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


@dataclass(frozen=True)
class Reveal:
    public_id: uuid.UUID
    models: tuple[str, ...]  # by answer position
    ranking: tuple[tuple[str, ...], ...]
    both_bad: bool


def battle_next(*, tournament: Tournament, session_key: str) -> Battle | None:
    """This voter's open battle, or a newly assigned one; None when none is ready."""
    if tournament.status != TournamentStatus.RUNNING or tournament.judge_id is not None:
        return None
    waiting = tournament.matches.filter(status=MatchStatus.AWAITING_VOTE)
    mine = waiting.filter(voter_session=session_key).first()
    if mine is not None:  # a reload shows the same battle instead of drawing a new one
        return _battle(mine)
    now = timezone.now()
    free = Q(voter_session="") | Q(claimed_at__lt=now - BATTLE_LEASE)
    for pk in waiting.filter(free).order_by("round", "slot").values_list("pk", flat=True)[:20]:
        taken = Match.objects.filter(free, pk=pk, status=MatchStatus.AWAITING_VOTE).update(
            voter_session=session_key, claimed_at=now
        )
        if taken:
            return _battle(Match.objects.get(pk=pk))
    return None


def _battle(match: Match) -> Battle:
    entries = match.entries.select_related("response").order_by("position")
    return Battle(
        public_id=match.public_id,
        prompt=match.prompt.text,
        answers=tuple(e.response.text if e.response else "" for e in entries),
    )


def ranks_to_tiers(ranks: Sequence[int], k: int) -> list[list[int]]:
    """A rank per answer position (1 = best, equal ranks tie) → tiers of positions."""
    if len(ranks) != k:
        raise VoteRefused("ranks", f"give a rank to each of the {k} answers")
    if any(isinstance(r, bool) or not isinstance(r, int) or not 1 <= r <= k for r in ranks):
        raise VoteRefused("ranks", f"each rank must be a whole number from 1 to {k}")
    return [[p for p, r in enumerate(ranks) if r == value] for value in sorted(set(ranks))]


def vote_record(
    *,
    public_id: uuid.UUID | str,
    idempotency_key: str,
    session_key: str,
    outcome: str = "",
    ranks: Sequence[int] | None = None,
    user_id: int | None = None,
    ip: str = "",
) -> Reveal:
    """Count one vote and return the reveal; a replayed key returns the same reveal.

    Pairwise battles take an ``outcome`` (a, b, tie, bothbad); K-wise battles take ``ranks``,
    one per answer position (1 = best; equal ranks are ties).
    """
    if ranks is None and outcome not in OUTCOMES:
        raise VoteRefused("outcome", f"one of {', '.join(OUTCOMES)}")
    if not idempotency_key or len(idempotency_key) > 64:
        raise VoteRefused("idempotency_key", "required, at most 64 characters")
    replay = _replay(idempotency_key, public_id)
    if replay is not None:
        return replay
    ip_hash = _ip_hash(ip)
    _check_limits(session_key=session_key, user_id=user_id, ip_hash=ip_hash)
    try:
        with transaction.atomic():
            match = _lock_battle(public_id, session_key)
            entries = list(match.entries.order_by("position"))
            if ranks is not None:
                positions, both_bad = ranks_to_tiers(ranks, len(entries)), False
            elif len(entries) != 2:
                raise VoteRefused("ranks", "this battle has more than two answers: rank them")
            else:
                positions, both_bad = OUTCOMES[outcome]
            ranking = [[entries[p].contestant_id for p in tier] for tier in positions]
            Vote.objects.create(
                match=match,
                user_id=user_id,
                session_key=session_key,
                idempotency_key=idempotency_key,
                ranking=ranking,
                both_bad=both_bad,
                ip_hash=ip_hash,
            )
            match_complete(
                defer_leaderboard=True,  # the voter should not wait for a refit
                tournament=match.tournament,
                match=match,
                ranking=ranking,
                judgment=Judgment(
                    judge=None, both_bad=both_bad, raw_output=f"human vote: {outcome}"
                ),
            )
    except IntegrityError:  # the same key raced in from a second request
        replay = _replay(idempotency_key, public_id)
        if replay is None:
            raise
        return replay
    return _reveal(match)


def _ip_hash(ip: str) -> str:
    if not ip:
        return ""
    return hmac.new(settings.SECRET_KEY.encode(), ip.encode(), hashlib.sha256).hexdigest()[:32]


def _check_limits(*, session_key: str, user_id: int | None, ip_hash: str) -> None:
    """Refuse a vote past the per-voter rate, the per-voter daily cap or the per-IP cap."""
    now = timezone.now()
    voter = (
        Vote.objects.filter(user_id=user_id)
        if user_id
        else Vote.objects.filter(session_key=session_key)
    )
    limits = [
        (voter, timedelta(minutes=1), settings.VOTES_PER_MINUTE, "a minute"),
        (voter, timedelta(days=1), settings.VOTES_PER_DAY, "a day"),
    ]
    if ip_hash:
        by_ip = Vote.objects.filter(ip_hash=ip_hash)
        limits.append(
            (by_ip, timedelta(days=1), settings.VOTES_PER_IP_PER_DAY, "a day from one address")
        )
    for votes, window, limit, span in limits:
        if limit and votes.filter(created_at__gte=now - window).count() >= limit:
            raise VoteRefused("rate", f"too many votes: at most {limit} in {span}")


def _lock_battle(public_id: uuid.UUID | str, session_key: str) -> Match:
    try:
        match_id = Match.objects.values_list("pk", flat=True).get(public_id=public_id)
    except (Match.DoesNotExist, ValueError, ValidationError):  # the last two: not a UUID
        raise VoteRefused("battle", "unknown battle") from None
    tournament, match = match_lock(match_id)
    match.tournament = tournament
    if match.status != MatchStatus.AWAITING_VOTE:
        raise VoteRefused("battle", "this battle already has its vote")
    if match.voter_session != session_key:
        raise VoteRefused("battle", "this battle was not shown to you")
    return match


def _replay(idempotency_key: str, public_id: uuid.UUID | str) -> Reveal | None:
    vote = Vote.objects.select_related("match").filter(idempotency_key=idempotency_key).first()
    if vote is None:
        return None
    if str(vote.match.public_id) != str(public_id):
        raise VoteRefused("idempotency_key", "already used for another battle")
    return _reveal(vote.match)


def _reveal(match: Match) -> Reveal:
    entries = list(match.entries.select_related("contestant").order_by("position"))
    names = {e.contestant_id: e.contestant.name for e in entries}
    judgment = Judgment.objects.get(match=match)
    return Reveal(
        public_id=match.public_id,
        models=tuple(e.contestant.name for e in entries),
        ranking=tuple(tuple(names[c] for c in tier) for tier in judgment.ranking),
        both_bad=judgment.both_bad,
    )

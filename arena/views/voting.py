"""The voting pages: a battle, its vote and reveal, and a voter's own page."""

from __future__ import annotations

import math
import uuid
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from arena.models import Tournament
from arena.selectors import battle_revealed, tournament_by_pk, tournaments_open_to_voters
from arena.services.battles import Battle, battle_next, battle_token, battle_token_names
from arena.services.voting import Reveal, VoteRefused, battle_after_vote, vote_record, voter_key
from arena.templatetags.arena_tags import ordinal
from arena.vote_json import posted_ranks, refusal_payload, reveal_payload, vote_url
from arena.voters import Voter, voter_opens_at, voter_page, voter_vote_count

SAME_RANK = "every answer has the same rank, which ranks nothing: put one above another"


def _session_key(request: HttpRequest) -> str:
    if not request.session.session_key:
        request.session.save()
    return str(request.session.session_key)


def _voter(request: HttpRequest, *, create: bool = True) -> Voter:
    user_id = request.user.pk if request.user.is_authenticated else None
    session = _session_key(request) if create else (request.session.session_key or "")
    return Voter(session_key=voter_key(session), user_id=user_id)


def vote_any(request: HttpRequest) -> HttpResponse:
    """The navigation's "Vote": the newest open arena; the home page when none is open."""
    arenas = tournaments_open_to_voters(limit=1)
    return redirect("vote", tournament_id=arenas[0].pk) if arenas else redirect("home")


def vote(request: HttpRequest, tournament_id: int) -> HttpResponse:
    """GET: an anonymous battle. POST: count the vote and reveal the models.

    The reveal carries the voter's next battle, so a vote is one request. vote.js asks for
    it as JSON (``Accept: application/json``) and shows it without a page load; without
    JavaScript the reveal is the battle again with the models' names over the answers,
    and its link names the next battle (``?battle=``, found by its unique id). In
    services mode arena.serving.fastvote answers most JSON votes before they get here.

    A GET without a session (a new voter, a crawler, a link preview) makes none: it is
    shown a battle assigned to no one, with a token (battles.battle_token) that lets the
    vote it brings back count; the vote makes the session.
    """
    tournament = tournament_by_pk(tournament_id)
    if tournament is None:
        raise Http404("No such tournament.")
    if request.method == "POST":
        return _vote_post(request, tournament, _voter(request))
    voter = _voter(request, create=False)
    battle = battle_next(
        tournament=tournament,
        session_key=voter.session_key,
        user_id=voter.user_id,
        hint=request.GET.get("battle"),
    )
    shown = battle_token(battle.public_id) if battle and not voter.session_key else ""
    return _battle_page(request, tournament, voter, battle, shown=shown)


def _battle_page(
    request: HttpRequest,
    tournament: Tournament,
    voter: Voter,
    battle: Battle | None,
    *,
    status: int = 200,
    **context: Any,
) -> HttpResponse:
    context |= {
        "tournament": tournament,
        "battle": battle,
        "idempotency_key": uuid.uuid4().hex,
        "vote_count": voter_vote_count(voter),
    }
    return render(request, "arena/vote.html", context, status=status)


def _vote_post(request: HttpRequest, tournament: Tournament, voter: Voter) -> HttpResponse:
    wants_json = "application/json" in request.headers.get("Accept", "")
    public_id = request.POST.get("battle", "")
    try:
        reveal = _record(request, tournament, voter, public_id)
    except VoteRefused as refused:
        return _refused(request, tournament, voter, refused, public_id, wants_json=wants_json)
    upcoming = battle_after_vote(
        tournament=tournament, session_key=voter.session_key, user_id=voter.user_id, reveal=reveal
    )
    if wants_json:
        return JsonResponse(
            reveal_payload(tournament_id=tournament.pk, reveal=reveal, battle=upcoming)
        )
    url = vote_url(tournament.pk)
    return _battle_page(
        request,
        tournament,
        voter,
        battle_revealed(reveal.public_id),
        reveal=reveal,
        places=_places(reveal),
        next_url=f"{url}?battle={upcoming.public_id}" if upcoming else url,
    )


def _record(request: HttpRequest, tournament: Tournament, voter: Voter, public_id: str) -> Reveal:
    outcome, ranks = request.POST.get("outcome", ""), posted_ranks(request.POST)
    if not outcome and ranks is None:
        # A K-wise form with no rank picked posts nothing that says it is K-wise.
        raise VoteRefused("ranks", "nothing chosen: pick the better answer or rank every answer")
    if ranks is not None and len(ranks) > 1 and len(set(ranks)) == 1:
        # "All fourth" is a careless click more often than a verdict (vote.js says so
        # before it posts); the API, for deliberate clients, takes it as a K-way tie.
        raise VoteRefused("ranks", SAME_RANK)
    return vote_record(
        public_id=public_id,
        outcome=outcome,
        ranks=ranks,
        idempotency_key=request.POST.get("idempotency_key", ""),
        session_key=voter.session_key,
        user_id=voter.user_id,
        ip=request.META.get("REMOTE_ADDR", ""),
        tournament_id=tournament.pk,
        shown=battle_token_names(request.POST.get("shown", ""), public_id),
    )


def _refused(
    request: HttpRequest,
    tournament: Tournament,
    voter: Voter,
    refused: VoteRefused,
    public_id: str,
    *,
    wants_json: bool,
) -> HttpResponse:
    """Why the vote did not count. Past a vote limit the voter keeps the battle they read,
    and learns when voting opens again."""
    retry_after = None
    if refused.field == "rate":
        now = timezone.now()
        opens = voter_opens_at(voter, ip=request.META.get("REMOTE_ADDR", ""), now=now)
        retry_after = max(1, math.ceil((opens - now).total_seconds())) if opens else 60
    payload, status = refusal_payload(refused, retry_after=retry_after)
    if wants_json:
        response: HttpResponse = JsonResponse(payload, status=status)
    elif refused.field in ("rate", "ranks"):  # the same battle, to vote on again
        held = battle_next(
            tournament=tournament,
            session_key=voter.session_key,
            user_id=voter.user_id,
            hint=public_id,
        )
        response = _battle_page(
            request, tournament, voter, held, status=status, refused=refused,
            retry_after=retry_after,
        )  # fmt: skip
    else:
        context = {"tournament": tournament, "refused": refused}
        response = render(request, "arena/vote_refused.html", context, status=status)
    if retry_after is not None:
        response["Retry-After"] = str(retry_after)
    return response


def _places(reveal: Reveal) -> list[str]:
    """What the voter made of each answer, by position, as vote.js words it too: "your
    pick" of two, a place ("1st", "tied 2nd") of more, "tie" or "both bad"."""
    if len(reveal.ranking) < 2:
        return ["both bad" if reveal.both_bad else "tie"] * len(reveal.models)
    place, above = {}, 0
    for tier in reveal.ranking:
        for name in tier:
            place[name] = ("tied " if len(tier) > 1 else "") + ordinal(above + 1)
        above += len(tier)
    if len(reveal.models) == 2:
        return ["your pick" if place[m] == "1st" else "" for m in reveal.models]
    return [place[m] for m in reveal.models]


def my_votes(request: HttpRequest) -> HttpResponse:
    """The voter's own page: their votes, agreement with the crowd, their own board. A
    visitor without a session has cast no vote: nothing to read, no session made."""
    me = _voter(request, create=False)
    context = {"page": voter_page(me) if me.session_key or me.user_id else None}
    return render(request, "arena/voter.html", context)

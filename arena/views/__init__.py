"""Server-rendered pages. Views parse input, call a service or selector, render."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from django.conf import settings
from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import ValidationError
from django.db import DatabaseError, connection
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST, require_safe

from arena.boards import (
    global_leaderboard,
    judge_quality_panel,
    leaderboard_categories,
    leaderboard_sources,
    tournament_charts,
    tournament_leaderboard,
)
from arena.forms import TournamentForm
from arena.models import Tournament
from arena.selectors import (
    tournament_by_pk,
    tournament_estimate,
    tournament_progress,
    tournament_recent_results,
    tournament_rounds,
    tournament_spend,
    tournaments_with_progress,
    voter_outliers,
)
from arena.services.battles import battle_next, battle_token, battle_token_names
from arena.services.tournaments import TOURNAMENT_ACTIONS, tournament_create
from arena.services.voting import VoteRefused, battle_after_vote, vote_record
from arena.vote_json import posted_ranks, refusal_payload, reveal_payload

log = logging.getLogger(__name__)


@never_cache
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    """For containers and load balancers: 200 while the database answers, else 503 (and
    no session, no template: a probe every few seconds should cost next to nothing)."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError as error:
        log.warning("health check: database unreachable: %s", type(error).__name__)
        return JsonResponse({"status": "unavailable", "database": "unreachable"}, status=503)
    return JsonResponse({"status": "ok"})


def _leaderboard_filters(request: HttpRequest) -> dict[str, Any]:
    return {
        "source": request.GET.get("source", "all"),
        "category": request.GET.get("category", ""),
        "style_control": request.GET.get("style") == "on",
    }


def leaderboard(request: HttpRequest) -> HttpResponse:
    """Global leaderboard across tournaments; switches for who judged and the category."""
    filters = _leaderboard_filters(request)
    sources = leaderboard_sources()
    if filters["source"] not in sources:
        message = f"unknown source {filters['source']!r}"
        return HttpResponse(message, status=400, content_type="text/plain")
    rows, style = global_leaderboard(**filters)
    context = {
        "rows": rows,
        "style": style,
        "sources": sources,
        "categories": leaderboard_categories(),
        "quality": judge_quality_panel(),
        "min_verdicts": settings.MIN_VERDICTS,
        **filters,
    }
    return render(request, "arena/leaderboard.html", context)


def leaderboard_json(request: HttpRequest) -> JsonResponse:
    filters = _leaderboard_filters(request)
    try:
        rows, style = global_leaderboard(**filters)
    except ValueError as error:
        return JsonResponse({"errors": {"source": [str(error)]}}, status=400)
    return JsonResponse({"rows": rows, "style_coefficients": style, **filters})


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "arena/home.html", {"tournaments": tournaments_with_progress(limit=50)})


def tournament_rounds_fragment(request: HttpRequest, tournament_id: int) -> HttpResponse:
    """The rounds (bracket) section alone, for the live page to swap in."""
    tournament = get_object_or_404(Tournament, pk=tournament_id)
    context = {
        "tournament": tournament,
        "rounds": tournament_rounds(tournament, page=_page(request)),
    }
    return render(request, "arena/_rounds.html", context)


def _page(request: HttpRequest) -> int | None:
    page = request.GET.get("page", "")
    return int(page) if page.isdigit() else None


def tournament_charts_json(request: HttpRequest, tournament_id: int) -> JsonResponse:
    return JsonResponse(tournament_charts(get_object_or_404(Tournament, pk=tournament_id)))


def tournament_detail(request: HttpRequest, tournament_id: int) -> HttpResponse:
    tournament = get_object_or_404(
        Tournament.objects.select_related("judge", "prompt_set"), pk=tournament_id
    )
    progress = tournament_progress(tournament)
    recent = tournament_recent_results(tournament)
    return render(
        request,
        "arena/tournament.html",
        {
            "tournament": tournament,
            "rows": tournament_leaderboard(tournament),
            "min_verdicts": settings.MIN_VERDICTS,
            "done": progress.done,
            "failed": progress.failed,
            "planned": progress.planned,
            "recent": recent,
            "spend": tournament_spend(tournament),
            "rounds": tournament_rounds(tournament, page=_page(request)),
            "estimate": tournament_estimate(tournament) if tournament.status == "draft" else None,
        },
    )


@staff_member_required
def tournament_new(request: HttpRequest) -> HttpResponse:
    form = TournamentForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            tournament = tournament_create(**form.service_kwargs())
        except ValidationError as error:
            for field, messages in error.message_dict.items():
                if field in form.fields:
                    form.add_error(field, messages)
                else:  # a format option given in the JSON box
                    form.add_error("options", [f"{field}: {m}" for m in messages])
        else:
            return redirect("tournament", tournament_id=tournament.pk)
    return render(
        request, "arena/tournament_new.html", {"form": form}, status=400 if form.errors else 200
    )


@staff_member_required
@require_POST
def tournament_action(request: HttpRequest, tournament_id: int, action: str) -> HttpResponse:
    tournament = get_object_or_404(Tournament, pk=tournament_id)
    if action in TOURNAMENT_ACTIONS:
        try:
            TOURNAMENT_ACTIONS[action](tournament=tournament)
        except ValidationError:
            pass  # the page shows the unchanged status
    return redirect("tournament", tournament_id=tournament_id)


def _session_key(request: HttpRequest) -> str:
    if not request.session.session_key:
        request.session.save()
    return str(request.session.session_key)


def vote(request: HttpRequest, tournament_id: int) -> HttpResponse:
    """GET: an anonymous battle. POST: count the vote and reveal the models.

    The reveal carries the voter's next battle, so a vote is one request. vote.js asks for
    it as JSON (``Accept: application/json``) and shows it without a page load; without
    JavaScript the reveal is a page that holds the next battle hidden, and its link names
    that battle (``?battle=``, found by its unique id). In services mode arena.fastvote
    answers most JSON votes before they get here.

    A GET without a session (a new voter, a crawler, a link preview) makes none: it is
    shown a battle assigned to no one, with a token (battles.battle_token) that lets the
    vote it brings back count; the vote makes the session.
    """
    tournament = tournament_by_pk(tournament_id)
    if tournament is None:
        raise Http404("No such tournament.")
    user_id = request.user.pk if request.user.is_authenticated else None
    if request.method == "POST":
        session_key = _session_key(request)
        wants_json = "application/json" in request.headers.get("Accept", "")
        public_id = request.POST.get("battle", "")
        try:
            reveal = vote_record(
                public_id=public_id,
                outcome=request.POST.get("outcome", ""),
                ranks=posted_ranks(request.POST),
                idempotency_key=request.POST.get("idempotency_key", ""),
                session_key=session_key,
                user_id=user_id,
                ip=request.META.get("REMOTE_ADDR", ""),
                tournament_id=tournament.pk,
                shown=battle_token_names(request.POST.get("shown", ""), public_id),
            )
        except VoteRefused as refused:
            payload, status = refusal_payload(refused)
            if wants_json:
                return JsonResponse(payload, status=status)
            context = {"tournament": tournament, "refused": refused}
            return render(request, "arena/vote_refused.html", context, status=status)
        upcoming = battle_after_vote(
            tournament=tournament, session_key=session_key, user_id=user_id, reveal=reveal
        )
        if wants_json:
            return JsonResponse(
                reveal_payload(tournament_id=tournament.pk, reveal=reveal, battle=upcoming)
            )
        context = {
            "tournament": tournament,
            "reveal": reveal,
            "battle": upcoming,
            "idempotency_key": uuid.uuid4().hex,
        }
        return render(request, "arena/reveal.html", context)
    session_key = request.session.session_key or ""
    battle = battle_next(
        tournament=tournament,
        session_key=session_key,
        user_id=user_id,
        hint=request.GET.get("battle"),
    )
    context = {
        "tournament": tournament,
        "battle": battle,
        "idempotency_key": uuid.uuid4().hex,
        "shown": battle_token(battle.public_id) if battle and not session_key else "",
    }
    return render(request, "arena/vote.html", context)


@staff_member_required
def staff_voters(request: HttpRequest) -> HttpResponse:
    """Outlier-voter report: who votes against the crowd far beyond chance."""
    return render(request, "arena/staff_voters.html", {"reports": voter_outliers()})

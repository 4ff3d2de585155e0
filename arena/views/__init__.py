"""Server-rendered pages. Views parse input, call a service or selector, render."""

from __future__ import annotations

import functools
import logging
from typing import Any

from django.conf import settings
from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import ValidationError
from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST, require_safe
from redis import Redis, RedisError

from arena.boards import (
    global_leaderboard,
    global_position_terms,
    judge_quality_panel,
    leaderboard_categories,
    leaderboard_sources,
    overall_leaderboard,
    tournament_charts,
    tournament_leaderboard,
)
from arena.forms import TournamentForm
from arena.models import Tournament
from arena.selectors import (
    tournament_escalations,
    tournament_estimate,
    tournament_failed_matches,
    tournament_progress,
    tournament_recent_results,
    tournament_rounds,
    tournament_spent,
    tournaments_open_to_voters,
    tournaments_with_progress,
    voter_outliers,
)
from arena.services import plans
from arena.services.tournaments import TOURNAMENT_ACTIONS, tournament_create
from arena.standings import SCO_STYLE_NOTE, has_verdicts
from arena.views.voting import my_votes, vote, vote_any

__all__ = ["my_votes", "vote", "vote_any"]  # the voting pages, with the others for the URLs

log = logging.getLogger(__name__)


@never_cache
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    """Readiness, for containers and load balancers: 200 while the database and (services
    mode) the broker answer, else 503 naming what does not (and no session, no template:
    a probe every few seconds should cost next to nothing). ``/livez/`` is liveness."""
    down = {name: "unreachable" for name, check in _READINESS if not check()}
    if down:
        return JsonResponse({"status": "unavailable", **down}, status=503)
    return JsonResponse({"status": "ok"})


@never_cache
@require_safe
def livez(request: HttpRequest) -> JsonResponse:
    """Liveness: the process answers (a restart would not help a database that is away)."""
    return JsonResponse({"status": "ok"})


def _database_answers() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError as error:
        log.warning("health check: database unreachable: %s", type(error).__name__)
        return False
    return True


def _broker_answers() -> bool:
    """Redis, which carries the tasks, the live events and the cache (services mode)."""
    if settings.EMBEDDED:
        return True
    try:
        return bool(_redis().ping())
    except RedisError as error:
        log.warning("health check: broker unreachable: %s", type(error).__name__)
        return False


@functools.cache
def _redis() -> Redis:
    return Redis.from_url(settings.REDIS_URL, socket_timeout=1, socket_connect_timeout=1)


_READINESS = (("database", _database_answers), ("broker", _broker_answers))


# Where a tournament's judge is also one of its contestants (allowed by allow_self_judging).
SELF_JUDGED_NOTE = (
    "the judge is this contestant's own model, which tends to favour its own answers"
    " (self-preference); its rating here may be too high"
)


def _leaderboard_filters(request: HttpRequest) -> dict[str, Any]:
    return {
        "source": request.GET.get("source", "all"),
        "category": request.GET.get("category", ""),
        "style_control": request.GET.get("style") == "on",
        "graded": request.GET.get("hard") != "on",
        "position": request.GET.get("position") == "on",
    }


def _position_terms(filters: dict[str, Any], sources: dict[str, str]) -> list[dict[str, Any]]:
    """The board's first-position terms, named as the source filter names them."""
    if not filters["position"]:
        return []
    terms = global_position_terms(
        source=filters["source"], category=filters["category"], graded=filters["graded"]
    )
    return [{"source": sources.get(k, k), **v} for k, v in terms.items()]


def leaderboard(request: HttpRequest) -> HttpResponse:
    """Global leaderboard across tournaments; switches for who judged and the category."""
    filters = _leaderboard_filters(request)
    sources = leaderboard_sources()
    if filters["source"] not in sources:
        message = f"unknown source {filters['source']!r}"
        return HttpResponse(message, status=400, content_type="text/plain")
    if filters["style_control"] and filters["position"]:
        message = "position: choose style control or position correction, not both"
        return HttpResponse(message, status=400, content_type="text/plain")
    rows, style = global_leaderboard(**filters)
    context = {
        "rows": rows,
        "style": style,
        "position_terms": _position_terms(filters, sources),
        "sources": sources,
        "categories": leaderboard_categories(),
        "min_verdicts": settings.MIN_VERDICTS,
        "sco_style_note": SCO_STYLE_NOTE,
        **filters,
    }
    return render(request, "arena/leaderboard.html", context)


def leaderboard_judges(request: HttpRequest) -> HttpResponse:
    """The judges' panel alone: the leaderboard page fetches it after it has shown the
    ratings, since on a large arena it reads far more cells than the ratings do."""
    return render(request, "arena/_judge_quality.html", {"quality": judge_quality_panel()})


def _overall_filters(request: HttpRequest) -> dict[str, Any] | None:
    """Who judged and hard outcomes: the filters an overall ranking follows (the category
    is what it ranks across; style and position corrections are per board). None for an
    unknown source."""
    filters = _leaderboard_filters(request)
    if filters["source"] not in leaderboard_sources():
        return None
    return {"source": filters["source"], "graded": filters["graded"]}


def leaderboard_overall(request: HttpRequest) -> HttpResponse:
    """The overall ranking across categories alone: the leaderboard page fetches it after
    the ratings, since it reads every category's board."""
    filters = _overall_filters(request)
    if filters is None:
        return HttpResponse("unknown source", status=400, content_type="text/plain")
    context = {"overall": overall_leaderboard(**filters), **filters}
    return render(request, "arena/_overall.html", context)


def leaderboard_overall_json(request: HttpRequest) -> JsonResponse:
    filters = _overall_filters(request)
    if filters is None:
        source = request.GET.get("source", "all")
        return JsonResponse({"errors": {"source": [f"unknown source {source!r}"]}}, status=400)
    return JsonResponse({**overall_leaderboard(**filters), **filters})


def leaderboard_json(request: HttpRequest) -> JsonResponse:
    filters = _leaderboard_filters(request)
    try:
        rows, style = global_leaderboard(**filters)
    except ValueError as error:
        field = "position" if str(error).startswith("position") else "source"
        return JsonResponse({"errors": {field: [str(error)]}}, status=400)
    sco_note = SCO_STYLE_NOTE if filters["style_control"] else ""
    terms = _position_terms(filters, leaderboard_sources())
    return JsonResponse(
        {
            "rows": rows,
            "style_coefficients": style,
            "position_terms": terms,
            "sco_note": sco_note,
            **filters,
        }
    )


def home(request: HttpRequest) -> HttpResponse:
    """Open arenas first (where a visitor can vote now), then every tournament;
    ``?part=lists`` is the lists alone, which the page fetches again as verdicts land."""
    context = {
        "arenas": tournaments_open_to_voters(),
        "tournaments": tournaments_with_progress(limit=50),
    }
    template = "arena/_home_lists.html" if request.GET.get("part") == "lists" else "arena/home.html"
    return render(request, template, context)


def tournament_rounds_fragment(request: HttpRequest, tournament_id: int) -> HttpResponse:
    """The rounds (bracket) section alone, for the live page to swap in."""
    tournament = get_object_or_404(Tournament, pk=tournament_id)
    context = {
        "tournament": tournament,
        "rounds": tournament_rounds(
            tournament, page=_page(request), bracket=_number(request, "bracket")
        ),
    }
    return render(request, "arena/_rounds.html", context)


def _page(request: HttpRequest) -> int | None:
    return _number(request, "page")


def _number(request: HttpRequest, name: str) -> int | None:
    value = request.GET.get(name, "")
    return int(value) if value.isdigit() else None


def tournament_charts_json(request: HttpRequest, tournament_id: int) -> JsonResponse:
    return JsonResponse(tournament_charts(get_object_or_404(Tournament, pk=tournament_id)))


def tournament_detail(request: HttpRequest, tournament_id: int) -> HttpResponse:
    tournament = get_object_or_404(
        Tournament.objects.select_related("judge", "prompt_set"), pk=tournament_id
    )
    progress = tournament_progress(tournament)
    recent = tournament_recent_results(tournament)
    rows: list[Any] = tournament_leaderboard(tournament)
    rounds = tournament_rounds(tournament, page=_page(request), bracket=_number(request, "bracket"))
    if rounds.bracket is not None:  # a knockout's places beside the ratings' ranks
        places = rounds.bracket.places
        rows = [{**r, "place": places.get(r["contestant"])} for r in rows]
    staff = request.user.is_staff
    return render(
        request,
        "arena/tournament.html",
        {
            "tournament": tournament,
            "rows": rows,
            "has_verdicts": has_verdicts(rows),
            "kwise": tournament.listwise,
            "failures": tournament_failed_matches(tournament) if staff and progress.failed else [],
            "min_verdicts": settings.MIN_VERDICTS,
            "done": progress.done,
            "failed": progress.failed,
            "planned": progress.planned,
            "recent": recent,
            "spent": tournament_spent(tournament),
            "escalations": tournament_escalations(tournament),
            "self_judged": tournament.config.get("self_judged", []),
            "self_judged_note": SELF_JUDGED_NOTE,
            "rounds": rounds,
            "estimate": tournament_estimate(tournament) if tournament.status == "draft" else None,
            "plan": plans.tournament_plan(tournament),
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


@staff_member_required
@require_POST
def tournament_plan_request(request: HttpRequest, tournament_id: int) -> HttpResponse:
    """Ask a worker to simulate the tournament's format and size (the planner)."""
    plans.tournament_plan_request(get_object_or_404(Tournament, pk=tournament_id))
    return redirect("tournament", tournament_id=tournament_id)


@staff_member_required
def staff_voters(request: HttpRequest) -> HttpResponse:
    """Outlier-voter report: who votes against the crowd far beyond chance."""
    return render(request, "arena/staff_voters.html", {"reports": voter_outliers()})

"""REST API (django-ninja, OpenAPI schema at /api/docs). Parse, call a service, serialize."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import NinjaAPI, Schema, Status

from arena.api_errors import AUTH, BAD, MISSING, ErrorOut, errors_install
from arena.auth import TOKEN_OR_SESSION, require_scope
from arena.auth import require_staff as _require_staff
from arena.boards import tournament_leaderboard, tournament_position_terms
from arena.formats import FORMATS
from arena.models import BackendKind, Contestant, Queue, Tournament
from arena.selectors import tournament_progress, tournament_spent
from arena.services import plans
from arena.services import tournaments as svc
from arena.services.battles import battle_next
from arena.services.contestants import contestant_create
from arena.services.plans import tournament_plan, tournament_plan_request
from arena.services.voting import OUTCOMES, VoteRefused, vote_record
from arena.standings import has_verdicts
from arena.vote_json import refusal_payload, reveal_json

api = NinjaAPI(title="Arena API", version="1")
errors_install(api)

# Values from a fixed list are enums in the schema (a request naming another is a 400).
# The lists are built at run time, so to mypy these are plain strings.
if TYPE_CHECKING:
    FormatName = str
    BackendName = str
    QueueName = str
    Outcome = str
    Action = str
else:
    FormatName = Literal[tuple(FORMATS)]
    BackendName = Literal[tuple(BackendKind.values)]
    QueueName = Literal[tuple(Queue.values)]
    Outcome = Literal[("", *OUTCOMES)]
    Action = Literal[tuple(svc.TOURNAMENT_ACTIONS)]


class ContestantOut(Schema):
    id: int
    name: str
    backend: str
    model_id: str
    queue: str


class TournamentIn(Schema):
    name: str
    format: FormatName = "round_robin"
    contestants: list[str | int]
    prompt_set: str | int
    judge: str | int | None = None
    config: dict[str, Any] = {}
    seed: int = 0
    budget: int | None = None
    budget_usd: Decimal | None = None


class TournamentOut(Schema):
    id: int
    name: str
    format: str
    status: str
    seed: int
    budget: int | None
    budget_usd: Decimal | None
    spend_usd: Decimal
    # Model calls begun and not settled: in flight, or lost with a worker that died (the
    # provider billed them; their cost is not in spend_usd).
    calls_unsettled: int
    error: str
    config: dict[str, Any]
    done: int
    failed: int
    planned: int | None


class LeaderboardRowOut(Schema):
    rank: int
    contestant: str
    bt: float | None
    bt_low: float | None
    bt_high: float | None
    elo: float | None
    sco: float | None
    matches: int
    wins: float
    ties: int
    win_rate: float
    preliminary: bool
    # K-wise tournaments: Plackett-Luce log-strength with its 95% bootstrap interval (the
    # rank then comes from these), and the Weng-Lin mu, sigma and mu - 3 sigma.
    pl: float | None = None
    pl_low: float | None = None
    pl_high: float | None = None
    wl_mu: float | None = None
    wl_sigma: float | None = None
    wl_ordinal: float | None = None


def _out(t: Tournament) -> dict[str, Any]:
    progress, spent = tournament_progress(t), tournament_spent(t)
    return {
        "id": t.pk,
        "name": t.name,
        "format": t.format,
        "status": t.status,
        "seed": t.seed,
        "budget": t.budget,
        "budget_usd": t.budget_usd,
        "spend_usd": spent.usd,
        "calls_unsettled": spent.calls_unsettled,
        "error": t.error,
        "config": t.config,
        "done": progress.done,
        "failed": progress.failed,
        "planned": progress.planned,
    }


class ContestantIn(Schema):
    name: str
    backend: BackendName
    base_url: str = ""
    model_id: str = ""
    api_key_env: str = ""
    generation: dict[str, Any] = {}
    queue: QueueName = "default"


@api.get("/contestants", response={200: list[ContestantOut], **BAD})
def contestants_list(request: HttpRequest) -> Any:
    return Contestant.objects.all()


@api.post("/contestants", response={201: ContestantOut, **BAD, **AUTH}, auth=TOKEN_OR_SESSION)
def contestants_create(request: HttpRequest, payload: ContestantIn) -> Any:
    """A new contestant (its key stays in the environment variable it names)."""
    _require_staff(request)
    return Status(201, contestant_create(**payload.dict()))


@api.get("/tournaments", response={200: list[TournamentOut], **BAD})
def tournaments_list(request: HttpRequest) -> Any:
    return [_out(t) for t in Tournament.objects.all()[:200]]


@api.post("/tournaments", response={201: TournamentOut, **BAD, **AUTH}, auth=TOKEN_OR_SESSION)
def tournaments_create(request: HttpRequest, payload: TournamentIn) -> Any:
    _require_staff(request)
    tournament = svc.tournament_create(**payload.dict())
    return Status(201, _out(tournament))


@api.get("/tournaments/{tournament_id}", response={200: TournamentOut, **BAD, **MISSING})
def tournaments_detail(request: HttpRequest, tournament_id: int) -> Any:
    return _out(get_object_or_404(Tournament, pk=tournament_id))


@api.get(
    "/tournaments/{tournament_id}/leaderboard",
    response={200: list[LeaderboardRowOut], **BAD, **MISSING},
)
def tournaments_leaderboard(
    request: HttpRequest, tournament_id: int, position: bool = False
) -> Any:
    """Best first. Empty while the tournament has no verdict: until one, nobody has a
    rating, and starting values are no result. ``position``: ratings fitted with each
    source's first-position advantage (``/position``)."""
    tournament = get_object_or_404(Tournament, pk=tournament_id)
    rows = tournament_leaderboard(tournament, position=position)
    return rows if has_verdicts(rows) else []


class PositionTermOut(Schema):
    """A source's (a judge's, or ``humans``) first-position advantage in Elo points."""

    source: str
    elo: float
    low: float
    high: float
    observations: int


@api.get(
    "/tournaments/{tournament_id}/position",
    response={200: list[PositionTermOut], **BAD, **MISSING},
)
def tournaments_position(request: HttpRequest, tournament_id: int) -> Any:
    """Each source's first-position advantage, fitted with the ratings from every order
    its verdicts were judged in (graded where the tournament fits graded scores)."""
    terms = tournament_position_terms(get_object_or_404(Tournament, pk=tournament_id))
    return [{"source": source, **term} for source, term in terms.items()]


class PlanOut(Schema):
    """Judge calls and dollars the simulator expects this tournament's format and size to
    take to a sustained Kendall tau of ``tau`` against the truth (median of ``seeds``
    simulated truths; 20% ties between equals, a fair judge), and the verdicts so far.
    ``status``: ready, computing (a worker is on it: ask again), not_planned (``POST`` asks
    for it) or unavailable (``reason``)."""

    status: Literal["ready", "computing", "not_planned", "unavailable"]
    reason: str = ""
    strategy: str = ""
    description: str = ""
    n_models: int | None = None
    seeds: int | None = None
    tau: float | None = None
    matches_to_tau: int | None = None
    judge_calls_to_tau: int | None = None
    usd_to_tau: float | None = None
    half_width: float | None = None
    matches_to_half_width: int | None = None
    judge_calls_to_half_width: int | None = None
    usd_to_half_width: float | None = None
    verdicts: int | None = None
    progress: float | None = None  # verdicts so far / matches_to_tau (past 1 when over)
    percent: int | None = None
    computed_at: str = ""


@api.get("/tournaments/{tournament_id}/plan", response={200: PlanOut, **BAD, **MISSING})
def tournaments_plan(request: HttpRequest, tournament_id: int) -> Any:
    """The planner for this tournament, once computed (``POST`` asks for it): ``status``
    ready, computing, not_planned or unavailable (with the ``reason``)."""
    return tournament_plan(get_object_or_404(Tournament, pk=tournament_id))


@api.post(
    "/tournaments/{tournament_id}/plan",
    response={202: PlanOut, **AUTH, **BAD, **MISSING},
    auth=TOKEN_OR_SESSION,
)
def tournaments_plan_request(request: HttpRequest, tournament_id: int) -> Any:
    """Simulate this tournament's format and size (a worker's minutes, once per shape)."""
    _require_staff(request)
    tournament = get_object_or_404(Tournament, pk=tournament_id)
    tournament_plan_request(tournament)
    return Status(202, tournament_plan(tournament))


@api.get("/plan", response={200: PlanOut, **BAD})
def plan_read_for(
    request: HttpRequest,
    format: FormatName,
    models: int,
    config: str = "{}",
    judge: str | None = None,
    prompt_set: str | None = None,
    half_width: float | None = None,
) -> Any:
    """The planner before there is a tournament: ``format`` with its options (``config``,
    JSON) and ``models`` models, priced at ``judge``'s prices (an id or a name) for
    ``prompt_set``'s prompts; with ``half_width`` also the matches to a mean 95% CI
    half-width of that many Elo points. ``POST`` (staff) asks a worker to simulate it."""
    return plans.plan_for(**_plan_args(format, models, config, judge, prompt_set, half_width))


@api.post("/plan", response={202: PlanOut, **AUTH, **BAD}, auth=TOKEN_OR_SESSION)
def plan_request_for(
    request: HttpRequest,
    format: FormatName,
    models: int,
    config: str = "{}",
    judge: str | None = None,
    prompt_set: str | None = None,
    half_width: float | None = None,
) -> Any:
    _require_staff(request)
    args = _plan_args(format, models, config, judge, prompt_set, half_width)
    return Status(202, plans.plan_for(**args, request=True))


def _plan_args(
    format_name: str,
    models: int,
    config: str,
    judge: str | None,
    prompt_set: str | None,
    half_width: float | None,
) -> dict[str, Any]:
    try:
        options = json.loads(config or "{}")
    except json.JSONDecodeError as error:
        raise ValidationError({"config": [f"not JSON: {error.msg}"]}) from None
    if not isinstance(options, dict):
        raise ValidationError({"config": ["must be a JSON object of format options"]})
    return {
        "format_name": format_name,
        "config": options,
        "n_models": models,
        "judge": int(judge) if judge and judge.isdigit() else judge,
        "prompt_set": int(prompt_set) if prompt_set and prompt_set.isdigit() else prompt_set,
        "half_width": half_width,
    }


class BattleOut(Schema):
    battle: str
    prompt: str
    answers: list[str]


class VoteIn(Schema):
    idempotency_key: str
    outcome: Outcome = ""
    ranks: list[int] | None = None


class RevealOut(Schema):
    battle: str
    models: list[str]
    ranking: list[list[str]]
    both_bad: bool


def _voter(request: HttpRequest) -> str:
    # API voters are authenticated users: one voter identity per user.
    return f"user:{request.user.pk}"


@api.get(
    "/tournaments/{tournament_id}/battle",
    response={200: BattleOut, 204: None, **BAD, **AUTH, **MISSING},
    auth=TOKEN_OR_SESSION,
)
def battles_next(request: HttpRequest, tournament_id: int) -> Any:
    """The caller's anonymous battle in a human-judged tournament (204: none left that the
    caller has not been shown)."""
    require_scope(request, "vote")
    battle = battle_next(
        tournament=get_object_or_404(Tournament, pk=tournament_id),
        session_key=_voter(request),
        user_id=request.user.pk,
    )
    if battle is None:
        return Status(204, None)
    return {
        "battle": str(battle.public_id),
        "prompt": battle.prompt,
        "answers": list(battle.answers),
    }


@api.post(
    "/battles/{battle}/vote",
    response={200: RevealOut, 409: ErrorOut, 429: ErrorOut, **BAD, **AUTH, **MISSING},
    auth=TOKEN_OR_SESSION,
)
def battles_vote(request: HttpRequest, battle: str, payload: VoteIn) -> Any:
    """Vote (``outcome`` a|b|tie|bothbad, or ``ranks`` for K answers); returns the reveal."""
    require_scope(request, "vote")
    try:
        reveal = vote_record(
            public_id=battle,
            idempotency_key=payload.idempotency_key,
            session_key=_voter(request),
            outcome=payload.outcome,
            ranks=payload.ranks,
            user_id=request.user.pk,
            ip=request.META.get("REMOTE_ADDR", ""),
        )
    except VoteRefused as refused:
        errors, status = refusal_payload(refused)
        return Status(status, errors)
    return reveal_json(reveal)


@api.post(
    "/tournaments/{tournament_id}/{action}",
    response={200: TournamentOut, **BAD, **AUTH, **MISSING},
    auth=TOKEN_OR_SESSION,
)
def tournaments_action(request: HttpRequest, tournament_id: int, action: Action) -> Any:
    _require_staff(request)
    found = get_object_or_404(Tournament, pk=tournament_id)
    tournament = svc.TOURNAMENT_ACTIONS[action](tournament=found)
    return _out(tournament)


from arena.api_catalog import router as catalog_router  # noqa: E402
from arena.api_data import router as data_router  # noqa: E402

api.add_router("/", catalog_router)
api.add_router("/data", data_router)

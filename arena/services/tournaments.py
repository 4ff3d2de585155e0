"""A tournament's life: create, validate, freeze its manifest and start it, pause, resume,
cancel, rerun (the engine that runs it is arena.services.advance; its published results
arena.services.results).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence, Set
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from arena.boards import global_leaderboard, leaderboard_sources
from arena.formats import (
    ConfigError,
    Format,
    get_format,
)
from arena.models import (
    Contestant,
    Judge,
    JudgeKind,
    PromptSet,
    Standing,
    Tournament,
    TournamentStatus,
)
from arena.queueing import enqueue_advance
from arena.selectors import (
    judge_calls_per_match,
    judge_shape,
)
from arena.services.backends import judge_comparator, judge_freeze
from arena.services.results import tournament_publish_progress
from judges.backends.base import BackendError, PermanentError

log = logging.getLogger(__name__)
MAX_SEED = 2**63 - 1
MAX_BUDGET = 2**31 - 1  # the column is a 32-bit integer on PostgreSQL
MAX_USD = Decimal("99999999.9999")


def _fail(field: str, message: str) -> ValidationError:
    return ValidationError({field: [message]})


def _judge_models(judge: Judge) -> list[dict[str, Any]]:
    """The judge and, for a panel, each of its members (and theirs), as a start freezes
    them; none for a panel whose settings a start would refuse anyway."""
    try:
        found = [judge_freeze(judge=judge)]
    except PermanentError:
        return []
    for frozen in found:  # grows as panels are opened
        found.extend(frozen.get("members", []))
    return found


def _is_model_of(frozen: Mapping[str, Any], contestant: Contestant) -> bool:
    """Same name, or the same model id behind the same endpoint."""
    same_endpoint = frozen["base_url"].rstrip("/") == contestant.base_url.rstrip("/")
    same_model = bool(frozen["model"]) and frozen["model"] == contestant.model_id
    return frozen["name"] == contestant.name or (same_model and same_endpoint)


def _self_judged(judge: Judge, entrants: Sequence[Contestant]) -> list[tuple[str, str]]:
    """(judge or panel member, contestant) for each contestant the judge is the model of."""
    return [
        (frozen["name"], contestant.name)
        for frozen in _judge_models(judge)
        for contestant in entrants
        if _is_model_of(frozen, contestant)
    ]


def _refuse_self_judging(judge: Judge, entrants: Sequence[Contestant]) -> None:
    # A judge prefers its own answers (self-preference bias, which Arena-Hard warns of):
    # a judge, or a panel member, that is also a contestant would tilt its own board.
    for member, contestant in _self_judged(judge, entrants)[:1]:
        through = "" if member == judge.name else f" (panel member {member})"
        raise _fail(
            "judge",
            f"{judge.name}{through} is contestant {contestant}'s own model: a"
            " model judging itself favours its own answers (self-preference, as"
            " Arena-Hard found); pick a judge that is not competing, or set"
            " allow_self_judging",
        )


# Ids beyond a 64-bit key name no row (a database refuses to compare with them).
MAX_ID = 2**63 - 1


def _ids(keys: Sequence[str | int]) -> list[int]:
    return [k for k in keys if isinstance(k, int) and 0 < k <= MAX_ID]


def _resolve_contestants(names: Sequence[str | int]) -> list[Contestant]:
    if len(set(names)) != len(names):
        raise _fail("contestants", "a contestant is listed twice")
    by_key: dict[str | int, Contestant] = {
        c.name: c for c in Contestant.objects.filter(name__in=[str(n) for n in names])
    }
    by_key.update({c.id: c for c in Contestant.objects.filter(id__in=_ids(names))})
    unknown = [str(n) for n in names if n not in by_key]
    if unknown:
        raise _fail("contestants", f"unknown contestant(s): {', '.join(unknown)}")
    return [by_key[n] for n in names]


def row_resolve(model: type[PromptSet] | type[Judge], field: str, key: str | int) -> Any:
    """A prompt set or judge by id or name; a ValidationError naming ``field`` if none."""
    lookup = {"id__in": _ids([key])} if isinstance(key, int) else {"name": key}
    try:
        return model.objects.get(**lookup)
    except model.DoesNotExist:
        raise _fail(field, f"unknown {field.replace('_', ' ')}: {key}") from None


def _config_with_ids(config: Mapping[str, Any], entrants: list[Contestant]) -> dict[str, Any]:
    """Options that name a contestant (``anchor``) may use its name; formats want its id."""
    clean = dict(config)
    ids = {c.name: c.pk for c in entrants}
    if isinstance(clean.get("anchor"), str):
        if clean["anchor"] not in ids:
            raise _fail("anchor", f"{clean['anchor']} is not one of this tournament's contestants")
        clean["anchor"] = ids[clean["anchor"]]
    return clean


# Options for the engine rather than the format: kept in the tournament's config, never
# shown to the format (whose validation refuses keys it does not know).
ENGINE_OPTIONS = (
    "rerun_on_new_contestant",
    "allow_self_judging",
    "graded_scores",
    "disagreements_to",
    "self_judged",  # set here, never taken from the caller: the contestants judging themselves
)
_SWITCHES = ("rerun_on_new_contestant", "allow_self_judging", "graded_scores")


def _engine_options(config: Mapping[str, Any]) -> dict[str, Any]:
    engine = {k: config[k] for k in ENGINE_OPTIONS if k in config}
    for option in _SWITCHES:
        if not isinstance(engine.get(option, False), bool):
            raise _fail(option, "must be true or false")
    return engine


def _review_of(
    value: object, judge: Judge | None, k: int, entrants: list[Contestant]
) -> int | None:
    """The review tournament a judged tournament sends its judge's self-disagreements to
    (``disagreements_to``: its name or id), checked: people judge it, and it has every
    contestant of this one."""
    if value in (None, ""):
        return None
    if judge is None:
        raise _fail("disagreements_to", "only a tournament with a judge has disagreements to send")
    if k != 2:
        raise _fail("disagreements_to", "only pairwise matches can be sent to people (k = 2)")
    # By name (the latest of that name: names need not be unique) or by id, as
    # _resolve_contestants reads ids (one beyond a 64-bit key names no row).
    found = None
    if isinstance(value, str):
        found = Tournament.objects.filter(name=value).order_by("-pk").first()
    elif isinstance(value, int) and not isinstance(value, bool):
        found = Tournament.objects.filter(id__in=_ids([value])).first()
    if found is None:
        raise _fail("disagreements_to", f"no tournament named {value!r}")
    if found.format != "review":
        raise _fail(
            "disagreements_to", f"{found.name} is a {found.format} tournament, not a review"
        )
    if found.status not in (
        TournamentStatus.DRAFT,
        TournamentStatus.RUNNING,
        TournamentStatus.PAUSED,
    ):
        raise _fail("disagreements_to", f"{found.name} is {found.status}")
    missing = sorted(
        {c.name for c in entrants} - set(found.contestants.values_list("name", flat=True))
    )
    if missing:
        raise _fail("disagreements_to", f"{found.name} lacks contestants {', '.join(missing)}")
    return found.pk


def _money(value: Decimal | float | str | None) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        amount = Decimal(str(value))
    except ArithmeticError:
        raise _fail("budget_usd", f"not an amount of money: {value!r}") from None
    # Bounds before quantize: a huge amount either way has more digits than it can round.
    if not amount.is_finite() or amount <= 0:
        raise _fail("budget_usd", f"must be a positive amount of USD, got {value!r}")
    if amount > MAX_USD:  # what the column holds: 12 digits, 4 decimals
        raise _fail("budget_usd", f"at most {MAX_USD} USD, got {value!r}")
    if amount.quantize(Decimal("0.0001")) <= 0:
        raise _fail("budget_usd", f"must be a positive amount of USD, got {value!r}")
    return amount.quantize(Decimal("0.0001"))


def _validated(
    fmt: Format, config: Mapping[str, Any], entrants: list[Contestant], pset: PromptSet
) -> dict[str, Any]:
    return fmt.validate_config(
        _config_with_ids(config, entrants),
        n_contestants=len(entrants),
        n_prompts=pset.prompts.count(),
        contestants=[c.pk for c in entrants],
    )


def _budget_matches(budget: int | None, judge: Judge | None, k: int) -> int | None:
    """The matches a budget of judge calls pays for; refused when it pays for none."""
    if budget is None:
        return None
    per_match = judge_calls_per_match(None if judge is None else judge_shape(judge), k=k)
    if budget < per_match:
        raise _fail("budget", f"{budget} judge call(s) pay for no match: one takes {per_match}")
    return budget // per_match


def tournament_create(
    *,
    name: str,
    format: str,
    contestants: Sequence[str | int],
    prompt_set: str | int,
    judge: str | int | None,
    config: Mapping[str, Any] | None = None,
    seed: int = 0,
    budget: int | None = None,
    budget_usd: Decimal | float | str | None = None,
) -> Tournament:
    """Validate everything first, then save the tournament as a draft in one transaction."""
    if not name.strip():
        raise _fail("name", "a tournament needs a name")
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise _fail("seed", f"must be an integer between 0 and {MAX_SEED}")
    if budget is not None and (
        isinstance(budget, bool) or not isinstance(budget, int) or not 1 <= budget <= MAX_BUDGET
    ):
        limit = f"at most {MAX_BUDGET}"
        raise _fail("budget", f"must be a positive number of judge calls, {limit}, got {budget!r}")
    money = _money(budget_usd)
    try:
        fmt = get_format(format)
    except ConfigError as e:
        raise _fail(e.field, e.message) from None
    entrants = _resolve_contestants(contestants)
    pset: PromptSet = row_resolve(PromptSet, "prompt_set", prompt_set)
    judge_row: Judge | None = None if judge in (None, "") else row_resolve(Judge, "judge", judge)
    if judge_row is not None and judge_row.kind == JudgeKind.IMPORTED:
        raise _fail("judge", f"{judge_row.name} only carries verdicts imported from a file")
    engine = _engine_options(config or {})
    engine.pop("self_judged", None)
    if judge_row is not None and not engine.get("allow_self_judging", False):
        _refuse_self_judging(judge_row, entrants)
    elif judge_row is not None:
        # Allowed, and flagged wherever its board shows (selectors, the judges' panel).
        judged_self = sorted({c for _, c in _self_judged(judge_row, entrants)})
        if judged_self:
            engine["self_judged"] = judged_self
    if format == "review" and judge_row is not None:
        raise _fail("judge", "a review tournament is judged by people: leave the judge empty")
    if judge_row is None and (config or {}).get("brackets") == "per_prompt":
        # Every bracket pairs the same seeds in its first round: a game voted on one
        # prompt would name the two models of the same game's blind battles on the others.
        raise _fail(
            "brackets",
            "per-prompt brackets need a judge: their first rounds share pairings, so "
            "people's votes in one would unblind the same game's battles in the others",
        )
    _check_seed_source(config or {})
    format_config = {k: v for k, v in (config or {}).items() if k not in ENGINE_OPTIONS}
    try:
        clean = _validated(fmt, format_config, entrants, pset)
        matches = _budget_matches(budget, judge_row, int(clean.get("k", 2)))
        if matches is not None and "max_matches" in clean and "max_matches" not in format_config:
            # A format's own default cap (adaptive: 20 matches per contestant) must neither
            # end a run the budget pays further nor plan more than it pays for.
            clean = _validated(fmt, {**format_config, "max_matches": matches}, entrants, pset)
    except ConfigError as e:
        raise _fail(e.field, e.message) from None
    review = _review_of(
        engine.pop("disagreements_to", None), judge_row, int(clean.get("k", 2)), entrants
    )
    if review is not None:
        engine["disagreements_to"] = review
    with transaction.atomic():
        tournament = Tournament.objects.create(
            name=name.strip(),
            format=format,
            config={**clean, **engine},
            seed=seed,
            budget=budget,
            budget_usd=money,
            prompt_set=pset,
            judge=judge_row,
        )
        tournament.contestants.set(entrants)
    return tournament


def _check_seed_source(config: Mapping[str, Any]) -> None:
    source = str(config.get("seed_source", ""))
    if source.startswith("judge:") and source[6:].isdigit():
        if not Judge.objects.filter(pk=int(source[6:])).exists():
            raise _fail("seed_source", f"no judge has the id {source[6:]}")


def tournament_start(*, tournament: Tournament) -> Tournament:
    # A rating seeding fits the global board (seconds when its cache is cold): before the
    # row is locked, not while other requests wait on it.
    seeds = contestants_seed_ratings(list(tournament.contestants.all()), tournament.config)
    with transaction.atomic():
        locked = Tournament.objects.select_for_update().get(pk=tournament.pk)
        if locked.status != TournamentStatus.DRAFT:
            raise _fail("status", f"only a draft can start; this one is {locked.status}")
        locked.manifest = tournament_manifest(tournament=locked, seeds=seeds)
        locked.status = TournamentStatus.RUNNING
        locked.started_at = timezone.now()
        locked.save(update_fields=["status", "started_at", "manifest"])
        Standing.objects.bulk_create(
            [Standing(tournament=locked, contestant=c) for c in locked.contestants.all()],
            ignore_conflicts=True,
        )
        enqueue_advance(locked.pk)
    return locked


def tournament_rerun(
    *,
    tournament: Tournament,
    seed: int | None = None,
    add_contestants: Sequence[Contestant] = (),
) -> Tournament:
    """Start a new run of ``tournament`` with today's contestants, prompts and judge.

    The scheduled path (django-celery-beat → ``arena.tasks.rerun_tournament``): e.g. re-judge
    nightly; or, with ``add_contestants``, a run that takes in a newly added contestant
    (see ``arena.services.contestants``). The seed moves on unless one is given, so each
    run draws fresh pairings and positions.
    """
    runs = Tournament.objects.filter(name__startswith=tournament.name).count()
    entrants = list(tournament.contestants.values_list("pk", flat=True))
    entrants += [c.pk for c in add_contestants if c.pk not in entrants]
    copy = tournament_create(
        name=f"{tournament.name} (run {runs + 1})",
        format=tournament.format,
        contestants=entrants,
        prompt_set=tournament.prompt_set_id,
        judge=tournament.judge_id,
        # A run is a copy, not a template: it does not start runs of its own.
        config={k: v for k, v in tournament.config.items() if k != "rerun_on_new_contestant"},
        seed=tournament.seed + runs if seed is None else seed,
        budget=tournament.budget,
        budget_usd=tournament.budget_usd,
    )
    return tournament_start(tournament=copy)


def tournament_manifest(*, tournament: Tournament, seeds: dict[str, Any]) -> dict[str, Any]:
    """Everything needed to replay the tournament, frozen when it starts (``seeds``: what a
    rating seeding read, ``contestants_seed_ratings``).

    Building the judge here also checks its settings, so a bad judge configuration stops
    the start with a clear error instead of failing every match.
    """
    contestants = list(tournament.contestants.all())
    judge: dict[str, Any] | None = None
    if tournament.judge is not None:
        try:
            judge = judge_freeze(judge=tournament.judge)
            comparator = judge_comparator(
                judge=judge, contestants=contestants, seed=tournament.seed
            )
        except BackendError as error:
            raise _fail("judge", str(error)) from None
        judge["template_hash"] = getattr(comparator, "template_hash", None)
    return {
        "format": tournament.format,
        "config": tournament.config,
        "seed": tournament.seed,
        "budget": tournament.budget,
        "prompt_set": tournament.prompt_set.name,
        "prompts": tournament.prompt_set.prompts.count(),
        "judge": judge,
        **(
            seeds if seeds is not None else contestants_seed_ratings(contestants, tournament.config)
        ),
        "contestants": {
            c.name: {
                "backend": c.backend,
                "model": c.model_id,
                "base_url": c.base_url,
                "generation": c.generation,
                "settings_hash": c.settings_hash,
            }
            for c in contestants
        },
    }


def _transition(tournament: Tournament, allowed: Set[str], to: str) -> Tournament:
    with transaction.atomic():
        locked = Tournament.objects.select_for_update().get(pk=tournament.pk)
        if locked.status not in allowed:
            raise _fail("status", f"cannot go from {locked.status} to {to}")
        locked.status = to
        if to == TournamentStatus.RUNNING:
            locked.error = ""  # e.g. the money-budget message that paused it
        if to == TournamentStatus.CANCELLED:
            locked.finished_at = timezone.now()
        locked.save(update_fields=["status", "finished_at", "error"])
        if to == TournamentStatus.RUNNING:
            enqueue_advance(locked.pk)
        tournament_publish_progress(tournament=locked)
    return locked


def tournament_pause(*, tournament: Tournament) -> Tournament:
    return _transition(tournament, {TournamentStatus.RUNNING}, TournamentStatus.PAUSED)


def tournament_resume(*, tournament: Tournament) -> Tournament:
    return _transition(tournament, {TournamentStatus.PAUSED}, TournamentStatus.RUNNING)


def tournament_cancel(*, tournament: Tournament) -> Tournament:
    allowed = {TournamentStatus.DRAFT, TournamentStatus.RUNNING, TournamentStatus.PAUSED}
    return _transition(tournament, allowed, TournamentStatus.CANCELLED)


# What staff may do to a tournament, by the name the page's buttons and the API use.
TOURNAMENT_ACTIONS = {
    "start": tournament_start,
    "pause": tournament_pause,
    "resume": tournament_resume,
    "cancel": tournament_cancel,
}


def contestants_seed_ratings(
    contestants: Sequence[Contestant], config: Mapping[str, Any]
) -> dict[str, Any]:
    """What a rating seeding reads, frozen into the manifest at start: each contestant's
    Bradley-Terry rating on the global leaderboard of ``config["seed_source"]`` as it
    stands now (``prior_ratings``; models it does not rate are left out and seeded last),
    and where the ratings came from (``seeds_from``), which the bracket page shows."""
    if config.get("seeding") != "rating":
        return {"prior_ratings": {}}
    source = str(config.get("seed_source", "all"))
    rows, _ = global_leaderboard(source=source)
    by_name = {row["contestant"]: row for row in rows if row["bt"] is not None}
    ratings = {c.pk: by_name[c.name]["bt"] for c in contestants if c.name in by_name}
    return {
        "prior_ratings": {str(k): v for k, v in ratings.items()},
        "seeds_from": {
            "board": "global Bradley-Terry leaderboard",
            "source": source,
            "source_label": leaderboard_sources().get(source, source),
            "rated": len(ratings),
            "at": timezone.now().isoformat(timespec="seconds"),
        },
    }


def tournament_judge(tournament: Tournament) -> dict[str, Any] | None:
    """The judge the tournament is judged with: the one frozen in its manifest when it
    started, whatever its row says now (None: judged by people)."""
    if tournament.judge_id is None:
        return None
    frozen: dict[str, Any] | None = tournament.manifest.get("judge")
    if frozen is None or "queue" not in frozen:
        # Started before manifests kept the judge, or its queue and key variable: the row
        # gives what the manifest lacks.
        assert tournament.judge is not None
        return {**judge_freeze(judge=tournament.judge), **(frozen or {})}
    return frozen

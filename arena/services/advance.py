"""A running tournament's engine: ask its format for matches, queue them, finish it.

``tournament_advance`` is the one step that asks the format for matches; it runs under a
lock on the tournament row and creates matches idempotently (unique per round and slot),
so a redelivered task finds its work already done and changes nothing. The money budget
pauses it; the sweep and the requeue after a restart give back what dead workers held.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from arena import live
from arena.formats import (
    FormatState,
    MatchResult,
    PlannedMatch,
    Step,
    get_format,
)
from arena.models import (
    OPEN_MATCH_STATUSES,
    AnswerClaim,
    Contestant,
    Match,
    MatchEntry,
    MatchStatus,
    Queue,
    Tournament,
    TournamentStatus,
)
from arena.queueing import enqueue_advance, enqueue_play
from arena.selectors import (
    tournament_match_cap,
    tournament_spend,
)
from arena.services.leaderboards import elo_point_record, leaderboard_snapshot_create
from arena.services.results import tournament_publish_progress
from arena.services.tournaments import tournament_judge

log = logging.getLogger(__name__)


def _format_state(tournament: Tournament, prompt_ids: list[int]) -> FormatState:
    prompt_index = {pid: i for i, pid in enumerate(prompt_ids)}
    planned, results = [], []
    matches = tournament.matches.prefetch_related("entries").select_related("judgment")
    for match in matches:
        entrants = tuple(e.contestant_id for e in match.entries.all())
        planned.append(
            PlannedMatch(match.round, match.slot, prompt_index[match.prompt_id], entrants)
        )
        if match.status == MatchStatus.COMPLETED:
            tiers = tuple(tuple(tier) for tier in match.judgment.ranking)
            results.append(MatchResult(match.round, match.slot, entrants, tiers))
        elif match.status == MatchStatus.FAILED:
            results.append(MatchResult(match.round, match.slot, entrants, None))
    contestants = tuple(sorted(tournament.contestants.values_list("id", flat=True)))
    return FormatState(
        contestants=contestants,
        # Frozen at start: a bracket seeded from ratings must replay the same way later.
        prior_ratings={int(k): v for k, v in tournament.manifest.get("prior_ratings", {}).items()},
        n_prompts=tournament_prompt_count(tournament, len(prompt_ids)),
        config=tournament.config,
        seed=tournament.draw_seed,
        planned=tuple(planned),
        results=tuple(results),
    )


def tournament_prompt_count(tournament: Tournament, prompts_now: int) -> int:
    """The prompts its format plans on: per-prompt brackets keep the count their start
    froze (prompts added to the set later make no new brackets); other formats use the
    set as it is."""
    frozen = tournament.manifest.get("prompts")
    if tournament.config.get("brackets") == "per_prompt" and frozen:
        return min(prompts_now, int(frozen))
    return prompts_now


def _match_queue(tournament: Tournament, entrants: Sequence[int]) -> str:
    """Matches that touch a local model go to the GPU workers."""
    judge = tournament_judge(tournament)
    if judge is not None and judge.get("queue") == Queue.GPU:
        return Queue.GPU
    gpu = Contestant.objects.filter(id__in=entrants, queue=Queue.GPU).exists()
    if gpu:
        return Queue.GPU
    # Without a judge, playing only fetches answers for voters: keep it out of the line
    # behind slow judge calls so a battle is ready when someone opens the vote page.
    return "judge" if tournament.judge_id else "default"


def _create_match(
    tournament: Tournament, planned: PlannedMatch, prompt_ids: list[int]
) -> Match | None:
    # Human-judged matches start pending too: a worker prepares the answers, then the
    # match waits for a vote (arena.services.matches.match_play).
    match, created = Match.objects.get_or_create(
        tournament=tournament,
        round=planned.round,
        slot=planned.slot,
        defaults={"prompt_id": prompt_ids[planned.prompt_index]},
    )
    if not created:
        return None
    MatchEntry.objects.bulk_create(
        [
            MatchEntry(match=match, contestant_id=c, position=i)
            for i, c in enumerate(planned.entrants)
        ]
    )
    return match


def tournament_advance(*, tournament_id: int) -> None:
    """Create the format's next matches and queue every pending one, or finish."""
    with transaction.atomic():
        tournament = (
            Tournament.objects.select_for_update(of=("self",))
            .select_related("judge")
            .filter(pk=tournament_id)
            .first()
        )
        if tournament is None or tournament.status != TournamentStatus.RUNNING:
            return
        prompt_ids = list(tournament.prompt_set.prompts.order_by("id").values_list("id", flat=True))
        state = _format_state(tournament, prompt_ids)
        step = get_format(tournament.format).next_step(state)
        if tournament.draws_on_demand:  # the voters' asks draw the matches; it may finish
            step = Step(finished=step.finished, planned_total=step.planned_total)
        cap = tournament_match_cap(tournament)
        room = len(step.matches) if cap is None else max(cap - len(state.planned), 0)
        wanted: Sequence[PlannedMatch] = step.matches[:room]
        wanted, money_left = _affordable(tournament, wanted)
        if not money_left and not wanted:
            _pause_for_money(tournament)
            return
        budget_spent = cap is not None and len(state.planned) + len(wanted) >= cap
        for planned in wanted:
            _create_match(tournament, planned, prompt_ids)
        expected = step.planned_total
        if expected is not None and cap is not None:
            expected = min(expected, cap)
        if expected != tournament.planned_matches:
            tournament.planned_matches = expected
            tournament.save(update_fields=["planned_matches"])
        open_matches = tournament.matches.filter(status__in=OPEN_MATCH_STATUSES)
        # A format that returns nothing without finishing is waiting (e.g. for voters).
        if not open_matches.exists() and (step.finished or budget_spent):
            _finish(tournament)
            return
        for match in open_matches.filter(status=MatchStatus.PENDING).prefetch_related("entries"):
            entrants = [e.contestant_id for e in match.entries.all()]
            enqueue_play(match.pk, queue=_match_queue(tournament, entrants))
        tournament_publish_progress(tournament=tournament)


# With a money budget and no cost seen yet, this many matches go first to measure it.
COST_PROBE_MATCHES = 4


def _affordable(
    tournament: Tournament, wanted: Sequence[PlannedMatch]
) -> tuple[Sequence[PlannedMatch], bool]:
    """The matches the money budget still covers, by the cost per match so far; and whether
    any money is left (False: stop before the budget is exceeded)."""
    if tournament.budget_usd is None or not wanted:
        return wanted, True
    spend = tournament_spend(tournament)
    left = tournament.budget_usd - spend
    if left <= 0:
        return (), False
    played = tournament.matches.filter(status=MatchStatus.COMPLETED).count()
    in_flight = tournament.matches.filter(status__in=OPEN_MATCH_STATUSES).count()
    if played == 0:
        return wanted[: max(COST_PROBE_MATCHES - in_flight, 0)], True
    if spend == 0:
        return wanted, True
    fits = int(left / (spend / played)) - in_flight
    return wanted[: max(fits, 0)], fits > 0 or in_flight > 0


def _pause_for_money(tournament: Tournament) -> None:
    spend = tournament_spend(tournament)
    tournament.status = TournamentStatus.PAUSED
    tournament.error = (
        f"Paused before exceeding the money budget: ${spend:.4f} of ${tournament.budget_usd:.4f} "
        "spent. Raise budget_usd and resume to go on."
    )
    tournament.save(update_fields=["status", "error"])
    tournament_publish_progress(tournament=tournament)


def _finish(tournament: Tournament) -> None:
    """Nothing is left to play: completed with what verdicts it got (its failed matches
    counted in its progress), or failed if every match it played failed."""
    judged = tournament.matches.filter(status=MatchStatus.COMPLETED).exists()
    failed = tournament.matches.filter(status=MatchStatus.FAILED).order_by("-finished_at")
    last = failed.first()
    if judged or last is None:
        _complete(tournament)
    else:
        # No verdict, no ratings: a leaderboard of starting ratings is no result.
        _fail_unjudged(tournament, failed=failed.count(), last_error=last.error)


def _fail_unjudged(tournament: Tournament, *, failed: int, last_error: str) -> None:
    tournament.status = TournamentStatus.FAILED
    tournament.finished_at = timezone.now()
    tournament.error = (
        f"no match got a verdict: {failed} of {failed} failed; last error: {last_error}"
    )
    tournament.save(update_fields=["status", "finished_at", "error"])
    tournament_publish_progress(tournament=tournament)


def _complete(tournament: Tournament) -> None:
    tournament.status = TournamentStatus.COMPLETED
    tournament.finished_at = timezone.now()
    tournament.save(update_fields=["status", "finished_at"])
    snapshot = leaderboard_snapshot_create(tournament=tournament)
    elo_point_record(tournament=tournament)
    # The final leaderboard now, ahead of "completed": not a window after it.
    live.publish_on_commit(
        live.tournament_group(tournament.pk),
        live.LeaderboardUpdated(
            type="leaderboard.updated", tournament=tournament.pk, rows=snapshot.rows
        ),
    )
    tournament_publish_progress(tournament=tournament)


def tournaments_requeue_running(*, release_claims: bool) -> int:
    """Queue an advance for every running tournament; returns how many.

    After a restart in embedded mode the in-memory queue is empty and no other worker
    exists, so claims held by the dead process (matches, answers being generated) are
    released (``release_claims``) and each advance re-queues the pending matches.
    Services mode has the sweep (``tournaments_sweep``) and broker redelivery.
    """
    running = list(
        Tournament.objects.filter(status=TournamentStatus.RUNNING).values_list("pk", flat=True)
    )
    with transaction.atomic():
        if release_claims:
            Match.objects.filter(tournament_id__in=running, status=MatchStatus.PLAYING).update(
                status=MatchStatus.PENDING, claimed_at=None
            )
            AnswerClaim.objects.all().delete()
        for pk in running:
            enqueue_advance(pk)
    return len(running)


@dataclass(frozen=True)
class Swept:
    """What one sweep found: matches whose claim outlived its lease (given back), and the
    running tournaments it queued an advance for."""

    released: int
    advanced: list[int]


def tournaments_sweep(*, now: datetime | None = None) -> Swept:
    """Queue again what a dead worker or a lost message left behind (the periodic sweep:
    beat in services mode, a timer in embedded mode).

    A match claimed longer ago than the lease goes back to pending. A running tournament
    gets an advance, which queues its pending matches, plans what comes next or finishes
    it, when a match of it was given back, or when nothing of it happened for a lease and
    something is left to do: pending matches, or no open match at all (its next round's
    message was lost). A tournament waiting only on voters is left alone. Everything
    queued is idempotent, so a sweep that races a slow worker costs a skipped task."""
    now = now or timezone.now()
    stale = now - timedelta(seconds=settings.MATCH_CLAIM_LEASE_SECONDS)
    running = Tournament.objects.filter(status=TournamentStatus.RUNNING)
    released = set(
        Match.objects.filter(
            tournament__in=running, status=MatchStatus.PLAYING, claimed_at__lt=stale
        ).values_list("tournament_id", flat=True)
    )
    given_back = Match.objects.filter(
        tournament_id__in=released, status=MatchStatus.PLAYING, claimed_at__lt=stale
    ).update(status=MatchStatus.PENDING, claimed_at=None)
    advanced = sorted(
        t.pk for t in running.only("pk", "started_at") if t.pk in released or _stalled(t, stale)
    )
    for pk in advanced:
        enqueue_advance(pk)
    if given_back or advanced:
        log.warning("sweep: %s stale claims given back; advanced %s", given_back, advanced)
    return Swept(released=given_back, advanced=advanced)


def _stalled(tournament: Tournament, stale: datetime) -> bool:
    """Nothing of it happened since ``stale`` (no start, claim or finish), and something is
    left for a worker. Each question is answered by an index on (tournament, …)."""
    matches = Match.objects.filter(tournament=tournament)
    activity = [
        tournament.started_at,
        matches.aggregate(m=Max("finished_at"))["m"],
        matches.filter(status=MatchStatus.PLAYING).aggregate(m=Max("claimed_at"))["m"],
    ]
    if any(at is not None and at >= stale for at in activity):
        return False
    pending = matches.filter(status=MatchStatus.PENDING).exists()
    return pending or not matches.filter(status__in=OPEN_MATCH_STATUSES).exists()

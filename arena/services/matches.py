"""Playing a match: claim it, make sure every entry has an answer, ask the judge, record.

Every step is safe to run twice. The claim is a conditional UPDATE (pending → playing, or a
stale claim whose worker died), and the verdict is recorded only while this claim holds,
under a lock, so a redelivered task neither plays a finished match again nor adds a second
Judgment.
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from arena import live, sql
from arena.identity import contestant_identity, identity_words_in
from arena.models import (
    OPEN_MATCH_STATUSES,
    AnswerClaim,
    Match,
    MatchEntry,
    MatchStatus,
    Response,
    Spend,
    Tournament,
    TournamentStatus,
)
from arena.queueing import enqueue_advance
from arena.services.backends import contestant_generator, judge_comparator
from arena.services.results import tournament_schedule_results
from arena.services.tournaments import tournament_judge
from arena.services.verdicts import JudgmentValues, verdict_record
from arena.sql import Sql
from judges.backends.base import (
    Answer,
    BackendError,
    Comparator,
    PermanentError,
    RawOutput,
    Verdict,
    storable,
)
from judges.judge_settings import slight_win_of
from judges.orders import self_disagreement

log = logging.getLogger(__name__)


def match_claim(*, match_id: int) -> bool:
    """Take the match for this worker; False when it is done, taken, or its tournament idle."""
    now = timezone.now()
    stale = now - timedelta(seconds=settings.MATCH_CLAIM_LEASE_SECONDS)
    claimable = Q(status=MatchStatus.PENDING) | Q(status=MatchStatus.PLAYING, claimed_at__lt=stale)
    return bool(
        Match.objects.filter(
            claimable, pk=match_id, tournament__status=TournamentStatus.RUNNING
        ).update(status=MatchStatus.PLAYING, claimed_at=now, attempts=F("attempts") + 1)
    )


def _claim_renew(match_id: int) -> None:
    """Still at work on it: the lease counts from the last model call, so a match whose
    answers took long is not taken for a dead worker's while its judge is asked."""
    Match.objects.filter(pk=match_id, status=MatchStatus.PLAYING).update(claimed_at=timezone.now())


def match_release(*, match_id: int) -> None:
    """Give a claimed match back (a transient failure) so the retry can claim it again."""
    Match.objects.filter(pk=match_id, status=MatchStatus.PLAYING).update(
        status=MatchStatus.PENDING, claimed_at=None
    )


def _release_connection() -> None:
    """About to wait on a model (seconds, not milliseconds): hand the database connection
    back to the pool. A worker runs many matches at once in threads (``--pool threads``),
    and each would otherwise hold a connection for its whole model call; the next query
    takes one again."""
    if not connection.in_atomic_block:
        connection.close()


def _answer(entry: MatchEntry) -> Answer:
    """The entry's answer, generated once per contestant × prompt × generation settings.

    Matches that need the same answer at once wait for one generation: whoever takes the
    answer's claim generates it, the others poll until it is stored or the claim is gone
    (the generation failed: one of them tries) or stale (its worker vanished)."""
    contestant, prompt, key = entry.contestant, entry.match.prompt, entry.contestant.settings_hash
    stored = Response.objects.filter(contestant=contestant, prompt=prompt, settings_hash=key)
    pause = ANSWER_POLL_SECONDS
    while (response := stored.first()) is None:
        claim: dict[str, Any] = {
            "contestant_id": contestant.pk,
            "prompt_id": prompt.pk,
            "settings_hash": key,
        }
        holder = answer_claim(**claim)
        if holder is not None:
            try:
                # Stored between our look and our claim: nothing to generate.
                response = stored.first() or _generate(entry)
            finally:
                AnswerClaim.objects.filter(**claim, holder=holder).delete()
            break
        _release_connection()
        time.sleep(pause * random.uniform(0.5, 1.0))
        pause = min(pause * 2, 1.0)
    if entry.response_id != response.pk:
        MatchEntry.objects.filter(pk=entry.pk).update(response=response)
    return Answer(text=response.text, author=contestant.name)


# The first wait for an answer another worker is generating; waits double up to a second.
ANSWER_POLL_SECONDS = 0.05


def answer_claim(*, contestant_id: int, prompt_id: int, settings_hash: str) -> str | None:
    """Take the claim on generating this answer (a new row, or one whose lease ran out);
    the holder's token, or None while another worker holds it."""
    now = timezone.now()
    stale = now - timedelta(seconds=settings.ANSWER_CLAIM_LEASE_SECONDS)
    holder = uuid.uuid4().hex
    table = AnswerClaim._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (contestant_id, prompt_id, settings_hash, holder, claimed_at)"
            " VALUES (%s, %s, %s, %s, %s)"
            " ON CONFLICT (contestant_id, prompt_id, settings_hash) DO UPDATE"
            " SET holder = excluded.holder, claimed_at = excluded.claimed_at"
            f" WHERE {table}.claimed_at < %s RETURNING holder",
            [contestant_id, prompt_id, settings_hash, holder, _at(now), _at(stale)],
        )
        taken = cursor.fetchone()
    return holder if taken else None


def _at(moment: datetime) -> Any:
    return connection.ops.adapt_datetimefield_value(moment)


def _generate(entry: MatchEntry) -> Response:
    """Call the contestant and store its answer. What the call cost is spent at once, so
    that a generation the store then drops is still counted."""
    contestant, prompt = entry.contestant, entry.match.prompt
    tournament_id = entry.match.tournament_id
    spend_add(tournament_id=tournament_id, begun=1)
    _release_connection()
    try:
        generation = contestant_generator(contestant=contestant).generate(prompt.text)
    except BackendError as error:
        spend_add(tournament_id=tournament_id, answers=Decimal(str(error.cost)), settled=1)
        raise
    cost = Decimal(str(generation.cost))
    spend_add(tournament_id=tournament_id, answers=cost, settled=1)
    response, _ = Response.objects.get_or_create(
        contestant=contestant,
        prompt=prompt,
        settings_hash=contestant.settings_hash,
        defaults={
            "text": generation.text,
            "prompt_tokens": generation.prompt_tokens,
            "completion_tokens": generation.completion_tokens,
            "latency_ms": generation.latency_ms,
            "cost": cost,
        },
    )
    return response


def spend_add(
    *,
    tournament_id: int,
    judged: Decimal = Decimal(0),
    answers: Decimal = Decimal(0),
    begun: int = 0,
    settled: int = 0,
) -> None:
    """Add what was just spent to the tournament's total (arena.models.Spend), and the
    model calls just begun or settled."""
    if not judged and not answers and not begun and not settled:
        return
    table = Spend._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (tournament_id, judged_usd, answers_usd, calls_begun,"
            " calls_settled) VALUES (%s, %s, %s, %s, %s)"
            f" ON CONFLICT (tournament_id) DO UPDATE SET"
            f" judged_usd = {table}.judged_usd + excluded.judged_usd,"
            f" answers_usd = {table}.answers_usd + excluded.answers_usd,"
            f" calls_begun = {table}.calls_begun + excluded.calls_begun,"
            f" calls_settled = {table}.calls_settled + excluded.calls_settled",
            [tournament_id, judged, answers, begun, settled],
        )


def _judged(judge: Comparator, match: Match, answers: list[Answer]) -> Verdict:
    """The judge's verdict. What its calls cost is spent at once, whether or not a verdict
    comes of them or gets recorded (a failure, a retry, a match taken over meanwhile)."""
    spend_add(tournament_id=match.tournament_id, begun=1)
    _release_connection()
    try:
        verdict = judge.compare(match.prompt.text, answers)
    except BackendError as error:
        spend_add(tournament_id=match.tournament_id, judged=Decimal(str(error.cost)), settled=1)
        raise
    spend_add(tournament_id=match.tournament_id, judged=Decimal(str(verdict.cost)), settled=1)
    return verdict


def match_play(*, match_id: int) -> str:
    """Play one match end to end. Returns what happened, for logs and tests.

    Raises TransientError (after releasing the claim) when a retry may succeed.
    """
    if not match_claim(match_id=match_id):
        return "skipped"
    match = Match.objects.select_related("tournament__judge", "prompt").get(pk=match_id)
    tournament = match.tournament
    entries = list(match.entries.select_related("contestant", "match__prompt"))
    try:
        answers = [_answer(e) for e in entries]
        _claim_renew(match_id)
        frozen = tournament_judge(tournament)
        if frozen is None:
            return _await_vote(match_id, entries, answers)
        judge = judge_comparator(
            judge=frozen,
            contestants=[e.contestant for e in entries],
            seed=tournament.seed,
            # Only this match's retry may be served from the verdict cache: another match
            # on the same prompt and answers is another sample (judges.cache).
            cache_scope=f"match:{match.public_id}",
        )
        verdict = _judged(judge, match, answers)
        ranking = _ranking_ids(verdict, entries)
    except PermanentError as error:
        match_fail(match_id=match_id, error=str(error), outputs=error.raw_outputs)
        return "failed"
    except BackendError:
        match_release(match_id=match_id)
        raise
    recorded = match_record_verdict(match_id=match_id, verdict=verdict, ranking=ranking)
    return "completed" if recorded else "skipped"


def answers_unblinding(entries: Sequence[MatchEntry], texts: Sequence[str]) -> str | None:
    """Why these answers cannot be shown blind: one names a model (arena.identity)."""
    for entry, text in zip(entries, texts, strict=True):
        c = entry.contestant
        own = contestant_identity(name=c.name, model_id=c.model_id, base_url=c.base_url)
        words = identity_words_in(text, **own)
        if words:
            return f"answer {entry.position} names {', '.join(words)}"
    return None


def _await_vote(match_id: int, entries: list[MatchEntry], answers: list[Answer]) -> str:
    """Answers are ready: hand the match to the voters (arena.services.voting), unless one
    of them names a model, which would unblind the vote (arena.identity)."""
    unblinding = answers_unblinding(entries, [a.text for a in answers])
    if unblinding:
        match_fail(match_id=match_id, error=f"kept out of blind voting: {unblinding}")
        return "failed"
    Match.objects.filter(pk=match_id, status=MatchStatus.PLAYING).update(
        status=MatchStatus.AWAITING_VOTE, claimed_at=None
    )
    return "awaiting_vote"


def _ranking_ids(verdict: Verdict, entries: list[MatchEntry]) -> list[list[int]]:
    indices = sorted(i for tier in verdict.ranking for i in tier)
    if indices != list(range(len(entries))):
        raise PermanentError(
            f"verdict ranks answers {indices}, expected each of 0..{len(entries) - 1}",
            raw_outputs=[RawOutput("judge", verdict.raw_output)] if verdict.raw_output else [],
        )
    return [[entries[i].contestant_id for i in tier] for tier in verdict.ranking]


def match_escalate(*, tournament: Tournament, match: Match, verdict: Verdict) -> str:
    """Send a judged match whose judge disagreed with itself (judges.orders.self_disagreement)
    to the review tournament its config names (``disagreements_to``): a blind battle with
    the same prompt and answers in the same positions, which people vote on like any other.
    Returns what it wrote on the match: "" (no disagreement), "sent (…)" or "not sent: …".
    Runs in the verdict's transaction, so the match and its battle land together."""
    why = self_disagreement(verdict)
    if why is None:
        return ""
    review = Tournament.objects.filter(pk=tournament.config["disagreements_to"]).first()
    entries = list(match.entries.select_related("contestant", "response").order_by("position"))
    outcome = f"sent ({why})"
    if review is None or review.status not in (TournamentStatus.RUNNING, TournamentStatus.PAUSED):
        state = "deleted" if review is None else review.status
        outcome = f"not sent: the review tournament is {state}"
    elif any(e.response is None for e in entries):
        outcome = "not sent: an answer was not stored"
    elif unblinding := answers_unblinding(
        entries, [e.response.text for e in entries if e.response]
    ):
        outcome = f"not sent: {unblinding}"
    else:
        battle = Match.objects.create(
            tournament=review,
            round=0,
            slot=match.pk,  # one battle per judged match, whichever tournament sent it
            prompt_id=match.prompt_id,
            status=MatchStatus.AWAITING_VOTE,
            escalated_from=match,
        )
        MatchEntry.objects.bulk_create(
            MatchEntry(
                match=battle,
                contestant_id=e.contestant_id,
                position=e.position,
                response_id=e.response_id,
            )
            for e in entries
        )
    Match.objects.filter(pk=match.pk).update(escalation=outcome)
    return outcome


def match_lock(match_id: int) -> tuple[Tournament, Match]:
    """Lock the match's tournament, then the match (call inside a transaction)."""
    # Completions of one tournament queue on its row, so exactly one of them sees
    # "no open match left" and advances the tournament.
    tournament_id = Match.objects.values_list("tournament_id", flat=True).get(pk=match_id)
    tournament = (
        Tournament.objects.select_for_update(of=("self",))
        .select_related("judge")
        .get(pk=tournament_id)
    )
    return tournament, Match.objects.select_for_update().get(pk=match_id)


def match_record_verdict(*, match_id: int, verdict: Verdict, ranking: list[list[int]]) -> bool:
    """Save the judgment and its effects in one transaction; False if the match was not ours."""
    with transaction.atomic():
        tournament, match = match_lock(match_id)
        if match.status != MatchStatus.PLAYING:
            return False
        _finish(match, MatchStatus.COMPLETED)
        judgment = JudgmentValues(
            judge_id=tournament.judge_id,
            both_bad=verdict.both_bad,
            probabilities=verdict.probabilities,
            raw_output=verdict.raw_output,
            prompt_tokens=verdict.prompt_tokens,
            completion_tokens=verdict.completion_tokens,
            cost=Decimal(str(verdict.cost)),
            latency_ms=verdict.latency_ms,
            orders=verdict.orders,
            slight_win_score=slight_win_of(tournament.judge.settings if tournament.judge else None),
        )
        step = verdict_record(
            match_id=match.pk,
            tournament_id=tournament.pk,
            ranking=ranking,
            judgment=judgment,
            now=timezone.now(),
            dialect=sql.dialect(),
        )
        names = dict(sql.run(step).contestants)
        if tournament.config.get("disagreements_to"):
            match_escalate(tournament=tournament, match=match, verdict=verdict)
        _publish_finished(match, [[names[c] for c in tier] for tier in ranking])
        _after_match(tournament)
    return True


# A reply is kept whole up to this length (a judge's reasoning fits many times over); a
# runaway one is cut, and says so, rather than growing the match row without bound.
MAX_OUTPUT_CHARS = 20_000


def _kept(outputs: Sequence[RawOutput]) -> list[dict[str, str]] | None:
    def cut(text: str) -> str:
        if len(text) <= MAX_OUTPUT_CHARS:
            return text
        return f"{text[:MAX_OUTPUT_CHARS]}\n[… {len(text) - MAX_OUTPUT_CHARS} more characters cut]"

    return [{"call": o.call, "text": cut(o.text)} for o in outputs] or None


def match_fail(*, match_id: int, error: str, outputs: Sequence[RawOutput] = ()) -> None:
    """Record a permanent failure on the match, with what the judge said if it said
    anything (``outputs``); the tournament goes on without it."""
    log.warning("match %s failed: %s", match_id, error)
    with transaction.atomic():
        tournament, match = match_lock(match_id)
        if match.status not in OPEN_MATCH_STATUSES:
            return
        match.error = storable(error[:2000])
        match.failure_outputs = _kept(outputs)
        _finish(match, MatchStatus.FAILED)
        _publish_finished(match, [])
        _after_match(tournament)


def _finish(match: Match, status: str) -> None:
    match.status = status
    match.finished_at = timezone.now()
    match.save(update_fields=["status", "finished_at", "error", "failure_outputs"])


def _publish_finished(match: Match, ranking: list[list[str]]) -> None:
    event = match_finished_event(
        tournament_id=match.tournament_id,
        match_id=match.pk,
        round=match.round,
        slot=match.slot,
        status=match.status,
        ranking=ranking,
    )
    live.publish_on_commit(live.tournament_group(match.tournament_id), event)


def match_finished_event(
    *,
    tournament_id: int,
    match_id: int,
    round: int,
    slot: int,
    status: str,
    ranking: list[list[str]],
) -> live.MatchFinished:
    """``match.finished`` for the tournament's page (the verdict as tiers of names)."""
    return live.MatchFinished(
        type="match.finished",
        tournament=tournament_id,
        match=match_id,
        round=round,
        slot=slot,
        status=status,
        ranking=ranking,
    )


def _after_match(tournament: Tournament) -> None:
    """What a finished match owes its tournament, under its lock (judged matches)."""
    tournament_schedule_results(tournament_id=tournament.pk)
    tournament_advance_when_idle(tournament.pk)


def tournament_advance_when_idle(tournament_id: int) -> None:
    """Queue the next step once no match is open (an advance with nothing to do is a no-op)."""
    if not sql.run(any_open_match(tournament_id)):
        enqueue_advance(tournament_id)


def open_match(tournament_id: int) -> Sql:
    """Any one open match of the tournament (its id), or no row."""
    return Sql(
        f"SELECT id FROM {sql.table(Match)} WHERE tournament_id = %(tournament)s"
        f" AND status IN ({', '.join(repr(s.value) for s in OPEN_MATCH_STATUSES)}) LIMIT 1",
        {"tournament": tournament_id},
    )


def any_open_match(tournament_id: int) -> sql.Step[bool]:
    (rows,) = yield [open_match(tournament_id)]
    return bool(rows)

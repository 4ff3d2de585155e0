from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from arena.models import Judgment, Match, MatchStatus, Response, Standing
from arena.services import matches as svc
from arena.services.advance import tournament_advance
from arena.services.tournaments import tournament_start
from judges.backends.base import PermanentError, RawOutput, TransientError, Verdict
from judges.backends.openai_judge import UnparseableVerdictError

pytestmark = pytest.mark.django_db


@pytest.fixture
def match(make_tournament) -> Match:
    tournament = tournament_start(tournament=make_tournament(n=2))
    tournament_advance(tournament_id=tournament.pk)
    return tournament.matches.get()


def test_playing_a_match_stores_answers_a_judgment_and_the_elo_update(match: Match) -> None:
    assert svc.match_play(match_id=match.pk) == "completed"
    match.refresh_from_db()
    assert match.status == MatchStatus.COMPLETED and match.attempts == 1
    assert Response.objects.count() == 2
    assert all(e.response_id for e in match.entries.all())
    standings = Standing.objects.filter(tournament=match.tournament)
    assert sorted(s.matches for s in standings) == [1, 1]
    assert sum(s.elo for s in standings) == pytest.approx(2000.0)
    ids = {e.contestant_id for e in match.entries.all()}
    assert {c for tier in match.judgment.ranking for c in tier} == ids


def test_a_redelivered_play_task_changes_nothing(match: Match) -> None:
    svc.match_play(match_id=match.pk)
    before = list(Standing.objects.values_list("elo", "matches"))
    assert svc.match_play(match_id=match.pk) == "skipped"
    assert Judgment.objects.count() == 1
    assert list(Standing.objects.values_list("elo", "matches")) == before


def test_a_verdict_recorded_twice_counts_once(match: Match) -> None:
    assert svc.match_claim(match_id=match.pk)
    ids = [e.contestant_id for e in match.entries.all()]
    verdict = Verdict(ranking=((0,), (1,)))
    ranking = [[ids[0]], [ids[1]]]
    assert svc.match_record_verdict(match_id=match.pk, verdict=verdict, ranking=ranking)
    assert not svc.match_record_verdict(match_id=match.pk, verdict=verdict, ranking=ranking)
    assert Judgment.objects.count() == 1
    assert Standing.objects.get(contestant_id=ids[0]).wins == 1.0


def test_a_verdict_schedules_one_results_publish_after_commit_and_a_rolled_back_one_none(
    match: Match, monkeypatch, django_capture_on_commit_callbacks
) -> None:
    """The fit reads every verdict: a worker runs it per window, on committed verdicts."""
    from django.core.cache import cache
    from django.db import transaction

    from arena import tasks

    scheduled: list[dict] = []
    monkeypatch.setattr(tasks.publish_leaderboard, "apply_async", lambda **kw: scheduled.append(kw))
    cache.clear()
    assert svc.match_claim(match_id=match.pk)
    ids = [e.contestant_id for e in match.entries.all()]
    verdict, ranking = Verdict(ranking=((0,), (1,))), [[ids[0]], [ids[1]]]
    with pytest.raises(RuntimeError), transaction.atomic():
        svc.match_record_verdict(match_id=match.pk, verdict=verdict, ranking=ranking)
        raise RuntimeError("a failure later in the same transaction")
    assert scheduled == [] and Judgment.objects.count() == 0
    with django_capture_on_commit_callbacks(execute=True):
        assert svc.match_record_verdict(match_id=match.pk, verdict=verdict, ranking=ranking)
        assert scheduled == []  # not before the commit
    assert scheduled == [{"args": (match.tournament_id,), "countdown": 0.5}]


def test_the_publish_window_grows_with_what_the_last_publish_took(
    match: Match, monkeypatch
) -> None:
    from django.core.cache import cache

    from arena import tasks
    from arena.services import results

    windows: list[float] = []
    monkeypatch.setattr(
        tasks.publish_leaderboard, "apply_async", lambda **kw: windows.append(kw["countdown"])
    )
    monkeypatch.setattr(results.live, "publish", lambda group, event: None)
    clock = iter([100.0, 102.0])  # a fit that takes 2 s of CPU
    monkeypatch.setattr(results, "thread_time", lambda: next(clock))
    cache.clear()
    results._schedule_results(match.tournament_id)
    results.tournament_results_publish(tournament_id=match.tournament_id)
    results._schedule_results(match.tournament_id)
    assert windows == [0.5, 6.0]


def test_a_publish_that_could_not_be_queued_is_queued_by_the_next_verdict(
    match: Match, monkeypatch
) -> None:
    from django.core.cache import cache

    from arena import tasks
    from arena.services import results

    queued: list[int] = []

    def broker(**kw) -> None:
        if not queued:
            queued.append(0)
            raise ConnectionError("the broker is unreachable")
        queued.append(kw["args"][0])

    monkeypatch.setattr(tasks.publish_leaderboard, "apply_async", broker)
    cache.clear()
    with pytest.raises(ConnectionError):
        results._schedule_results(match.tournament_id)
    results._schedule_results(match.tournament_id)
    assert queued == [0, match.tournament_id]


def test_a_claim_held_by_a_live_worker_is_respected(match: Match) -> None:
    assert svc.match_claim(match_id=match.pk)
    assert svc.match_play(match_id=match.pk) == "skipped"
    assert not Judgment.objects.exists()


def test_a_stale_claim_from_a_dead_worker_is_taken_over(match: Match) -> None:
    Match.objects.filter(pk=match.pk).update(
        status=MatchStatus.PLAYING, claimed_at=timezone.now() - timedelta(hours=2), attempts=1
    )
    assert svc.match_play(match_id=match.pk) == "completed"
    match.refresh_from_db()
    assert match.attempts == 2 and Judgment.objects.count() == 1


def failing_judge(error: Exception):
    class Judge:
        def compare(self, prompt, answers):
            raise error

    return lambda **kwargs: Judge()


def test_a_transient_judge_error_gives_the_match_back_for_a_retry(
    match: Match, monkeypatch
) -> None:
    monkeypatch.setattr(
        svc, "judge_comparator", failing_judge(TransientError("503", retry_after=2))
    )
    with pytest.raises(TransientError):
        svc.match_play(match_id=match.pk)
    match.refresh_from_db()
    assert match.status == MatchStatus.PENDING and match.claimed_at is None


def test_a_permanent_judge_error_fails_the_match_with_its_reason(match: Match, monkeypatch) -> None:
    monkeypatch.setattr(svc, "judge_comparator", failing_judge(PermanentError("bad request: x")))
    assert svc.match_play(match_id=match.pk) == "failed"
    match.refresh_from_db()
    assert match.status == MatchStatus.FAILED and match.error == "bad request: x"
    assert match.failure_outputs is None  # the request was refused: the judge said nothing


def test_a_failed_match_keeps_the_judges_first_reply_and_its_reply_to_the_repair(
    match: Match, monkeypatch
) -> None:
    unreadable = UnparseableVerdictError(
        "judge output has no verdict after one repair prompt",
        raw_outputs=[RawOutput("judge", "Both are fine."), RawOutput("repair", "Still both.")],
    )
    monkeypatch.setattr(svc, "judge_comparator", failing_judge(unreadable))
    assert svc.match_play(match_id=match.pk) == "failed"
    match.refresh_from_db()
    assert match.error == "judge output has no verdict after one repair prompt"
    assert match.failure_outputs == [
        {"call": "judge", "text": "Both are fine."},
        {"call": "repair", "text": "Still both."},
    ]


def test_a_runaway_reply_is_kept_cut_to_a_bounded_length(match: Match, monkeypatch) -> None:
    rambling = "a" * (svc.MAX_OUTPUT_CHARS + 5)
    error = PermanentError("no verdict", raw_outputs=[RawOutput("judge", rambling)])
    monkeypatch.setattr(svc, "judge_comparator", failing_judge(error))
    svc.match_play(match_id=match.pk)
    match.refresh_from_db()
    (kept,) = match.failure_outputs
    assert kept["text"] == "a" * svc.MAX_OUTPUT_CHARS + "\n[… 5 more characters cut]"


def test_a_verdict_that_skips_an_answer_is_a_permanent_failure_keeping_what_was_said(
    match: Match, monkeypatch
) -> None:
    class HalfJudge:
        def compare(self, prompt, answers):
            return Verdict(ranking=((0,),), raw_output="Only [[A]] deserves a mention.")

    monkeypatch.setattr(svc, "judge_comparator", lambda **kwargs: HalfJudge())
    assert svc.match_play(match_id=match.pk) == "failed"
    assert not Judgment.objects.exists()
    match.refresh_from_db()
    assert match.failure_outputs == [{"call": "judge", "text": "Only [[A]] deserves a mention."}]


def test_answers_are_generated_once_per_contestant_prompt_and_settings(make_tournament) -> None:
    tournament = tournament_start(tournament=make_tournament(n=3, rounds=1))
    tournament_advance(tournament_id=tournament.pk)
    for m in tournament.matches.all():
        svc.match_play(match_id=m.pk)
    assert Response.objects.count() == 3


@pytest.mark.django_db(transaction=True)
def test_a_worker_holds_no_database_connection_while_the_judge_thinks(
    make_tournament, monkeypatch
) -> None:
    from django.db import connection

    from arena.services import backends

    tournament = tournament_start(tournament=make_tournament(n=2))
    tournament_advance(tournament_id=tournament.pk)
    held_during_call: list[bool] = []
    real = backends.judge_comparator

    def watched(**kwargs):
        judge = real(**kwargs)
        compare = judge.compare

        def compare_and_look(*args, **kw):
            held_during_call.append(connection.connection is not None)
            return compare(*args, **kw)

        judge.compare = compare_and_look
        return judge

    monkeypatch.setattr(svc, "judge_comparator", watched)
    assert svc.match_play(match_id=tournament.matches.get().pk) == "completed"
    assert held_during_call == [False]

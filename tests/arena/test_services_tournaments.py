from __future__ import annotations

from collections.abc import Callable

import pytest
from django.core.exceptions import ValidationError

from arena.models import Match, MatchStatus, Standing, Tournament, TournamentStatus
from arena.selectors import tournament_progress
from arena.services.advance import tournament_advance
from arena.services.matches import match_play
from arena.services.tournaments import (
    tournament_cancel,
    tournament_create,
    tournament_pause,
    tournament_resume,
    tournament_start,
)
from judges.backends.base import PermanentError, Verdict

pytestmark = pytest.mark.django_db


def errors_of(call: Callable[[], object]) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as error:
        call()
    return error.value.message_dict


def create(**overrides: object) -> Tournament:
    kwargs = {
        "name": "t",
        "format": "round_robin",
        "contestants": ["sim-0", "sim-1", "sim-2"],
        "prompt_set": "tiny",
        "judge": "sim-judge",
        "config": {},
        "seed": 1,
        "budget": None,
    }
    kwargs.update(overrides)
    return tournament_create(**kwargs)  # type: ignore[arg-type]


@pytest.fixture
def world(contestants, prompt_set, judge) -> None:
    contestants(3)


@pytest.mark.parametrize(
    ("overrides", "field", "phrase"),
    [
        ({"contestants": ["sim-0", "nobody"]}, "contestants", "nobody"),
        ({"contestants": ["sim-0"]}, "contestants", "at least 2"),
        ({"contestants": ["sim-0", "sim-0"]}, "contestants", "twice"),
        ({"config": {"k": 1}}, "k", "between 2 and 8"),
        ({"budget": -5}, "budget", "positive"),
        ({"budget": 0}, "budget", "positive"),
        ({"seed": -1}, "seed", "between"),
        ({"format": "nope"}, "format", "unknown format"),
        ({"prompt_set": "missing"}, "prompt_set", "missing"),
        ({"judge": "ghost"}, "judge", "ghost"),
        ({"contestants": ["sim-0", 2**70]}, "contestants", str(2**70)),  # past any id
        ({"prompt_set": 2**70}, "prompt_set", str(2**70)),
        ({"judge": -3}, "judge", "-3"),
        ({"budget_usd": "-1e30"}, "budget_usd", "positive"),  # was a 500 (Schemathesis)
        ({"budget_usd": "0.00001"}, "budget_usd", "positive"),
        ({"name": "  "}, "name", "name"),
    ],
)
def test_bad_input_is_refused_naming_the_field_and_saves_nothing(
    world: None, overrides: dict, field: str, phrase: str
) -> None:
    errors = errors_of(lambda: create(**overrides))
    assert phrase in " ".join(errors[field])
    assert Tournament.objects.count() == 0


def test_a_valid_tournament_is_saved_as_a_draft_with_its_defaults(world: None) -> None:
    tournament = create()
    assert tournament.status == TournamentStatus.DRAFT
    assert tournament.config == {"k": 2, "rounds": 3}
    assert tournament.contestants.count() == 3


def test_starting_creates_standings_and_advancing_creates_the_first_round(make_tournament) -> None:
    tournament = tournament_start(tournament=make_tournament(n=4, rounds=2))
    assert Standing.objects.filter(tournament=tournament, elo=1000.0).count() == 4
    tournament_advance(tournament_id=tournament.pk)
    assert tournament.matches.count() == 6
    assert set(tournament.matches.values_list("round", flat=True)) == {0}
    tournament.refresh_from_db()
    assert tournament.planned_matches == 12


def test_advancing_twice_never_duplicates_a_match(make_tournament) -> None:
    tournament = tournament_start(tournament=make_tournament(n=4))
    tournament_advance(tournament_id=tournament.pk)
    tournament_advance(tournament_id=tournament.pk)
    assert Match.objects.filter(tournament=tournament).count() == 6


def test_a_round_robin_runs_round_by_round_to_completion(make_tournament, play_out) -> None:
    tournament = tournament_start(tournament=make_tournament(n=4, rounds=2))
    tournament = play_out(tournament)
    assert tournament.status == TournamentStatus.COMPLETED
    assert tournament.matches.filter(status=MatchStatus.COMPLETED).count() == 12
    assert (
        sum(Standing.objects.filter(tournament=tournament).values_list("matches", flat=True)) == 24
    )
    assert tournament.snapshots.get().rows[0]["rank"] == 1


class JudgeFailingFirst:
    """A judge that cannot decide its first ``calls`` comparisons (all, if None), then
    gives the first answer the win."""

    def __init__(self, calls: int | None = None) -> None:
        self.calls, self.made = calls, 0

    def compare(self, prompt: str, answers: object) -> Verdict:
        self.made += 1
        if self.calls is None or self.made <= self.calls:
            raise PermanentError(f"no verdict in call {self.made}")
        return Verdict(ranking=((0,), (1,)))


def test_a_tournament_whose_every_match_failed_ends_failed_saying_why(
    make_tournament, play_out, monkeypatch
) -> None:
    from arena import live
    from arena.services import matches

    sent: list[dict] = []
    monkeypatch.setattr(live, "publish_on_commit", lambda group, event: sent.append(dict(event)))
    judge = JudgeFailingFirst()
    monkeypatch.setattr(matches, "judge_comparator", lambda **kwargs: judge)
    tournament = play_out(tournament_start(tournament=make_tournament(n=4, rounds=1)))

    assert tournament.status == TournamentStatus.FAILED and tournament.finished_at
    assert tournament.error == (
        "no match got a verdict: 6 of 6 failed; last error: no verdict in call 6"
    )
    assert tournament_progress(tournament) == (6, 6, 6)
    assert not tournament.snapshots.exists()  # no leaderboard of starting ratings is kept
    last = [e for e in sent if e["type"] == "tournament.progress"][-1]
    assert (last["status"], last["done"], last["failed"]) == ("failed", 6, 6)
    assert last["error"] == tournament.error


def test_a_tournament_with_some_failed_matches_completes_and_counts_them(
    make_tournament, play_out, monkeypatch
) -> None:
    from arena.services import matches

    judge = JudgeFailingFirst(calls=2)
    monkeypatch.setattr(matches, "judge_comparator", lambda **kwargs: judge)
    tournament = play_out(tournament_start(tournament=make_tournament(n=4, rounds=1)))

    assert tournament.status == TournamentStatus.COMPLETED and tournament.error == ""
    assert tournament.matches.filter(status=MatchStatus.FAILED).count() == 2
    assert tournament_progress(tournament) == (6, 2, 6)
    assert tournament.snapshots.exists()


def test_the_budget_caps_the_matches_played(make_tournament, play_out) -> None:
    tournament = tournament_start(tournament=make_tournament(n=4, rounds=2, budget=5))
    tournament = play_out(tournament)
    assert tournament.status == TournamentStatus.COMPLETED
    assert tournament.matches.count() == 5
    assert tournament.planned_matches == 5


@pytest.fixture
def judged_in_both_orders(db) -> str:
    from arena.models import Judge, JudgeKind

    Judge.objects.create(
        name="both-orders",
        kind=JudgeKind.OPENAI,
        base_url="http://127.0.0.1:9/v1",  # never called: no match is played here
        model_id="m",
        settings={"both_orders": True},
    )
    return "both-orders"


def test_the_budget_counts_judge_calls_so_a_pair_judged_in_both_orders_costs_two(
    world: None, judged_in_both_orders: str
) -> None:
    tournament = tournament_start(tournament=create(judge=judged_in_both_orders, budget=5))
    tournament_advance(tournament_id=tournament.pk)
    tournament.refresh_from_db()
    assert tournament.matches.count() == 2 and tournament.planned_matches == 2


def test_a_budget_that_pays_for_no_match_is_refused(
    world: None, judged_in_both_orders: str
) -> None:
    errors = errors_of(lambda: create(judge=judged_in_both_orders, budget=1))
    assert errors["budget"] == ["1 judge call(s) pay for no match: one takes 2"]


def test_adaptive_plays_its_budget_rather_than_its_default_cap(world: None, play_out) -> None:
    # Three contestants: a default cap of 60 matches.
    tournament = tournament_start(tournament=create(format="adaptive", budget=70))
    assert tournament.config["max_matches"] == 70
    assert play_out(tournament).matches.count() == 70


def test_adaptive_keeps_a_max_matches_it_was_given_under_a_larger_budget(world: None) -> None:
    tournament = create(format="adaptive", budget=70, config={"max_matches": 10})
    assert tournament.config["max_matches"] == 10


def test_a_listwise_match_is_one_call_even_for_a_judge_that_sees_pairs_in_both_orders(
    contestants, prompt_set, judged_in_both_orders: str
) -> None:
    from arena.selectors import tournament_estimate

    contestants(4)
    tournament = create(
        judge=judged_in_both_orders,
        format="kwise",
        contestants=["sim-0", "sim-1", "sim-2", "sim-3"],
        config={"k": 4, "rounds": 3},
        budget=2,
    )
    assert tournament_estimate(tournament)["judge_calls"] == 2


def test_a_paused_tournament_plays_nothing_until_resumed(make_tournament) -> None:
    tournament = tournament_start(tournament=make_tournament(n=3))
    tournament_advance(tournament_id=tournament.pk)
    tournament_pause(tournament=tournament)
    match = tournament.matches.first()
    assert match_play(match_id=match.pk) == "skipped"
    tournament_resume(tournament=tournament)
    assert match_play(match_id=match.pk) == "completed"


def test_lifecycle_moves_outside_the_allowed_ones_are_refused(make_tournament) -> None:
    tournament = make_tournament(n=3)
    assert "status" in errors_of(lambda: tournament_pause(tournament=tournament))
    tournament_cancel(tournament=tournament)
    assert "status" in errors_of(lambda: tournament_start(tournament=tournament))
    tournament.refresh_from_db()
    assert tournament.status == TournamentStatus.CANCELLED


def test_starting_freezes_a_manifest_that_replays_the_tournament(make_tournament) -> None:
    tournament = tournament_start(tournament=make_tournament(n=2, rounds=1, seed=9))
    manifest = Tournament.objects.get(pk=tournament.pk).manifest
    assert manifest["seed"] == 9 and manifest["config"] == {"k": 2, "rounds": 1}
    assert manifest["judge"]["kind"] == "simulated" and manifest["prompt_set"] == "tiny"
    assert set(manifest["contestants"]) == {"sim-0", "sim-1"}
    assert len(manifest["contestants"]["sim-0"]["settings_hash"]) == 16


def test_a_judge_with_bad_settings_cannot_start_and_the_tournament_stays_a_draft(
    make_tournament,
) -> None:
    from arena.models import Judge, JudgeKind

    tournament = make_tournament(n=2)
    tournament.judge = Judge.objects.create(
        name="llm",
        kind=JudgeKind.OPENAI,
        base_url="http://127.0.0.1:9/v1",
        model_id="m",
        settings={"temprature": 0},
    )
    tournament.save()
    errors = errors_of(lambda: tournament_start(tournament=tournament))
    assert "temprature" in " ".join(errors["judge"])
    tournament.refresh_from_db()
    assert tournament.status == TournamentStatus.DRAFT and not tournament.manifest


def test_a_scheduled_rerun_starts_a_fresh_copy_with_a_new_seed(make_tournament) -> None:
    from arena.tasks import rerun_tournament

    original = make_tournament(n=3, rounds=2, seed=7)
    new_id = rerun_tournament(original.pk)
    copy = Tournament.objects.get(pk=new_id)
    assert copy.status == TournamentStatus.RUNNING and copy.name == "t (run 2)"
    assert copy.config == original.config and copy.seed == 8
    assert set(copy.contestants.all()) == set(original.contestants.all())
    assert copy.judge_id == original.judge_id and copy.prompt_set_id == original.prompt_set_id


def test_a_beat_schedule_can_name_the_rerun_task(make_tournament) -> None:
    import json

    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    from arena.celery import app

    original = make_tournament(n=2)
    every_day = IntervalSchedule.objects.create(every=1, period=IntervalSchedule.DAYS)
    task = PeriodicTask.objects.create(
        name="nightly",
        task="arena.tasks.rerun_tournament",
        interval=every_day,
        args=json.dumps([original.pk]),
    )
    assert task.task in app.tasks
    app.tasks[task.task](*json.loads(task.args))
    assert Tournament.objects.filter(status=TournamentStatus.RUNNING).count() == 1

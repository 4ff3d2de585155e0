"""A Judge row of kind "panel": built from its member Judge rows by the service layer,
refused with an error naming the setting when its settings are wrong, and able to judge a
whole tournament of simulated contestants."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from arena.admin import JudgeAdminForm
from arena.models import (
    Contestant,
    Judge,
    JudgeKind,
    Judgment,
    MatchStatus,
    PromptSet,
    Queue,
    Tournament,
    TournamentStatus,
)
from arena.services.backends import forget_human_agreement, judge_comparator
from arena.services.tournaments import tournament_create, tournament_start
from judges.backends.base import Answer, PermanentError
from judges.panel import PanelJudge

pytestmark = pytest.mark.django_db


def _simulated(name: str, **settings: Any) -> Judge:
    return Judge.objects.create(name=name, kind=JudgeKind.SIMULATED, settings=settings)


def _panel(name: str = "panel", queue: str = Queue.DEFAULT, **settings: Any) -> Judge:
    return Judge.objects.create(name=name, kind=JudgeKind.PANEL, settings=settings, queue=queue)


@pytest.fixture
def members() -> list[Judge]:
    return [_simulated(f"member-{i}") for i in range(3)]


def test_a_panel_row_is_built_from_its_member_rows(members: list[Judge]) -> None:
    panel = _panel(members=[m.name for m in members], combine="majority", weights=[2, 1, 1])

    comparator = judge_comparator(judge=panel, contestants=[])

    assert isinstance(comparator, PanelJudge)
    assert comparator.names == ["member-0", "member-1", "member-2"]
    assert comparator.weights == [2.0, 1.0, 1.0]
    assert comparator.combine == "majority"


def test_weights_may_be_given_by_member_name(members: list[Judge]) -> None:
    panel = _panel(members=[m.name for m in members], weights={"member-2": 3})

    comparator = judge_comparator(judge=panel, contestants=[])

    assert isinstance(comparator, PanelJudge)
    assert comparator.weights == [1.0, 1.0, 3.0]


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"members": ["member-0", "nobody"]}, "'members': unknown judge 'nobody'"),
        ({"members": ["member-0"]}, "'members': a panel needs at least 2 judges, got 1"),
        ({"members": ["member-0", "panel"]}, "'members': panel 'panel' cannot include itself"),
        ({"members": ["member-0", "member-0"]}, "'members': member-0 listed twice"),
        ({"members": "member-0, member-1"}, "'members' must be a list of judge names"),
        ({"members": ["member-0", "member-1"], "combine": "vote"}, "'combine' must be"),
        ({"members": ["member-0", "member-1"], "weights": [1]}, "'weights': panel has 2 judges"),
        (
            {"members": ["member-0", "member-1"], "weights": {"member-9": 1}},
            "'weights' names judges",
        ),
        ({"members": ["member-0", "member-1"], "weights": [0, 0]}, "'weights': panel weights must"),
        ({"members": ["member-0", "member-1"], "quorum": 2}, "unknown judge setting 'quorum'"),
    ],
)
def test_bad_panel_settings_are_refused_naming_the_setting(
    members: list[Judge], settings: dict[str, Any], message: str
) -> None:
    panel = _panel(**settings)

    with pytest.raises(PermanentError, match=message.replace("(", r"\(")):
        judge_comparator(judge=panel, contestants=[])


def test_a_panel_that_includes_itself_through_another_panel_is_refused(
    members: list[Judge],
) -> None:
    _panel("outer", members=["member-0", "inner"])
    _panel("inner", members=["member-1", "outer"])

    with pytest.raises(PermanentError, match="'members': panel includes itself"):
        judge_comparator(judge=Judge.objects.get(name="outer"), contestants=[])


def test_a_panel_with_a_gpu_member_must_run_on_the_gpu_queue(members: list[Judge]) -> None:
    Judge.objects.filter(name="member-1").update(queue=Queue.GPU)

    with pytest.raises(PermanentError, match="'queue' must be gpu"):
        judge_comparator(judge=_panel(members=["member-0", "member-1"]), contestants=[])
    gpu_panel = _panel("gpu-panel", queue=Queue.GPU, members=["member-0", "member-1"])
    assert isinstance(judge_comparator(judge=gpu_panel, contestants=[]), PanelJudge)


def test_the_admin_form_shows_a_panel_error_on_the_settings_field(members: list[Judge]) -> None:
    form = JudgeAdminForm(
        data={
            "name": "panel",
            "kind": JudgeKind.PANEL,
            "settings": '{"members": ["member-0", "ghost"]}',
            "queue": Queue.DEFAULT,
        }
    )

    assert not form.is_valid()
    assert "unknown judge 'ghost'" in form.errors["settings"][0]


def test_the_admin_form_accepts_a_good_panel(members: list[Judge]) -> None:
    form = JudgeAdminForm(
        data={
            "name": "panel",
            "kind": JudgeKind.PANEL,
            "settings": '{"members": ["member-0", "member-1", "member-2"], "combine": "majority"}',
            "queue": Queue.DEFAULT,
        }
    )

    assert form.is_valid(), form.errors


def test_human_agreement_weights_fall_back_to_equal_without_votes(members: list[Judge]) -> None:
    forget_human_agreement()
    panel = _panel(members=["member-0", "member-1"], weights="human_agreement")

    comparator = judge_comparator(judge=panel, contestants=[])

    assert isinstance(comparator, PanelJudge)
    assert comparator.weights == [1.0, 1.0]


def test_members_are_seeded_apart_so_they_do_not_all_say_the_same(members: list[Judge]) -> None:
    a, b = (Contestant(name="a", generation={"strength": 1000}), Contestant(name="b"))
    panel = judge_comparator(
        judge=_panel(members=[m.name for m in members]), contestants=[a, b], seed=1
    )
    answers = [Answer("x", author="a"), Answer("y", author="b")]

    votes = {
        tuple(map(str, p["ranking"]))  # type: ignore[index]
        for q in range(20)
        for p in panel.compare(f"q{q}", answers).extra["panel"]  # type: ignore[union-attr]
    }

    assert len(votes) > 1


def test_a_tournament_judged_by_a_panel_of_simulated_judges_completes(
    contestants: Callable[[int], list[Contestant]],
    prompt_set: PromptSet,
    play_out: Callable[..., Tournament],
    members: list[Judge],
) -> None:
    _panel(members=[m.name for m in members], combine="majority")
    people = contestants(4)
    tournament = tournament_start(
        tournament=tournament_create(
            name="panel-judged",
            format="round_robin",
            contestants=[c.name for c in people],
            prompt_set=prompt_set.name,
            judge="panel",
            config={"rounds": 1},
            seed=3,
        )
    )

    play_out(tournament)

    assert tournament.status == TournamentStatus.COMPLETED
    assert tournament.manifest["judge"]["kind"] == JudgeKind.PANEL
    # The replay manifest freezes each member as it was, not only the panel's own row.
    frozen = tournament.manifest["judge"]["members"]
    assert [(m["name"], m["kind"]) for m in frozen] == [
        (m.name, JudgeKind.SIMULATED) for m in members
    ]
    matches = tournament.matches.all()
    assert {m.status for m in matches} == {MatchStatus.COMPLETED}
    judgments = Judgment.objects.filter(match__tournament=tournament)
    assert judgments.count() == matches.count() == 6
    for judgment in judgments:
        assert judgment.judge is not None and judgment.judge.name == "panel"
        # Each member's verdict is kept, under its name and weight.
        for member in ("member-0", "member-1", "member-2"):
            assert f"{member} (weight 1)" in judgment.raw_output


def test_a_tournament_cannot_start_with_a_broken_panel(
    contestants: Callable[[int], list[Contestant]],
    prompt_set: PromptSet,
    members: list[Judge],
) -> None:
    _panel(members=["member-0", "deleted-judge"])
    people = contestants(2)
    tournament = tournament_create(
        name="broken",
        format="round_robin",
        contestants=[c.name for c in people],
        prompt_set=prompt_set.name,
        judge="panel",
        config={"rounds": 1},
    )

    with pytest.raises(Exception, match="unknown judge 'deleted-judge'"):
        tournament_start(tournament=tournament)
    tournament.refresh_from_db()
    assert tournament.status == TournamentStatus.DRAFT

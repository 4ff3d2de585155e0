"""A tournament may not be judged by one of its contestants, alone or in a panel: a model
prefers its own answers (self-preference, as Arena-Hard found)."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from arena.models import BackendKind, Contestant, Judge, JudgeKind, Tournament
from arena.services.tournaments import tournament_create

pytestmark = pytest.mark.django_db

ENDPOINT = "http://127.0.0.1:8001/v1"


@pytest.fixture
def world(prompt_set) -> None:
    for name in ("gpt-a", "gpt-b"):
        Contestant.objects.create(
            name=name, backend=BackendKind.OPENAI, base_url=ENDPOINT, model_id=f"{name}-model"
        )


def llm_judge(name: str, model_id: str, base_url: str = ENDPOINT) -> Judge:
    return Judge.objects.create(
        name=name, kind=JudgeKind.OPENAI, base_url=base_url, model_id=model_id
    )


def create(
    judge: str, contestants: tuple[str, ...] = ("gpt-a", "gpt-b"), **config: object
) -> Tournament:
    return tournament_create(
        name="t",
        format="round_robin",
        contestants=list(contestants),
        prompt_set="tiny",
        judge=judge,
        config=config,
    )


def refusal(judge: str) -> str:
    with pytest.raises(ValidationError) as error:
        create(judge)
    assert Tournament.objects.count() == 0
    return " ".join(error.value.message_dict["judge"])


def test_a_judge_serving_a_contestants_model_from_its_endpoint_is_refused(world) -> None:
    llm_judge("grader", "gpt-a-model", base_url=f"{ENDPOINT}/")

    message = refusal("grader")

    assert "gpt-a" in message and "self-preference" in message


def test_a_judge_named_as_a_contestant_is_refused(world) -> None:
    llm_judge("gpt-b", "something-else", base_url="http://127.0.0.1:9000/v1")

    assert "gpt-b" in refusal("gpt-b")


def test_a_panel_with_a_contestant_among_its_members_is_refused_naming_the_member(
    world,
) -> None:
    llm_judge("fair", "referee-model")
    llm_judge("partial", "gpt-b-model")
    Judge.objects.create(
        name="jury", kind=JudgeKind.PANEL, settings={"members": ["fair", "partial"]}
    )

    message = refusal("jury")

    assert "panel member partial" in message and "gpt-b" in message


def test_the_same_model_id_on_another_endpoint_is_another_model_and_may_judge(world) -> None:
    llm_judge("elsewhere", "gpt-a-model", base_url="http://127.0.0.1:9000/v1")

    tournament = create("elsewhere")

    assert tournament.judge is not None and tournament.judge.name == "elsewhere"


def test_simulated_contestants_without_a_model_id_are_not_taken_for_a_simulated_judge(
    contestants, prompt_set, judge
) -> None:
    contestants(2)

    tournament = create("sim-judge", contestants=("sim-0", "sim-1"))

    assert tournament.pk is not None


def test_a_tournament_may_allow_self_judging_explicitly_with_true(world) -> None:
    llm_judge("grader", "gpt-a-model")

    tournament = create("grader", allow_self_judging=True)

    assert tournament.config["allow_self_judging"] is True
    with pytest.raises(ValidationError) as error:
        create("grader", allow_self_judging="yes")
    assert "allow_self_judging" in error.value.message_dict


def test_a_newcomer_that_is_a_templates_judge_starts_no_run_of_it(world) -> None:
    from arena.services.contestants import contestant_added

    llm_judge("grader", "newcomer-model")
    create("grader", rerun_on_new_contestant=True)
    newcomer = Contestant.objects.create(
        name="newcomer", backend=BackendKind.OPENAI, base_url=ENDPOINT, model_id="newcomer-model"
    )

    assert contestant_added(contestant_id=newcomer.pk) == []
    assert Tournament.objects.count() == 1


def test_an_allowed_self_judging_is_flagged_on_its_page_and_in_the_judges_panel(world) -> None:
    from django.core.cache import cache
    from django.test import Client

    from arena.boards import judge_quality_panel
    from arena.services.tournaments import tournament_start

    llm_judge("grader", "gpt-a-model")
    tournament = tournament_start(tournament=create("grader", allow_self_judging=True))

    assert tournament.config["self_judged"] == ["gpt-a"]
    page = Client().get(f"/tournaments/{tournament.pk}/").content.decode()
    assert 'id="self-judged-note"' in page and "own model" in page and "gpt-a" in page
    # The panel lists a judge once it has verdicts; the flag is counted per judge all along.
    from arena.boards import _self_judging

    judge = Judge.objects.get(name="grader")
    assert _self_judging() == {f"judge:{judge.pk}": 1}
    cache.clear()
    assert judge_quality_panel() == []  # no verdicts yet: nothing to list


def test_a_copy_of_a_self_judged_tournament_works_its_flag_out_again(world) -> None:
    from arena.services.tournaments import tournament_rerun

    llm_judge("grader", "gpt-a-model")
    tournament = create("grader", allow_self_judging=True)

    copy = tournament_rerun(tournament=tournament)  # its config carries self_judged along

    assert copy.config["self_judged"] == ["gpt-a"]
    again = create("grader", allow_self_judging=True, self_judged=["gpt-b"])
    assert again.config["self_judged"] == ["gpt-a"]  # worked out, never taken from the caller

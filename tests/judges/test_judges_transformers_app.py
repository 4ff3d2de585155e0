"""Local models selected from the app: Contestant and Judge rows of kind "transformers"
play a tournament through the service layer, on tiny random models built in the test."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.judges.tiny_models import build_tiny_model, require_local_models

require_local_models()

from arena.admin import JudgeAdminForm  # noqa: E402
from arena.models import (  # noqa: E402
    BackendKind,
    Contestant,
    Judge,
    JudgeKind,
    Judgment,
    MatchStatus,
    PromptSet,
    Queue,
    Response,
    Tournament,
    TournamentStatus,
)
from arena.services.tournaments import tournament_create, tournament_start  # noqa: E402
from judges.backends.transformers_local import forget_local_models  # noqa: E402

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(build_tiny_model(tmp_path_factory.mktemp("tiny-gpt2")))


@pytest.fixture(autouse=True)
def _fresh_models() -> Iterator[None]:
    yield
    forget_local_models()


def test_a_tournament_of_local_models_judged_by_a_local_model_completes(
    tiny_model: str, prompt_set: PromptSet, play_out: Callable[..., Tournament]
) -> None:
    names = []
    for seed in range(3):
        names.append(f"local-{seed}")
        Contestant.objects.create(
            name=names[-1],
            backend=BackendKind.TRANSFORMERS,
            model_id=tiny_model,
            queue=Queue.GPU,
            generation={"max_tokens": 6, "temperature": 1.0, "seed": seed, "device": "cpu"},
        )
    Judge.objects.create(
        name="local-judge",
        kind=JudgeKind.TRANSFORMERS,
        model_id=tiny_model,
        queue=Queue.GPU,
        settings={"verdict": "score", "logprobs": True, "device": "cpu"},
    )
    tournament = tournament_start(
        tournament=tournament_create(
            name="local",
            format="round_robin",
            contestants=names,
            prompt_set=prompt_set.name,
            judge="local-judge",
            # One tiny model plays every part: the judge is a contestant's model.
            config={"rounds": 1, "allow_self_judging": True},
            seed=2,
        )
    )

    play_out(tournament)

    assert tournament.status == TournamentStatus.COMPLETED
    assert {m.status for m in tournament.matches.all()} == {MatchStatus.COMPLETED}
    judgments = Judgment.objects.filter(match__tournament=tournament)
    assert judgments.count() == 3
    assert all(j.probabilities and j.prompt_tokens > 0 for j in judgments)
    assert Response.objects.filter(contestant__name__in=names).count() == 3
    assert tournament.manifest["judge"]["template_hash"]


def test_the_admin_accepts_a_local_judge_without_loading_it() -> None:
    form = JudgeAdminForm(
        data={
            "name": "gpu-judge",
            "kind": JudgeKind.TRANSFORMERS,
            "model_id": "/models/not/on/this/machine",
            "settings": '{"verdict": "score", "dtype": "bfloat16"}',
            "queue": Queue.GPU,
        }
    )

    assert form.is_valid(), form.errors


def test_the_admin_refuses_a_local_judge_with_a_bad_setting() -> None:
    form = JudgeAdminForm(
        data={
            "name": "gpu-judge",
            "kind": JudgeKind.TRANSFORMERS,
            "model_id": "/models/x",
            "settings": '{"verdict": "vibes"}',
            "queue": Queue.GPU,
        }
    )

    assert not form.is_valid()
    assert "'verdict'" in form.errors["settings"][0]

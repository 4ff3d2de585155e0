"""In-process transformers contestants and judges, on tiny random models built in the test.

Skipped without the extra ``local`` (torch, transformers), except where
ARENA_REQUIRE_LOCAL_MODELS is set (CI), where a missing install fails.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.judges.tiny_models import build_says_a_model, build_tiny_model, require_local_models

torch, transformers = require_local_models()

from judges.backends.base import Answer, PermanentError  # noqa: E402
from judges.backends.openai_judge import UnparseableVerdictError  # noqa: E402
from judges.backends.transformers_local import (  # noqa: E402
    TransformersGenerator,
    TransformersJudge,
    forget_local_models,
)

PAIR = (Answer("Recursion is when a function calls itself."), Answer("It rains."))
QUESTION = "Explain recursion to a child."


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(build_tiny_model(tmp_path_factory.mktemp("tiny-gpt2")))


@pytest.fixture(scope="module")
def says_a_model(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(build_says_a_model(tmp_path_factory.mktemp("says-a")))


@pytest.fixture(autouse=True)
def _fresh_models() -> Iterator[None]:
    yield
    forget_local_models()


def test_a_local_contestant_generates_the_same_greedy_answer_twice(tiny_model: str) -> None:
    generator = TransformersGenerator(
        model=tiny_model, generation={"max_tokens": 12, "device": "cpu"}
    )

    first = generator.generate("Write a haiku about rain.")
    second = generator.generate("Write a haiku about rain.")

    assert first.text == second.text
    assert first.completion_tokens == 12  # the tiny vocabulary has no end-of-text token
    assert first.prompt_tokens > 0
    assert first.cost == 0.0


def test_sampling_with_a_seed_is_reproducible_and_priced(tiny_model: str) -> None:
    settings = {"max_tokens": 8, "temperature": 1.0, "seed": 3, "price_out": 1_000_000.0}
    generator = TransformersGenerator(model=tiny_model, generation=settings)

    first, second = (
        generator.generate("Explain recursion."),
        generator.generate("Explain recursion."),
    )

    assert first.text == second.text
    assert first.cost == pytest.approx(8.0)  # 8 tokens at 1 per token


def test_a_scored_verdict_gives_label_probabilities_that_sum_to_one(tiny_model: str) -> None:
    judge = TransformersJudge(model=tiny_model, settings={"verdict": "score", "logprobs": True})

    verdict = judge.compare(QUESTION, PAIR)

    assert verdict.probabilities is not None
    assert math.fsum(verdict.probabilities.values()) == pytest.approx(1.0)
    best = max(verdict.probabilities, key=lambda k: verdict.probabilities[k])  # type: ignore[index]
    expected = {"A": ((0,), (1,)), "B": ((1,), (0,)), "tie": ((0, 1),)}[best]
    assert verdict.ranking == expected
    assert verdict.prompt_tokens > 50  # the whole judge template went in
    assert verdict.raw_output in ("[[A]]", "[[B]]", "[[C]]")


def test_a_scored_judge_in_both_orders_averages_the_two_readings(tiny_model: str) -> None:
    settings = {
        "verdict": "score",
        "logprobs": True,
        "both_orders": True,
        "order_disagreement": "average",
    }
    judge = TransformersJudge(model=tiny_model, settings=settings)

    verdict = judge.compare(QUESTION, PAIR)

    assert len(verdict.extra["votes"]) == 2  # type: ignore[arg-type]
    assert "answers swapped" in verdict.raw_output
    assert verdict.probabilities is not None
    assert math.fsum(verdict.probabilities.values()) == pytest.approx(1.0)


def test_a_five_way_template_is_scored_over_its_five_labels(tiny_model: str) -> None:
    judge = TransformersJudge(
        model=tiny_model, settings={"verdict": "score", "template": "pairwise_5way"}
    )

    verdict = judge.compare(QUESTION, PAIR)

    assert verdict.raw_output.strip("[]") in ("A>>B", "A>B", "A=B", "B>A", "B>>A")
    assert sorted(i for tier in verdict.ranking for i in tier) == [0, 1]


def test_a_generated_verdict_is_parsed_and_both_orders_expose_position_bias(
    says_a_model: str,
) -> None:
    judge = TransformersJudge(model=says_a_model, settings={"max_tokens": 3, "both_orders": True})

    verdict = judge.compare(QUESTION, PAIR)

    # It always says A: first answer in one order, second in the other, so a tie.
    assert verdict.extra["votes"] == ["A", "B"]
    assert verdict.ranking == ((0, 1),)
    assert verdict.completion_tokens == 6


def test_generated_logprobs_give_probabilities_at_the_verdict_token(says_a_model: str) -> None:
    judge = TransformersJudge(model=says_a_model, settings={"max_tokens": 1, "logprobs": True})

    verdict = judge.compare(QUESTION, PAIR)

    # One token in the vocabulary: it is certain, and it is "A".
    assert verdict.probabilities == pytest.approx({"A": 1.0, "tie": 0.0, "B": 0.0})


def test_gibberish_is_repaired_once_then_recorded_as_unparseable(tiny_model: str) -> None:
    judge = TransformersJudge(model=tiny_model, settings={"max_tokens": 4})

    with pytest.raises(UnparseableVerdictError) as caught:
        judge.compare(QUESTION, PAIR)

    assert [output.call for output in caught.value.raw_outputs] == ["judge", "repair"]


def test_a_missing_model_directory_is_a_permanent_error(tmp_path: Path) -> None:
    generator = TransformersGenerator(model=str(tmp_path / "nothing-here"))

    with pytest.raises(PermanentError, match="cannot load local model"):
        generator.generate("hello")


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"verdict": "guess"}, "'verdict'"),
        ({"device": "tpu"}, "'device'"),
        ({"dtype": "int3"}, "'dtype'"),
        ({"both_order": True}, "'both_order'"),
    ],
)
def test_bad_judge_settings_are_refused_naming_the_setting(
    settings: dict[str, object], named: str
) -> None:
    with pytest.raises(PermanentError, match=named):
        TransformersJudge(model="/no/model/loaded/yet", settings=settings)


def test_a_contestant_refuses_unknown_generation_settings() -> None:
    with pytest.raises(PermanentError, match="'temprature'"):
        TransformersGenerator(model="/x", generation={"temprature": 0.1})


def test_building_a_local_judge_loads_nothing_until_it_judges(tmp_path: Path) -> None:
    # The web process validates a judge by building it; it must not load weights.
    judge = TransformersJudge(model=str(tmp_path / "not-there"), settings={"verdict": "score"})

    with pytest.raises(PermanentError, match="cannot load local model"):
        judge.compare(QUESTION, PAIR)


def test_a_chat_template_that_refuses_a_system_turn_gets_it_in_the_user_turn(
    tmp_path: Path,
) -> None:
    path = build_tiny_model(tmp_path / "no-system")
    tokenizer = transformers.AutoTokenizer.from_pretrained(path)
    tokenizer.chat_template = (
        "{% for m in messages %}{% if m['role'] == 'system' %}"
        "{{ raise_exception('system role not supported') }}{% endif %}"
        "{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}assistant:"
    )
    tokenizer.save_pretrained(path)
    judge = TransformersJudge(model=str(path), settings={"verdict": "score"})

    verdict = judge.compare(QUESTION, PAIR)

    assert verdict.raw_output in ("[[A]]", "[[B]]", "[[C]]")


def test_a_prompt_longer_than_the_model_can_read_is_a_permanent_error(tiny_model: str) -> None:
    generator = TransformersGenerator(model=tiny_model, generation={"max_tokens": 2})

    with pytest.raises(PermanentError, match=tiny_model):
        generator.generate("answer " * 5000)  # the tiny model reads 4096 positions

"""Costs: per-model prices from settings, costs filled from usage, and up-front estimates."""

from __future__ import annotations

import math

import pytest

from judges.backends.base import Answer, PermanentError
from judges.backends.openai_http import OpenAICompatGenerator
from judges.backends.openai_judge import OpenAICompatJudge
from judges.costs import Price, estimate_cost, price_from_settings
from tests.judges.fake_openai import FakeOpenAIServer

ANSWERS = (Answer(text="one two"), Answer(text="three"))


def test_a_price_is_usd_per_million_tokens_input_and_output_apart() -> None:
    price = Price(price_in=2.5, price_out=10.0)

    assert price.cost(1_000_000, 0) == 2.5
    assert price.cost(0, 1_000_000) == 10.0
    assert price.cost(1200, 300) == pytest.approx((1200 * 2.5 + 300 * 10) / 1e6)


def test_missing_prices_are_free() -> None:
    assert price_from_settings({}) == Price(0.0, 0.0)
    assert price_from_settings({"price_in": None, "price_out": 3}) == Price(0.0, 3.0)


@pytest.mark.parametrize("value", ["2.5", True, -1, math.nan, math.inf])
def test_a_price_that_is_not_a_finite_non_negative_number_is_refused(value: object) -> None:
    with pytest.raises(PermanentError, match="price_in"):
        price_from_settings({"price_in": value})


def test_the_generator_fills_cost_and_does_not_send_prices(fake_openai: FakeOpenAIServer) -> None:
    fake_openai.reply_with("four words of answer")
    generator = OpenAICompatGenerator(
        base_url=fake_openai.base_url,
        model="contestant",
        generation={"temperature": 0.5, "price_in": 1.0, "price_out": 4.0},
    )

    generation = generator.generate("three word prompt")

    assert (generation.prompt_tokens, generation.completion_tokens) == (3, 4)
    assert generation.cost == pytest.approx((3 * 1.0 + 4 * 4.0) / 1e6)
    [sent] = fake_openai.chat_requests
    assert "price_in" not in sent and "price_out" not in sent
    assert sent["temperature"] == 0.5


def test_a_generator_without_prices_costs_nothing(fake_openai: FakeOpenAIServer) -> None:
    fake_openai.reply_with("answer")

    generation = OpenAICompatGenerator(base_url=fake_openai.base_url, model="m").generate("hi")

    assert generation.cost == 0.0


def test_the_judge_fills_cost_over_both_orders_and_repairs(fake_openai: FakeOpenAIServer) -> None:
    fake_openai.reply_with("unsure", "[[A]]", "[[B]]")
    judge = OpenAICompatJudge(
        base_url=fake_openai.base_url,
        model="judge",
        settings={"both_orders": True, "price_in": 3.0, "price_out": 15.0},
    )

    verdict = judge.compare("q", ANSWERS)

    assert len(fake_openai.requests) == 3
    assert verdict.completion_tokens == 3
    assert verdict.cost == pytest.approx((verdict.prompt_tokens * 3.0 + 3 * 15.0) / 1e6)
    assert verdict.cost > 0
    assert all("price_in" not in r for r in fake_openai.chat_requests)


def test_judge_prices_are_validated_when_the_judge_is_built(
    fake_openai: FakeOpenAIServer,
) -> None:
    with pytest.raises(PermanentError, match="price_out"):
        OpenAICompatJudge(base_url=fake_openai.base_url, model="j", settings={"price_out": "1"})


def test_estimate_cost_multiplies_matches_calls_and_per_call_cost() -> None:
    # 1000 matches judged in both orders, 1500 prompt + 400 completion tokens per call.
    estimate = estimate_cost(1000, 1500, 400, price_in=2.5, price_out=10.0, calls_per_match=2)

    assert estimate == pytest.approx(2000 * (1500 * 2.5 + 400 * 10.0) / 1e6)
    assert estimate == pytest.approx(15.5)


def test_estimate_cost_defaults_to_one_call_per_match() -> None:
    assert estimate_cost(10, 1_000_000, 0, 1.0, 0.0) == pytest.approx(10.0)


@pytest.mark.parametrize(
    "args", [(-1, 1, 1, 1, 1), (1, math.nan, 1, 1, 1), (1, 1, 1, -0.5, 1), (1, 1, 1, 1, math.inf)]
)
def test_estimate_cost_refuses_negative_or_non_finite_inputs(args: tuple[float, ...]) -> None:
    with pytest.raises(ValueError, match="must be a finite number"):
        estimate_cost(*args)  # type: ignore[arg-type]

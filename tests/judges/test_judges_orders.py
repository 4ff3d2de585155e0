"""Position bias measured on each order a judge saw: the orders an LLM judge reports, and
what they add up to (flips, the first slot's wins, a Wilson interval)."""

from __future__ import annotations

import pytest

from judges.backends.base import Answer, OrderVerdict
from judges.backends.openai_judge import OpenAICompatJudge
from judges.backends.simulated import SimulatedJudge
from judges.orders import (
    OrderCounts,
    first_slot_record,
    order_counts,
    order_from_json,
    orders_disagree,
    wilson_interval,
)
from tests.judges.fake_openai import FakeOpenAIServer

A_FIRST = OrderVerdict(shown=(0, 1), ranking=((0,), (1,)), label="A")
A_SECOND = OrderVerdict(shown=(1, 0), ranking=((0,), (1,)), label="A")  # said A: answer 1
B_SECOND = OrderVerdict(shown=(1, 0), ranking=((1,), (0,)), label="B")  # said B: answer 0
TIE_SECOND = OrderVerdict(shown=(1, 0), ranking=((0, 1),), label="tie")


def judge_saying(server: FakeOpenAIServer, text: str, **settings: object) -> OpenAICompatJudge:
    server.responder = lambda request: text
    return OpenAICompatJudge(
        base_url=server.base_url, model="judge", settings={"cache": False, **settings}
    )


def test_a_judge_that_always_says_a_in_both_orders_keeps_both_orders_and_they_disagree(
    fake_openai: FakeOpenAIServer,
) -> None:
    judge = judge_saying(fake_openai, "[[A]]", both_orders=True)

    verdict = judge.compare("q", [Answer("one"), Answer("two")])

    assert verdict.ranking == ((0, 1),)  # merged: a tie, which hides the bias
    assert [(o.shown, o.ranking, o.label) for o in verdict.orders] == [
        ((0, 1), ((0,), (1,)), "A"),
        ((1, 0), ((0,), (1,)), "A"),
    ]
    assert all("[[A]]" in o.raw_output for o in verdict.orders)
    assert order_counts(verdict.orders) == OrderCounts(1, 1, 1, 2, 0)


def test_a_five_way_judge_whose_orders_agree_on_the_direction_has_not_flipped(
    fake_openai: FakeOpenAIServer,
) -> None:
    replies = iter(["[[A>>B]]", "[[B>A]]"])  # answer 0 strongly, then answer 0 slightly
    fake_openai.responder = lambda request: next(replies)
    judge = OpenAICompatJudge(
        base_url=fake_openai.base_url,
        model="judge",
        settings={"cache": False, "both_orders": True, "template": "pairwise_5way"},
    )

    verdict = judge.compare("q", [Answer("one"), Answer("two")])

    assert [o.label for o in verdict.orders] == ["A>>B", "B>A"]
    assert orders_disagree(verdict.orders) is False


def test_a_listwise_judge_keeps_the_order_it_showed_and_its_ranking_of_the_slots(
    fake_openai: FakeOpenAIServer,
) -> None:
    judge = judge_saying(fake_openai, "[[RANKING: B > A = C]]", shuffle=True, seed=3)

    verdict = judge.compare("q", [Answer("one"), Answer("two"), Answer("three")])

    (order,) = verdict.orders
    assert order.ranking == ((1,), (0, 2)) and order.label == "B > A = C"
    assert verdict.ranking == ((order.shown[1],), tuple(sorted((order.shown[0], order.shown[2]))))
    assert first_slot_record(order) == (0, 1)  # slot A lost to B, tied with C
    assert order_counts(verdict.orders).both_orders == 0


def test_a_simulated_judge_reports_the_one_order_it_was_given() -> None:
    judge = SimulatedJudge(strengths={"x": 0.0, "y": 0.0})

    verdict = judge.compare("q", [Answer("1", author="x"), Answer("2", author="y")])

    assert [(o.shown, o.ranking) for o in verdict.orders] == [((0, 1), verdict.ranking)]


@pytest.mark.parametrize(
    ("second", "flipped"),
    [(A_SECOND, True), (B_SECOND, False), (TIE_SECOND, True)],
)
def test_two_orders_disagree_when_their_rankings_of_the_answers_differ(
    second: OrderVerdict, flipped: bool
) -> None:
    assert orders_disagree([A_FIRST, second]) is flipped


def test_one_order_or_the_same_order_twice_is_no_both_orders_judgment() -> None:
    assert orders_disagree([A_FIRST]) is None
    assert orders_disagree([A_FIRST, A_FIRST]) is None
    assert order_counts([]) == OrderCounts()


def test_an_order_survives_its_json() -> None:
    order = OrderVerdict(
        shown=(1, 0), ranking=((0, 1),), label="tie", probabilities={"A": 0.5}, raw_output="x"
    )
    assert order_from_json(order.as_json()) == order


def test_counts_add_up_column_by_column() -> None:
    assert OrderCounts(1, 1, 0, 2, 0) + OrderCounts(1, 0, 0, 0, 1) == OrderCounts(2, 1, 0, 2, 1)


def test_the_wilson_interval_holds_the_share_and_stays_inside_zero_and_one() -> None:
    low, high = wilson_interval(20, 20) or (0.0, 0.0)
    assert 0.8 < low < 1.0 and high == 1.0
    low, high = wilson_interval(5, 10) or (0.0, 0.0)
    assert low == pytest.approx(0.2366, abs=1e-3) and high == pytest.approx(0.7634, abs=1e-3)
    assert wilson_interval(0, 0) is None


def test_an_orders_graded_score_comes_from_its_probabilities_first() -> None:
    from judges.orders import first_score

    said = OrderVerdict(
        shown=(1, 0),
        ranking=((0,), (1,)),
        label="A",
        probabilities={"A": 0.6, "tie": 0.2, "B": 0.2},
    )
    assert first_score(said) == pytest.approx(0.7)  # P(A) + P(tie) / 2, of the slot shown first


@pytest.mark.parametrize(
    ("label", "ranking", "score"),
    [
        ("A>>B", ((0,), (1,)), 1.0),
        ("A>B", ((0,), (1,)), 0.75),
        ("A=B", ((0, 1),), 0.5),
        ("B>A", ((1,), (0,)), 0.25),
        ("B>>A", ((1,), (0,)), 0.0),
    ],
)
def test_a_five_way_margin_scores_a_slight_win_below_a_strong_one(label, ranking, score) -> None:
    from judges.orders import first_score

    assert first_score(OrderVerdict(shown=(0, 1), ranking=ranking, label=label)) == score


def test_a_slight_wins_score_follows_the_judges_setting_and_plain_verdicts_score_hard() -> None:
    from judges.judge_settings import slight_win_of
    from judges.orders import first_score

    slight = OrderVerdict(shown=(0, 1), ranking=((0,), (1,)), label="A>B")
    assert first_score(slight, slight_win_of({"slight_win_score": 0.6})) == 0.6
    assert slight_win_of({"slight_win_score": 2}) == 0.75  # out of range: the default
    assert first_score(A_FIRST) == 1.0 and first_score(TIE_SECOND) == 0.5
    assert first_score(B_SECOND) == 0.0
    listwise = OrderVerdict(shown=(2, 0, 1), ranking=((0,), (1, 2)), label="A > B = C")
    assert first_score(listwise) is None  # K answers: their pairs are scored from the ranking

"""Each order a judge saw is saved on its judgment, and the judges' panel and the API read
its position bias from them: a judge that always answers [[A]], judged in both orders,
flips every time (it is not tie-prone). Against the FAKE OpenAI-compatible server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.core.cache import cache
from django.test import Client

from arena import boards
from arena.boards import judge_quality_panel
from arena.models import Judge, Judgment, OrderCell
from arena.services import matches as svc
from arena.services.advance import tournament_advance
from arena.services.tournaments import tournament_create, tournament_start
from tests.arena.served import served_contestants, served_judge
from tests.judges.fake_openai import FakeOpenAIServer

pytestmark = pytest.mark.django_db


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as fake:
        fake.responder = lambda request: (
            "[[A]] the first one" if request["model"] == "judge" else f"{request['model']} here"
        )
        yield fake


def judged(server: FakeOpenAIServer, prompt_set, *, both_orders: bool) -> list[str]:
    names = ["model-0", "model-1", "model-2"]
    served_contestants(server, names)
    served_judge(server, "says-a", settings={"both_orders": both_orders})
    tournament = tournament_create(
        name="t",
        format="round_robin",
        contestants=names,
        prompt_set=prompt_set.name,
        judge="says-a",
        config={"rounds": 1},
    )
    tournament_start(tournament=tournament)
    tournament_advance(tournament_id=tournament.pk)
    played = [svc.match_play(match_id=m.pk) for m in tournament.matches.order_by("pk")]
    cache.delete(f"quality:{boards._stamp()}")
    return played


def test_a_judgment_keeps_each_order_with_its_ranking_of_the_slots_and_raw_output(
    server: FakeOpenAIServer, prompt_set
) -> None:
    assert judged(server, prompt_set, both_orders=True) == ["completed"] * 3

    for judgment in Judgment.objects.all():
        assert [(o["shown"], o["ranking"], o["label"]) for o in judgment.orders] == [
            ([0, 1], [[0], [1]], "A"),
            ([1, 0], [[0], [1]], "A"),
        ]
        assert all(o["raw_output"] == "[[A]] the first one" for o in judgment.orders)
    (cell,) = OrderCell.objects.all()
    assert (cell.judgments, cell.both_orders, cell.flips) == (3, 3, 3)
    assert (cell.first_won, cell.first_lost) == (6, 0)


def test_a_judge_always_answering_a_in_both_orders_shows_a_flip_rate_of_one_not_ties(
    server: FakeOpenAIServer, prompt_set
) -> None:
    judged(server, prompt_set, both_orders=True)

    (row,) = judge_quality_panel()

    assert row["tie_rate"] == 1.0  # its merged verdicts: every order disagreement is a tie
    assert row["flip_rate"] == pytest.approx(1.0) and row["flip_from"] == "saved orders"
    assert row["flip_pairs"] == 3 and 0.4 < row["flip_low"] < 1.0 == row["flip_high"]
    assert row["first_wins"] == 1.0 and row["first_wins_from"] == "orders"
    page = Client().get("/leaderboard/judges/").content.decode()
    assert "saved orders" in page and "on 3" in page


def test_a_judge_judging_one_order_shows_its_first_position_wins_and_no_measured_flips(
    server: FakeOpenAIServer, prompt_set
) -> None:
    judged(server, prompt_set, both_orders=False)

    (row,) = judge_quality_panel()

    assert row["first_wins"] == 1.0 and row["first_wins_from"] == "orders"
    assert row["flip_from"] != "saved orders" and row["flip_low"] is None


def test_the_api_returns_the_panels_numbers(server: FakeOpenAIServer, prompt_set) -> None:
    judged(server, prompt_set, both_orders=True)

    response = Client().get("/api/judges/quality")

    assert response.status_code == 200
    (row,) = response.json()
    judge = Judge.objects.get(name="says-a")
    assert row["source"] == "says-a" and row["judge_id"] == judge.pk
    assert row["flip_rate"] == 1.0 and row["flip_from"] == "saved orders"
    assert row == judge_quality_panel()[0]


def test_the_order_cells_are_checked_against_and_rebuilt_from_the_saved_orders(
    server: FakeOpenAIServer, prompt_set
) -> None:
    from arena.services.aggregates import cells_backfill, cells_check

    judged(server, prompt_set, both_orders=True)
    assert cells_check() == []

    OrderCell.objects.update(flips=0)
    assert {(d.table, d.column) for d in cells_check()} == {("order cells", "flips")}

    cells_backfill()
    assert cells_check() == []
    assert OrderCell.objects.get().flips == 3

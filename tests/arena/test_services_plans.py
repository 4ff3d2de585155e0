"""The planner in the product: a tournament's format and size simulated once by a worker
when staff ask, its judge calls and dollars at this judge's prices, and progress toward it."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from django.test import Client

from arena.models import Judge, Tournament
from arena.selectors import judge_usd_per_call
from arena.services import plans
from arena.services.tournaments import tournament_create, tournament_start
from arena.tasks import compute_plan
from simulator.planner import plan
from simulator.runs import Settings
from simulator.strategies import STRATEGIES

pytestmark = pytest.mark.django_db

SEEDS = range(1000, 1002)  # two truths: the simulator's minutes would be CI's


@pytest.fixture(autouse=True)
def few_truths(settings: Any) -> None:
    settings.PLAN_TRUTHS = len(SEEDS)
    cache.clear()


@pytest.fixture
def queued(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, ...]]:
    """What was queued for a worker (no worker runs here)."""
    calls: list[tuple[Any, ...]] = []
    monkeypatch.setattr(plans, "enqueue_plan", lambda *args: calls.append(args))
    return calls


@pytest.fixture
def priced_round_robin(contestants, prompt_set, judge: Judge) -> Tournament:
    judge.settings = {"price_in": 2.0, "price_out": 8.0}
    judge.save()
    return tournament_create(
        name="rr",
        format="round_robin",
        contestants=[c.name for c in contestants(3)],
        prompt_set=prompt_set.name,
        judge=judge.name,
        config={"rounds": 2},
        seed=1,
    )


@pytest.mark.parametrize(
    ("format_name", "config", "strategy"),
    [
        ("round_robin", {}, "round_robin_bt"),
        ("swiss", {}, "swiss_bt"),
        ("single_elimination", {}, "single_elimination_bt"),
        ("single_elimination", {"seeding": "anchor"}, "single_elimination_anchor_bt"),
        ("kwise", {"k": 4, "grouping": "adaptive"}, "kwise_adaptive_bt"),
        ("adaptive", {"sampler": "ucb"}, "adaptive_ucb"),
        ("single_elimination", {"brackets": "per_prompt"}, "per_prompt_brackets_bt"),
        (
            "single_elimination",
            {"brackets": "per_prompt", "seeding": "anchor"},
            "per_prompt_brackets_anchor_bt",
        ),
        ("anchor", {"anchor": 3}, "anchor_bt"),
    ],
)
def test_each_format_is_planned_by_the_strategy_that_plays_it(
    format_name: str, config: dict[str, Any], strategy: str
) -> None:
    assert plans.plan_strategy(format_name, config) == (strategy, "")
    assert strategy in STRATEGIES


@pytest.mark.parametrize(
    ("format_name", "config", "reason"),
    [
        ("kwise", {"k": 3}, "groups of 4 only"),
        ("review", {}, "no simulated strategy plays the review format"),
    ],
)
def test_a_format_the_simulator_does_not_play_says_why(
    format_name: str, config: dict[str, Any], reason: str
) -> None:
    strategy, why = plans.plan_strategy(format_name, config)
    assert strategy is None and reason in why


def test_nothing_is_simulated_until_staff_ask_and_then_once(
    priced_round_robin: Tournament, queued: list[tuple[Any, ...]]
) -> None:
    assert plans.tournament_plan(priced_round_robin)["status"] == "not_planned"
    assert queued == []
    plans.tournament_plan_request(priced_round_robin)
    plans.tournament_plan_request(priced_round_robin)
    assert queued == [("round_robin_bt", 3, 0.9, None)]
    assert plans.tournament_plan(priced_round_robin)["status"] == "computing"


def test_a_computed_plan_prices_its_judge_calls_and_counts_the_verdicts_toward_it(
    priced_round_robin: Tournament, queued: list[tuple[Any, ...]]
) -> None:
    plans.tournament_plan_request(priced_round_robin)
    compute_plan(*queued[0])  # the worker's task, run here
    expected = plan("round_robin_bt", Settings(n_models=3), seeds=SEEDS, tau=0.9)
    shown = plans.tournament_plan(priced_round_robin)
    assert shown["status"] == "ready" and shown["seeds"] == 2
    assert shown["matches_to_tau"] == expected.calls_to_tau is not None
    assert shown["judge_calls_to_tau"] == expected.calls_to_tau  # one call a match
    per_call = judge_usd_per_call(priced_round_robin)
    assert per_call > 0
    assert shown["usd_to_tau"] == pytest.approx(expected.calls_to_tau * per_call, abs=1e-4)
    assert (shown["verdicts"], shown["percent"]) == (0, 0)


def test_the_page_shows_the_plan_and_its_progress_and_the_api_the_same(
    priced_round_robin: Tournament, queued: list[tuple[Any, ...]], play_out
) -> None:
    staff = User.objects.create_user("boss", password="pw", is_staff=True)
    client = Client()
    client.force_login(staff)
    page = client.get(f"/tournaments/{priced_round_robin.pk}/").content.decode()
    assert "not simulated yet" in page and "Simulate it" in page
    client.post(f"/tournaments/{priced_round_robin.pk}/plan/")
    assert (
        "a worker is on it" in client.get(f"/tournaments/{priced_round_robin.pk}/").content.decode()
    )
    compute_plan(*queued[0])
    play_out(tournament_start(tournament=priced_round_robin))
    shown = Client().get(f"/api/tournaments/{priced_round_robin.pk}/plan").json()
    done = priced_round_robin.matches.filter(status="completed").count()
    assert shown["status"] == "ready" and shown["verdicts"] == done == 6
    assert shown["percent"] == 100 * done // shown["matches_to_tau"]
    page = Client().get(f"/tournaments/{priced_round_robin.pk}/").content.decode()
    assert (
        f"about {shown['matches_to_tau']} matches ({shown['judge_calls_to_tau']} judge calls"
        in page
    )
    assert f'<span id="plan-progress">{done} ({shown["percent"]}%)</span>' in page


def test_only_staff_may_ask_for_a_plan(priced_round_robin: Tournament, queued) -> None:
    assert Client().post(f"/api/tournaments/{priced_round_robin.pk}/plan").status_code == 401
    staff = User.objects.create_user("boss", password="pw", is_staff=True)
    client = Client()
    client.force_login(staff)
    response = client.post(f"/api/tournaments/{priced_round_robin.pk}/plan")
    assert response.status_code == 202 and response.json()["status"] == "computing"
    assert len(queued) == 1


def test_the_api_plans_a_format_before_there_is_a_tournament(
    contestants, prompt_set, judge: Judge, queued: list[tuple[Any, ...]]
) -> None:
    judge.settings = {"price_in": 2.0, "price_out": 8.0}
    judge.save()
    query = "format=kwise&models=5&config=%7B%22grouping%22%3A%22adaptive%22%7D"
    query += f"&judge={judge.name}&prompt_set={prompt_set.pk}&half_width=80"
    assert Client().get(f"/api/plan?{query}").json()["status"] == "not_planned"
    staff = User.objects.create_user("boss", password="pw", is_staff=True)
    client = Client()
    client.force_login(staff)
    assert client.post(f"/api/plan?{query}").json()["status"] == "computing"
    assert queued == [("kwise_adaptive_bt", 5, 0.9, 80.0)]
    compute_plan(*queued[0])
    shown = Client().get(f"/api/plan?{query}").json()
    expected = plan(
        "kwise_adaptive_bt", Settings(n_models=5, half_width=80.0), seeds=SEEDS, tau=0.9
    )
    assert shown["status"] == "ready" and shown["half_width"] == 80.0
    assert shown["matches_to_tau"] == expected.calls_to_tau
    assert shown["matches_to_half_width"] == expected.calls_to_half_width
    assert shown["judge_calls_to_tau"] == expected.calls_to_tau  # a listwise call a group
    assert shown["usd_to_tau"] > 0


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("format=round_robin&models=4&config=%7Bnot", "config"),
        ("format=round_robin&models=4&config=%5B1%5D", "config"),
        ("format=round_robin&models=4&judge=nobody", "judge"),
        ("format=round_robin&models=4&prompt_set=missing", "prompt_set"),
    ],
)
def test_a_bad_plan_query_names_its_field(db: None, query: str, field: str) -> None:
    response = Client().get(f"/api/plan?{query}")
    assert response.status_code == 400 and field in response.json()["errors"]


def test_a_plan_the_simulator_cannot_make_says_why(db: None) -> None:
    shown = Client().get("/api/plan?format=round_robin&models=1").json()
    assert shown == {**shown, "status": "unavailable", "reason": "a plan needs at least 2 models"}


@pytest.mark.parametrize(
    ("config", "field"),
    [('{"k": "x"}', "k"), ('{"k": null}', "k"), ('{"grouping": "spiral"}', "grouping")],
)
def test_plan_options_the_format_refuses_are_named(db: None, config: str, field: str) -> None:
    response = Client().get(f"/api/plan?format=kwise&models=8&config={config}")
    assert response.status_code == 400 and field in response.json()["errors"]


def test_a_plan_that_fails_in_the_worker_can_be_asked_for_again(
    priced_round_robin: Tournament, queued: list[tuple[Any, ...]], monkeypatch
) -> None:
    plans.tournament_plan_request(priced_round_robin)

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("the worker ran out of memory")

    monkeypatch.setattr(plans, "plan", broken)
    with pytest.raises(RuntimeError):
        compute_plan(*queued[0])
    assert plans.tournament_plan(priced_round_robin)["status"] == "not_planned"
    plans.tournament_plan_request(priced_round_robin)
    assert len(queued) == 2

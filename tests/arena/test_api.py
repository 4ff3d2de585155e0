from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.test import Client

from arena.models import Tournament, TournamentStatus

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(contestants, prompt_set, judge) -> Client:
    contestants(3)
    client = Client()
    client.force_login(User.objects.create_user("boss", is_staff=True))
    return client


def post(client: Client, url: str, body: dict | None = None):
    return client.post(url, json.dumps(body or {}), content_type="application/json")


GOOD = {
    "name": "api",
    "contestants": ["sim-0", "sim-1", "sim-2"],
    "prompt_set": "tiny",
    "judge": "sim-judge",
}


def test_staff_create_a_tournament_through_the_api(staff: Client) -> None:
    response = post(staff, "/api/tournaments", GOOD | {"config": {"rounds": 2}, "budget": 4})
    assert response.status_code == 201
    body = response.json()
    assert (
        body["status"] == "draft"
        and body["config"] == {"k": 2, "rounds": 2}
        and body["budget"] == 4
    )


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"contestants": ["sim-0", "who"]}, "contestants"),
        ({"config": {"k": 1}}, "k"),
        ({"contestants": ["sim-0"]}, "contestants"),
        ({"budget": -1}, "budget"),
    ],
)
def test_bad_api_input_gets_a_400_naming_the_field_and_saves_nothing(
    staff: Client, change, field
) -> None:
    response = post(staff, "/api/tournaments", GOOD | change)
    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert not Tournament.objects.exists()


def test_a_malformed_body_is_a_400_naming_the_field_in_the_one_error_shape(staff: Client) -> None:
    response = post(staff, "/api/tournaments", {"name": "x", "contestants": "sim-0"})
    assert response.status_code == 400
    assert "contestants" in response.json()["errors"]
    response = staff.post("/api/tournaments", "{not json", content_type="application/json")
    assert response.status_code == 400 and "errors" in response.json()
    response = post(staff, "/api/tournaments", {**GOOD, "format": "knockout"})
    assert response.status_code == 400 and list(response.json()["errors"]) == ["format"]
    assert not Tournament.objects.exists()


def test_anonymous_and_non_staff_users_cannot_create(staff: Client) -> None:
    anonymous = post(Client(), "/api/tournaments", GOOD)
    assert anonymous.status_code == 401
    assert anonymous.json() == {"errors": {"__all__": ["Unauthorized"]}}
    user = Client()
    user.force_login(User.objects.create_user("voter"))
    assert post(user, "/api/tournaments", GOOD).status_code == 403
    assert not Tournament.objects.exists()


def test_a_missing_tournament_is_a_404_in_the_one_error_shape(staff: Client) -> None:
    response = staff.get("/api/tournaments/987654")
    assert response.status_code == 404 and list(response.json()["errors"]) == ["__all__"]


def test_lifecycle_actions_and_reads(staff: Client) -> None:
    tid = post(staff, "/api/tournaments", GOOD).json()["id"]
    assert post(staff, f"/api/tournaments/{tid}/start").json()["status"] == "running"
    assert post(staff, f"/api/tournaments/{tid}/start").status_code == 400
    assert post(staff, f"/api/tournaments/{tid}/explode").status_code == 400
    assert post(staff, f"/api/tournaments/{tid}/pause").json()["status"] == "paused"
    assert Tournament.objects.get().status == TournamentStatus.PAUSED
    # No verdict yet, so nobody is rated: no rows of starting values.
    assert staff.get(f"/api/tournaments/{tid}/leaderboard").json() == []


def test_a_tournament_played_to_the_end_lists_its_rated_contestants(
    make_tournament, play_out
) -> None:
    from arena.services.tournaments import tournament_start

    tournament = play_out(tournament_start(tournament=make_tournament(n=2)))
    board = Client().get(f"/api/tournaments/{tournament.pk}/leaderboard").json()
    assert sorted((row["contestant"], row["matches"]) for row in board) == [
        ("sim-0", 1),
        ("sim-1", 1),
    ]


def test_a_tournament_without_a_single_verdict_reads_as_failed_with_an_empty_leaderboard(
    unjudged_tournament: Tournament,
) -> None:
    client = Client()
    detail = client.get(f"/api/tournaments/{unjudged_tournament.pk}").json()
    assert (detail["status"], detail["done"], detail["failed"], detail["planned"]) == (
        "failed",
        1,
        1,
        1,
    )
    assert detail["error"] == (
        "no match got a verdict: 1 of 1 failed; last error: "
        "judge output has no [[A]]/[[B]]/[[C]] verdict after one repair prompt"
    )
    assert client.get(f"/api/tournaments/{unjudged_tournament.pk}/leaderboard").json() == []


def test_the_openapi_schema_is_served(staff: Client) -> None:
    schema = Client().get("/api/openapi.json").json()
    assert "/api/tournaments" in schema["paths"]


def test_a_money_budget_is_validated_and_reported(staff: Client) -> None:
    bad = post(staff, "/api/tournaments", GOOD | {"budget_usd": "-1"})
    assert bad.status_code == 400 and "budget_usd" in bad.json()["errors"]
    body = post(staff, "/api/tournaments", GOOD | {"budget_usd": "2.5"}).json()
    assert Decimal(str(body["budget_usd"])) == Decimal("2.5")
    assert float(body["spend_usd"]) == 0.0 and body["error"] == ""


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("budget", 2**31),
        ("budget_usd", "1e30"),
        ("budget_usd", "0.00001"),
    ],
)
def test_numbers_the_columns_cannot_hold_are_a_400_naming_the_field(
    staff: Client, field: str, value: object
) -> None:
    response = post(staff, "/api/tournaments", GOOD | {field: value})
    assert response.status_code == 400 and field in response.json()["errors"]
    assert not Tournament.objects.exists()

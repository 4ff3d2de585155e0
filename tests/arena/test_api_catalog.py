from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import User
from django.test import Client

from arena.models import Contestant

pytestmark = pytest.mark.django_db


def post(client: Client, url: str, body: dict):
    return client.post(url, json.dumps(body), content_type="application/json")


def logged_in(*, staff: bool) -> Client:
    client = Client()
    client.force_login(User.objects.create_user("staff" if staff else "voter", is_staff=staff))
    return client


def test_staff_add_a_contestant_that_names_its_key_variable() -> None:
    body = {
        "name": "my-model",
        "backend": "openai",
        "base_url": "http://127.0.0.1:8001/v1",
        "model_id": "m",
        "api_key_env": "MY_MODEL_API_KEY",
    }
    response = post(logged_in(staff=True), "/api/contestants", body)
    assert response.status_code == 201
    assert response.json()["name"] == "my-model"
    assert Contestant.objects.get(name="my-model").api_key_env == "MY_MODEL_API_KEY"


def test_a_bad_contestant_is_refused_naming_the_field_and_nothing_is_saved() -> None:
    client = logged_in(staff=True)
    response = post(client, "/api/contestants", {"name": "m", "backend": "carrier-pigeon"})
    assert response.status_code == 400
    assert "backend" in response.json()["errors"]
    assert not Contestant.objects.filter(name="m").exists()


def test_only_staff_add_contestants() -> None:
    response = post(
        logged_in(staff=False), "/api/contestants", {"name": "m", "backend": "simulated"}
    )
    assert response.status_code == 403
    assert (
        post(Client(), "/api/contestants", {"name": "m", "backend": "simulated"}).status_code == 401
    )
    assert not Contestant.objects.exists()


def test_prompt_sets_and_judges_are_listed(prompt_set, judge) -> None:
    client = Client()
    sets = client.get("/api/prompt-sets").json()
    assert [(s["name"], s["prompts"]) for s in sets] == [("tiny", prompt_set.prompts.count())]
    detail = client.get(f"/api/prompt-sets/{sets[0]['id']}").json()
    assert [p["text"] for p in detail["items"]] == list(
        prompt_set.prompts.order_by("pk").values_list("text", flat=True)
    )
    assert client.get("/api/prompt-sets/999").status_code == 404
    judges = client.get("/api/judges").json()
    assert [j["name"] for j in judges] == ["sim-judge"] and "settings" not in judges[0]

from __future__ import annotations

import io
import json

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client

from arena.models import ApiToken, Tournament, Vote

pytestmark = pytest.mark.django_db


def token_for(username: str, *, staff: bool) -> str:
    User.objects.create_user(username, is_staff=staff)
    out = io.StringIO()
    call_command("create_api_token", username, "--name", "ci", stdout=out)
    return out.getvalue().strip()


def call(method: str, url: str, token: str | None = None, body: dict | None = None):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    client = Client(enforce_csrf_checks=True)
    if method == "get":
        return client.get(url, **headers)
    return client.post(url, json.dumps(body or {}), content_type="application/json", **headers)


GOOD = {
    "name": "api",
    "contestants": ["sim-0", "sim-1"],
    "prompt_set": "tiny",
    "judge": "sim-judge",
}


def test_a_staff_token_automates_tournaments_and_only_its_hash_is_stored(
    contestants, prompt_set, judge
) -> None:
    contestants(2)
    token = token_for("ci", staff=True)
    response = call("post", "/api/tournaments", token, GOOD)
    assert response.status_code == 201
    assert call("post", f"/api/tournaments/{response.json()['id']}/start", token).status_code == 200
    stored = ApiToken.objects.get()
    assert stored.digest == ApiToken.digest_of(token) and token not in str(
        ApiToken.objects.values().get()
    )
    assert stored.last_used_at is not None


def test_bad_missing_or_non_staff_tokens_are_refused(contestants, prompt_set, judge) -> None:
    contestants(2)
    # A bad token falls through to the session check, which fails on CSRF: refused either way.
    assert call("post", "/api/tournaments", "arena_wrong", GOOD).status_code in (401, 403)
    assert call("post", "/api/tournaments", None, GOOD).status_code in (401, 403)
    assert (
        call("post", "/api/tournaments", token_for("voter", staff=False), GOOD).status_code == 403
    )
    assert not Tournament.objects.exists()


def test_a_session_without_its_csrf_token_cannot_use_the_api(
    contestants, prompt_set, judge
) -> None:
    contestants(2)
    client = Client(enforce_csrf_checks=True)
    client.force_login(User.objects.create_user("boss", is_staff=True))
    response = client.post("/api/tournaments", json.dumps(GOOD), content_type="application/json")
    assert response.status_code in (401, 403)
    assert not Tournament.objects.exists()


@pytest.fixture
def human(human_tournament_of):
    return human_tournament_of(3, seed=2)


def test_an_api_voter_gets_a_blind_battle_votes_once_and_sees_the_reveal(human) -> None:
    token = token_for("rater", staff=False)
    battle = call("get", f"/api/tournaments/{human.pk}/battle", token).json()
    assert len(battle["answers"]) == 2 and "sim-" not in json.dumps(battle)
    body = {"outcome": "a", "idempotency_key": "k1"}
    first = call("post", f"/api/battles/{battle['battle']}/vote", token, body)
    again = call("post", f"/api/battles/{battle['battle']}/vote", token, body)
    assert first.status_code == again.status_code == 200 and first.json() == again.json()
    assert first.json()["ranking"][0] == [first.json()["models"][0]]
    late = call(
        "post",
        f"/api/battles/{battle['battle']}/vote",
        token,
        {"outcome": "b", "idempotency_key": "k2"},
    )
    assert late.status_code == 409 and "already has your vote" in late.json()["errors"]["battle"][0]
    assert Vote.objects.count() == 1 and Vote.objects.get().user.username == "rater"


def test_the_battle_endpoint_says_204_once_the_voter_has_seen_every_battle_and_429_past_the_rate(
    human, settings
) -> None:
    settings.VOTES_PER_MINUTE = 1
    token = token_for("rater", staff=False)
    for i in range(2):
        battle = call("get", f"/api/tournaments/{human.pk}/battle", token).json()
        response = call(
            "post",
            f"/api/battles/{battle['battle']}/vote",
            token,
            {"outcome": "tie", "idempotency_key": str(i)},
        )
    assert response.status_code == 429 and "rate" in response.json()["errors"]
    settings.VOTES_PER_MINUTE = 100
    other = token_for("other", staff=False)
    for i in range(3):  # the free one, the one "rater" holds, the one "rater" voted on
        battle = call("get", f"/api/tournaments/{human.pk}/battle", other)
        if battle.status_code == 200:
            call(
                "post",
                f"/api/battles/{battle.json()['battle']}/vote",
                other,
                {"outcome": "a", "idempotency_key": f"o{i}"},
            )
    assert call("get", f"/api/tournaments/{human.pk}/battle", other).status_code == 204


def test_a_token_expires_after_its_days_and_is_then_refused_like_an_unknown_one(
    contestants, prompt_set, judge
) -> None:
    from datetime import timedelta

    from django.utils import timezone

    contestants(2)
    token = token_for("ci", staff=True)
    stored = ApiToken.objects.get()
    assert stored.expires_at is not None
    assert timedelta(days=89) < stored.expires_at - timezone.now() <= timedelta(days=90)
    assert call("post", "/api/tournaments", token, GOOD).status_code == 201
    ApiToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert call("post", "/api/tournaments", token, GOOD | {"name": "late"}).status_code in (
        401,
        403,
    )
    assert not Tournament.objects.filter(name="late").exists()


def test_a_vote_token_cannot_manage_and_a_manage_token_cannot_vote(
    contestants, prompt_set, judge
) -> None:
    contestants(2)
    User.objects.create_user("bot", is_staff=True)
    tokens = {}
    for scope in ("vote", "manage"):
        out = io.StringIO()
        call_command("create_api_token", "bot", "--scope", scope, "--days", "0", stdout=out)
        tokens[scope] = out.getvalue().strip()
    refused = call("post", "/api/tournaments", tokens["vote"], GOOD)
    assert refused.status_code == 403 and "'manage'" in refused.content.decode()
    made = call("post", "/api/tournaments", tokens["manage"], GOOD)
    assert made.status_code == 201
    voting = call("get", f"/api/tournaments/{made.json()['id']}/battle", tokens["manage"])
    assert voting.status_code == 403 and "'vote'" in voting.content.decode()
    assert ApiToken.objects.filter(expires_at__isnull=True).count() == 2  # --days 0: never

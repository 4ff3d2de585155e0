"""Optional voter accounts: sign up, log in and out; a signed-in vote carries the user."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import User
from django.test import Client

from arena.models import Vote

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-pass-phrase-9"  # only for these tests' throwaway users


def test_a_voter_signs_up_is_signed_in_and_never_staff() -> None:
    client = Client()
    form = {
        "username": "ada",
        "password1": PASSWORD,
        "password2": PASSWORD,
    }
    response = client.post("/accounts/signup/", form)
    assert response.status_code == 302 and response["Location"] == "/"
    ada = User.objects.get(username="ada")
    assert not ada.is_staff
    assert "Log out ada" in client.get("/").content.decode()


def test_a_bad_signup_names_the_field_and_creates_nobody() -> None:
    form = {"username": "bob", "password1": PASSWORD, "password2": "different-9x"}
    page = Client().post("/accounts/signup/", form).content.decode()
    assert "password2" in page and "didn" in page  # "The two password fields didn't match."
    assert not User.objects.filter(username="bob").exists()


def test_log_in_and_out_through_the_pages() -> None:
    User.objects.create_user("cy", password=PASSWORD)
    client = Client()
    assert "Log in" in client.get("/").content.decode()
    response = client.post("/accounts/login/", {"username": "cy", "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/"
    assert "Log out cy" in client.get("/").content.decode()
    assert client.post("/accounts/logout/").status_code == 302
    assert "Log in" in client.get("/").content.decode()


def test_a_signed_in_vote_is_recorded_with_its_user(human_tournament_of) -> None:
    tournament = human_tournament_of(2)
    voter = User.objects.create_user("dee", password=PASSWORD)
    client = Client()
    client.force_login(voter)
    page = client.get(f"/tournaments/{tournament.pk}/vote/").content.decode()
    form = {
        name: re.search(rf'name="{name}" value="([^"]+)"', page).group(1)
        for name in ("battle", "idempotency_key")
    }
    assert (
        client.post(f"/tournaments/{tournament.pk}/vote/", form | {"outcome": "tie"}).status_code
        == 200
    )
    assert Vote.objects.get().user_id == voter.pk

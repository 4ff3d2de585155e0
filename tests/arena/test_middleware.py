from __future__ import annotations

import json

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "path", ["/leaderboard/?category=a%00b", "/leaderboard/data.json?source=x%00", "/?q=%00"]
)
def test_a_nul_in_the_query_string_is_a_400_not_a_server_error(path: str) -> None:
    response = Client().get(path)
    assert response.status_code == 400
    assert "NUL" in response.json()["errors"]["__all__"][0]


def test_a_nul_in_a_json_body_is_a_400_before_any_view_runs() -> None:
    body = json.dumps({"name": "bad\u0000name", "backend": "simulated"})
    response = Client().post("/api/contestants", body, content_type="application/json")
    assert response.status_code == 400 and "NUL" in response.content.decode()


def test_text_without_nul_goes_through() -> None:
    assert Client().get("/leaderboard/data.json?category=math").status_code == 200


def test_every_page_forbids_scripts_and_images_from_elsewhere() -> None:
    policy = Client().get("/leaderboard/")["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "img-src 'self' data:" in policy
    assert "script-src" not in policy  # scripts fall back to default-src: this site only
    assert "frame-ancestors 'none'" in policy

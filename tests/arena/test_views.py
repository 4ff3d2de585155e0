from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client

from arena.models import Contestant, Judge, PromptSet, Tournament
from arena.services.tournaments import tournament_start

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(contestants, prompt_set, judge) -> Client:
    contestants(3)
    client = Client()
    client.force_login(User.objects.create_user("boss", is_staff=True))
    return client


def form_data(**change: object) -> dict:
    ids = list(Contestant.objects.values_list("pk", flat=True))
    data = {
        "name": "form",
        "format": "round_robin",
        "contestants": ids,
        "k": 2,
        "seed": 3,
        "prompt_set": PromptSet.objects.get().pk,
        "judge": Judge.objects.get().pk,
    }
    data.update(change)
    return data


def test_home_and_a_tournament_page_render_its_leaderboard(make_tournament) -> None:
    tournament = tournament_start(tournament=make_tournament(n=2))
    assert Client().get("/").status_code == 200
    page = Client().get(f"/tournaments/{tournament.pk}/")
    assert page.status_code == 200
    assert b"sim-0" in page.content and b"/static/arena/live.js" in page.content


def test_the_tournament_page_lists_finished_matches_with_their_verdicts(make_tournament) -> None:
    from arena.services.advance import tournament_advance
    from arena.services.matches import match_play

    tournament = tournament_start(tournament=make_tournament(n=2))
    tournament_advance(tournament_id=tournament.pk)
    match_play(match_id=tournament.matches.get().pk)
    verdict = tournament.matches.get().judgment.ranking
    names = {c.pk: c.name for c in Contestant.objects.all()}
    expected = "  &gt;  ".join(" = ".join(names[c] for c in tier) for tier in verdict)
    page = Client().get(f"/tournaments/{tournament.pk}/").content.decode()
    assert f"Round 1 · completed · {expected}" in page


def test_a_tournament_page_without_verdicts_says_so_instead_of_showing_starting_ratings(
    make_tournament,
) -> None:
    tournament = tournament_start(tournament=make_tournament(n=2))
    page = Client().get(f"/tournaments/{tournament.pk}/").content.decode()
    assert '<p class="meta" id="no-verdicts">No verdicts yet' in page
    assert f'id="leaderboard" data-tournament="{tournament.pk}" hidden>' in page


def test_a_failed_tournament_page_shows_why_and_its_failed_count_but_no_leaderboard(
    unjudged_tournament: Tournament,
) -> None:
    page = Client().get(f"/tournaments/{unjudged_tournament.pk}/").content.decode()
    assert '<span id="status" class="status failed">failed</span>' in page
    assert '<span id="progress">1 / 1</span> matches<span id="failed"> · 1 failed</span>' in page
    assert "no match got a verdict: 1 of 1 failed; last error: judge output has no" in page
    assert "No verdicts: this tournament has no ratings." in page
    assert 'id="no-verdicts" hidden' not in page
    assert "Still undecided." not in page  # what the judge said is for staff only


def test_staff_read_what_the_judge_said_in_a_failed_match_escaped(
    unjudged_tournament: Tournament,
) -> None:
    staff = Client()
    staff.force_login(User.objects.create_user("boss", is_staff=True))
    page = staff.get(f"/tournaments/{unjudged_tournament.pk}/").content.decode()
    assert "&lt;script&gt;alert(&#x27;both&#x27;)&lt;/script&gt; are fine" in page
    assert "<script>alert(" not in page
    assert "<pre>Still undecided.</pre>" in page


def test_the_home_list_counts_failed_matches(unjudged_tournament: Tournament) -> None:
    page = Client().get("/").content.decode()
    assert "<td>1 / 1 · 1 failed</td>" in page


def test_the_form_creates_a_draft_and_redirects_to_it(staff: Client) -> None:
    response = staff.post("/tournaments/new/", form_data())
    tournament = Tournament.objects.get()
    assert response.status_code == 302 and response.url == f"/tournaments/{tournament.pk}/"


def test_the_form_shows_the_service_error_on_its_field_and_saves_nothing(staff: Client) -> None:
    response = staff.post("/tournaments/new/", form_data(k=1))
    assert response.status_code == 400
    assert "between 2 and 8" in str(response.context["form"].errors["k"])
    response = staff.post("/tournaments/new/", form_data(budget=-3))
    assert "positive" in str(response.context["form"].errors["budget"])
    response = staff.post(
        "/tournaments/new/", form_data(contestants=[Contestant.objects.first().pk])
    )
    assert "at least 2" in str(response.context["form"].errors["contestants"])
    response = staff.post("/tournaments/new/", form_data(contestants=[999]))
    assert "contestants" in response.context["form"].errors
    assert not Tournament.objects.exists()


def test_format_options_given_as_json_reach_the_format(staff: Client) -> None:
    data = form_data(format="single_elimination", options='{"third_place": true}', k="")
    assert staff.post("/tournaments/new/", data).status_code == 302
    assert Tournament.objects.get().config["third_place"] is True
    response = staff.post("/tournaments/new/", form_data(format="swiss", options='{"colour": 1}'))
    assert "colour: unknown option" in str(response.context["form"].errors["options"])
    assert Tournament.objects.count() == 1


def test_the_form_is_for_staff_only(staff: Client) -> None:
    assert Client().get("/tournaments/new/").status_code == 302
    assert not Tournament.objects.exists()


def test_the_health_check_answers_ok_without_a_session_or_a_cache() -> None:
    response = Client().get("/healthz/")
    assert response.status_code == 200 and response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"] and not response.cookies
    assert Client().post("/healthz/").status_code == 405


def test_the_health_check_is_503_when_the_database_does_not_answer(monkeypatch) -> None:
    from django.db import OperationalError

    import arena.views

    class Down:
        def cursor(self) -> None:
            raise OperationalError("could not connect to server: password=secret")

    monkeypatch.setattr(arena.views, "connection", Down())
    response = Client().get("/healthz/")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "database": "unreachable"}
    assert b"secret" not in response.content
    assert Client().get("/livez/").status_code == 200  # the process itself is alive


def test_the_health_check_is_503_naming_the_broker_when_redis_does_not_answer(
    monkeypatch, settings
) -> None:
    from redis import ConnectionError as RedisDown

    import arena.views

    class Down:
        def ping(self) -> bool:
            raise RedisDown("Error 111 connecting to 127.0.0.1:6379")

    settings.EMBEDDED = False
    monkeypatch.setattr(arena.views, "_redis", Down)
    response = Client().get("/healthz/")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "broker": "unreachable"}

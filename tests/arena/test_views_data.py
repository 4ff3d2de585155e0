from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from arena import api_data
from arena.models import BackendKind, Contestant, MatchStatus, PromptSet, Response, Tournament
from arena.services.advance import tournament_advance
from arena.services.matches import match_play
from arena.services.tournaments import tournament_start

pytestmark = pytest.mark.django_db

KINDS = {
    "battles.jsonl": "application/x-ndjson",
    "rankings.jsonl": "application/x-ndjson",
    "leaderboard.csv": "text/csv",
    "manifest.json": "application/json",
}


def body(response) -> str:
    return b"".join(response.streaming_content).decode()


def upload(content: bytes, name: str = "answers.jsonl") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="application/octet-stream")


def login(is_staff: bool) -> Client:
    client = Client()
    client.force_login(User.objects.create_user("staff" if is_staff else "u", is_staff=is_staff))
    return client


@pytest.fixture
def played(make_tournament) -> Tournament:
    tournament = tournament_start(tournament=make_tournament(n=3))
    tournament_advance(tournament_id=tournament.pk)
    for match in tournament.matches.filter(status=MatchStatus.PENDING):
        match_play(match_id=match.pk)
    return tournament


@pytest.fixture
def staff(prompt_set) -> Client:
    return login(is_staff=True)


GOOD = b'{"question_id": 0, "text": "zero"}\n{"question_id": 1, "text": "one"}\n'
BAD = b'{"question_id": 0, "text": "zero"}\n{"question_id": 42, "text": "?"}\n'


# --- exports ---------------------------------------------------------------------------


@pytest.mark.parametrize(("kind", "content_type"), KINDS.items())
def test_anyone_downloads_each_export_as_an_attachment(
    played: Tournament, kind: str, content_type: str
) -> None:
    response = Client().get(f"/tournaments/{played.pk}/export/{kind}/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith(content_type)
    assert response["Content-Disposition"] == (
        f'attachment; filename="tournament-{played.pk}-{kind}"'
    )
    assert body(response)


@pytest.mark.parametrize("kind", KINDS)
def test_the_api_serves_the_same_exports(played: Tournament, kind: str) -> None:
    page = body(Client().get(f"/tournaments/{played.pk}/export/{kind}/"))
    response = Client().get(f"/api/data/tournaments/{played.pk}/export/{kind}")
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    api_body = body(response)
    if kind == "manifest.json":  # differs only by its export time
        for document in (page, api_body):
            assert json.loads(document)["data_cut"]["battles_rows"] == 3
    else:
        assert api_body == page


def test_the_battles_download_has_a_row_per_played_match(played: Tournament) -> None:
    rows = body(Client().get(f"/tournaments/{played.pk}/export/battles.jsonl/")).splitlines()
    assert len(rows) == 3 and all(json.loads(r)["judge"] == "sim-judge" for r in rows)


def test_an_unknown_export_or_tournament_is_not_found(played: Tournament) -> None:
    assert Client().get(f"/tournaments/{played.pk}/export/secrets.txt/").status_code == 404
    assert Client().get("/tournaments/999999/export/battles.jsonl/").status_code == 404
    assert Client().get("/api/data/tournaments/999999/export/battles.jsonl").status_code == 404
    # In the API the kind is one of an enum: another is a bad request, naming the field.
    unknown = Client().get(f"/api/data/tournaments/{played.pk}/export/x.csv")
    assert unknown.status_code == 400 and list(unknown.json()["errors"]) == ["kind"]


def test_the_tournament_page_links_staff_to_the_exports(played: Tournament) -> None:
    page = login(is_staff=True).get(f"/tournaments/{played.pk}/").content.decode()
    assert f"/tournaments/{played.pk}/export/battles.jsonl/" in page
    assert "/data/import/answers/" in page


# --- import pages ----------------------------------------------------------------------


@pytest.mark.parametrize("url", ["/data/import/answers/", "/data/import/prompts/"])
def test_import_pages_are_for_staff_only(prompt_set: PromptSet, url: str) -> None:
    assert Client().get(url).status_code == 302
    user = login(is_staff=False)
    assert user.get(url).status_code == 302
    posted = user.post(url, {"file": upload(GOOD), "name": "x"})
    assert posted.status_code == 302
    assert Response.objects.count() == 0 and PromptSet.objects.count() == 1


def test_staff_see_the_answers_import_form(staff: Client) -> None:
    page = staff.get("/data/import/answers/")
    assert page.status_code == 200 and b'enctype="multipart/form-data"' in page.content


def test_staff_import_one_models_answers_and_see_the_summary(
    staff: Client, prompt_set: PromptSet
) -> None:
    response = staff.post(
        "/data/import/answers/",
        {"prompt_set": prompt_set.pk, "model": "gpt-x", "file": upload(GOOD)},
    )
    assert response.status_code == 200
    assert response.context["answers"]["done"].rows == {"gpt-x": 2}
    assert b"gpt-x" in response.content and b"import-summary" in response.content
    assert Contestant.objects.get(name="gpt-x").backend == BackendKind.PREGENERATED
    assert Response.objects.filter(contestant__name="gpt-x").count() == 2


def test_a_bad_answers_upload_shows_the_line_and_saves_nothing(
    staff: Client, prompt_set: PromptSet
) -> None:
    response = staff.post(
        "/data/import/answers/",
        {"prompt_set": prompt_set.pk, "model": "gpt-x", "file": upload(BAD)},
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "line 2" in page and "question_id" in page and "Nothing was imported" in page
    assert Response.objects.count() == 0 and not Contestant.objects.exists()


def test_an_upload_over_the_size_limit_is_refused_before_reading(
    staff: Client, prompt_set: PromptSet, monkeypatch
) -> None:
    monkeypatch.setattr(api_data, "MAX_UPLOAD_BYTES", 16)
    response = staff.post(
        "/data/import/answers/",
        {"prompt_set": prompt_set.pk, "model": "gpt-x", "file": upload(GOOD)},
    )
    assert response.status_code == 400 and b"the limit is" in response.content
    assert Response.objects.count() == 0


def test_an_answers_upload_without_a_file_asks_for_one(
    staff: Client, prompt_set: PromptSet
) -> None:
    response = staff.post("/data/import/answers/", {"prompt_set": prompt_set.pk})
    assert response.status_code == 400 and "file" in response.context["form"].errors


def test_staff_import_a_prompt_set_from_csv(staff: Client) -> None:
    response = staff.post(
        "/data/import/prompts/",
        {"name": "csv-set", "file": upload(b"question_id,text\nq1,Hi?\nq2,Bye?\n", "p.csv")},
    )
    assert response.status_code == 200 and b"2 prompts" in response.content
    assert PromptSet.objects.get(name="csv-set").prompts.count() == 2


def test_a_bad_prompt_upload_shows_the_line_and_saves_nothing(staff: Client) -> None:
    response = staff.post(
        "/data/import/prompts/",
        {"name": "dup", "file": upload(b"question_id,text\nq1,a\nq1,b\n", "p.csv")},
    )
    assert response.status_code == 400
    assert "line 3" in response.content.decode()
    assert not PromptSet.objects.filter(name="dup").exists()


def test_a_prompt_set_name_already_taken_is_refused_on_its_field(staff: Client) -> None:
    response = staff.post(
        "/data/import/prompts/", {"name": "tiny", "file": upload(GOOD, "p.jsonl")}
    )
    assert response.status_code == 400 and "name" in response.context["form"].errors
    assert PromptSet.objects.get(name="tiny").prompts.count() == 3


# --- import API ------------------------------------------------------------------------


def test_staff_import_answers_through_the_api(staff: Client, prompt_set: PromptSet) -> None:
    data = b"model,question_id,text\nm1,0,a\nm2,0,b\nm2,2,c\n"
    response = staff.post(
        "/api/data/import/answers", {"prompt_set": "tiny", "file": upload(data, "all.csv")}
    )
    assert response.status_code == 201
    assert response.json() == {
        "prompt_set": "tiny",
        "rows": {"m1": 1, "m2": 2},
        "created": ["m1", "m2"],
    }
    assert Response.objects.filter(contestant__name="m2").count() == 2


def test_a_bad_api_upload_gets_a_400_naming_the_line_and_saves_nothing(staff: Client) -> None:
    response = staff.post(
        "/api/data/import/answers", {"prompt_set": "tiny", "model": "m", "file": upload(BAD)}
    )
    assert response.status_code == 400
    assert any("line 2" in m for m in response.json()["errors"]["file"])
    assert Response.objects.count() == 0 and not Contestant.objects.exists()


def test_an_api_upload_for_an_unknown_prompt_set_is_refused(staff: Client) -> None:
    response = staff.post(
        "/api/data/import/answers", {"prompt_set": "nope", "model": "m", "file": upload(GOOD)}
    )
    assert response.status_code == 400 and "prompt_set" in response.json()["errors"]
    assert Response.objects.count() == 0


def test_the_import_api_is_for_staff_only(prompt_set: PromptSet) -> None:
    form = {"prompt_set": "tiny", "model": "m", "file": upload(GOOD)}
    assert Client().post("/api/data/import/answers", form).status_code == 401
    form["file"] = upload(GOOD)
    assert login(is_staff=False).post("/api/data/import/answers", form).status_code == 403
    assert Response.objects.count() == 0


def test_staff_import_a_prompt_set_through_the_api(staff: Client) -> None:
    data = b'{"question_id": 1, "text": "a", "category": "x"}\n'
    response = staff.post("/api/data/import/prompts", {"name": "api-set", "file": upload(data)})
    assert response.status_code == 201 and response.json()["prompts"] == 1
    assert PromptSet.objects.get(name="api-set").prompts.get().category == "x"


def test_under_asgi_an_export_streams_a_batch_at_a_time_instead_of_whole() -> None:
    """Django serves a synchronous iterator over ASGI only once it has read all of it: the
    export hands it batches through an asynchronous one."""
    import asyncio

    from django.test import AsyncRequestFactory

    from arena.api_data import EXPORT_BATCH, export_response
    from arena.services.exports import Export

    made: list[int] = []

    def rows():
        for n in range(10 * EXPORT_BATCH):
            made.append(n)
            yield f"{n}\n"

    request = AsyncRequestFactory().get("/tournaments/1/export/battles.jsonl/")
    response = export_response(request, Export("f.jsonl", "application/x-ndjson", rows()))

    async def first_chunk() -> bytes:
        return await anext(aiter(response.streaming_content))

    chunk = asyncio.run(first_chunk())
    assert chunk.startswith(b"0\n1\n") and len(made) == EXPORT_BATCH

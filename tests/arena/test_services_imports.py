from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from django.core.exceptions import ValidationError

from arena.models import BackendKind, Contestant, Prompt, PromptSet, Response
from arena.services import imports
from arena.services.advance import tournament_advance
from arena.services.imports import prompt_set_import_file, responses_import_file
from arena.services.matches import match_play
from arena.services.tournaments import tournament_create, tournament_start

pytestmark = pytest.mark.django_db


def lines(*rows: dict) -> bytes:
    return "".join(json.dumps(row) + "\n" for row in rows).encode()


def file_errors(call: Callable[[], object]) -> str:
    with pytest.raises(ValidationError) as error:
        call()
    return " | ".join(error.value.message_dict["file"])


def nothing_saved(before: int = 0) -> bool:
    return (
        Response.objects.count() == before
        and not Contestant.objects.filter(backend=BackendKind.PREGENERATED)
        .exclude(name="kept")
        .exists()
    )


def answers(prompt_set: PromptSet, data: bytes, filename: str = "a.jsonl", model: str = ""):
    return responses_import_file(prompt_set=prompt_set, data=data, filename=filename, model=model)


# --- answers ---------------------------------------------------------------------------


def test_a_one_model_jsonl_file_creates_a_pregenerated_contestant_with_its_answers(
    prompt_set: PromptSet,
) -> None:
    done = answers(
        prompt_set,
        lines({"question_id": 0, "text": "zero"}, {"question_id": "1", "text": "one"}),
        model="gpt-x",
    )
    assert done.rows == {"gpt-x": 2} and done.created == ["gpt-x"]
    contestant = Contestant.objects.get(name="gpt-x")
    assert contestant.backend == BackendKind.PREGENERATED
    saved = dict(contestant.responses.values_list("prompt__external_id", "text"))
    assert saved == {"0": "zero", "1": "one"}
    assert set(contestant.responses.values_list("settings_hash", flat=True)) == {
        contestant.settings_hash
    }


def test_a_csv_file_with_a_model_column_imports_every_model(prompt_set: PromptSet) -> None:
    data = b'model,question_id,text\nm1,0,"a, with comma"\nm1,1,"two\nlines"\nm2,0,b\n'
    done = answers(prompt_set, data, filename="all.csv")
    assert done.rows == {"m1": 2, "m2": 1}
    assert Response.objects.get(contestant__name="m1", prompt__external_id="1").text == "two\nlines"


def test_a_byte_order_mark_from_a_spreadsheet_is_ignored(prompt_set: PromptSet) -> None:
    data = "\ufeffquestion_id,text\n2,391\n".encode()
    assert answers(prompt_set, data, filename="x.csv", model="m").rows == {"m": 1}


def test_importing_again_replaces_unused_answers_and_adds_no_contestant(
    prompt_set: PromptSet,
) -> None:
    answers(prompt_set, lines({"question_id": 0, "text": "old"}), model="m")
    done = answers(prompt_set, lines({"question_id": 0, "text": "new"}), model="m")
    assert done.created == []
    assert list(Response.objects.values_list("text", flat=True)) == ["new"]


@pytest.mark.parametrize(
    ("data", "filename", "model", "phrases"),
    [
        (lines({"question_id": 9, "text": "x"}), "a.jsonl", "m", ["line 1", "'question_id'", "9"]),
        (
            lines({"question_id": 0, "text": "ok"}, {"question_id": 1, "text": "  "}),
            "a.jsonl",
            "m",
            ["line 2", "'text'", "empty"],
        ),
        (lines({"question_id": 0}), "a.jsonl", "m", ["line 1", "'text'", "missing"]),
        (
            lines({"question_id": 0, "text": "a"}, {"question_id": 0, "text": "b"}),
            "a.jsonl",
            "m",
            ["line 2", "'question_id'", "repeats line 1"],
        ),
        (
            b"model,question_id,text\nm1,0,a\nm2,0,b\nm1,0,c\n",
            "a.csv",
            "",
            ["line 4", "'question_id'", "repeats line 2", "m1"],
        ),
        (lines({"question_id": 0, "text": "a"}), "a.jsonl", "", ["line 1", "'model'"]),
        (b"question_id,text\n0,a\n", "a.csv", "", ["line 1", "'model'", "header"]),
        (b'{"question_id": 0, "text": "a"}\n{oops\n', "a.jsonl", "m", ["line 2", "not JSON"]),
        (b"question_id,text\n0,ok\n1,caf\xe9\n", "a.csv", "m", ["line 3", "UTF-8"]),
        (b"", "a.jsonl", "m", ["line 1", "empty"]),
        (b"\n  \n", "a.csv", "m", ["empty"]),
        (b"question_id,text\n", "a.csv", "m", ["no rows"]),
        (b"question_id,text\n0,a,extra\n", "a.csv", "m", ["line 2", "cells"]),
        (b"[1, 2]\n", "a.jsonl", "m", ["line 1", "JSON object"]),
        (
            lines({"question_id": 0, "text": "a", "model": "other"}),
            "a.jsonl",
            "m",
            ["line 1", "'model'", "other"],
        ),
        (lines({"question_id": True, "text": "a"}), "a.jsonl", "m", ["'question_id'", "True"]),
    ],
)
def test_a_bad_answers_file_is_refused_naming_line_and_field_and_saves_nothing(
    prompt_set: PromptSet, data: bytes, filename: str, model: str, phrases: list[str]
) -> None:
    message = file_errors(lambda: answers(prompt_set, data, filename=filename, model=model))
    for phrase in phrases:
        assert phrase in message
    assert nothing_saved()


def test_one_bad_row_among_good_ones_saves_none_of_them(prompt_set: PromptSet) -> None:
    data = lines(
        {"model": "m1", "question_id": 0, "text": "a"},
        {"model": "m2", "question_id": 1, "text": "b"},
        {"model": "m2", "question_id": 99, "text": "c"},
    )
    assert "line 3" in file_errors(lambda: answers(prompt_set, data))
    assert nothing_saved()


def test_every_bad_line_is_reported_at_once(prompt_set: PromptSet) -> None:
    data = lines(
        {"question_id": 7, "text": "a"}, {"question_id": 0}, {"question_id": 8, "text": ""}
    )
    message = file_errors(lambda: answers(prompt_set, data, model="m"))
    assert "line 1" in message and "line 2" in message and "line 3" in message


def test_answers_for_a_contestant_that_is_not_pregenerated_are_refused(
    contestants, prompt_set: PromptSet
) -> None:
    contestants(1)  # sim-0, a simulated contestant
    data = lines(
        {"model": "fresh", "question_id": 0, "text": "a"},
        {"model": "sim-0", "question_id": 0, "text": "pasted"},
    )
    message = file_errors(lambda: answers(prompt_set, data))
    assert "line 2" in message and "'model'" in message and "pre-generated" in message
    assert Response.objects.count() == 0 and not Contestant.objects.filter(name="fresh").exists()


def test_an_answer_a_match_already_showed_cannot_be_changed(prompt_set: PromptSet, judge) -> None:
    for name in ("p1", "p2"):
        answers(
            prompt_set, lines(*({"question_id": i, "text": name} for i in range(3))), model=name
        )
    tournament = tournament_start(
        tournament=tournament_create(
            name="t",
            format="round_robin",
            contestants=["p1", "p2"],
            prompt_set="tiny",
            judge=judge.name,
            config={"rounds": 1},
        )
    )
    tournament_advance(tournament_id=tournament.pk)
    match = tournament.matches.get()
    assert match_play(match_id=match.pk) == "completed"
    used = match.prompt.external_id
    message = file_errors(
        lambda: answers(prompt_set, lines({"question_id": used, "text": "rewritten"}), model="p1")
    )
    assert "'text'" in message and "new model name" in message
    assert Response.objects.get(contestant__name="p1", prompt=match.prompt).text == "p1"
    # the same text again changes nothing, so it is accepted
    assert answers(prompt_set, lines({"question_id": used, "text": "p1"}), model="p1").rows


def test_a_file_over_the_size_limit_is_refused(prompt_set: PromptSet, monkeypatch) -> None:
    monkeypatch.setattr(imports, "MAX_UPLOAD_BYTES", 10)
    message = file_errors(
        lambda: answers(prompt_set, lines({"question_id": 0, "text": "long enough"}), model="m")
    )
    assert "limit" in message
    assert nothing_saved()


# --- prompt sets -----------------------------------------------------------------------


def prompts(data: bytes, filename: str = "p.jsonl", name: str = "new") -> PromptSet:
    return prompt_set_import_file(name=name, data=data, filename=filename, source="upload")


def test_a_prompt_set_is_created_from_jsonl_with_optional_categories(db) -> None:
    pset = prompts(
        lines(
            {"question_id": 1, "text": "a", "category": "math"}, {"question_id": "b", "text": "b"}
        )
    )
    assert pset.source == "upload"
    assert list(pset.prompts.values_list("external_id", "text", "category")) == [
        ("1", "a", "math"),
        ("b", "b", ""),
    ]


def test_a_prompt_set_is_created_from_csv(db) -> None:
    pset = prompts(b"question_id,text,category\nq1,Hello?,chat\nq2,Sum 2+2,\n", filename="p.csv")
    assert dict(pset.prompts.values_list("external_id", "category")) == {"q1": "chat", "q2": ""}


@pytest.mark.parametrize(
    ("data", "filename", "phrases"),
    [
        (
            lines({"question_id": 1, "text": "a"}, {"question_id": 1, "text": "b"}),
            "p.jsonl",
            ["line 2", "'question_id'", "repeats line 1"],
        ),
        (lines({"text": "a"}), "p.jsonl", ["line 1", "'question_id'", "missing"]),
        (lines({"question_id": 1, "text": ""}), "p.jsonl", ["line 1", "'text'"]),
        (lines({"question_id": 1, "text": "a", "category": 5}), "p.jsonl", ["'category'"]),
        (b"question_id,category\n1,x\n", "p.csv", ["line 1", "'text'", "header"]),
        (b"", "p.csv", ["empty"]),
        (b'{"question_id": 1, "text": "\xff"}\n', "p.jsonl", ["line 1", "UTF-8"]),
        # A quote left open would swallow every later row into one cell.
        (b'question_id,text\nq1,"open\nq2,second\nq3,third\n', "p.csv", ["line 2", "CSV"]),
    ],
)
def test_a_bad_prompt_file_is_refused_naming_line_and_field_and_saves_nothing(
    db, data: bytes, filename: str, phrases: list[str]
) -> None:
    message = file_errors(lambda: prompts(data, filename=filename))
    for phrase in phrases:
        assert phrase in message
    assert PromptSet.objects.count() == 0 and Prompt.objects.count() == 0


def test_an_existing_prompt_set_is_never_changed_by_an_upload(prompt_set: PromptSet) -> None:
    with pytest.raises(ValidationError) as error:
        prompts(lines({"question_id": 9, "text": "new"}), name="tiny")
    assert "exists" in " ".join(error.value.message_dict["name"])
    assert prompt_set.prompts.count() == 3

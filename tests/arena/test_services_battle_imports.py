"""Public battle files become a completed tournament whose verdicts feed the boards."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from arena.models import (
    Contestant,
    Judge,
    JudgeKind,
    Judgment,
    Match,
    PairCell,
    Prompt,
    Standing,
    Tournament,
)
from arena.services.aggregates import cells_check
from tests.ratings.test_battle_layouts import MODELS, lmarena_records, write_jsonl, write_parquet

pytestmark = pytest.mark.django_db


def imported(path: Path, *args: str) -> Tournament:
    out = io.StringIO()
    call_command("import_battles", str(path), *args, stdout=out, stderr=io.StringIO())
    return Tournament.objects.get(pk=int(out.getvalue()))


@pytest.fixture(scope="module")
def records() -> list[dict]:
    return lmarena_records(n=400, seed=3)


@pytest.mark.parametrize("kind", ["parquet", "jsonl"])
def test_an_lmarena_file_becomes_a_completed_tournament_whose_cells_match_a_recount(
    kind, records, tmp_path
) -> None:
    write = write_parquet if kind == "parquet" else write_jsonl
    tournament = imported(write(tmp_path / f"arena.{kind}", records), "--name", "lmarena")
    assert tournament.status == "completed" and tournament.format == "imported"
    assert tournament.judge is None and tournament.name == "lmarena"
    assert set(Contestant.objects.values_list("name", flat=True)) == set(MODELS)
    assert Match.objects.filter(tournament=tournament, status="completed").count() == 400
    assert Judgment.objects.filter(match__tournament=tournament).count() == 400
    both_bad = sum(r["winner"] == "both_bad" for r in records)
    assert Judgment.objects.filter(both_bad=True).count() == both_bad > 0
    # Every battle's answers carry their style from conv_metadata, and a full recount
    # from the rows finds exactly the cells the import wrote.
    assert sum(PairCell.objects.values_list("styled", flat=True)) == 400
    assert cells_check() == []
    # Prompts from the conversations' first user turn; categories from category_tag.
    texts = {r["conversation_a"][0]["content"][0]["text"] for r in records}
    assert set(Prompt.objects.values_list("text", flat=True)) == texts
    math = sum(r["category_tag"]["math_v0.1"]["math"] for r in records)
    assert Prompt.objects.filter(category="math").count() == math
    # Online Elo replayed in the file's time order: every battle counted twice.
    assert (
        sum(Standing.objects.filter(tournament=tournament).values_list("matches", flat=True)) == 800
    )


def test_imported_votes_feed_the_global_board_with_style_control_and_a_category(
    records, tmp_path
) -> None:
    imported(write_parquet(tmp_path / "arena.parquet", records))
    client = Client()
    rows = client.get("/leaderboard/data.json").json()["rows"]
    assert sum(r["matches"] for r in rows) == 2 * 400
    styled = client.get("/leaderboard/data.json", {"style": "on"}).json()
    # the fixture's judges prefer the longer answer: style control finds it
    assert styled["style_coefficients"]["length"] > 0.3
    math = client.get("/leaderboard/data.json", {"category": "math"}).json()["rows"]
    n_math = sum(r["category_tag"]["math_v0.1"]["math"] for r in records)
    assert sum(r["matches"] for r in math) == 2 * n_math


def test_a_judges_verdicts_come_in_under_an_imported_judge_no_tournament_can_run(
    records, tmp_path
) -> None:
    from django.core.exceptions import ValidationError

    from arena.services.tournaments import tournament_create

    tournament = imported(
        write_jsonl(tmp_path / "judged.jsonl", records[:50]), "--source", "judge:gpt-4-as-judge"
    )
    judge = Judge.objects.get(name="gpt-4-as-judge")
    assert judge.kind == JudgeKind.IMPORTED and tournament.judge == judge
    assert set(PairCell.objects.values_list("source", flat=True)) == {f"judge:{judge.pk}"}
    with pytest.raises(ValidationError, match="only carries verdicts imported"):
        tournament_create(
            name="x", format="round_robin", contestants=list(MODELS[:2]),
            prompt_set=tournament.prompt_set.name, judge=judge.name, config={"rounds": 1},
        )  # fmt: skip


def test_a_fastchat_file_without_conversations_gets_a_prompt_per_question(tmp_path) -> None:
    rows = [
        {"model_a": "a", "model_b": "b", "winner": "model_a", "question_id": "q1", "tstamp": 1.0},
        {
            "model_a": "b",
            "model_b": "c",
            "winner": "tie (bothbad)",
            "question_id": "q1",
            "tstamp": 2.0,
        },
        {"model_a": "c", "model_b": "a", "winner": "model_b", "question_id": "q2", "tstamp": 3.0},
    ]
    path = tmp_path / "battles.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    tournament = imported(path)
    assert sorted(tournament.prompt_set.prompts.values_list("external_id", flat=True)) == [
        "q1",
        "q2",
    ]
    assert sum(PairCell.objects.values_list("styled", flat=True)) == 0  # nothing to read style from
    assert cells_check() == []
    board = {r["contestant"]: r for r in Client().get("/leaderboard/data.json").json()["rows"]}
    assert board["a"]["matches"] == 2 and board["a"]["wins"] == 2.0


def test_a_kaggle_file_gets_its_style_from_the_answer_texts(tmp_path) -> None:
    path = tmp_path / "train.csv"
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "model_a", "model_b", "prompt", "response_a", "response_b",
                         "winner_model_a", "winner_model_b", "winner_tie"])  # fmt: skip
        writer.writerow(
            [
                1,
                "x",
                "y",
                json.dumps(["Hi?"]),
                json.dumps(["# Long\n\n- a\n- b"]),
                json.dumps(["Short"]),
                1,
                0,
                0,
            ]
        )
        writer.writerow(
            [
                2,
                "y",
                "x",
                json.dumps(["Bye?"]),
                json.dumps(["ok"]),
                json.dumps(["**Bold** answer"]),
                0,
                0,
                1,
            ]
        )
    imported(path)
    cell = PairCell.objects.get()
    assert cell.styled == 2 and cell.ties == 1 and cell.a_wins + cell.b_wins == 1
    assert cells_check() == []


def test_a_bad_row_deep_in_the_file_is_named_and_nothing_is_saved(records, tmp_path) -> None:
    broken = [dict(r) for r in records]
    broken[321]["winner"] = "model_c"
    path = write_jsonl(tmp_path / "broken.jsonl", broken)
    with pytest.raises(CommandError, match=r"broken.jsonl:322: field 'winner'"):
        imported(path)
    assert not Tournament.objects.exists() and not Contestant.objects.exists()


def test_a_second_import_under_the_same_name_is_refused(records, tmp_path) -> None:
    path = write_jsonl(tmp_path / "a.jsonl", records[:20])
    imported(path, "--name", "twice")
    with pytest.raises(CommandError, match="--name"):
        imported(path, "--name", "twice")
    assert Tournament.objects.count() == 1


def test_an_existing_judge_of_the_arena_does_not_take_a_files_verdicts(records, tmp_path) -> None:
    Judge.objects.create(name="gpt-4o", kind=JudgeKind.OPENAI, base_url="http://127.0.0.1:9/v1")
    with pytest.raises(CommandError, match="gpt-4o is a judge of this arena"):
        imported(write_jsonl(tmp_path / "j.jsonl", records[:10]), "--source", "judge:gpt-4o")
    assert not Tournament.objects.exists()


def test_a_judge_that_names_the_first_answer_in_both_orders_shows_its_flips(tmp_path) -> None:
    from arena.boards import judge_quality_panel

    rows = [  # one prompt and pair, judged in both orders, the first shown winning each time
        {"model_a": "a", "model_b": "b", "winner": "model_a", "question_id": "q1"},
        {"model_a": "b", "model_b": "a", "winner": "model_a", "question_id": "q1"},
        {"model_a": "a", "model_b": "c", "winner": "model_a", "question_id": "q2"},
        {"model_a": "c", "model_b": "a", "winner": "model_b", "question_id": "q2"},
    ]
    path = tmp_path / "flips.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    imported(path, "--source", "judge:first-wins")
    panel = {row["source"]: row for row in judge_quality_panel()}["first-wins"]
    assert (panel["flip_rate"], panel["flip_pairs"]) == (0.5, 2)
    assert panel["first_wins"] == 0.75

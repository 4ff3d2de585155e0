from __future__ import annotations

import csv
import hashlib
import io
import json

import pytest

from arena.models import Contestant, Judgment, Match, MatchStatus, Tournament, TournamentStatus
from arena.services.advance import tournament_advance
from arena.services.exports import (
    EXPORTS,
    LEADERBOARD_COLUMNS,
    UnknownExport,
    tournament_export,
    tournament_export_battles,
    tournament_export_leaderboard,
    tournament_export_manifest,
    tournament_export_rankings,
)
from arena.services.matches import match_play
from arena.services.tournaments import tournament_create, tournament_start
from ratings.data import Outcome
from ratings.io import read_battle_text

pytestmark = pytest.mark.django_db

BATTLE_FIELDS = {
    "model_a",
    "model_b",
    "winner",
    "question_id",
    "judge",
    "tstamp",
    "turn",
    "category",
}


def play_all(tournament: Tournament) -> Tournament:
    for _ in range(30):
        tournament_advance(tournament_id=tournament.pk)
        tournament.refresh_from_db()
        if tournament.status != TournamentStatus.RUNNING:
            break
        for match in tournament.matches.filter(status=MatchStatus.PENDING):
            match_play(match_id=match.pk)
    return tournament


def text(chunks) -> str:
    return "".join(chunks)


def jsonl(chunks) -> list[dict]:
    return [json.loads(line) for line in text(chunks).splitlines()]


@pytest.fixture
def completed(make_tournament) -> Tournament:
    tournament = play_all(tournament_start(tournament=make_tournament(n=4, rounds=2)))
    assert tournament.status == TournamentStatus.COMPLETED
    return tournament


def kwise_match(contestants, prompt_set, judge, *, ranking, both_bad=False) -> Tournament:
    """A K=4 tournament with one match decided by hand: ranking given as positions."""
    people = contestants(4)
    tournament = tournament_start(
        tournament=tournament_create(
            name="k",
            format="kwise",
            contestants=[c.name for c in people],
            prompt_set=prompt_set.name,
            judge=judge.name,
            config={"k": 4, "rounds": 1},
        )
    )
    tournament_advance(tournament_id=tournament.pk)
    match = tournament.matches.get()
    ids = [e.contestant_id for e in match.entries.order_by("position")]
    Judgment.objects.create(
        match=match,
        judge=judge,
        ranking=[[ids[p] for p in tier] for tier in ranking],
        both_bad=both_bad,
    )
    Match.objects.filter(pk=match.pk).update(status=MatchStatus.COMPLETED)
    return tournament


def test_battles_have_one_fastchat_row_per_pairwise_judgment(completed: Tournament) -> None:
    rows = jsonl(tournament_export_battles(tournament=completed))
    assert len(rows) == completed.matches.filter(status=MatchStatus.COMPLETED).count() == 12
    for row in rows:
        assert set(row) == BATTLE_FIELDS
        assert row["winner"] in {"model_a", "model_b", "tie", "tie (bothbad)"}
        assert row["judge"] == "sim-judge" and row["turn"] == 1
        assert row["question_id"] in {"0", "1", "2"}
        assert row["category"] in {"explain", "creative", "math"}


def test_model_a_is_the_entry_shown_first_and_the_winner_follows_the_tiers(
    completed: Tournament,
) -> None:
    rows = jsonl(tournament_export_battles(tournament=completed))
    matches = completed.matches.order_by("round", "slot").prefetch_related("entries__contestant")
    for row, match in zip(rows, matches, strict=True):
        first, second = match.entries.order_by("position")
        assert (row["model_a"], row["model_b"]) == (first.contestant.name, second.contestant.name)
        best = match.judgment.ranking[0]
        if len(best) == 2:
            expected = "tie (bothbad)" if match.judgment.both_bad else "tie"
        else:
            expected = "model_a" if best == [first.contestant_id] else "model_b"
        assert row["winner"] == expected


def test_the_battles_file_loads_with_the_rating_cli_reader(completed: Tournament) -> None:
    battles = read_battle_text(
        text(tournament_export_battles(tournament=completed)), source="battles.jsonl"
    )
    assert len(battles.outcome) == 12
    assert set(battles.models) == {"sim-0", "sim-1", "sim-2", "sim-3"}


def test_a_kwise_judgment_becomes_its_pairs_in_position_order(
    contestants, prompt_set, judge
) -> None:
    # positions 2 best; 0 and 3 tied; 1 last
    tournament = kwise_match(contestants, prompt_set, judge, ranking=[[2], [0, 3], [1]])
    match = tournament.matches.get()
    names = [e.contestant.name for e in match.entries.order_by("position")]
    rows = jsonl(tournament_export_battles(tournament=tournament))
    assert [(r["model_a"], r["model_b"], r["winner"]) for r in rows] == [
        (names[0], names[1], "model_a"),
        (names[0], names[2], "model_b"),
        (names[0], names[3], "tie"),
        (names[1], names[2], "model_b"),
        (names[1], names[3], "model_b"),
        (names[2], names[3], "model_a"),
    ]
    battles = read_battle_text(text(tournament_export_battles(tournament=tournament)))
    assert list(battles.outcome).count(Outcome.TIE) == 1


def test_each_battle_line_reads_as_json_dumps_of_its_row_even_for_awkward_names(
    contestants, prompt_set, judge
) -> None:
    tournament = kwise_match(contestants, prompt_set, judge, ranking=[[2], [0, 3], [1]])
    awkward = ['quote"d', "back\\slash", "новая модель", "tab\there"]
    for entry, name in zip(
        tournament.matches.get().entries.order_by("position"), awkward, strict=True
    ):
        Contestant.objects.filter(pk=entry.contestant_id).update(name=name)
    lines = text(tournament_export_battles(tournament=tournament)).splitlines()
    assert len(lines) == 6
    for line in lines:
        assert line == json.dumps(json.loads(line), ensure_ascii=False)
    assert {json.loads(line)["model_a"] for line in lines} == set(awkward[:3])


def test_an_export_longer_than_a_chunk_keeps_play_order(completed: Tournament, monkeypatch) -> None:
    from arena.services import exports

    whole = text(tournament_export_battles(tournament=completed))
    monkeypatch.setattr(exports, "CHUNK", 5)  # 12 verdicts: chunks of 5, 5 and 2
    assert text(tournament_export_battles(tournament=completed)) == whole
    ordered = completed.matches.filter(status=MatchStatus.COMPLETED).order_by("round", "slot")
    public = [row["match"] for row in jsonl(tournament_export_rankings(tournament=completed))]
    assert public == [str(m.public_id) for m in ordered]


def test_a_both_bad_tie_is_exported_as_tie_bothbad(contestants, prompt_set, judge) -> None:
    tournament = kwise_match(contestants, prompt_set, judge, ranking=[[0, 1, 2, 3]], both_bad=True)
    rows = jsonl(tournament_export_battles(tournament=tournament))
    assert len(rows) == 6 and {r["winner"] for r in rows} == {"tie (bothbad)"}


def test_failed_and_unjudged_matches_are_left_out(make_tournament) -> None:
    tournament = tournament_start(tournament=make_tournament(n=4))
    tournament_advance(tournament_id=tournament.pk)
    played, failed, *waiting = tournament.matches.order_by("slot")
    match_play(match_id=played.pk)
    Match.objects.filter(pk=failed.pk).update(status=MatchStatus.FAILED, error="judge refused")
    assert waiting and all(not hasattr(m, "judgment") for m in waiting)
    for produce in (tournament_export_battles, tournament_export_rankings):
        rows = jsonl(produce(tournament=tournament))
        assert len(rows) == 1


def test_rankings_have_one_row_per_judgment_with_names_in_tiers(
    contestants, prompt_set, judge
) -> None:
    tournament = kwise_match(contestants, prompt_set, judge, ranking=[[2], [0, 3], [1]])
    match = tournament.matches.get()
    names = [e.contestant.name for e in match.entries.order_by("position")]
    [row] = jsonl(tournament_export_rankings(tournament=tournament))
    assert row["ranking"] == [[names[2]], [names[0], names[3]], [names[1]]]
    assert row["match"] == str(match.public_id) and row["round"] == match.round
    assert row["both_bad"] is False and row["judge"] == "sim-judge"
    assert row["question_id"] == match.prompt.external_id
    assert isinstance(row["tstamp"], float)


def test_the_leaderboard_csv_has_a_row_per_contestant_best_first(completed: Tournament) -> None:
    rows = list(
        csv.DictReader(io.StringIO(text(tournament_export_leaderboard(tournament=completed))))
    )
    assert len(rows) == 4
    assert list(rows[0])[:7] == ["rank", "model", "elo", "matches", "wins", "ties", "win_rate"]
    assert rows[0]["rank"] == "1"
    assert sum(int(r["matches"]) for r in rows) == 24
    assert {r["model"] for r in rows} == {"sim-0", "sim-1", "sim-2", "sim-3"}


def test_the_leaderboard_csv_of_a_tournament_without_verdicts_has_its_header_only(
    unjudged_tournament: Tournament,
) -> None:
    exported = text(tournament_export_leaderboard(tournament=unjudged_tournament))
    assert exported.splitlines() == [",".join(LEADERBOARD_COLUMNS)]


def test_the_manifest_adds_a_data_cut_with_the_battles_hash(completed: Tournament) -> None:
    from arena.services.exports import PRIVATE_KEYS

    document = json.loads(text(tournament_export_manifest(tournament=completed)))
    assert document["manifest"]["contestants"] == {
        name: {k: v for k, v in frozen.items() if k not in PRIVATE_KEYS}
        for name, frozen in completed.manifest["contestants"].items()
    }
    assert document["manifest"]["seed"] == completed.manifest["seed"]
    assert document["manifest"]["seed"] == 7
    cut = document["data_cut"]
    battles = text(tournament_export_battles(tournament=completed))
    assert cut["battles_sha256"] == hashlib.sha256(battles.encode()).hexdigest()
    assert cut["battles_rows"] == 12 and cut["judgments"] == 12 and cut["votes"] == 0
    assert cut["matches_by_status"]["completed"] == 12
    assert cut["matches_by_status"]["failed"] == 0
    assert cut["first_judgment_at"] <= cut["last_judgment_at"] <= cut["exported_at"]


def test_an_unknown_export_kind_is_refused(completed: Tournament) -> None:
    with pytest.raises(UnknownExport):
        tournament_export(tournament=completed, kind="secrets.txt")


def test_no_export_carries_the_value_of_a_contestants_api_key(make_tournament, monkeypatch) -> None:
    monkeypatch.setenv("ARENA_TEST_KEY", "sk-never-export-this-value")
    tournament = make_tournament(n=3)
    tournament.contestants.update(api_key_env="ARENA_TEST_KEY")
    tournament = play_all(tournament_start(tournament=tournament))
    for kind in EXPORTS:
        body = text(tournament_export(tournament=tournament, kind=kind).chunks)
        assert body and "sk-never-export-this-value" not in body


def test_the_manifest_shows_neither_where_models_are_served_nor_their_key_variables(
    make_tournament, judge
) -> None:
    tournament = make_tournament(n=3)
    tournament.contestants.update(base_url="http://models.internal:8000/v1?api_key=s3cret")
    type(judge).objects.filter(pk=judge.pk).update(
        base_url="http://judge.internal/v1", api_key_env="JUDGE_API_KEY"
    )
    tournament = tournament_start(tournament=tournament)
    assert "models.internal" in json.dumps(tournament.manifest)  # kept for the replay
    body = text(tournament_export_manifest(tournament=tournament))
    for private in ("models.internal", "s3cret", "judge.internal", "JUDGE_API_KEY", "base_url"):
        assert private not in body
    manifest = json.loads(body)["manifest"]
    assert {"backend", "model", "settings_hash"} <= set(manifest["contestants"]["sim-0"])
    assert manifest["judge"]["name"] == judge.name


def test_a_download_remembers_its_hash_so_the_manifest_reads_no_verdict_again(
    completed: Tournament, monkeypatch
) -> None:
    from django.core.cache import cache

    from arena.services import exports

    cache.clear()
    battles = text(tournament_export_battles(tournament=completed))

    def unread(**kwargs):
        raise AssertionError("the manifest read the verdicts again")

    monkeypatch.setattr(exports, "tournament_battle_lines", unread)
    cut = json.loads(text(tournament_export_manifest(tournament=completed)))["data_cut"]
    assert cut["battles_sha256"] == hashlib.sha256(battles.encode()).hexdigest()
    assert cut["battles_rows"] == 12


def test_a_name_a_spreadsheet_would_run_as_a_formula_is_written_as_text(completed) -> None:
    entry = completed.matches.first().entries.first()
    Contestant.objects.filter(pk=entry.contestant_id).update(
        name='=HYPERLINK("http://evil.test","x")'
    )
    from django.core.cache import cache

    cache.clear()  # the board is cached by its verdicts, and a rename adds none
    rows = list(
        csv.DictReader(io.StringIO(text(tournament_export_leaderboard(tournament=completed))))
    )
    assert '\'=HYPERLINK("http://evil.test","x")' in [r["model"] for r in rows]
    assert not any(r["model"].startswith(("=", "+", "-", "@")) for r in rows)

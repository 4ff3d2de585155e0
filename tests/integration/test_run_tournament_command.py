"""`manage.py run_tournament` against a FAKE OpenAI-compatible endpoint on loopback."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from arena.formats import adaptive
from arena.management.commands.run_tournament import format_config
from arena.models import (
    Contestant,
    Judge,
    Judgment,
    Match,
    MatchStatus,
    Spend,
    Tournament,
    TournamentStatus,
)
from arena.serving.embedded import embedded_worker_stop
from tests.judges.fake_openai import FakeOpenAIServer, Scripted, error_body

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not settings.EMBEDDED, reason="embedded mode only (REDIS_URL is set)"),
]


def judge_prefers_longer(request: dict) -> str:
    if request["model"] != "judge-model":
        return "word " * (3 if request["model"] == "small" else 30)
    a, b = re.findall(r"word[ word]*", request["messages"][-1]["content"])[:2]
    return "[[A]]" if len(a) > len(b) else "[[B]]"


def test_two_environment_variables_and_one_command_run_a_whole_tournament(monkeypatch) -> None:
    out = io.StringIO()
    with FakeOpenAIServer() as server:
        server.responder = judge_prefers_longer
        monkeypatch.setenv("ARENA_BASE_URL", server.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-secret")
        try:
            call_command(
                "run_tournament",
                "--contestants",
                "small,large",
                "--judge",
                "judge-model",
                "--rounds",
                "2",
                "--timeout",
                "60",
                stdout=out,
            )
        finally:
            embedded_worker_stop()
    tournament = Tournament.objects.get()
    assert tournament.status == TournamentStatus.COMPLETED
    text = out.getvalue()
    assert "completed: 2 / 2 matches" in text
    assert re.search(r"rank\s+model\s+BT \(95% CI\)\s+Elo\s+matches\s+failed", text)
    assert "Spent $0.0000" in text and "preliminary" in text
    # large first; two verdicts separate no one, so both share rank 1 (honest intervals)
    assert re.search(r"1\s+large", text) and re.search(r"1\s+small", text)
    board = text[text.index("is completed") :]
    assert board.index("large") < board.index("small")
    assert all(r.headers["authorization"] == "Bearer sk-test-not-secret" for r in server.requests)
    assert "sk-test-not-secret" not in str(Tournament.objects.values().get())


def test_without_an_endpoint_the_command_says_which_variable_to_set(monkeypatch) -> None:
    monkeypatch.delenv("ARENA_BASE_URL", raising=False)
    with pytest.raises(CommandError, match="ARENA_BASE_URL"):
        call_command("run_tournament", "--contestants", "a,b", "--judge", "j")


JUDGE = "judge-model"


def judge_calls(server: FakeOpenAIServer) -> int:
    return sum(1 for r in server.chat_requests if r["model"] == JUDGE)


@pytest.fixture
def endpoint(monkeypatch) -> Iterator[FakeOpenAIServer]:
    """The fake endpoint in $ARENA_BASE_URL: contestants answer "word" a number of times
    told by their name, the judge prefers the longer answer (tests replace it)."""
    with FakeOpenAIServer() as server:
        server.responder = judge_prefers_longer
        monkeypatch.setenv("ARENA_BASE_URL", server.base_url)
        monkeypatch.delenv("OPENAI_API_KEY", raising=False)
        try:
            yield server
        finally:
            embedded_worker_stop()


def run(*args: str) -> str:
    """The command's output; a CommandError carries it in its notes."""
    out = io.StringIO()
    try:
        call_command("run_tournament", "--judge", JUDGE, "--timeout", "60", *args, stdout=out)
    except CommandError as error:
        error.add_note(out.getvalue())
        raise
    return out.getvalue()


def test_options_are_json_when_they_parse_and_override_the_config_file(tmp_path: Path) -> None:
    file = tmp_path / "options.json"
    file.write_text(json.dumps({"k": 3, "grouping": "random"}))
    config = format_config(str(file), ["k=4", "anchor=llama3.2:1b", "third_place=true"], 2)
    assert config == {
        "k": 4,
        "grouping": "random",
        "anchor": "llama3.2:1b",
        "third_place": True,
        "rounds": 2,
    }


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--format", "single_elimination", "--rounds", "2"],
            "rounds: unknown option for single_elimination; its options: anchor, anchor_rounds,",
        ),
        (["--format", "anchor"], "anchor: name the anchor contestant"),
        (["--format", "anchor", "--option", "anchor=nobody"], "anchor: nobody is not one of"),
        (["--format", "kwise", "--option", "k=9"], "k: must be between 2 and 3, got 9"),
        (["--format", "adaptive", "--option", "sampler=psychic"], "sampler: must be one of"),
        (["--option", "rounds"], "--option 'rounds': write it as key=value"),
        (["--config", "missing.json"], "--config missing.json"),
        (["--budget-usd", "-1"], "budget_usd: must be a positive amount of USD"),
        (["--price-in", "-1"], "--price-in: must be a number of USD >= 0"),
        (
            ["--both-orders", "--budget", "1"],
            "budget: 1 judge call(s) pay for no match: one takes 2",
        ),
    ],
)
def test_bad_options_are_refused_naming_the_field_and_nothing_runs(
    endpoint: FakeOpenAIServer, args: list[str], message: str
) -> None:
    with pytest.raises(CommandError, match=re.escape(message)):
        run("--contestants", "a,b,c", *args)
    assert Tournament.objects.count() == 0
    assert not Contestant.objects.exists() and not Judge.objects.exists()  # no row changed
    assert endpoint.requests == []


def test_an_option_is_refused_with_the_message_the_web_form_shows(
    endpoint: FakeOpenAIServer, admin_client, prompt_set
) -> None:
    for name in ("a", "b"):  # the refused run leaves no row of its own
        Contestant.objects.create(name=name, backend="openai", base_url=endpoint.base_url)
    with pytest.raises(CommandError) as error:
        run(
            "--contestants", "a,b", "--prompts", prompt_set.name,
            "--format", "swiss", "--option", "seeding=alphabetical",
        )  # fmt: skip
    page = admin_client.post(
        "/tournaments/new/",
        {
            "name": "t",
            "format": "swiss",
            "contestants": list(Contestant.objects.values_list("pk", flat=True)),
            "prompt_set": prompt_set.pk,
            "seed": 0,
            "options": json.dumps({"seeding": "alphabetical"}),
        },
    )
    shown = " ".join(page.context["form"].errors["options"])
    assert str(error.value) in shown


def test_the_budget_counts_judge_calls_so_both_orders_plays_half_the_matches(
    endpoint: FakeOpenAIServer,
) -> None:
    prices = ("--price-in", "1000000", "--price-out", "1000000")  # $1 a token: visible spend
    text = run("--contestants", "small,large,huge", "--both-orders", "--budget", "5", *prices)
    assert judge_calls(endpoint) == 4  # two matches, each judged in both orders
    assert Match.objects.filter(status=MatchStatus.COMPLETED).count() == 2
    assert "completed: 2 / 2 matches" in text
    spent = Spend.objects.get()
    assert spent.judged_usd > 0 and f"Spent ${spent.judged_usd + spent.answers_usd:.4f}" in text


def test_an_adaptive_budget_is_played_past_the_formats_default_cap(
    endpoint: FakeOpenAIServer, monkeypatch
) -> None:
    monkeypatch.setattr(adaptive, "MATCHES_PER_CONTESTANT", 2)  # a default cap of 4 matches
    run("--contestants", "small,large", "--format", "adaptive", "--both-orders", "--budget", "12")
    tournament = Tournament.objects.get()
    assert tournament.config["max_matches"] == 6
    assert tournament.matches.count() == 6 and judge_calls(endpoint) == 12


def test_an_anchor_run_then_a_bracket_seeded_from_its_ratings(endpoint: FakeOpenAIServer) -> None:
    models = "small,large,huge"
    run("--contestants", models, "--format", "anchor", "--option", "anchor=small", "--rounds", "1")
    anchored = Tournament.objects.get()
    assert anchored.status == TournamentStatus.COMPLETED and anchored.matches.count() == 2
    assert all(m.entries.filter(contestant__name="small").exists() for m in anchored.matches.all())
    run("--contestants", models, "--format", "single_elimination", "--option", "seeding=rating")
    bracket = Tournament.objects.exclude(pk=anchored.pk).get()
    assert bracket.status == TournamentStatus.COMPLETED and bracket.config["seeding"] == "rating"
    # Seeded from the global leaderboard after the anchor run: seed 1 (the best rating, the
    # lower id among equals) has the bye of a bracket of three.
    prior = bracket.manifest["prior_ratings"]
    best = int(min(prior, key=lambda c: (-prior[c], int(c))))
    first_round = bracket.matches.get(round=0)
    assert len(prior) == 3 and not first_round.entries.filter(contestant_id=best).exists()


def listwise_in_its_own_words(request: dict) -> str:
    if request["model"] != JUDGE:
        return f"An answer from {request['model']}."
    return 'Ranking: [[A]] > [[C]] > [[B]] > [[D]]\n\n{"ranking": ["A", "C", "B", "D"]}'


def test_a_kwise_tournament_reads_a_listwise_verdict_in_a_form_the_template_did_not_ask_for(
    endpoint: FakeOpenAIServer,
) -> None:
    endpoint.responder = listwise_in_its_own_words
    text = run("--contestants", "w,x,y,z", "--format", "kwise", "--option", "k=4", "--rounds", "2")
    tournament = Tournament.objects.get()
    assert tournament.status == TournamentStatus.COMPLETED
    assert Judgment.objects.filter(match__tournament=tournament).count() == 2
    assert all(len(j.ranking) == 4 for j in Judgment.objects.all())
    assert judge_calls(endpoint) == 2  # read at once: no repair prompt
    assert "completed: 2 / 2 matches" in text


def judge_refuses(request: dict) -> str | Scripted:
    if request["model"] != JUDGE:
        return "an answer"
    return Scripted(status=400, body=error_body("this judge is out of order"))


def test_when_every_judge_call_fails_the_command_fails_and_says_why(
    endpoint: FakeOpenAIServer,
) -> None:
    endpoint.responder = judge_refuses
    with pytest.raises(CommandError, match="2 of 2 matches failed|is failed") as error:
        run("--contestants", "small,large", "--rounds", "2")
    text = "\n".join(error.value.__notes__)
    assert re.search(r"2 / 2 matches, 2 failed", text)
    assert re.search(r"small\s+-\s+-\s+0\s+2\n", text)
    assert "no verdicts" in text and "this judge is out of order" in text


def test_a_run_the_money_budget_pauses_stops_the_command_with_the_reason(
    endpoint: FakeOpenAIServer,
) -> None:
    dear = ("--price-in", "1000000", "--price-out", "1000000", "--budget-usd", "1")
    with pytest.raises(CommandError, match="is paused: Paused before exceeding the money budget"):
        run("--contestants", "small,large,huge", "--rounds", "3", *dear)
    assert Tournament.objects.get().status == TournamentStatus.PAUSED

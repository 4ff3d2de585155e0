from __future__ import annotations

import pytest
from django.test import Client

from arena.models import Judge
from arena.services.advance import tournament_advance
from arena.services.battles import battle_next
from arena.services.matches import match_play
from arena.services.tournaments import tournament_create, tournament_start
from arena.services.voting import vote_record

pytestmark = pytest.mark.django_db


@pytest.fixture
def verdicts(contestants, prompt_set, judge):
    people = contestants(3)
    names = [c.name for c in people]
    judged = tournament_start(
        tournament=tournament_create(
            name="judged",
            format="round_robin",
            contestants=names,
            prompt_set="tiny",
            judge="sim-judge",
            config={"rounds": 1},
            seed=1,
        )
    )
    tournament_advance(tournament_id=judged.pk)
    for m in judged.matches.all():
        match_play(match_id=m.pk)
    human = tournament_start(
        tournament=tournament_create(
            name="human",
            format="round_robin",
            contestants=names[:2],
            prompt_set="tiny",
            judge=None,
            config={"rounds": 1},
            seed=1,
        )
    )
    tournament_advance(tournament_id=human.pk)
    # The people vote on the prompt the judge saw (a tournament judged by people plans
    # with its seed keyed by the server's secret, so the same seed does not give it).
    human.matches.update(prompt=judged.matches.first().prompt)
    match_play(match_id=human.matches.get().pk)
    battle = battle_next(tournament=human, session_key="s")
    vote_record(public_id=battle.public_id, outcome="tie", idempotency_key="k", session_key="s")
    return judged, human


def test_the_global_leaderboard_counts_every_verdict_and_filters_by_source(verdicts) -> None:
    client = Client()
    everything = client.get("/leaderboard/data.json").json()["rows"]
    assert sum(r["matches"] for r in everything) == 2 * 3 + 2
    humans = client.get("/leaderboard/data.json", {"source": "humans"}).json()["rows"]
    assert sorted((r["contestant"], r["matches"], r["ties"]) for r in humans) == [
        ("sim-0", 1, 1),
        ("sim-1", 1, 1),
    ]
    judge = Judge.objects.get()
    judged = client.get("/leaderboard/data.json", {"source": f"judge:{judge.pk}"}).json()["rows"]
    assert sum(r["matches"] for r in judged) == 6 and all(r["sco"] is not None for r in judged)


def test_the_category_switch_keeps_only_verdicts_on_that_category(verdicts) -> None:
    judged, _ = verdicts
    category = judged.matches.first().prompt.category
    rows = Client().get("/leaderboard/data.json", {"category": category}).json()["rows"]
    assert sum(r["matches"] for r in rows) == 2 * 3 + 2
    assert Client().get("/leaderboard/data.json", {"category": "nothing"}).json()["rows"] == []


def test_the_page_renders_its_switches_and_refuses_an_unknown_source(verdicts) -> None:
    page = Client().get("/leaderboard/")
    assert page.status_code == 200
    assert b"Human votes" in page.content and b"Judge: sim-judge" in page.content
    assert b"sim-2" in page.content
    assert Client().get("/leaderboard/", {"source": "robots"}).status_code == 400
    assert Client().get("/leaderboard/data.json", {"source": "robots"}).status_code == 400


def test_style_control_refits_with_answer_features_and_reports_their_coefficients(verdicts) -> None:
    data = Client().get("/leaderboard/data.json", {"style": "on"}).json()
    assert data["style_control"] is True
    assert set(data["style_coefficients"]) == {"length", "headers", "lists", "bold"}
    plain = Client().get("/leaderboard/data.json").json()["rows"]
    assert sorted(r["contestant"] for r in data["rows"]) == sorted(r["contestant"] for r in plain)
    assert all(r["bt_low"] <= r["bt"] <= r["bt_high"] for r in data["rows"])
    assert [r["matches"] for r in data["rows"]] != [] and data["rows"] != plain
    page = Client().get("/leaderboard/", {"style": "on"}).content.decode()
    assert "Style control on" in page and "length (β" in page


def test_style_control_shows_no_soft_condorcet_and_says_why(verdicts) -> None:
    from arena.standings import SCO_STYLE_NOTE

    styled = Client().get("/leaderboard/data.json", {"style": "on"}).json()
    assert all(r["sco"] is None for r in styled["rows"]) and styled["sco_note"] == SCO_STYLE_NOTE
    plain = Client().get("/leaderboard/data.json").json()
    assert all(r["sco"] is not None for r in plain["rows"]) and plain["sco_note"] == ""
    page = Client().get("/leaderboard/", {"style": "on"}).content.decode()
    title = SCO_STYLE_NOTE[0].upper() + SCO_STYLE_NOTE[1:]
    assert f'<th title="{title}">Soft Condorcet</th>' in page
    assert f'<span id="sco-style-note">Soft Condorcet shows “–”, {SCO_STYLE_NOTE}.</span>' in page
    assert page.count(f'<td title="{title}">–</td>') == len(styled["rows"])


def test_the_judge_panel_compares_each_judge_with_humans_on_the_same_prompt_and_pair(
    verdicts,
) -> None:
    from arena.boards import judge_quality_panel

    judged, human = verdicts
    panel = {row["source"]: row for row in judge_quality_panel()}
    assert panel["humans"]["judgments"] == 1 and panel["humans"]["tie_rate"] == 1.0
    judge = panel["sim-judge"]
    assert judge["judgments"] == 3
    human_match = human.matches.get()
    same = [
        m
        for m in judged.matches.all()
        if m.prompt_id == human_match.prompt_id
        and {e.contestant.name for e in m.entries.all()} == {"sim-0", "sim-1"}
    ]
    assert judge["human_items"] == len(same) == 1  # the prompt the fixture gave the people
    judge_tied = len(same[0].judgment.ranking) == 1
    assert judge["human_accuracy"] == (1.0 if judge_tied else 0.0)  # the human said tie
    panel_html = Client().get("/leaderboard/judges/").content.decode()
    assert "Cohen" in panel_html and "<td>sim-judge</td>" in panel_html


def test_the_leaderboard_page_leaves_the_judges_panel_to_its_own_request(
    verdicts, monkeypatch
) -> None:
    from arena import views

    def unread() -> None:
        raise AssertionError("the page computed the judges' panel")

    monkeypatch.setattr(views, "judge_quality_panel", unread)
    page = Client().get("/leaderboard/").content.decode()
    assert 'data-src="/leaderboard/judges/"' in page and "<td>sim-0" in page

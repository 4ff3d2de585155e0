"""A bracket as people read it: rounds numbered from 1 and named, re-judges on their game's
card, the third-place match labelled, an anchor pass as its own stage, seeds, places and the
champion, and the bracket's places beside the leaderboard's ranks."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.test import Client

from arena.models import Judge, JudgeKind, Tournament
from arena.selectors import tournament_recent_results, tournament_rounds
from arena.services.tournaments import tournament_create, tournament_start

pytestmark = pytest.mark.django_db


@pytest.fixture
def bracket_of(contestants, prompt_set, judge, play_out):
    """A finished bracket of ``n`` simulated models seeded by id (sim-0 is seed 1)."""

    def make(n: int, *, judge: str = "sim-judge", **config: Any) -> Tournament:
        people = contestants(n)
        if config.get("seeding") == "anchor":
            config["anchor"] = people[-1].pk
        tournament = tournament_create(
            name="bracket",
            format="single_elimination",
            contestants=[c.name for c in people],
            prompt_set=prompt_set.name,
            judge=judge,
            config={"seeding": "rating", **config},
            seed=3,
        )
        return play_out(tournament_start(tournament=tournament))

    return make


@pytest.fixture
def tie_judge(db: None) -> Judge:
    """A simulated judge that calls nearly every pair a tie (so every game is re-judged
    and goes to the higher seed)."""
    return Judge.objects.create(
        name="tie-judge", kind=JudgeKind.SIMULATED, settings={"tie_strength": 1e6}
    )


def test_a_rejudged_tie_is_a_second_judgment_on_its_games_card(bracket_of, tie_judge) -> None:
    t = bracket_of(4, judge="tie-judge", third_place=True)
    rounds = tournament_rounds(t).rounds
    assert [r["title"] for r in rounds] == ["Round 1 · Semi-finals", "Round 2 · Final"]
    semis = rounds[0]["matches"]
    assert len(semis) == 2 and t.matches.filter(round=0).count() == 4
    for card in semis:
        first, again = card["judgments"]
        assert (first["note"], first["outcome"]) == ("", "tie: re-judged")
        assert again["note"] == "re-judged, answers swapped"
        assert again["outcome"] == "tie: the higher seed goes through"
    page = Client().get(f"/tournaments/{t.pk}/rounds/").content.decode()
    assert page.count('class="match-card') == 4
    assert "re-judged, answers swapped:" in page and "tie: re-judged" in page


def test_the_third_place_match_is_labelled_and_the_champion_and_places_are_shown(
    bracket_of, tie_judge
) -> None:
    t = bracket_of(4, judge="tie-judge", third_place=True)
    final_round = tournament_rounds(t).rounds[1]["matches"]
    assert [card["label"] for card in final_round] == ["", "Third-place match"]
    bracket = tournament_rounds(t).bracket
    assert bracket is not None
    assert bracket.champion == {"name": "sim-0", "seed": 1}
    assert bracket.places == {"sim-0": "1st", "sim-1": "2nd", "sim-2": "3rd", "sim-3": "4th"}
    seeds = [{e["name"]: e["seed"] for e in card["entrants"]} for card in final_round]
    assert seeds == [{"sim-0": 1, "sim-1": 2}, {"sim-2": 3, "sim-3": 4}]
    page = Client().get(f"/tournaments/{t.pk}/").content.decode()
    assert re.search(r'id="champion">Champion: <strong>sim-0</strong>', page)
    assert '<div class="card-label">Third-place match</div>' in page
    assert '<span class="seed" title="seed 3">3</span>sim-2' in page


def test_without_a_third_place_match_the_semi_final_losers_share_third(bracket_of) -> None:
    t = bracket_of(4, tie_rule="higher_seed")
    bracket = tournament_rounds(t).bracket
    assert bracket is not None
    shared = [p for p in bracket.standings if p["place"] == "3rd–4th"]
    assert len(shared) == 1 and len(shared[0]["models"]) == 2


def test_a_bye_is_shown_at_its_place_in_the_first_round_as_its_seed_going_through(
    bracket_of,
) -> None:
    t = bracket_of(3, tie_rule="higher_seed")
    first = tournament_rounds(t).rounds[0]["matches"]
    assert [card["status"] for card in first] == ["bye", "completed"]
    assert first[0]["entrants"] == [{"name": "sim-0", "seed": 1, "winner": True}]
    assert first[0]["judgments"][0]["outcome"] == "through unplayed"


def test_the_leaderboard_shows_bracket_places_and_says_where_rank_comes_from(
    bracket_of, tie_judge
) -> None:
    t = bracket_of(4, judge="tie-judge", third_place=True)
    response = Client().get(f"/tournaments/{t.pk}/")
    places = {r["contestant"]: r["place"] for r in response.context["rows"]}
    assert places == {"sim-0": "1st", "sim-1": "2nd", "sim-2": "3rd", "sim-3": "4th"}
    page = response.content.decode()
    assert "<th" in page and ">Bracket place</th>" in page
    assert 'id="rank-note">Rank and order come from the Bradley-Terry' in page
    assert re.search(r'<tr data-model="sim-2">.*?<td class="place">3rd</td>', page, re.S)
    assert json.loads(_script(page, "bracket-places"))["sim-3"] == "4th"


def test_rounds_count_from_one_in_the_bracket_and_the_latest_matches(bracket_of, tie_judge) -> None:
    t = bracket_of(4, judge="tie-judge", third_place=True)
    labels = {r["label"] for r in tournament_recent_results(t)}
    assert labels == {
        "Round 1 · Semi-finals",
        "Round 1 · Semi-finals · re-judged",
        "Round 2 · Final",
        "Round 2 · Final · re-judged",
        "Round 2 · Third-place match",
        "Round 2 · Third-place match · re-judged",
    }
    page = Client().get(f"/tournaments/{t.pk}/").content.decode()
    assert "round 0" not in page.lower()
    # live.js labels a match.finished event from these, as the server labels the list.
    live = json.loads(_script(page, "round-labels"))
    assert live["1"] == {
        "stage": "bracket",
        "label": "Round 2 · Final",
        "third_label": "Round 2 · Third-place match",
        "width": 2,
        "third": 1,
        "stride": 0,  # one bracket: no bracket number in a slot
    }


def test_an_anchor_pass_is_its_own_stage_before_round_1(bracket_of) -> None:
    t = bracket_of(4, seeding="anchor", tie_rule="higher_seed")
    rounds = tournament_rounds(t).rounds
    assert [r["title"] for r in rounds] == [
        "Anchor pass (seeding)",
        "Round 1 · Semi-finals",
        "Round 2 · Final",
    ]
    assert len(rounds[0]["matches"]) == 3
    assert {r["label"] for r in tournament_recent_results(t)} >= {"Anchor pass", "Round 2 · Final"}
    bracket = tournament_rounds(t).bracket
    assert bracket is not None
    assert bracket.seeding_note == (
        "Seeds from the anchor pass: each model's score against the anchor, sim-3."
    )
    page = Client().get(f"/tournaments/{t.pk}/").content.decode()
    assert "<h3>Anchor pass (seeding)</h3>" in page and "(the anchor pass's too)" in page


def test_a_running_bracket_judged_by_people_shows_no_seed_list_or_seeds_of_hidden_entrants(
    human_tournament_of,
) -> None:
    t = human_tournament_of(4, format="single_elimination", config={"seeding": "rating"})
    rounds = tournament_rounds(t)
    assert rounds.bracket is not None and rounds.bracket.seeds == []
    entrants = [e for card in rounds.rounds[0]["matches"] for e in card["entrants"]]
    assert entrants and all(e == {"name": "hidden until voted", "seed": None, "winner": False}
                            for e in entrants)  # fmt: skip
    page = Client().get(f"/tournaments/{t.pk}/").content.decode()
    assert "Seeds:" not in page and 'class="seed"' not in page


def test_other_formats_number_their_rounds_from_one(human_tournament_of) -> None:
    groups = human_tournament_of(4, format="kwise", config={"k": 2, "rounds": 2}, seed=2)
    assert [r["title"] for r in tournament_rounds(groups).rounds] == ["Round 1", "Round 2"]
    assert tournament_rounds(groups).bracket is None


def _script(page: str, element_id: str) -> str:
    found = re.search(rf'<script id="{element_id}" type="application/json">(.*?)</script>', page)
    assert found, element_id
    return found.group(1)


def test_a_rejudge_waiting_for_a_vote_hides_its_whole_card(human_tournament_of) -> None:
    from arena.services.advance import tournament_advance
    from arena.services.battles import battle_next
    from arena.services.matches import match_play
    from arena.services.voting import vote_record

    t = human_tournament_of(2, format="single_elimination", config={"seeding": "rating"})
    battle = battle_next(tournament=t, session_key="s1")
    assert battle is not None
    vote_record(public_id=battle.public_id, outcome="tie", idempotency_key="k", session_key="s1")
    tournament_advance(tournament_id=t.pk)
    for match in t.matches.filter(status="pending"):
        match_play(match_id=match.pk)
    assert t.matches.filter(status="awaiting_vote").count() == 1  # the re-judge
    (card,) = tournament_rounds(t).rounds[0]["matches"]
    assert {e["name"] for e in card["entrants"]} == {"hidden until voted"}
    assert [j["ranking"] for j in card["judgments"]] == [[], []]

"""Per-prompt brackets as people read them: one bracket per prompt, a selector between them,
each bracket's champion, the brackets each model won beside the ratings, and every bracket's
matches in the leaderboard."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from arena.models import Tournament, TournamentStatus
from arena.selectors import tournament_recent_results, tournament_rounds
from arena.services.tournaments import tournament_create, tournament_start

pytestmark = pytest.mark.django_db


@pytest.fixture
def per_prompt(contestants, prompt_set, judge, play_out) -> Tournament:
    """Four simulated models, three prompts: three brackets of three games and a third-place
    match each, seeded by id (no leaderboard yet: sim-0 is seed 1)."""
    people = contestants(4)
    tournament = tournament_create(
        name="per-prompt",
        format="single_elimination",
        contestants=[c.name for c in people],
        prompt_set=prompt_set.name,
        judge="sim-judge",
        config={"seeding": "rating", "brackets": "per_prompt", "third_place": True},
        seed=3,
    )
    return play_out(tournament_start(tournament=tournament))


def test_every_prompt_has_its_own_bracket_played_on_it(per_prompt: Tournament) -> None:
    assert per_prompt.status == TournamentStatus.COMPLETED
    assert per_prompt.matches.count() >= 3 * 4
    prompts = list(per_prompt.prompt_set.prompts.order_by("id"))
    for index, prompt in enumerate(prompts):
        rounds = tournament_rounds(per_prompt, bracket=index)
        cards = [card for r in rounds.rounds for card in r["matches"]]
        assert len(cards) == 4  # two semi-finals, the final and the third-place match
        slots = [(r["round"], card["slot"]) for r in rounds.rounds for card in r["matches"]]
        matches = [per_prompt.matches.get(round=r, slot=s) for r, s in slots]
        assert {m.prompt_id for m in matches} == {prompt.pk}
        assert rounds.bracket is not None and rounds.bracket.index == index


def test_the_leaderboard_counts_every_brackets_matches_and_the_brackets_each_model_won(
    per_prompt: Tournament,
) -> None:
    bracket = tournament_rounds(per_prompt).bracket
    assert bracket is not None and bracket.count == 3
    champions = [choice["champion"] for choice in bracket.choices]
    assert all(champions)
    won = {name: champions.count(name) for name in bracket.names.values()}
    assert bracket.places == {name: f"{k} of 3" for name, k in won.items()}
    page = Client().get(f"/tournaments/{per_prompt.pk}/").content.decode()
    assert "Brackets won" in page and "Bracket place" not in page
    rows = re.findall(r'<tr data-model="([^"]+)"><td>\d+</td>.*?<td class="place">([^<]*)</td>',
                      page, re.S)  # fmt: skip
    assert dict(rows) == bracket.places
    completed = per_prompt.matches.filter(status="completed").count()
    body = Client().get(f"/api/tournaments/{per_prompt.pk}/leaderboard").json()
    assert sum(r["matches"] for r in body) == 2 * completed


def test_the_selector_shows_the_chosen_prompts_bracket_and_its_champion(
    per_prompt: Tournament,
) -> None:
    bracket = tournament_rounds(per_prompt, bracket=2).bracket
    assert bracket is not None
    page = Client().get(f"/tournaments/{per_prompt.pk}/?bracket=2").content.decode()
    picker = re.search(r'<select name="bracket" id="bracket-choice">(.*?)</select>', page, re.S)
    assert picker is not None
    options = re.findall(r'<option value="(\d)"( selected)?>([^<]*)</option>', picker.group(1))
    assert [(v, bool(s)) for v, s, _ in options] == [("0", False), ("1", False), ("2", True)]
    assert options[2][2].startswith("Prompt 3: What is 17 * 23?")
    champion = bracket.choices[2]["champion"]
    assert f"This prompt's champion: <strong>{champion}</strong>" in page
    fragment = Client().get(f"/tournaments/{per_prompt.pk}/rounds/?bracket=2").content.decode()
    assert fragment.count('class="match-card') == 4
    assert f'data-src="/tournaments/{per_prompt.pk}/rounds/?bracket=2"' in fragment


def test_an_unknown_bracket_shows_the_first(per_prompt: Tournament) -> None:
    rounds = tournament_rounds(per_prompt, bracket=99)
    assert rounds.bracket is not None and rounds.bracket.index == 0


def test_latest_matches_name_their_prompts_bracket(per_prompt: Tournament) -> None:
    labels = {r["label"] for r in tournament_recent_results(per_prompt, limit=100)}
    assert "Prompt 3 · Round 2 · Final" in labels
    assert "Prompt 1 · Round 1 · Semi-finals" in labels
    assert "Prompt 2 · Round 2 · Third-place match" in labels


def test_a_per_prompt_bracket_after_a_two_round_anchor_pass_reads_and_labels_the_pass(
    contestants, prompt_set, judge, play_out
) -> None:
    people = contestants(4)
    tournament = tournament_create(
        name="anchored",
        format="single_elimination",
        contestants=[c.name for c in people],
        prompt_set=prompt_set.name,
        judge="sim-judge",
        config={
            "seeding": "anchor", "anchor": people[-1].pk, "anchor_rounds": 2,
            "brackets": "per_prompt",
        },
        seed=3,
    )  # fmt: skip
    played = play_out(tournament_start(tournament=tournament))
    page = Client().get(f"/tournaments/{played.pk}/")
    assert page.status_code == 200
    labels = {r["label"] for r in tournament_recent_results(played, limit=100)}
    assert {"Anchor pass 1", "Anchor pass 2"} <= labels
    assert "Prompt 3 · Round 2 · Final" in labels


def test_people_cannot_judge_per_prompt_brackets(contestants, prompt_set) -> None:
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as refused:
        tournament_create(
            name="blind",
            format="single_elimination",
            contestants=[c.name for c in contestants(4)],
            prompt_set=prompt_set.name,
            judge=None,
            config={"brackets": "per_prompt"},
        )
    assert "would unblind" in refused.value.message_dict["brackets"][0]


def test_prompts_added_after_the_start_make_no_new_brackets(per_prompt: Tournament) -> None:
    from arena.models import Prompt

    Prompt.objects.create(prompt_set=per_prompt.prompt_set, external_id="late", text="Late?")
    bracket = tournament_rounds(per_prompt).bracket
    assert bracket is not None and bracket.count == 3
    assert all(choice["champion"] for choice in bracket.choices)

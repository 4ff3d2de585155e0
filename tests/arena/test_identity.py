from __future__ import annotations

import pytest

from arena.identity import identity_words_in
from arena.models import MatchStatus, Response
from arena.services.matches import match_play
from arena.services.tournaments import tournament_advance, tournament_create, tournament_start


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("As ChatGPT, I cannot browse.", ["chatgpt"]),
        ("I was trained by OpenAI and Anthropic.", ["openai", "anthropic"]),
        ("I am Vicuna, made by LMSYS.", ["vicuna", "lmsys"]),
        ("Llamas live in the Andes; a metadata field; the palm of a hand.", []),
        ("Use GPT-4o or gpt-4 wisely", ["gpt-4", "gpt-4o"]),
    ],
)
def test_identity_words_are_found_as_whole_words_only(text: str, found: list[str]) -> None:
    assert sorted(identity_words_in(text)) == sorted(found)


def test_a_contestants_own_name_counts_as_an_identity_word() -> None:
    assert identity_words_in("Hi, I'm sim-3 and happy to help", extra=["sim-3"]) == ["sim-3"]
    assert identity_words_in("sim-30 is another model", extra=["sim-3"]) == []


@pytest.mark.django_db
def test_a_battle_whose_answer_names_a_model_is_kept_out_of_blind_voting(
    contestants, prompt_set
) -> None:
    people = contestants(2)
    t = tournament_start(
        tournament=tournament_create(
            name="h",
            format="round_robin",
            contestants=[c.name for c in people],
            prompt_set="tiny",
            judge=None,
            config={"rounds": 1},
            seed=1,
        )
    )
    tournament_advance(tournament_id=t.pk)
    match = t.matches.get()
    for entry in match.entries.all():
        Response.objects.create(
            contestant=entry.contestant,
            prompt=match.prompt,
            settings_hash=entry.contestant.settings_hash,
            text="As an assistant built by OpenAI, here is my answer." if entry.position else "ok",
        )
    assert match_play(match_id=match.pk) == "failed"
    match.refresh_from_db()
    assert match.status == MatchStatus.FAILED and "openai" in match.error

from __future__ import annotations

import pytest

from arena.identity import (
    contestant_identity,
    identity_terms,
    identity_words_in,
    provider_terms,
    self_introductions,
)
from arena.models import Match, MatchStatus, Response
from arena.services.advance import tournament_advance
from arena.services.matches import match_play
from arena.services.tournaments import tournament_create, tournament_start


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("As ChatGPT, I cannot browse.", ["chatgpt"]),
        (
            "I was trained by OpenAI and Anthropic.",
            ["openai", "anthropic", "OpenAI (introducing itself)"],
        ),
        ("Vicuna, made by LMSYS, is a chatbot.", ["vicuna", "lmsys"]),
        ("Llamas live in the Andes; a metadata field; the palm of a hand.", []),
        ("Use GPT-4o or gpt-4 wisely", ["gpt-4", "gpt-4o"]),
    ],
)
def test_identity_words_are_found_as_whole_words_only(text: str, found: list[str]) -> None:
    assert sorted(identity_words_in(text)) == sorted(found)


def test_a_contestants_own_name_counts_as_an_identity_word() -> None:
    assert identity_words_in("Hi, I'm sim-3 and happy to help", extra=["sim-3"]) == ["sim-3"]
    assert identity_words_in("sim-30 is another model", extra=["sim-3"]) == []


def test_a_contestants_terms_are_its_name_model_id_its_parts_and_its_family() -> None:
    terms = identity_terms(name="zeph", model_id="acme-labs/Zephyrine-7B-Instruct")
    whole, part = "acme-labs/zephyrine-7b-instruct", "zephyrine-7b-instruct"
    assert terms == ("zeph", whole, "acme-labs", part, "zephyrine")
    # Short, numeric and everyday parts name no one.
    terms = identity_terms(name="sim-0", model_id="ollama:phi-3:latest")
    assert terms == ("sim-0", "ollama:phi-3:latest", "ollama", "phi-3")


def test_a_provider_is_the_host_name_of_its_base_url_but_an_address_names_none() -> None:
    assert provider_terms("https://api.acmecloud.dev/v1") == ("acmecloud",)
    assert provider_terms("https://inference.zephyr-hosting.co.uk/v1") == ("zephyr-hosting",)
    assert provider_terms("http://127.0.0.1:8000/v1") == ()
    assert provider_terms("") == ()


def test_a_provider_with_an_everyday_name_is_found_only_as_a_maker() -> None:
    makers = provider_terms("https://api.together.xyz/v1")
    assert identity_words_in("Let us work through it together.", makers=makers) == []
    assert identity_words_in("I'm a model from Together.", makers=makers) == ["together"]
    assert identity_words_in("Together AI built me.", makers=makers) == ["together"]


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("I am Zephyrine, an AI assistant.", ["Zephyrine"]),
        ("My name is Orion, your AI helper.", ["Orion"]),
        ("I'm Ada, a helpful assistant.", ["Ada"]),
        ("I was trained by Acme Labs to answer questions.", ["Acme Labs"]),
        ("I am a large language model developed by the Nimbus Institute.", ["Nimbus Institute"]),
        ("I am happy to help. Here is the code:", []),
        ("I am sorry, but as an AI assistant I cannot browse.", []),
        ("BERT is a language model developed by Google.", []),  # not the answer itself
        ("My name is Tom, said the captain to his crew.", []),
    ],
)
def test_an_answer_introducing_itself_as_an_ai_names_itself_whatever_the_name(
    text: str, names: list[str]
) -> None:
    assert self_introductions(text) == names


def played_with_answers(people: list, said: dict[int, str]) -> Match:
    """The one battle of a human-judged round robin of two, its answers (by contestant id)
    stored before it is played; returned played."""
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
            text=said[entry.contestant_id],
        )
    match_play(match_id=match.pk)
    match.refresh_from_db()
    return match


@pytest.mark.django_db
def test_a_battle_whose_answer_gives_its_family_or_introduces_itself_is_kept_out(
    contestants, prompt_set
) -> None:
    """Neither ``zephyrine`` nor ``Nimbus`` is on the word list."""
    people = contestants(2)
    people[0].model_id = "acme-labs/Zephyrine-7B-Instruct"
    people[0].save()
    match = played_with_answers(
        people,
        {
            people[0].pk: "Zephyrine here: recursion is a function calling itself.",
            people[1].pk: "Recursion means a function that calls itself.",
        },
    )
    assert match.status == MatchStatus.FAILED and "zephyrine" in match.error
    own = contestant_identity(name=people[1].name, model_id="", base_url="")
    named = identity_words_in("I was trained by Nimbus Labs. Recursion means…", **own)
    assert named == ["Nimbus Labs (introducing itself)"]


@pytest.mark.django_db
def test_a_battle_whose_answer_names_a_model_is_kept_out_of_blind_voting(
    contestants, prompt_set
) -> None:
    people = contestants(2)
    said = {people[0].pk: "ok", people[1].pk: "As an assistant built by OpenAI, here it is."}
    match = played_with_answers(people, said)
    assert match.status == MatchStatus.FAILED and "openai" in match.error

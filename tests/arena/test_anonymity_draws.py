"""A voter who knows everything public about a human-judged tournament (its format, config,
seed, contestants and prompts: the API and the manifest show them) cannot work out which
models a blind battle shows from the tournament's plan: its format plans with the seed
keyed by the server's secret (``Tournament.draw_seed``). Reusing answers across battles is
another channel, not closed here."""

from __future__ import annotations

from math import comb

import pytest

from arena.formats import FormatState, get_format
from arena.models import Tournament
from arena.services.battles import battle_next
from arena.services.voting import vote_record

pytestmark = pytest.mark.django_db

BATTLES = 20


def the_public_plan(tournament: Tournament) -> list[tuple[int, tuple[int, ...]]]:
    """(prompt index, contestant ids by side) of each planned match, from public data."""
    ids = tuple(sorted(tournament.contestants.values_list("pk", flat=True)))
    prompts = tournament.prompt_set.prompts.count()
    state = FormatState(ids, prompts, tournament.config, tournament.seed)
    step = get_format(tournament.format).next_step(state)
    return [(m.prompt_index, m.entrants) for m in step.matches]


def guesses_right(tournament: Tournament, plan: list[tuple[int, tuple[int, ...]]]) -> int:
    """Vote on BATTLES battles, each time guessing its models and sides as the first
    planned match on the prompt shown that the guesser has not used yet; the hits."""
    prompt_index = {
        text: i
        for i, text in enumerate(
            tournament.prompt_set.prompts.order_by("id").values_list("text", flat=True)
        )
    }
    unused, hits = list(plan), 0
    for n in range(BATTLES):
        battle = battle_next(tournament=tournament, session_key="guesser")
        assert battle is not None, f"no battle left after {n}"
        shown = prompt_index[battle.prompt]
        guess = next((e for p, e in unused if p == shown), ())
        if guess:
            unused.remove((shown, guess))
        reveal = vote_record(
            public_id=battle.public_id,
            outcome="tie",
            idempotency_key=f"k{n}",
            session_key="guesser",
        )
        names = dict(tournament.contestants.values_list("pk", "name"))
        hits += tuple(names.get(c) for c in guess) == tuple(reveal.models)
    return hits


def at_least(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p)."""
    return sum(comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k, n + 1))


def test_the_public_seed_names_a_blind_battles_models_no_better_than_chance(
    human_tournament_of,
) -> None:
    tournament = human_tournament_of(7, seed=0)  # 21 battles; seed 0, the default
    hits = guesses_right(tournament, the_public_plan(tournament))
    chance = 1 / (7 * 6)  # the models and their sides, guessed blind
    assert at_least(hits, BATTLES, chance) > 0.001, f"{hits} of {BATTLES} guessed right"


def test_a_tournament_judged_by_a_model_still_plans_with_its_public_seed(
    make_tournament,
) -> None:
    tournament = make_tournament(n=4)
    assert tournament.draw_seed == tournament.seed  # anyone can replay it

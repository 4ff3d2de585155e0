"""A voter who knows everything public about a human-judged tournament (its format, config,
seed, contestants and prompts: the API and the manifest show them) cannot work out which
models a blind battle shows: its format plans with the seed keyed by the server's secret
(``Tournament.draw_seed``), and battles are served in the order of their random public ids,
not in the plan's. (A voter is not shown an answer they have seen named while another battle
is left: tests/arena/test_services_battles.py.)"""

from __future__ import annotations

import pytest

from arena.formats import FormatState, get_format
from arena.models import Tournament
from arena.services.battles import battle_next
from arena.services.voting import vote_record

pytestmark = pytest.mark.django_db

BATTLES = 20
Plan = list[tuple[int, tuple[int, ...]]]
Shown = list[tuple[int, tuple[int, ...]]]


def plan_from(tournament: Tournament, seed: int) -> Plan:
    """(prompt index, contestant ids by side) of each match its format plans with ``seed``,
    worked out from public data only."""
    ids = tuple(sorted(tournament.contestants.values_list("pk", flat=True)))
    prompts = tournament.prompt_set.prompts.count()
    state = FormatState(ids, prompts, tournament.config, seed)
    return [
        (m.prompt_index, m.entrants) for m in get_format(tournament.format).next_step(state).matches
    ]


def vote_through(tournament: Tournament) -> Shown:
    """Vote on BATTLES battles as one voter; each battle's prompt index and true models by side."""
    prompt_index = {
        text: i
        for i, text in enumerate(
            tournament.prompt_set.prompts.order_by("id").values_list("text", flat=True)
        )
    }
    pk_of = {name: pk for pk, name in tournament.contestants.values_list("pk", "name")}
    shown: Shown = []
    for n in range(BATTLES):
        battle = battle_next(tournament=tournament, session_key="guesser")
        assert battle is not None, f"no battle left after {n}"
        reveal = vote_record(
            public_id=battle.public_id,
            outcome="tie",
            idempotency_key=f"k{n}",
            session_key="guesser",
        )
        shown.append((prompt_index[battle.prompt], tuple(pk_of[m] for m in reveal.models)))
    return shown


def hits(plan: Plan, shown: Shown) -> int:
    """Battles whose models and sides a guesser names right, guessing each as the first match
    of ``plan`` on the prompt shown that it has not used yet."""
    unused, right = list(plan), 0
    for prompt, truth in shown:
        guess = next((e for p, e in unused if p == prompt), ())
        if guess:
            unused.remove((prompt, guess))
        right += guess == truth
    return right


def test_the_public_seed_names_a_blind_battles_models_no_better_than_any_other_seed(
    human_tournament_of,
) -> None:
    """Chance is what the same guesser scores with plans from seeds the tournament did not
    use (the pairs and prompts alone already narrow a round robin's battles down)."""
    tournament = human_tournament_of(7, seed=0)  # 21 battles; seed 0, the default
    shown = vote_through(tournament)
    public = hits(plan_from(tournament, tournament.seed), shown)
    chance = [hits(plan_from(tournament, seed), shown) for seed in range(1_000, 1_200)]
    as_lucky = sum(h >= public for h in chance) / len(chance)
    assert as_lucky > 0.01, f"{public} of {BATTLES} guessed right; other seeds: {sorted(chance)}"


def chance_tail(right: int, chances: list[float]) -> float:
    """P(X ≥ right) for X the right guesses of a guesser who knows nothing: a sum of
    independent Bernoulli(p) (Poisson-binomial), exactly."""
    dist = [1.0]
    for p in chances:
        dist = [a * (1 - p) + b * p for a, b in zip([*dist, 0.0], [0.0, *dist], strict=True)]
    return sum(dist[right:])


def in_plan_order(plan: Plan, shown: Shown) -> int:
    """Battles a guesser names right taking each as the first match of ``plan`` whose pair
    it has not seen revealed yet (the serving order of planned slots)."""
    seen: set[frozenset[int]] = set()
    right = 0
    for _, truth in shown:
        guess = next((e for _, e in plan if frozenset(e) not in seen), ())
        right += guess == truth
        seen.add(frozenset(truth))
    return right


def test_a_voter_with_everything_public_names_the_models_of_20_battles_no_better_than_chance(
    human_tournament_of,
) -> None:
    """A round robin of 12 (66 battles, one voter): with nothing to go on, the k-th guess is
    right with chance 1 / (2 × the pairs not yet revealed), under 1/94 for each of the 20.
    Each guesser (by the prompt shown, by the plan's order) must stay within what such luck
    gives with probability 1e-4; served in the order of their slots, the battles were named
    by the order guesser 5 times in 20 (a chance of 8e-7)."""
    tournament = human_tournament_of(12, seed=0)
    shown = vote_through(tournament)
    plan = plan_from(tournament, tournament.seed)
    chances = [1 / (2 * (66 - k)) for k in range(BATTLES)]
    for guesser in (hits, in_plan_order):
        right = guesser(plan, shown)
        assert chance_tail(right, chances) > 1e-4, f"{guesser.__name__}: {right} of {BATTLES}"


def test_chance_tail_is_the_binomial_tail_when_every_chance_is_the_same() -> None:
    from math import comb

    p = 0.1
    binomial = sum(comb(20, k) * p**k * (1 - p) ** (20 - k) for k in range(3, 21))
    assert chance_tail(3, [p] * 20) == pytest.approx(binomial, rel=1e-12)
    assert chance_tail(0, [p] * 20) == pytest.approx(1.0)


def test_a_tournament_judged_by_a_model_still_plans_with_its_public_seed(make_tournament) -> None:
    tournament = make_tournament(n=4)
    assert tournament.draw_seed == tournament.seed  # anyone can replay it

"""Every strategy's calls name their prompts from the one sequence all strategies on a truth
share (issue 20): fresh prompts for uniform and adaptive pairs, the next prompts for each
tournament of a format, one per bracket for per-prompt brackets."""

from __future__ import annotations

import numpy as np

from simulator.strategies import PER_PROMPT_BRACKETS, STRATEGIES, Strategy


def _strategy(name: str, n: int = 8) -> Strategy:
    return STRATEGIES[name].build(n, 0, np.random.default_rng(0), 8)


def _first_wins(strategy: Strategy, rows: np.ndarray) -> None:
    strategy.observe(rows, rows, np.zeros((len(rows), rows.shape[1] - 1), dtype=bool))


def test_uniform_pairs_put_every_call_on_a_fresh_prompt() -> None:
    uniform = _strategy("uniform_bt")
    first = uniform.propose()
    assert uniform.prompts().tolist() == list(range(len(first)))
    second = uniform.propose()
    assert uniform.prompts().tolist() == list(range(len(first), len(first) + len(second)))


def test_both_orders_of_a_pair_answer_one_prompt() -> None:
    both = _strategy("both_orders_bt")
    rows = both.propose()
    prompts = both.prompts()
    assert len(prompts) == len(rows)
    assert np.array_equal(prompts[0::2], prompts[1::2])
    assert np.array_equal(prompts[0::2], np.arange(len(rows) // 2))


def test_each_round_robin_tournament_plays_on_the_next_prompt() -> None:
    round_robin = _strategy("round_robin_bt", n=4)
    seen = []
    for _ in range(3):
        rows = round_robin.propose()
        seen.append(sorted(set(round_robin.prompts().tolist())))
        _first_wins(round_robin, rows)
    assert seen == [[0], [1], [2]]


def test_per_prompt_brackets_play_each_bracket_on_its_own_prompt_and_move_on_to_new_ones() -> None:
    brackets = _strategy("per_prompt_brackets_bt", n=8)
    rows = brackets.propose()
    # round 1: four games in each bracket, every bracket on its own prompt
    assert sorted(brackets.prompts().tolist()) == sorted(list(range(PER_PROMPT_BRACKETS)) * 4)
    while set(brackets.prompts().tolist()) <= set(range(PER_PROMPT_BRACKETS)):
        _first_wins(brackets, rows)
        rows = brackets.propose()
    next_tournament = range(PER_PROMPT_BRACKETS, 2 * PER_PROMPT_BRACKETS)
    assert set(brackets.prompts().tolist()) == set(next_tournament)


def test_a_single_bracket_plays_each_round_on_its_next_prompt() -> None:
    bracket = _strategy("single_elimination_bt", n=8)
    rounds = []
    for _ in range(3):  # no ties: quarter-finals, semi-finals, final
        rows = bracket.propose()
        rounds.append(sorted(set(bracket.prompts().tolist())))
        _first_wins(bracket, rows)
    assert rounds == [[0], [1], [2]]
    bracket.propose()
    assert set(bracket.prompts().tolist()) == {3}


def test_the_anchor_format_plays_everyone_against_contestant_0_one_prompt_per_tournament() -> None:
    anchor = _strategy("anchor_bt", n=5)
    rows = anchor.propose()
    assert len(rows) == 4 and all(0 in row for row in rows.tolist())
    assert set(anchor.prompts().tolist()) == {0}
    _first_wins(anchor, rows)
    anchor.propose()
    assert set(anchor.prompts().tolist()) == {1}

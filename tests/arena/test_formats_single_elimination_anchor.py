"""Seeded single elimination with ArenaRL's anchor pass: seeds from one judgment each
against an anchor answer, then the bracket."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arena.formats import ConfigError, FormatState, MatchResult, PlannedMatch, Tiers, get_format

SE = get_format("single_elimination")
ANCHOR = 10
Judge = Callable[[PlannedMatch], Tiers | None]


def config(n: int = 8, **extra: Any) -> dict[str, Any]:
    raw = {"seeding": "anchor", "anchor": ANCHOR, **extra}
    ids = list(range(10, 10 + n))
    return SE.validate_config(raw, n_contestants=n, n_prompts=5, contestants=ids)


def state(
    n: int = 8,
    cfg: dict[str, Any] | None = None,
    seed: int = 1,
    planned: Any = (),
    results: Any = (),
) -> FormatState:
    ids = tuple(range(10, 10 + n))
    return FormatState(ids, 5, cfg or config(n), seed, tuple(planned), tuple(results))


def higher_id_wins(m: PlannedMatch) -> Tiers:
    return tuple((c,) for c in sorted(m.entrants, reverse=True))


def run(
    n: int = 8, cfg: dict[str, Any] | None = None, judge: Judge = higher_id_wins, seed: int = 1
) -> tuple[FormatState, list[list[PlannedMatch]]]:
    """A tiny engine; returns the final state and the matches of every step."""
    planned: list[PlannedMatch] = []
    results: list[MatchResult] = []
    steps: list[list[PlannedMatch]] = []
    for _ in range(300):
        s = state(n, cfg, seed, planned, results)
        step = SE.next_step(s)
        if step.finished:
            return s, steps
        assert step.matches
        steps.append(list(step.matches))
        for m in step.matches:
            planned.append(m)
            results.append(MatchResult(m.round, m.slot, m.entrants, judge(m)))
    raise AssertionError("never finished")


def test_the_first_step_is_the_anchor_pass_every_other_contestant_once_against_the_anchor() -> None:
    step = SE.next_step(state(6))
    assert [m.round for m in step.matches] == [0] * 5
    assert [m.slot for m in step.matches] == [0, 1, 2, 3, 4]
    assert all(ANCHOR in m.entrants and len(set(m.entrants)) == 2 for m in step.matches)
    others = sorted(c for m in step.matches for c in m.entrants if c != ANCHOR)
    assert others == [11, 12, 13, 14, 15]
    assert step.planned_total == 5 + 5  # the pass plus N - 1 bracket games


def test_no_bracket_match_is_planned_until_every_anchor_match_has_a_result() -> None:
    first = SE.next_step(state(6)).matches
    half = [MatchResult(m.round, m.slot, m.entrants, higher_id_wins(m)) for m in first[:3]]
    waiting = SE.next_step(state(6, planned=first, results=half))
    assert waiting.matches == () and not waiting.finished


def test_seeds_follow_the_results_against_the_anchor() -> None:
    # contestants above the anchor's id beat it, so 11..17 all win; ties decide the rest
    def judge(m: PlannedMatch) -> Tiers:
        other = next(c for c in m.entrants if c != ANCHOR)
        if m.round == 0 and other in (11, 12):
            return ((ANCHOR,), (other,))  # 11 and 12 lose to the anchor
        if m.round == 0 and other == 13:
            return ((ANCHOR, other),)  # 13 ties it
        return higher_id_wins(m)

    final, steps = run(8, judge=judge)
    seeds, settled = SE.seeds(final)
    assert settled
    winners, tie, losers = set(seeds[:4]), seeds[4:6], set(seeds[6:])
    assert winners == {14, 15, 16, 17}
    assert set(tie) == {ANCHOR, 13}  # the anchor scores 1/2, like a tie against itself
    assert losers == {11, 12}
    bracket = steps[1]
    assert {m.round for m in bracket} == {1}  # the bracket's rounds follow the pass
    top, bottom = seeds[0], seeds[-1]
    assert any(set(m.entrants) == {top, bottom} for m in bracket)  # 1 v 8


def test_equal_anchor_scores_are_ordered_by_the_seed_and_the_order_is_replayable() -> None:
    a, _ = run(8, seed=3)
    b, _ = run(8, seed=3)
    assert SE.seeds(a) == SE.seeds(b)
    orders = {tuple(SE.seeds(run(8, seed=s, judge=lambda m: (tuple(m.entrants),))[0])[0])
              for s in range(8)}  # fmt: skip
    assert len(orders) > 1  # every match tied: only the seed orders them


def test_a_failed_anchor_match_counts_as_a_half_and_the_bracket_still_runs() -> None:
    def judge(m: PlannedMatch) -> Tiers | None:
        if m.round == 0 and 17 in m.entrants:
            return None
        return higher_id_wins(m)

    final, _ = run(8, judge=judge)
    seeds, settled = SE.seeds(final)
    assert settled and sorted(seeds) == list(range(10, 18))
    assert seeds.index(17) > seeds.index(16)  # 16 beat the anchor, 17's match failed


def test_anchor_rounds_play_one_prompt_each_and_add_up() -> None:
    cfg = config(6, anchor_rounds=3)
    final, steps = run(6, cfg=cfg)
    assert [sorted({m.round for m in step}) for step in steps[:1]] == [[0, 1, 2]]
    assert {m.prompt_index for m in steps[0] if m.round == 2} == {2}
    assert sum(len(s) for s in steps) == 3 * 5 + 5
    assert SE.next_step(final).planned_total == 3 * 5 + 5


def test_the_anchors_side_alternates_between_anchor_rounds() -> None:
    first = SE.next_step(state(6, cfg=config(6, anchor_rounds=2))).matches
    for slot in range(5):
        r0, r1 = (next(m for m in first if (m.round, m.slot) == (r, slot)) for r in (0, 1))
        assert (r0.entrants[0] == ANCHOR) != (r1.entrants[0] == ANCHOR)


def test_a_resumed_tournament_asks_again_for_what_was_not_created() -> None:
    first = SE.next_step(state(6)).matches
    again = SE.next_step(state(6, planned=first[:2]))
    assert again.matches == first[2:]


def test_the_anchor_is_a_contestant_with_a_final_standing() -> None:
    final, _ = run(8)
    standings = SE.standings(final)
    assert sorted(c for tier in standings for c in tier) == list(range(10, 18))
    assert standings[0] == (17,)  # higher id wins everything


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"seeding": "anchor"}, "anchor"),
        ({"seeding": "anchor", "anchor": 99}, "anchor"),
        ({"seeding": "anchor", "anchor": "10"}, "anchor"),
        ({"seeding": "anchor", "anchor": 10, "anchor_rounds": 6}, "anchor_rounds"),
        ({"seeding": "random", "anchor": 10}, "anchor"),
        ({"anchor_rounds": 2}, "anchor_rounds"),
    ],
)
def test_bad_anchor_config_names_the_field(raw: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigError) as error:
        SE.validate_config(raw, n_contestants=8, n_prompts=5, contestants=list(range(10, 18)))
    assert error.value.field == field


def test_the_anchor_config_defaults_to_one_anchor_round() -> None:
    assert config(4)["anchor_rounds"] == 1


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(2, 33),
    seed=st.integers(0, 10_000),
    judge_seed=st.integers(0, 10_000),
    anchor_rounds=st.integers(1, 3),
)
def test_every_contestant_is_seeded_exactly_once_and_the_run_is_deterministic(
    n: int, seed: int, judge_seed: int, anchor_rounds: int
) -> None:
    cfg = config(n, anchor_rounds=anchor_rounds)

    def judge(m: PlannedMatch) -> Tiers | None:
        rng = random.Random(f"{judge_seed}:{m.round}:{m.slot}")
        roll = rng.random()
        if roll < 0.05:
            return None
        if roll < 0.3:
            return (tuple(m.entrants),)
        return tuple((c,) for c in rng.sample(list(m.entrants), 2))

    final, steps = run(n, cfg=cfg, judge=judge, seed=seed)
    seeds, settled = SE.seeds(final)
    assert settled
    assert sorted(seeds) == list(range(10, 10 + n))  # a permutation: each seeded once
    again, steps_again = run(n, cfg=cfg, judge=judge, seed=seed)
    assert steps_again == steps and SE.seeds(again) == (seeds, True)
    assert sorted(c for tier in SE.standings(final) for c in tier) == list(range(10, 10 + n))
    anchor_matches = [m for step in steps for m in step if m.round < anchor_rounds]
    assert len(anchor_matches) == anchor_rounds * (n - 1)

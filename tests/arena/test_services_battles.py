"""Battles for every voter at once: what a voter who asks is shown, whatever the others do,
and how the votes on a battle shown to several voters count."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from arena.models import (
    Assignment,
    Judgment,
    Match,
    MatchStatus,
    PairCell,
    Response,
    Standing,
    TournamentStatus,
    Vote,
)
from arena.services.advance import tournament_advance
from arena.services.battles import BATTLE_LEASE, battle_next
from arena.services.draws import draw_plan_key
from arena.services.matches import match_play
from arena.services.voting import VoteRefused, vote_record

pytestmark = pytest.mark.django_db


def ask(tournament, voter: str):
    return battle_next(tournament=tournament, session_key=voter)


def vote(battle, voter: str, outcome: str = "a", key: str = ""):
    return vote_record(
        public_id=battle.public_id,
        outcome=outcome,
        idempotency_key=key or f"{voter}-{battle.public_id}",
        session_key=voter,
    )


def test_voters_are_spread_over_the_free_battles_then_share_the_least_held(
    human_tournament_of,
) -> None:
    t = human_tournament_of(3)  # three battles
    first = [ask(t, f"v{i}").public_id for i in range(3)]
    assert len(set(first)) == 3
    assert ask(t, "v0").public_id == first[0]  # a reload: the same battle
    vote(ask(t, "v1"), "v1")
    fourth = ask(t, "v3")  # none free: one of the two still held by one voter
    assert fourth.public_id in {first[0], first[2]}


def test_a_second_voter_gets_a_battle_while_the_first_holds_the_only_one_and_walks_away(
    human_tournament_of,
) -> None:
    t = human_tournament_of(2)  # one battle
    held = ask(t, "walker")
    assert ask(t, "second") == held
    reveal = vote(held, "second", "b")
    match = t.matches.get()
    assert match.status == MatchStatus.COMPLETED and reveal.ranking[0] == (reveal.models[1],)


def test_every_vote_on_a_shared_battle_counts_and_the_first_is_its_judgment(
    human_tournament_of,
) -> None:
    t = human_tournament_of(2)
    battle = ask(t, "s1")
    assert ask(t, "s2") == battle
    vote(battle, "s2", "a")
    vote(battle, "s1", "b")
    match = t.matches.get()
    first, later = match.votes.order_by("created_at")
    assert Judgment.objects.get(match=match).ranking == first.ranking != later.ranking
    assert sum(Standing.objects.filter(tournament=t).values_list("matches", flat=True)) == 4
    cell = PairCell.objects.get(tournament=t)
    assert cell.a_wins + cell.b_wins + cell.ties == 2
    with pytest.raises(VoteRefused, match="already has your vote"):
        vote(battle, "s1", "a", key="again")


def test_a_battle_walked_away_from_is_forgotten_after_the_lease(human_tournament_of) -> None:
    t = human_tournament_of(3)  # three battles
    abandoned = ask(t, "walker")
    Assignment.objects.update(shown_at=Assignment.objects.get().shown_at - BATTLE_LEASE)
    assert ask(t, "next").public_id == abandoned.public_id  # free again, first in order
    assert ask(t, "walker").public_id != abandoned.public_id  # a fresh one for them


def test_a_request_without_a_session_is_shown_a_battle_and_assigned_none(
    human_tournament_of,
) -> None:
    t = human_tournament_of(2)
    assert ask(t, "") is not None and ask(t, "") is not None
    assert not Assignment.objects.exists()
    assert ask(t, "voter") is not None  # a voter still finds it free


def test_between_rounds_a_voter_is_given_a_voted_battle_and_the_vote_adds_evidence(
    human_tournament_of,
) -> None:
    t = human_tournament_of(2, config={"rounds": 2})  # one battle a round
    battle = ask(t, "s1")
    vote(battle, "s1")  # the round's last vote; the next round is not made yet
    assert ask(t, "s2") == battle
    vote(battle, "s2", "tie")
    assert Vote.objects.count() == 2 and Judgment.objects.count() == 1
    assert ask(t, "s3") == battle and ask(t, "s1") is None  # s1 has voted on it


def test_a_voted_battle_of_a_finished_tournament_takes_no_more_votes(human_tournament_of) -> None:
    t = human_tournament_of(2)
    battle = ask(t, "s1")
    assert ask(t, "s2") == battle
    vote(battle, "s1")
    tournament_advance(tournament_id=t.pk)
    t.refresh_from_db()
    assert t.status == TournamentStatus.COMPLETED
    with pytest.raises(VoteRefused, match="no longer takes votes"):
        vote(battle, "s2")
    assert Vote.objects.count() == 1


@pytest.fixture
def adaptive(human_tournament_of):
    """An adaptive arena of three, judged by people, drawing at most four matches."""

    def make(*, answers: bool):
        t = human_tournament_of(3, format="adaptive", config={"max_matches": 4, "batch": 2})
        cache.delete_many([draw_plan_key(t.pk), f"{draw_plan_key(t.pk)}:fresh"])
        if answers:
            for c in t.contestants.all():
                for p in t.prompt_set.prompts.all():
                    Response.objects.create(
                        contestant=c, prompt=p, settings_hash=c.settings_hash, text=f"{c.pk}/{p.pk}"
                    )
        return t

    return make


def test_an_adaptive_arena_draws_a_pair_when_a_voter_asks_and_keeps_its_probability(
    adaptive,
) -> None:
    t = adaptive(answers=True)
    assert not t.matches.exists()  # no batch planned ahead
    battles = [ask(t, f"v{i}") for i in range(4)]
    drawn = list(t.matches.order_by("round", "slot"))
    assert len({b.public_id for b in battles}) == 4 and len(drawn) == 4
    assert [(m.round, m.slot) for m in drawn] == [(0, 0), (0, 1), (1, 0), (1, 1)]
    # The first draw: every pair unseen, so each of the three is equally likely.
    assert drawn[0].draw_probability == pytest.approx(1 / 3)
    assert all(0 < m.draw_probability <= 1 and m.status == "awaiting_vote" for m in drawn)
    # The budget is drawn: the next voter shares a battle, and no fifth match is made.
    assert ask(t, "v4").public_id in {b.public_id for b in battles}
    assert t.matches.count() == 4
    for i, battle in enumerate(battles):
        vote(battle, f"v{i}")
    tournament_advance(tournament_id=t.pk)
    t.refresh_from_db()
    assert t.status == TournamentStatus.COMPLETED


def test_a_drawn_pair_whose_answers_are_not_ready_waits_for_a_worker(adaptive) -> None:
    t = adaptive(answers=False)
    assert ask(t, "") is None and ask(t, "") is None  # a crawler: one draw waits, no more
    assert ask(t, "v0") is None
    assert t.matches.count() == 2
    pending = t.matches.first()
    assert pending.status == MatchStatus.PENDING and pending.draw_probability is not None
    match_play(match_id=pending.pk)
    assert ask(t, "v1").public_id == Match.objects.get(pk=pending.pk).public_id


def test_requests_without_a_session_on_an_adaptive_arena_make_one_free_battle_at_most(
    adaptive,
) -> None:
    t = adaptive(answers=True)
    shown = {ask(t, "").public_id for _ in range(3)}
    assert len(shown) == 1 and t.matches.count() == 1 and not Assignment.objects.exists()
    assert ask(t, "voter").public_id in shown  # the voter who comes next gets it


def test_votes_on_a_drawn_pair_weigh_the_inverse_of_its_probability_and_the_recount_agrees(
    adaptive,
) -> None:
    from arena.boards import pair_tallies
    from arena.services.aggregates import cells_check

    t = adaptive(answers=True)
    battle = ask(t, "v0")
    # As if the sampler had favoured this pair: drawn with probability 1/2, where uniform
    # sampling of the three pairs gives 1/3, each of its votes weighs 2/3.
    Match.objects.filter(public_id=battle.public_id).update(draw_probability=0.5)
    vote(battle, "v0", "a")
    vote_record(  # a second voter, shown it by a page without a session
        public_id=battle.public_id, outcome="b", idempotency_key="k", session_key="v1", shown=True
    )
    drawn = Match.objects.get(public_id=battle.public_id)
    a, b = sorted(e.contestant_id for e in drawn.entries.all())
    cell = PairCell.objects.get(tournament=t, a_id=a, b_id=b)
    assert cell.a_wins + cell.b_wins + cell.ties == 2
    assert cell.ipw_a_wins + cell.ipw_b_wins + cell.ipw_ties == pytest.approx(-2 / 3)
    cells = pair_tallies(tournament_id=t.pk).cells()
    assert cells.count.sum() == pytest.approx(4 / 3) and cells.n_battles.sum() == 2
    assert cells_check() == []  # the recount weighs them the same, the later vote included


def test_the_exports_have_every_vote_and_keep_out_the_ids_of_battles_still_shown(
    human_tournament_of,
) -> None:
    import json

    from arena.services.exports import tournament_export_battles, tournament_export_rankings

    t = human_tournament_of(2, config={"rounds": 2})
    battle = ask(t, "s1")
    models = vote(battle, "s1", "a").models
    assert ask(t, "s2") == battle  # voted, and shown to the next voter
    (row,) = [json.loads(line) for line in tournament_export_rankings(tournament=t)]
    assert row["match"] is None and str(battle.public_id) not in json.dumps(row)
    vote(battle, "s2", "b")
    rows = [json.loads(line) for line in tournament_export_rankings(tournament=t)]
    assert [r["ranking"][0] for r in rows] == [[models[0]], [models[1]]]
    battles = [json.loads(line) for line in tournament_export_battles(tournament=t)]
    assert [b["winner"] for b in battles] == ["model_a", "model_b"]


def test_the_draws_tally_read_from_counts_is_the_one_the_format_reads_from_every_match(
    adaptive,
) -> None:
    import numpy as np

    from arena.formats.adaptive import Tally
    from arena.services.advance import _format_state
    from arena.services.draws import _tally

    t = adaptive(answers=True)
    battles = [ask(t, f"v{i}") for i in range(3)]
    for i, (battle, outcome) in enumerate(zip(battles, ["a", "tie"], strict=False)):
        vote(battle, f"v{i}", outcome)
    prompts = list(t.prompt_set.prompts.order_by("id").values_list("id", flat=True))
    state = _format_state(t, prompts)
    counted, read = _tally(t, tuple(sorted(state.contestants))), Tally.from_state(state)
    for name in ("wins", "ties", "pair_count", "first", "judged"):
        assert np.array_equal(getattr(counted, name), getattr(read, name)), name
    assert counted.planned == read.planned == 3


def test_an_argmax_sampler_works_its_best_pair_out_again_after_each_draw(
    human_tournament_of,
) -> None:
    t = human_tournament_of(3, format="adaptive", config={"sampler": "ucb", "max_matches": 3})
    cache.delete_many([draw_plan_key(t.pk), f"{draw_plan_key(t.pk)}:fresh"])
    for c in t.contestants.all():
        for p in t.prompt_set.prompts.all():
            Response.objects.create(contestant=c, prompt=p, settings_hash=c.settings_hash)
    for i in range(3):
        ask(t, f"v{i}")
    pairs = {frozenset(m.entries.values_list("contestant_id", flat=True)) for m in t.matches.all()}
    assert len(pairs) == 3  # each draw saw the ones before it, not one pair three times


def test_a_voter_is_not_shown_an_answer_they_have_seen_named_while_another_battle_is_left(
    contestants, prompt_set, human_tournament_of
) -> None:
    """One prompt, eight contestants: each answer is in seven battles. Each vote names two
    answers, so the first four battles can show only answers not named yet; after that every
    battle shows a named one, and the voter is still given battles."""
    prompt_set.prompts.exclude(pk=prompt_set.prompts.order_by("id").first().pk).delete()
    t = human_tournament_of(8)  # 28 battles, all on the one prompt
    named: set[int] = set()
    for n in range(6):
        battle = ask(t, "reader")
        assert battle is not None, f"no battle after {n} votes"
        answers = set(
            Match.objects.get(public_id=battle.public_id).entries.values_list(
                "response_id", flat=True
            )
        )
        if n < 4:
            assert not answers & named, f"battle {n} shows an answer an earlier vote named"
        vote(battle, "reader")
        named |= answers
    assert len(named) == 8


def test_a_drawn_pair_takes_a_prompt_whose_answers_the_voter_has_not_seen_named(
    adaptive,
) -> None:
    from arena.formats.adaptive import Tally
    from arena.services.draws import Plan, _ready

    t = adaptive(answers=True)
    a, b = sorted(t.contestants.values_list("pk", flat=True))[:2]
    prompts = tuple(t.prompt_set.prompts.order_by("id").values_list("pk", flat=True))
    keys = {c.pk: (c.settings_hash, {}) for c in t.contestants.all()}
    plan = Plan(
        ids=(a, b), pairs=((a, b),), probabilities=(1.0,), tally=Tally(2), prompts=prompts,
        batch=2, most=4, answer_keys=keys,
    )  # fmt: skip
    first = frozenset(
        Response.objects.filter(prompt_id=prompts[0], contestant_id=a).values_list("pk", flat=True)
    )
    assert _ready(plan, 0, (a, b))[0] == prompts[0]  # the seeded order's next prompt
    assert _ready(plan, 0, (a, b), first)[0] == prompts[1]  # not one showing a named answer
    every = frozenset(Response.objects.values_list("pk", flat=True))
    assert _ready(plan, 0, (a, b), every)[0] == prompts[0]  # none fresh: still a battle

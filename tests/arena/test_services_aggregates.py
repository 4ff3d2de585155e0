"""The evidence cells every verdict adds to always equal a full recount from the rows."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import transaction
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from arena import evidence
from arena.models import (
    WENG_LIN,
    MatchStatus,
    PairCell,
    RankingCell,
    Response,
    Standing,
    Tournament,
    Vote,
)
from arena.services.advance import tournament_advance
from arena.services.aggregates import (
    cells_backfill,
    cells_check,
    cells_recount,
    ranking_cells_backfill,
)
from arena.services.battles import battle_next
from arena.services.matches import match_claim, match_play, match_record_verdict
from arena.services.tournaments import tournament_create, tournament_start
from arena.services.voting import VoteRefused, vote_record
from judges.backends.base import Verdict
from ratings.bayesian import SkillRating, rate_plackett_luce

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(contestants, prompt_set, judge) -> dict[str, Tournament]:
    """The same three contestants voted on in pairs and in 3-way rankings, and judged in
    pairs by a judge, on prompts of 2 categories."""
    names = [c.name for c in contestants(3)]
    first, *_ = prompt_set.prompts.order_by("id")
    prompt_set.prompts.exclude(pk=first.pk).update(category="math")  # cells see repeats

    def started(format: str, config: dict[str, Any], judge_name: str | None) -> Tournament:
        tournament = tournament_start(
            tournament=tournament_create(
                name=format,
                format=format,
                contestants=names,
                prompt_set=prompt_set.name,
                judge=judge_name,
                config=config,
                seed=3,
            )
        )
        tournament_advance(tournament_id=tournament.pk)
        if judge_name is None:  # the answers, then the battles wait for votes
            for match in tournament.matches.all():
                match_play(match_id=match.pk)
        return tournament

    return {
        "pairs": started("round_robin", {"rounds": 3}, None),
        "groups": started("kwise", {"k": 3, "rounds": 3}, None),
        "judged": started("round_robin", {"rounds": 2}, judge.name),
    }


OUTCOMES = ["a", "b", "tie", "bothbad"]
vote = st.tuples(st.just("vote"), st.integers(0, 3), st.sampled_from(OUTCOMES))
rank = st.tuples(
    st.just("rank"), st.integers(0, 3), st.lists(st.integers(1, 3), min_size=3, max_size=3)
)
judge = st.tuples(st.just("judge"), st.integers(0, 11), st.permutations([0, 1]), st.booleans())
replay = st.tuples(st.just("replay"), st.integers(0, 50))
delete = st.tuples(st.just("delete"), st.sampled_from(["pairs", "groups", "judged"]))
advance = st.tuples(st.just("advance"))
actions = st.lists(
    st.one_of(vote, vote, rank, judge, judge, replay, delete, advance), min_size=4, max_size=30
)


def _play(world: dict[str, Tournament], steps: list[tuple[Any, ...]]) -> int:
    """Apply the steps; how many verdicts were recorded."""
    deleted: set[str] = set()
    cast: list[dict[str, Any]] = []
    recorded = 0
    for step in steps:
        kind = step[0]
        if kind in ("vote", "rank"):
            name = "pairs" if kind == "vote" else "groups"
            if name in deleted:
                continue
            session = f"voter-{step[1]}"
            battle = battle_next(tournament=world[name], session_key=session)
            if battle is None:
                continue
            given_ = {"outcome": step[2]} if kind == "vote" else {"ranks": step[2]}
            ballot = dict(
                public_id=battle.public_id,
                idempotency_key=f"k{len(cast)}",
                session_key=session,
                **given_,
            )
            try:
                vote_record(**ballot)
            except VoteRefused:
                continue
            cast.append({**ballot, "of": name})
            recorded += 1
        elif kind == "replay" and cast:
            ballot = dict(cast[step[1] % len(cast)])
            if ballot.pop("of") in deleted:
                continue
            assert vote_record(**ballot).replayed
        elif kind == "judge" and "judged" not in deleted:
            matches = list(world["judged"].matches.order_by("round", "slot"))
            match = matches[step[1] % len(matches)]
            if match.status != MatchStatus.PENDING or not match_claim(match_id=match.pk):
                continue
            entrants = list(
                match.entries.order_by("position").values_list("contestant_id", flat=True)
            )
            tie = step[3]
            positions = [[0, 1]] if tie else [[p] for p in step[2]]
            verdict = Verdict(ranking=positions, raw_output="ok", both_bad=tie)
            ranking = [[entrants[p] for p in tier] for tier in positions]
            recorded += match_record_verdict(match_id=match.pk, verdict=verdict, ranking=ranking)
        elif kind == "advance":  # the next round where one is done (what the worker does)
            for name, tournament in world.items():
                if name not in deleted:
                    tournament_advance(tournament_id=tournament.pk)
                    if name != "judged":
                        for match in tournament.matches.filter(status=MatchStatus.PENDING):
                            match_play(match_id=match.pk)
        elif kind == "delete" and step[1] not in deleted:
            Tournament.objects.filter(pk=world[step[1]].pk).delete()  # rolled back after
            deleted.add(step[1])
    return recorded


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=actions)
def test_cells_equal_a_full_recount_after_any_sequence_of_verdicts_replays_and_deletions(
    world, steps, django_capture_on_commit_callbacks
) -> None:
    with transaction.atomic():
        with django_capture_on_commit_callbacks(execute=False):
            recorded = _play(world, steps)
        event(f"verdicts recorded: {min(recorded, 4)}{'+' if recorded >= 4 else ''}")
        assert cells_check() == []
        # Not vacuous: each verdict is in the cells, one verdict for each of its entrants.
        shares = sum(PairCell.objects.values_list("share", flat=True))
        assert 2 * shares == pytest.approx(_entrants_of_verdicts())
        transaction.set_rollback(True)


def _entrants_of_verdicts() -> int:
    """One per entrant of each verdict: a match's judgment, and every vote on it after the
    first (a battle shown to several voters)."""
    from django.db.models import Count

    from arena.models import Match

    judged = Match.objects.filter(judgment__isnull=False).annotate(
        n_entrants=Count("entries", distinct=True), n_votes=Count("votes", distinct=True)
    )
    return sum(m.n_entrants * max(m.n_votes, 1) for m in judged)


def test_the_check_finds_a_cell_that_drifted_and_the_backfill_mends_it(world) -> None:
    pairs = world["pairs"]
    for voter in range(3):
        battle = battle_next(tournament=pairs, session_key=f"s{voter}")
        vote_record(
            public_id=battle.public_id,
            outcome="a",
            idempotency_key=f"k{voter}",
            session_key=f"s{voter}",
        )
    cell = PairCell.objects.filter(tournament=pairs).first()
    PairCell.objects.filter(pk=cell.pk).update(a_wins=cell.a_wins + 5)
    differences = cells_check()
    assert [(d.table, d.cell[3:], d.column, d.stored - d.recounted) for d in differences] == [
        ("cells", (cell.a_id, cell.b_id), "a_wins", 5.0)
    ]
    cells_backfill()
    assert cells_check() == []


def test_a_vote_adds_its_pair_its_position_and_its_answers_style_to_one_cell(world) -> None:
    pairs = world["pairs"]
    battle = battle_next(tournament=pairs, session_key="s")
    vote_record(public_id=battle.public_id, outcome="a", idempotency_key="k", session_key="s")
    match = pairs.matches.get(public_id=battle.public_id)
    first, second = match.entries.order_by("position")
    cell = PairCell.objects.get()
    a_first = first.contestant_id < second.contestant_id
    assert (cell.a_id, cell.b_id) == tuple(sorted([first.contestant_id, second.contestant_id]))
    assert (cell.a_wins, cell.b_wins, cell.ties) == ((1, 0, 0) if a_first else (0, 1, 0))
    assert (cell.first_won, cell.first_lost) == (1, 0)
    assert cell.source == "humans" and cell.category == match.prompt.category
    assert cell.styled == 1 and cell.share == 1.0
    la, lb = (first.response.style_length, second.response.style_length)
    if not a_first:
        la, lb = lb, la
    assert cell.sd_length == pytest.approx((la - lb) / (la + lb))


def test_the_backfill_computes_the_style_of_answers_stored_without_it(world) -> None:
    from arena.services.aggregates import responses_style_backfill

    Response.objects.update(style_length=None, style_headers=None)
    assert responses_style_backfill() == Response.objects.count()
    assert not Response.objects.filter(style_length__isnull=True).exists()


def test_a_recount_of_a_kwise_ranking_gives_each_entrant_one_verdict(world) -> None:
    groups = world["groups"]
    battle = battle_next(tournament=groups, session_key="s")
    vote_record(public_id=battle.public_id, ranks=[1, 2, 2], idempotency_key="k", session_key="s")
    totals = cells_recount().cells
    share = evidence.COLUMNS.index("share")
    per_model: dict[int, float] = {}
    for (_, _, _, a, b), values in totals.items():
        per_model[a] = per_model.get(a, 0.0) + values[share]
        per_model[b] = per_model.get(b, 0.0) + values[share]
    assert len(totals) == 3 and all(v == pytest.approx(1.0) for v in per_model.values())


def test_the_aggregates_command_checks_then_rebuilds_and_says_what_it_did(world) -> None:
    from io import StringIO

    from django.core.management import CommandError, call_command

    battle = battle_next(tournament=world["pairs"], session_key="s")
    vote_record(public_id=battle.public_id, outcome="tie", idempotency_key="k", session_key="s")
    out = StringIO()
    call_command("aggregates", "check", stdout=out)
    assert "match a full recount" in out.getvalue()
    PairCell.objects.update(ties=7)
    with pytest.raises(CommandError, match="differ from the recount"):
        call_command("aggregates", "check", stdout=StringIO())
    call_command("aggregates", "backfill", stdout=out, stderr=StringIO())
    assert "cells rebuilt: 1" in out.getvalue()
    assert PairCell.objects.get().ties == 1


def test_the_backfill_stores_the_elo_history_of_a_tournament_that_had_none(world) -> None:
    from arena.boards import tournament_charts
    from arena.models import EloPoint
    from arena.services.aggregates import elo_points_backfill

    pairs = world["pairs"]
    for voter in range(3):
        battle = battle_next(tournament=pairs, session_key=f"s{voter}")
        vote_record(
            public_id=battle.public_id,
            outcome="b",
            idempotency_key=f"k{voter}",
            session_key=f"s{voter}",
        )
    EloPoint.objects.all().delete()
    assert elo_points_backfill() == 3
    history = tournament_charts(pairs)["history"]
    assert [h["n"] for h in history] == [1, 2, 3]
    final = {r["contestant"]: r["elo"] for r in tournament_charts(pairs)["leaderboard"]}
    assert history[-1]["elo"] == pytest.approx(final)


def test_a_board_read_before_the_backfill_is_not_served_after_it(world) -> None:
    from arena.boards import tournament_leaderboard

    pairs = world["pairs"]
    battle = battle_next(tournament=pairs, session_key="s")
    vote_record(public_id=battle.public_id, outcome="a", idempotency_key="k", session_key="s")
    PairCell.objects.all().delete()  # as after an upgrade: verdicts, but no cells yet
    assert sum(r["matches"] for r in tournament_leaderboard(pairs)) == 0  # and now cached
    cells_backfill()
    assert sum(r["matches"] for r in tournament_leaderboard(pairs)) == 2


def _ranked(groups: Tournament, voter: int, ranks: list[int]) -> list[list[int]]:
    """A vote on the next battle of the 3-way tournament; its ranking of contestant ids."""
    battle = battle_next(tournament=groups, session_key=f"r{voter}")
    vote_record(
        public_id=battle.public_id,
        ranks=ranks,
        idempotency_key=f"r{voter}",
        session_key=f"r{voter}",
    )
    return Vote.objects.get(idempotency_key=f"r{voter}").ranking


def test_kwise_votes_are_counted_per_distinct_ranking_and_pairs_are_not(world) -> None:
    groups = world["groups"]
    _ranked(groups, 0, [1, 2, 3])
    _ranked(groups, 1, [1, 2, 2])
    battle = battle_next(tournament=world["pairs"], session_key="p")
    vote_record(public_id=battle.public_id, outcome="a", idempotency_key="p", session_key="p")
    stored = {(c.ranking, c.count) for c in RankingCell.objects.filter(tournament=groups)}
    assert sum(count for _, count in stored) == 2
    assert all(len(evidence.ranking_tiers(key)) in (2, 3) for key, _ in stored)
    assert not RankingCell.objects.exclude(tournament=groups).exists()
    assert cells_check() == []


def test_the_check_finds_a_drifted_ranking_cell_and_the_backfill_mends_it_and_the_beliefs(
    world,
) -> None:
    groups = world["groups"]
    rankings = [_ranked(groups, voter, [1, 2, 3]) for voter in range(3)]
    online = {
        (s.contestant_id, round(s.wl_mu, 9), round(s.wl_sigma, 9))
        for s in Standing.objects.filter(tournament=groups)
    }
    RankingCell.objects.filter(tournament=groups).update(count=9)
    Standing.objects.update(wl_mu=0.0)
    assert {d.table for d in cells_check()} == {"ranking cells"}
    assert ranking_cells_backfill() == len({evidence.ranking_key(r) for r in rankings})
    assert cells_check() == []
    replayed = {
        (s.contestant_id, round(s.wl_mu, 9), round(s.wl_sigma, 9))
        for s in Standing.objects.filter(tournament=groups)
    }
    assert replayed == online  # voted one after the other: commit order is match order here
    assert any(mu != WENG_LIN.mu for _, mu, _ in replayed)


def test_a_standings_weng_lin_belief_is_the_replay_of_its_tournaments_rankings(world) -> None:
    groups = world["groups"]
    rankings = [_ranked(groups, voter, ranks) for voter, ranks in enumerate([[1, 2, 3], [3, 1, 2]])]
    state: dict[str, SkillRating] = {}
    for ranking in rankings:
        state |= rate_plackett_luce(state, [[str(c) for c in tier] for tier in ranking])
    stored = {
        str(s.contestant_id): SkillRating(s.wl_mu, s.wl_sigma)
        for s in Standing.objects.filter(tournament=groups)
    }
    assert set(state) <= set(stored)
    for cid, belief in state.items():
        assert (stored[cid].mu, stored[cid].sigma) == pytest.approx(
            (belief.mu, belief.sigma), abs=1e-9
        )

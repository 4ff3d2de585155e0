"""Migration 0025 counts the K-wise verdicts stored before it and replays their beliefs."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from arena.models import WENG_LIN, RankingCell, Standing
from arena.services.aggregates import cells_check
from arena.services.battles import battle_next
from arena.services.voting import vote_record


@pytest.mark.django_db(transaction=True)
def test_migrating_to_0025_backfills_the_ranking_cells_and_beliefs_of_earlier_votes(
    human_tournament_of,
) -> None:
    groups = human_tournament_of(4, format="kwise", config={"k": 3, "rounds": 2})
    for voter, ranks in enumerate([[1, 2, 3], [2, 1, 3], [1, 1, 2]]):
        session = f"s{voter}"
        battle = battle_next(tournament=groups, session_key=session)
        vote_record(
            public_id=battle.public_id, ranks=ranks, idempotency_key=session, session_key=session
        )
    call_command("migrate", "arena", "0024", stdout=StringIO())  # before the cells existed
    call_command("migrate", "arena", stdout=StringIO())  # 0025 and any after it
    assert sum(RankingCell.objects.values_list("count", flat=True)) == 3
    assert cells_check() == []
    moved = Standing.objects.filter(tournament=groups).exclude(wl_mu=WENG_LIN.mu)
    assert moved.count() >= 3

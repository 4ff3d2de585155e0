from __future__ import annotations

import threading
import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.db.models import CharField, DateTimeField, IntegerField, Q, UUIDField
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from arena.models import Match, MatchEntry, MatchStatus
from arena.prepared import Param, Prepared

pytestmark = pytest.mark.django_db


def _by_battle(public_id: object):
    return (
        MatchEntry.objects.filter(match__public_id=public_id)
        .order_by("position")
        .values_list("match__public_id", "contestant__name", "response__text")
    )


def test_a_prepared_select_returns_what_the_orm_query_returns_for_each_value(
    human_tournament_of,
) -> None:
    tournament = human_tournament_of(4)
    prepared = Prepared(lambda: _by_battle(Param("battle", UUIDField())))
    for match in tournament.matches.all():
        rows = prepared.rows(battle=match.public_id)
        assert rows == list(_by_battle(match.public_id))
        assert len(rows) == 2 and isinstance(rows[0][0], uuid.UUID)  # converters applied
        assert prepared.rows(battle=str(match.public_id)) == rows  # prepared like a lookup


def test_a_prepared_query_is_compiled_once_per_thread(human_tournament_of) -> None:
    tournament = human_tournament_of(3)
    builds: list[str] = []

    def build():
        builds.append(threading.current_thread().name)
        return Match.objects.filter(tournament_id=Param("t", IntegerField())).values_list("pk")

    prepared = Prepared(build)
    expected = sorted(tournament.matches.values_list("pk"))
    assert sorted(prepared.rows(t=tournament.pk)) == expected
    assert sorted(prepared.rows(t=tournament.pk)) == expected
    assert prepared.rows(t=tournament.pk + 1000) == []
    assert len(builds) == 1

    def elsewhere() -> None:
        try:
            prepared.rows(t=tournament.pk)
        finally:
            connection.close()  # this thread's own connection

    other = threading.Thread(target=elsewhere)
    other.start()
    other.join()
    assert len(builds) == 2 and builds[1] != builds[0]


def test_a_prepared_update_changes_only_the_matching_rows_and_counts_them(
    human_tournament_of,
) -> None:
    tournament = human_tournament_of(3)
    first, second = tournament.matches.order_by("pk")[:2]
    now = timezone.now()
    claim = Prepared(
        lambda: Match.objects.filter(
            Q(voter_session="") | Q(claimed_at__lt=Param("stale", DateTimeField())),
            pk=Param("match", IntegerField()),
            status=MatchStatus.AWAITING_VOTE,
        ),
        update={
            "voter_session": Param("session", CharField()),
            "claimed_at": Param("now", DateTimeField()),
        },
    )
    stale = now - timedelta(minutes=30)
    assert claim.run(match=first.pk, stale=stale, session="s1", now=now) == 1
    assert claim.run(match=first.pk, stale=stale, session="s2", now=now) == 0  # held by s1
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.voter_session, first.claimed_at) == ("s1", now)
    assert second.voter_session == ""
    later = now + timedelta(hours=1)  # s1's lease has run out
    assert claim.run(match=first.pk, stale=later - timedelta(minutes=30), session="s2", now=later)
    first.refresh_from_db()
    assert first.voter_session == "s2"


def test_a_prepared_query_runs_one_statement_and_names_a_missing_value(
    human_tournament_of,
) -> None:
    tournament = human_tournament_of(2)
    prepared = Prepared(
        lambda: Match.objects.filter(
            tournament_id=Param("t", IntegerField()), status=Param("status", CharField())
        ).values_list("pk")
    )
    prepared.rows(t=tournament.pk, status="awaiting_vote")  # compiled
    with CaptureQueriesContext(connection) as queries:
        assert len(prepared.rows(t=tournament.pk, status="awaiting_vote")) == 1
    assert len(queries) == 1
    with pytest.raises(TypeError, match="missing query parameters: status"):
        prepared.rows(t=tournament.pk)


def test_a_bad_value_is_refused_as_the_orm_refuses_it() -> None:
    prepared = Prepared(lambda: _by_battle(Param("battle", UUIDField())))
    with pytest.raises(Exception) as refused:
        prepared.rows(battle="not-a-uuid")
    with pytest.raises(type(refused.value)):
        list(_by_battle("not-a-uuid"))


@pytest.mark.django_db(transaction=True)  # autocommit outside atomic(), as in production
def test_a_prepared_locking_read_is_refused_outside_a_transaction_on_every_run(
    human_tournament_of,
) -> None:
    from django.db import transaction
    from django.db.transaction import TransactionManagementError

    if not connection.features.has_select_for_update:
        pytest.skip("SQLite has no row locks: Django drops FOR UPDATE there")
    tournament = human_tournament_of(2)
    locked = Prepared(
        lambda: (
            Match.objects.select_for_update()
            .filter(tournament_id=Param("t", IntegerField()))
            .order_by("pk")
            .values_list("pk")
        )
    )
    with transaction.atomic():  # compiled here, where the lock is allowed
        assert len(locked.rows(t=tournament.pk)) == 1
    with pytest.raises(TransactionManagementError):
        locked.rows(t=tournament.pk)

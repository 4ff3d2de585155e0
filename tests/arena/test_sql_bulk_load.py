"""A bulk load's foreign keys are checked once per key where the role may, by the database
row by row where not; either way a row that points nowhere saves nothing."""

from __future__ import annotations

import psycopg
import pytest
from django.db import IntegrityError, connection, transaction

from arena import sql
from arena.models import Contestant, PromptSet, Standing, Tournament

pytestmark = pytest.mark.django_db(transaction=True)

POSTGRES = connection.vendor == "postgresql"
only_postgres = pytest.mark.skipif(not POSTGRES, reason="PostgreSQL's row triggers")


@pytest.fixture
def tournament() -> Tournament:
    prompts = PromptSet.objects.create(name="p")
    return Tournament.objects.create(name="t", format="imported", prompt_set=prompts)


def standings_load(tournament: Tournament, contestant_ids: list[int]) -> sql.Loaded:
    with transaction.atomic(), sql.bulk_load() as loaded:
        n = len(contestant_ids)
        loaded.copy(
            Standing._meta.db_table,
            {
                "tournament_id": [tournament.pk] * n,
                "contestant_id": contestant_ids,
                "elo": [1000.0] * n,
                "matches": [0] * n,
                "wins": [0.0] * n,
                "ties": [0] * n,
            },
        )
    return loaded


@pytest.mark.parametrize("may_skip", [True, False], ids=["checked-per-key", "row-triggers"])
def test_a_loaded_row_that_points_nowhere_saves_nothing(may_skip, tournament, monkeypatch) -> None:
    if may_skip and not POSTGRES:
        pytest.skip("SQLite has no row triggers to turn off")
    monkeypatch.setattr(sql, "_may_skip_row_triggers", lambda _connection: may_skip)
    real = Contestant.objects.create(name="real")
    with pytest.raises((sql.ForeignKeyViolation, IntegrityError)) as refused:
        standings_load(tournament, [real.pk, real.pk + 1000])
    assert Standing.objects.count() == 0
    if may_skip:  # the check names the table, the column and the value
        assert str(refused.value) == (
            f"arena_standing.contestant_id = {real.pk + 1000} points to no row of arena_contestant"
        )


def test_a_load_whose_keys_hold_is_saved(tournament) -> None:
    people = [Contestant.objects.create(name=f"m{i}") for i in range(3)]
    loaded = standings_load(tournament, [p.pk for p in people])
    assert loaded.fast == (POSTGRES and _superuser())
    saved = sorted(Standing.objects.values_list("contestant_id", flat=True))
    assert saved == [p.pk for p in people]


def _superuser() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        return bool(cursor.fetchone()[0])


@only_postgres
def test_a_role_without_the_grant_leaves_the_checks_to_postgresql() -> None:
    if not _superuser():
        pytest.skip("needs a role that may SET ROLE to another")
    with transaction.atomic(), connection.cursor() as cursor:
        assert sql._may_skip_row_triggers(connection)
        cursor.execute("SET LOCAL ROLE pg_monitor")  # a built-in role with no such grant
        assert not sql._may_skip_row_triggers(connection)


@only_postgres
def test_the_fast_path_locks_what_it_points_to_and_checks_later_writes_again(tournament) -> None:
    if not _superuser():
        pytest.skip("the fast path needs a superuser or the parameter grant")
    person = Contestant.objects.create(name="kept")
    settings = connection.settings_dict
    other = psycopg.connect(
        host=settings["HOST"] or None,
        port=settings["PORT"] or None,
        user=settings["USER"] or None,
        dbname=settings["NAME"],
        autocommit=True,
    )
    try:
        with transaction.atomic():
            with sql.bulk_load() as loaded:
                loaded.copy(
                    Standing._meta.db_table,
                    {
                        "tournament_id": [tournament.pk],
                        "contestant_id": [person.pk],
                        "elo": [1000.0],
                        "matches": [0],
                        "wins": [0.0],
                        "ties": [0],
                    },
                )
            assert loaded.fast
            # Until the load commits, nobody deletes the contestant its rows point to...
            with pytest.raises(psycopg.errors.LockNotAvailable):
                other.execute(
                    "SELECT 1 FROM arena_contestant WHERE id = %s FOR UPDATE NOWAIT", [person.pk]
                )
            # ...and writes after the load have their keys checked by PostgreSQL again.
            with connection.cursor() as cursor:
                cursor.execute("SHOW session_replication_role")
                assert cursor.fetchone()[0] == "origin"
    finally:
        other.close()
    assert Standing.objects.get().contestant_id == person.pk

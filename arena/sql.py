"""Statements, and the two ways the app runs them.

A write that both Django and the event loop make (a vote, and the verdict it records) is
written once, as a *step*: a generator that yields batches of statements, receives their
rows, and decides in plain Python what comes next (lila's shape: the decision is pure, the
saving is elsewhere). ``run`` plays a step on Django's connection, inside whatever
transaction the caller holds; ``run_async`` plays it on a psycopg ``AsyncConnection`` with
each batch pipelined into one round trip (arena.serving.fastvote). Neither knows what a vote is.

Statements are written once for PostgreSQL and SQLite (embedded mode): named parameters,
``RETURNING``, ``ON CONFLICT``, ``UPDATE … FROM (VALUES …)`` and ``FILTER`` read the
same on both; row locks (``FOR UPDATE``) exist on PostgreSQL only, and ``Dialect`` says
whether to write them (SQLite serialises writers anyway).
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Generator, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Model

T = TypeVar("T")
Rows = list[tuple[Any, ...]]
# Yields batches of statements, is sent each batch's rows (one list per statement), returns T.
Step = Generator[list["Sql"], list[Rows], T]


@dataclass(frozen=True)
class Sql:
    text: str
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Dialect:
    vendor: str

    @property
    def locks(self) -> bool:
        """Whether ``SELECT … FOR UPDATE`` (and ``SKIP LOCKED``) exist."""
        return self.vendor == "postgresql"

    def for_update(self, of: str = "") -> str:
        return (f" FOR UPDATE OF {of}" if of else " FOR UPDATE") if self.locks else ""


POSTGRESQL = Dialect("postgresql")


def table(model: type[Model]) -> str:
    return str(model._meta.db_table)


def dialect(using: str = DEFAULT_DB_ALIAS) -> Dialect:
    return Dialect(connections[using].vendor)


def run(step: Step[T], using: str = DEFAULT_DB_ALIAS) -> T:
    """Play a step on Django's connection, one statement at a time, in the caller's
    transaction (or autocommit). An exception from the step propagates: inside
    ``transaction.atomic`` it rolls everything back."""
    connection = connections[using]
    with connection.cursor() as cursor:
        try:
            batch = next(step)
            while True:
                results: list[Rows] = []
                for sql in batch:
                    cursor.execute(sql.text, _adapted(connection, sql.params))
                    results.append(list(cursor.fetchall()) if cursor.description else [])
                batch = step.send(results)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]


def _adapted(connection: Any, params: Mapping[str, Any]) -> dict[str, Any]:
    """Values as Django would store them: SQLite keeps datetimes as naive UTC text and
    UUIDs as 32 hex digits, and compares them as text."""
    native_uuid = connection.features.has_native_uuid_field
    adapted = {}
    for name, value in params.items():
        if isinstance(value, datetime.datetime):
            value = connection.ops.adapt_datetimefield_value(value)
        elif isinstance(value, uuid.UUID) and not native_uuid:
            value = value.hex
        adapted[name] = value
    return adapted


async def run_async(step: Step[T], conn: Any, *, atomic: bool) -> T:
    """Play a step on a psycopg ``AsyncConnection`` (autocommit), each batch in one round
    trip; with ``atomic`` in one transaction, whose BEGIN and COMMIT travel with the first
    and last batch. An exception from the step or a statement rolls it back."""
    async with conn.pipeline() as pipeline:
        if not atomic:
            return await _play(step, conn, pipeline)
        async with conn.transaction():
            return await _play(step, conn, pipeline)


async def _play(step: Step[T], conn: Any, pipeline: Any) -> T:
    try:
        batch = next(step)
        while True:
            cursors = [await conn.execute(sql.text, dict(sql.params)) for sql in batch]
            await pipeline.sync()
            results: list[Rows] = []
            for cursor in cursors:
                results.append(list(await cursor.fetchall()) if cursor.description else [])
            batch = step.send(results)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]


def copy_rows(
    table_name: str,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    using: str = DEFAULT_DB_ALIAS,
) -> int:
    """Insert many rows at once: PostgreSQL's COPY (a million rows in seconds, where the
    ORM's bulk_create takes minutes), one executemany on SQLite. Values go in as they are
    (no model defaults): give every column. Returns how many rows."""
    connection = connections[using]
    names = ", ".join(columns)
    count = 0
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {table_name} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
                    count += 1
            return count
        marks = ", ".join(["%s"] * len(columns))
        batch: list[Sequence[Any]] = []
        for row in rows:
            batch.append([_adapted(connection, {"v": v})["v"] for v in row])
            if len(batch) == 5000:
                cursor.executemany(f"INSERT INTO {table_name} ({names}) VALUES ({marks})", batch)
                count += len(batch)
                batch = []
        if batch:
            cursor.executemany(f"INSERT INTO {table_name} ({names}) VALUES ({marks})", batch)
            count += len(batch)
    return count


# Rows per COPY chunk: a million rows go in a few chunks without holding all their text.
COPY_CHUNK = 200_000


def copy_columns(table_name: str, columns: Mapping[str, Any], using: str = DEFAULT_DB_ALIAS) -> int:
    """Insert rows given as columns (numpy arrays or lists, all one length; None is NULL,
    datetimes aware). PostgreSQL: CSV written by pyarrow (C++, not a Python loop) and sent
    with COPY; SQLite: one executemany. Returns how many rows."""
    names = list(columns)
    n = len(next(iter(columns.values()))) if columns else 0
    if n == 0:
        return 0
    connection = connections[using]
    if connection.vendor != "postgresql":
        values = [_python(connection, column) for column in columns.values()]
        marks = ", ".join(["%s"] * len(names))
        with connection.cursor() as cursor:
            cursor.executemany(
                f"INSERT INTO {table_name} ({', '.join(names)}) VALUES ({marks})",
                list(zip(*values, strict=True)),
            )
        return n
    import pyarrow as pa
    import pyarrow.csv as pacsv
    from psycopg.copy import QueuedLibpqWriter

    arrow = pa.table({name: _arrow(pa, column) for name, column in columns.items()})
    options = pacsv.WriteOptions(include_header=False)
    with connection.cursor() as cursor:
        sql = f"COPY {table_name} ({', '.join(names)}) FROM STDIN (FORMAT csv)"
        # A thread sends each chunk while the next is written (pyarrow lets go of the GIL):
        # PostgreSQL takes the rows no faster than one backend can, so it should never wait.
        copying = cursor.cursor.copy(sql, writer=QueuedLibpqWriter(cursor.cursor))
        with copying as copy:
            for start in range(0, n, COPY_CHUNK):
                buffer = pa.BufferOutputStream()
                pacsv.write_csv(arrow.slice(start, COPY_CHUNK), buffer, write_options=options)
                copy.write(buffer.getvalue().to_pybytes())
    return n


def _arrow(pa: Any, column: Any) -> Any:
    """A column as pyarrow sees it: numpy datetimes are UTC; a masked array's mask is NULL."""
    import numpy as np

    if isinstance(column, np.ndarray) and column.dtype.kind == "M":
        return pa.array(column).cast(pa.timestamp("us", tz="UTC"))
    if isinstance(column, np.ma.MaskedArray):
        return pa.array(column.data, mask=np.ma.getmaskarray(column))
    return pa.array(column)


def _python(connection: Any, column: Any) -> list[Any]:
    """A column as Python values Django would store (SQLite: datetimes as naive UTC text)."""
    import numpy as np

    if isinstance(column, np.ndarray) and column.dtype.kind == "M":
        return [s.replace("T", " ") for s in np.datetime_as_string(column, unit="us").tolist()]
    if isinstance(column, np.ma.MaskedArray):
        return [
            None if m else v
            for v, m in zip(column.data.tolist(), np.ma.getmaskarray(column).tolist(), strict=True)
        ]
    values = column.tolist() if hasattr(column, "tolist") else list(column)
    if any(isinstance(v, datetime.datetime) for v in values[:1]):
        values = [connection.ops.adapt_datetimefield_value(v) for v in values]
    return values


def new_ids(model: type[Model], n: int, using: str = DEFAULT_DB_ALIAS) -> Any:
    """``n`` primary keys for rows of ``model`` about to be inserted with them (numpy
    int64): taken from the table's sequence on PostgreSQL, so rows other sessions insert
    meanwhile get others; on SQLite, after the largest (writers are serialised, so call it
    inside the transaction that inserts them, after a first write)."""
    import numpy as np

    connection = connections[using]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # The values as runs (one, unless another session took some meanwhile): a
            # million ids in a few rows instead of a million.
            # (The sequence's name looked up once: per value it costs ten times the value.)
            cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table(model)])
            (sequence,) = cursor.fetchone()
            cursor.execute(
                "SELECT MIN(v), MAX(v) FROM (SELECT v, v - ROW_NUMBER() OVER (ORDER BY v) AS run"
                " FROM (SELECT nextval(%s::regclass) AS v FROM generate_series(1, %s)) s) r"
                " GROUP BY run ORDER BY 1",
                [sequence, n],
            )
            runs = [np.arange(lo, hi + 1, dtype=np.int64) for lo, hi in cursor.fetchall()]
            return np.concatenate(runs) if runs else np.zeros(0, dtype=np.int64)
        # AUTOINCREMENT tables never reuse a deleted row's id: start past the last one given.
        cursor.execute(
            f"SELECT MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = %s), 0),"
            f" COALESCE((SELECT MAX(id) FROM {table(model)}), 0))",
            [table(model)],
        )
        (largest,) = cursor.fetchone()
        return np.arange(largest + 1, largest + 1 + n, dtype=np.int64)


@dataclass
class Loaded:
    """The tables a bulk load wrote, each with the largest id it held before (the load's
    rows are those above it: ids come from a sequence that only grows)."""

    using: str = DEFAULT_DB_ALIAS
    fast: bool = False  # whether PostgreSQL's per-row key checks are off for this load
    tables: dict[str, int] = field(default_factory=dict)

    def copy(self, table_name: str, columns: Mapping[str, Any]) -> int:
        """``copy_columns`` into a table of the load."""
        if self.fast and table_name not in self.tables:
            with connections[self.using].cursor() as cursor:
                cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table_name}")
                self.tables[table_name] = int(cursor.fetchone()[0])
        return copy_columns(table_name, columns, using=self.using)


@contextmanager
def bulk_load(using: str = DEFAULT_DB_ALIAS) -> Iterator[Loaded]:
    """A bulk load (``Loaded.copy``) inside the caller's transaction, whose foreign keys
    are checked once per key instead of once per row.

    PostgreSQL checks a copied row's foreign keys by a trigger per row and key, queued to
    the commit (Django's keys are deferred): a third of a million-battle import. Where the
    role may set ``session_replication_role`` (a superuser, or since PostgreSQL 15
    ``GRANT SET ON PARAMETER session_replication_role TO <role>``), the load turns those
    triggers off, and before the transaction can commit checks every key of the rows it
    copied with one query per key, which also locks the rows they point to in tables it
    did not load (``FOR KEY SHARE``, as the triggers would) so that no concurrent delete
    leaves them dangling; a table the load writes must be referenced only by rows of the
    load. Elsewhere (another role, SQLite) the database checks as usual."""
    connection = connections[using]
    if not connection.in_atomic_block:
        raise RuntimeError("bulk_load runs inside transaction.atomic")
    loaded = Loaded(using=using, fast=_may_skip_row_triggers(connection))
    if not loaded.fast:
        yield loaded
        return
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
    # On an exception the enclosing atomic rolls back, and the setting with it.
    yield loaded
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = origin")
        for table_name in loaded.tables:  # fresh statistics: the checks' plans, and the boards'
            cursor.execute(f"ANALYZE {table_name}")
    foreign_keys_check(loaded)


def _may_skip_row_triggers(connection: Any) -> bool:
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        if connection.pg_version >= 150000:
            cursor.execute("SELECT has_parameter_privilege('session_replication_role', 'SET')")
        else:
            cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        row = cursor.fetchone()
    return bool(row and row[0])


class ForeignKeyViolation(Exception):
    """A loaded row points to no row (what PostgreSQL would have refused at commit)."""


_KEYS = """
    SELECT a.attname, c.confrelid::regclass::text, fa.attname, cardinality(c.conkey), c.conname
    FROM pg_constraint c
    JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
    JOIN pg_attribute fa ON fa.attrelid = c.confrelid AND fa.attnum = c.confkey[1]
    WHERE c.contype = 'f' AND c.conrelid = %s::regclass
"""


def foreign_keys_check(loaded: Loaded) -> None:
    """Every foreign key of the loaded rows holds; the rows they point to in tables outside
    the load are locked ``FOR KEY SHARE`` until the transaction ends. One query per key."""
    connection = connections[loaded.using]
    with connection.cursor() as cursor:
        for table_name, before in loaded.tables.items():
            cursor.execute(_KEYS, [table_name])
            for column, target, target_column, width, name in cursor.fetchall():
                if width != 1:  # none in this schema; refuse rather than leave one unchecked
                    raise ForeignKeyViolation(f"{name}: a key of {width} columns is not checked")
                keys = (
                    f"SELECT DISTINCT t.{column} AS k FROM {table_name} t"
                    f" WHERE t.id > %(before)s AND t.{column} IS NOT NULL"
                )
                lock = "" if target in loaded.tables else " FOR KEY SHARE OF f"
                cursor.execute(
                    f"WITH keys AS ({keys}), found AS (SELECT f.{target_column} FROM {target} f"
                    f" JOIN keys ON f.{target_column} = keys.k{lock})"
                    " SELECT (SELECT COUNT(*) FROM keys) - (SELECT COUNT(*) FROM found)",
                    {"before": before},
                )
                if cursor.fetchone()[0]:
                    cursor.execute(
                        f"SELECT k FROM ({keys}) keys WHERE NOT EXISTS (SELECT 1 FROM {target} f"
                        f" WHERE f.{target_column} = keys.k) LIMIT 1",
                        {"before": before},
                    )
                    raise ForeignKeyViolation(
                        f"{table_name}.{column} = {cursor.fetchone()[0]!r} points to no row"
                        f" of {target}"
                    )

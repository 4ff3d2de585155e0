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
from collections.abc import Generator, Iterable, Mapping, Sequence
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

    arrow = pa.table({name: _arrow(pa, column) for name, column in columns.items()})
    options = pacsv.WriteOptions(include_header=False)
    with connection.cursor() as cursor:
        sql = f"COPY {table_name} ({', '.join(names)}) FROM STDIN (FORMAT csv)"
        with cursor.cursor.copy(sql) as copy:
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
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                [table(model), n],
            )
            return np.array([row[0] for row in cursor.fetchall()], dtype=np.int64)
        # AUTOINCREMENT tables never reuse a deleted row's id: start past the last one given.
        cursor.execute(
            f"SELECT MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = %s), 0),"
            f" COALESCE((SELECT MAX(id) FROM {table(model)}), 0))",
            [table(model)],
        )
        (largest,) = cursor.fetchone()
        return np.arange(largest + 1, largest + 1 + n, dtype=np.int64)

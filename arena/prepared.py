"""Queries compiled once per thread and run many times.

Django turns a QuerySet into SQL on every run, and for the vote path's joins that costs
far more than running the SQL: the battle's prompt and answers (a four-table join) took
2.0 ms of the web server's CPU through the ORM, 0.14 ms as the same SQL run directly and
0.23 ms prepared (benchmarks/README.md, "Web load"). A ``Prepared`` query is written as a
QuerySet with a ``Param`` wherever a value changes between runs; the first run on a
thread compiles it, later runs only fill in the values. The ORM still owns the SQL
(joins, quoting, the backend's dialect), and the converters of its columns still apply
to the rows.

Compiled queries are kept per thread because a compiler holds its thread's connection.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Expression, Field, QuerySet
from django.db.models.sql import UpdateQuery
from django.db.models.sql.compiler import SQLCompiler
from django.db.transaction import TransactionManagementError


class Param(Expression):
    """A value given when the prepared query runs: ``query.rows(name=value)``."""

    def __init__(self, name: str, output_field: Field[Any, Any]) -> None:
        super().__init__(output_field=output_field)
        self.name = name

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        return "%s", [self]  # the placeholder's value is looked up by name at run time


class _Compiled:
    def __init__(self, compiler: SQLCompiler) -> None:
        self.compiler = compiler
        self.sql, params = compiler.as_sql()
        self.params = tuple(params)
        # Django refuses SELECT … FOR UPDATE outside a transaction when it compiles one,
        # and a compiled one is not compiled again: checked on each run instead.
        features = compiler.connection.features
        self.locks = bool(compiler.query.select_for_update) and features.has_select_for_update

    def values(self, given: Mapping[str, Any]) -> list[Any]:
        missing = {p.name for p in self.params if isinstance(p, Param)} - set(given)
        if missing:
            raise TypeError(f"missing query parameters: {', '.join(sorted(missing))}")
        return [
            p.output_field.get_db_prep_value(given[p.name], connection, prepared=False)
            if isinstance(p, Param)
            else p
            for p in self.params
        ]


class Prepared:
    """A query built once by ``build`` (a QuerySet, or an UPDATE of one: ``update=``)."""

    def __init__(
        self, build: Callable[[], QuerySet[Any, Any]], *, update: Mapping[str, Any] | None = None
    ) -> None:
        self._build = build
        self._update = update
        self._local = threading.local()

    def _compiled(self) -> _Compiled:
        compiled: _Compiled | None = getattr(self._local, "compiled", None)
        current = connections[DEFAULT_DB_ALIAS]
        if compiled is None or compiled.compiler.connection is not current:
            self._local.compiled = compiled = _Compiled(self._compiler(current))
        return compiled

    def _compiler(self, current: BaseDatabaseWrapper) -> SQLCompiler:
        query = self._build().query
        if self._update is not None:
            query = query.chain(UpdateQuery)
            query.add_update_values(self._update)
        return query.get_compiler(connection=current)

    def reset(self) -> None:
        """Compile again on every thread's next run: what ``build`` read has changed (a
        test that patches a module constant, say; a LIMIT is part of the SQL)."""
        self._local = threading.local()

    def rows(self, **params: Any) -> list[tuple[Any, ...]]:
        """Run a SELECT (a ``values_list`` QuerySet): its rows, with the columns' converters."""
        compiled = self._compiled()
        if compiled.locks and connection.get_autocommit():
            raise TransactionManagementError(
                "select_for_update cannot be used outside of a transaction."
            )
        with connection.cursor() as cursor:
            cursor.execute(compiled.sql, compiled.values(params))
            fetched = cursor.fetchall()
        if compiled.compiler.has_extra_select:  # columns added for ordering, as the ORM trims
            fetched = [row[: compiled.compiler.col_count] for row in fetched]
        return list(compiled.compiler.results_iter(results=[fetched], tuple_expected=True))

    def run(self, **params: Any) -> int:
        """Run an UPDATE: how many rows it changed."""
        compiled = self._compiled()
        # As QuerySet.update: a failed write inside atomic() dooms the transaction.
        with transaction.mark_for_rollback_on_error(), connection.cursor() as cursor:
            cursor.execute(compiled.sql, compiled.values(params))
            return int(cursor.rowcount)

"""Adding an index without locking writers: migrations on a live deployment.

A plain CREATE INDEX on PostgreSQL holds off every write to the table while it builds,
which on arena_match or arena_vote means every vote and verdict; CONCURRENTLY does not,
but cannot run inside a transaction (so the migration sets ``atomic = False``). SQLite
builds it the plain way. (``django.contrib.postgres``'s ``AddIndexConcurrently`` refuses
other databases, and embedded mode runs on SQLite.)
"""

from __future__ import annotations

from typing import Any

from django.db import migrations


def _options(schema_editor: Any) -> dict[str, bool]:
    return {"concurrently": True} if schema_editor.connection.vendor == "postgresql" else {}


class AddIndexConcurrently(migrations.AddIndex):
    """``AddIndex``, built ``CONCURRENTLY`` on PostgreSQL."""

    def database_forwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        self._build(app_label, schema_editor, to_state, schema_editor.add_index)

    def database_backwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        self._build(app_label, schema_editor, from_state, schema_editor.remove_index)

    def _build(self, app_label: str, schema_editor: Any, state: Any, change: Any) -> None:
        model = state.apps.get_model(app_label, self.model_name)
        if self.allow_migrate_model(schema_editor.connection.alias, model):
            change(model, self.index, **_options(schema_editor))

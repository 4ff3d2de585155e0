"""Adding an index without locking writers: migrations on a live deployment.

A plain CREATE INDEX on PostgreSQL holds off every write to the table while it builds,
which on arena_match or arena_vote means every vote and verdict; CONCURRENTLY does not,
but cannot run inside a transaction (so the migration sets ``atomic = False``). SQLite
builds it the plain way.
"""

from __future__ import annotations

from typing import Any

from django.db import migrations, models


def add_index_concurrently(
    model_name: str, index: models.Index
) -> migrations.operations.base.Operation:
    """The migration operation: the index in the model state, built concurrently."""

    def options(schema_editor: Any) -> dict[str, bool]:
        return {"concurrently": True} if schema_editor.connection.vendor == "postgresql" else {}

    def add(apps: Any, schema_editor: Any) -> None:
        schema_editor.add_index(
            apps.get_model("arena", model_name), index, **options(schema_editor)
        )

    def remove(apps: Any, schema_editor: Any) -> None:
        schema_editor.remove_index(
            apps.get_model("arena", model_name), index, **options(schema_editor)
        )

    return migrations.SeparateDatabaseAndState(
        state_operations=[migrations.AddIndex(model_name=model_name, index=index)],
        database_operations=[migrations.RunPython(add, remove)],
    )

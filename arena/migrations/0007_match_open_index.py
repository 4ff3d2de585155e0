# The index is built CONCURRENTLY on PostgreSQL: a plain CREATE INDEX would hold off every
# vote and verdict (writes to arena_match) on a live deployment while it builds.

from django.db import migrations, models

INDEX = models.Index(fields=["tournament", "status", "voter_session"], name="match_open")


def _concurrently(schema_editor) -> dict:
    return {"concurrently": True} if schema_editor.connection.vendor == "postgresql" else {}


def add_index(apps, schema_editor) -> None:
    match = apps.get_model("arena", "Match")
    schema_editor.add_index(match, INDEX, **_concurrently(schema_editor))


def remove_index(apps, schema_editor) -> None:
    match = apps.get_model("arena", "Match")
    schema_editor.remove_index(match, INDEX, **_concurrently(schema_editor))


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run inside a transaction

    dependencies = [
        ("arena", "0006_judge_kinds_transformers_panel"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.AddIndex(model_name="match", index=INDEX)],
            database_operations=[migrations.RunPython(add_index, remove_index)],
        ),
    ]

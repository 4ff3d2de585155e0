from django.db import migrations, models

from arena.concurrent_index import add_index_concurrently


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run inside a transaction

    dependencies = [
        ("arena", "0006_judge_kinds_transformers_panel"),
    ]

    operations = [
        add_index_concurrently(
            "match",
            models.Index(fields=["tournament", "status", "voter_session"], name="match_open"),
        ),
    ]

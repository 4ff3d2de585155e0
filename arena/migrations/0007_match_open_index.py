from django.db import migrations, models

from arena.serving.concurrent_index import AddIndexConcurrently


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run inside a transaction

    dependencies = [
        ("arena", "0006_judge_kinds_transformers_panel"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="match",
            index=models.Index(fields=["tournament", "status", "voter_session"], name="match_open"),
        ),
    ]

# match_finished: the tournament page's latest results (the last finished matches) without
# sorting a tournament's whole history.

from django.db import migrations, models

from arena.serving.concurrent_index import AddIndexConcurrently


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run inside a transaction

    dependencies = [
        ("arena", "0010_evidence_cells"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="match",
            index=models.Index(fields=["tournament", "finished_at"], name="match_finished"),
        ),
    ]

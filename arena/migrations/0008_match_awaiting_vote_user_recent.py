# match_awaiting: a voter's next battle is the first free one by (round, slot); without a
# partial index, PostgreSQL walks the tournament's finished matches to reach it, a cost
# that grows with every vote (1 ms of its CPU per claim at 4,000 votes).
# vote_user_recent: a signed-in voter's limits count their votes of the last day; without
# it, every vote they ever cast.

from django.db import migrations, models

from arena.serving.concurrent_index import AddIndexConcurrently


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run inside a transaction

    dependencies = [
        ("arena", "0007_match_open_index"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="match",
            index=models.Index(
                fields=["tournament", "round", "slot"],
                condition=models.Q(status="awaiting_vote"),
                name="match_awaiting",
            ),
        ),
        AddIndexConcurrently(
            model_name="vote",
            index=models.Index(fields=["user", "created_at"], name="vote_user_recent")
        ),
    ]

"""Votes and battles shown kept voters' session keys in clear until 0019; they now keep a
keyed hash (arena.services.voting.voter_key, 40 hex characters). A stored key would sign in
whoever reads it as that voter, so the ones kept before are forgotten: a battle shown and
not voted is dropped (the voter is shown one again), a voted one keeps a placeholder
unique to its row (a battle is voted once per key), a vote keeps none."""

from django.db import migrations

HASHED = 40  # hex characters of voter_key; Django's session keys are 32


class Migration(migrations.Migration):
    dependencies = [("arena", "0018_judgment_orders")]

    operations = [
        migrations.RunSQL(
            f"UPDATE arena_vote SET session_key = '' WHERE length(session_key) <> {HASHED}",
            migrations.RunSQL.noop,
        ),
        migrations.RunSQL(
            "DELETE FROM arena_assignment"
            f" WHERE NOT voted AND length(session_key) <> {HASHED}",
            migrations.RunSQL.noop,
        ),
        migrations.RunSQL(
            "UPDATE arena_assignment SET session_key = 'forgotten-' || id"
            f" WHERE length(session_key) <> {HASHED}",
            migrations.RunSQL.noop,
        ),
    ]

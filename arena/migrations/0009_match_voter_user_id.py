# The user a human battle is held for (arena.serving.fastvote leaves such votes to Django). A nullable
# column without a default, constraint or index: adding it to arena_match is instant on
# PostgreSQL, whatever the table's size.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('arena', '0008_match_awaiting_vote_user_recent'),
    ]

    operations = [
        migrations.AddField(
            model_name='match',
            name='voter_user_id',
            field=models.BigIntegerField(blank=True, null=True),
        ),
    ]

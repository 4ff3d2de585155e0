# What the judge said in a call that gave no verdict (arena.services.matches.match_fail). A
# nullable column without a default, constraint or index: adding it to arena_match is
# instant on PostgreSQL, whatever the table's size.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('arena', '0013_spend'),
    ]

    operations = [
        migrations.AddField(
            model_name='match',
            name='failure_outputs',
            field=models.JSONField(blank=True, null=True),
        ),
    ]

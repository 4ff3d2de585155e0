# What a tournament has spent, kept as it is spent (arena.models.Spend), so that its page
# and every results publish need not sum its verdicts. `manage.py aggregates backfill`
# fills it for tournaments that were played before.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('arena', '0012_redundant_indexes'),
    ]

    operations = [
        migrations.CreateModel(
            name='Spend',
            fields=[
                ('tournament', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, primary_key=True, related_name='spend', serialize=False, to='arena.tournament')),
                ('judged_usd', models.DecimalField(decimal_places=6, default=0, max_digits=14)),
                ('answers_usd', models.DecimalField(decimal_places=6, default=0, max_digits=14)),
            ],
        ),
    ]

# Indexes no query needs, which every vote and verdict (and an import's million rows) paid
# for: match.status alone (two on PostgreSQL: the column and its LIKE pattern), and the
# foreign-key indexes of match.tournament and matchentry.match, which the composite
# indexes beginning with those columns already serve. Dropping an index is quick.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('arena', '0011_match_finished_index'),
    ]

    operations = [
        migrations.AlterField(
            model_name='match',
            name='status',
            field=models.CharField(choices=[('pending', 'Pending'), ('playing', 'Playing'), ('awaiting_vote', 'Awaiting Vote'), ('completed', 'Completed'), ('failed', 'Failed')], default='pending', max_length=20),
        ),
        migrations.AlterField(
            model_name='match',
            name='tournament',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='matches', to='arena.tournament'),
        ),
        migrations.AlterField(
            model_name='matchentry',
            name='match',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='entries', to='arena.match'),
        ),
    ]

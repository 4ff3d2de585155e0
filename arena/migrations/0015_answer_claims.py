# Answers being generated (arena.models.AnswerClaim): matches that need the same answer
# wait for one generation instead of each paying for its own.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('arena', '0014_match_failure_outputs'),
    ]

    operations = [
        migrations.CreateModel(
            name='AnswerClaim',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('settings_hash', models.CharField(max_length=64)),
                ('holder', models.CharField(max_length=32)),
                ('claimed_at', models.DateTimeField()),
                ('contestant', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='arena.contestant')),
                ('prompt', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='arena.prompt')),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('contestant', 'prompt', 'settings_hash'), name='answerclaim_key')],
            },
        ),
    ]

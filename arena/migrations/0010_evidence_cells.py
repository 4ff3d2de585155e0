# Evidence kept as counts (arena/evidence.py): the cells every verdict adds to, the Elo
# points of the rating history, and each answer's style features. New tables, and nullable
# columns without defaults on arena_response: instant on PostgreSQL at any size. Fill them
# for an existing database with `manage.py aggregates backfill`.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('arena', '0009_match_voter_user_id'),
    ]

    operations = [
        migrations.CreateModel(
            name='EloPoint',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('verdicts', models.PositiveIntegerField()),
                ('elo', models.JSONField(help_text='{contestant id: Elo}')),
            ],
            options={
                'ordering': ['tournament', 'verdicts'],
            },
        ),
        migrations.CreateModel(
            name='PairCell',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('source', models.CharField(max_length=32)),
                ('category', models.CharField(blank=True, max_length=100)),
                ('a_wins', models.IntegerField(default=0)),
                ('b_wins', models.IntegerField(default=0)),
                ('ties', models.IntegerField(default=0)),
                ('both_bad', models.IntegerField(default=0)),
                ('first_won', models.IntegerField(default=0)),
                ('first_lost', models.IntegerField(default=0)),
                ('longer_won', models.IntegerField(default=0)),
                ('longer_lost', models.IntegerField(default=0)),
                ('styled', models.IntegerField(default=0)),
                ('styled_ties', models.IntegerField(default=0)),
                ('share', models.FloatField(default=0.0)),
                ('a_points', models.FloatField(default=0.0)),
                ('votes', models.FloatField(default=0.0)),
                ('sy', models.FloatField(default=0.0)),
                ('sd_length', models.FloatField(default=0.0)),
                ('sd_headers', models.FloatField(default=0.0)),
                ('sd_lists', models.FloatField(default=0.0)),
                ('sd_bold', models.FloatField(default=0.0)),
                ('syd_length', models.FloatField(default=0.0)),
                ('syd_headers', models.FloatField(default=0.0)),
                ('syd_lists', models.FloatField(default=0.0)),
                ('syd_bold', models.FloatField(default=0.0)),
                ('sdd_length_length', models.FloatField(default=0.0)),
                ('sdd_length_headers', models.FloatField(default=0.0)),
                ('sdd_length_lists', models.FloatField(default=0.0)),
                ('sdd_length_bold', models.FloatField(default=0.0)),
                ('sdd_headers_headers', models.FloatField(default=0.0)),
                ('sdd_headers_lists', models.FloatField(default=0.0)),
                ('sdd_headers_bold', models.FloatField(default=0.0)),
                ('sdd_lists_lists', models.FloatField(default=0.0)),
                ('sdd_lists_bold', models.FloatField(default=0.0)),
                ('sdd_bold_bold', models.FloatField(default=0.0)),
            ],
        ),
        migrations.CreateModel(
            name='PromptPair',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('first_source', models.CharField(max_length=32)),
                ('shared', models.BooleanField(default=False)),
            ],
        ),
        migrations.CreateModel(
            name='PromptPairCell',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('source', models.CharField(max_length=32)),
                ('ab_a_wins', models.IntegerField(default=0)),
                ('ab_b_wins', models.IntegerField(default=0)),
                ('ab_ties', models.IntegerField(default=0)),
                ('ba_a_wins', models.IntegerField(default=0)),
                ('ba_b_wins', models.IntegerField(default=0)),
                ('ba_ties', models.IntegerField(default=0)),
            ],
        ),
        migrations.AddField(
            model_name='matchentry',
            name='style_bold',
            field=models.PositiveIntegerField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='matchentry',
            name='style_headers',
            field=models.PositiveIntegerField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='matchentry',
            name='style_length',
            field=models.PositiveIntegerField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='matchentry',
            name='style_lists',
            field=models.PositiveIntegerField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='response',
            name='style_bold',
            field=models.PositiveIntegerField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='response',
            name='style_headers',
            field=models.PositiveIntegerField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='response',
            name='style_length',
            field=models.PositiveIntegerField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='response',
            name='style_lists',
            field=models.PositiveIntegerField(blank=True, null=True),
        ),
        migrations.AlterField(
            model_name='judge',
            name='kind',
            field=models.CharField(choices=[('simulated', 'simulated (Bradley-Terry draw on hidden strengths)'), ('openai', 'LLM judge via an OpenAI-compatible API'), ('transformers', 'LLM judge run in-process with transformers (gpu queue)'), ('panel', 'panel of judges (settings: members, combine, weights)'), ('imported', 'verdicts imported from a battle file (no model is called)')], max_length=20),
        ),
        migrations.AddField(
            model_name='elopoint',
            name='tournament',
            field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.CASCADE, related_name='elo_points', to='arena.tournament'),
        ),
        migrations.AddField(
            model_name='paircell',
            name='a',
            field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='arena.contestant'),
        ),
        migrations.AddField(
            model_name='paircell',
            name='b',
            field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='arena.contestant'),
        ),
        migrations.AddField(
            model_name='paircell',
            name='tournament',
            field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.CASCADE, related_name='cells', to='arena.tournament'),
        ),
        migrations.AddField(
            model_name='promptpair',
            name='a',
            field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='arena.contestant'),
        ),
        migrations.AddField(
            model_name='promptpair',
            name='b',
            field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='arena.contestant'),
        ),
        migrations.AddField(
            model_name='promptpair',
            name='prompt',
            field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='arena.prompt'),
        ),
        migrations.AddField(
            model_name='promptpaircell',
            name='a',
            field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='arena.contestant'),
        ),
        migrations.AddField(
            model_name='promptpaircell',
            name='b',
            field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='arena.contestant'),
        ),
        migrations.AddField(
            model_name='promptpaircell',
            name='prompt',
            field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='arena.prompt'),
        ),
        migrations.AddField(
            model_name='promptpaircell',
            name='tournament',
            field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='arena.tournament'),
        ),
        migrations.AddConstraint(
            model_name='elopoint',
            constraint=models.UniqueConstraint(fields=('tournament', 'verdicts'), name='elopoint_unique'),
        ),
        migrations.AddIndex(
            model_name='paircell',
            index=models.Index(fields=['source', 'category'], name='paircell_filter'),
        ),
        migrations.AddConstraint(
            model_name='paircell',
            constraint=models.UniqueConstraint(fields=('tournament', 'source', 'category', 'a', 'b'), name='paircell_key'),
        ),
        migrations.AddIndex(
            model_name='promptpair',
            index=models.Index(condition=models.Q(('shared', True)), fields=['prompt'], name='promptpair_shared'),
        ),
        migrations.AddConstraint(
            model_name='promptpair',
            constraint=models.UniqueConstraint(fields=('prompt', 'a', 'b'), name='promptpair_key'),
        ),
        migrations.AddIndex(
            model_name='promptpaircell',
            index=models.Index(condition=models.Q(models.Q(('ab_a_wins__gt', 0), ('ab_b_wins__gt', 0), ('ab_ties__gt', 0), _connector='OR'), models.Q(('ba_a_wins__gt', 0), ('ba_b_wins__gt', 0), ('ba_ties__gt', 0), _connector='OR')), fields=['source'], name='promptpaircell_both_orders'),
        ),
        migrations.AddConstraint(
            model_name='promptpaircell',
            constraint=models.UniqueConstraint(fields=('prompt', 'a', 'b', 'tournament', 'source'), name='promptpaircell_key'),
        ),
    ]

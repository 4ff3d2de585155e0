# Battles for every voter at once (arena.services.battles): a battle shown to a voter is an
# Assignment row, so that any number of voters may be shown one match and each votes on it
# once; the match no longer records one holder (voter_session, voter_user_id go). Matches
# an adaptive arena draws when a voter asks keep the probability of their draw, and the
# cells the weights of the votes on them (0 for every cell so far: nothing was drawn; a
# column with a constant default is added without rewriting the table on PostgreSQL).

import django.db.models.deletion
from django.db import migrations, models

from arena.serving.concurrent_index import AddIndexConcurrently


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run inside a transaction

    dependencies = [
        ('arena', '0016_apitoken_expiry_scopes'),
    ]

    operations = [
        migrations.CreateModel(
            name='Assignment',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('session_key', models.CharField(max_length=64)),
                ('user_id', models.BigIntegerField(blank=True, null=True)),
                ('shown_at', models.DateTimeField()),
                ('voted', models.BooleanField(default=False)),
            ],
        ),
        # The index votes ask "any open match left?" with, built before the one it
        # replaces goes, and without holding off votes while it builds.
        AddIndexConcurrently(
            model_name='match',
            index=models.Index(fields=['tournament', 'status'], name='match_state'),
        ),
        migrations.RemoveIndex(
            model_name='match',
            name='match_open',
        ),
        migrations.RemoveField(
            model_name='match',
            name='voter_session',
        ),
        migrations.RemoveField(
            model_name='match',
            name='voter_user_id',
        ),
        migrations.AddField(
            model_name='match',
            name='draw_probability',
            field=models.FloatField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='assignment',
            name='match',
            field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.CASCADE, related_name='assignments', to='arena.match'),
        ),
        migrations.AddIndex(
            model_name='assignment',
            index=models.Index(condition=models.Q(('voted', False)), fields=['session_key', 'shown_at'], name='assignment_held'),
        ),
        migrations.AddConstraint(
            model_name='assignment',
            constraint=models.UniqueConstraint(fields=('match', 'session_key'), name='assignment_once'),
        ),
        migrations.AddField(
            model_name='paircell',
            name='ipw_a_wins',
            field=models.FloatField(default=0.0),
        ),
        migrations.AddField(
            model_name='paircell',
            name='ipw_b_wins',
            field=models.FloatField(default=0.0),
        ),
        migrations.AddField(
            model_name='paircell',
            name='ipw_ties',
            field=models.FloatField(default=0.0),
        ),
    ]

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client

from arena.models import Contestant
from arena.services.advance import tournament_advance
from arena.services.battles import battle_next
from arena.services.matches import match_play
from arena.services.tournaments import tournament_create, tournament_start
from arena.services.voting import vote_record
from tests.conftest import served_in_slot_order

pytestmark = pytest.mark.django_db


def test_staff_see_a_voter_who_always_backs_the_underdog_flagged(
    contestants, prompt_set, settings
) -> None:
    settings.VOTES_PER_MINUTE = 0
    people = contestants(6)  # distinct hidden strengths (tests/conftest.py)
    strength = {c.name: c.generation["strength"] for c in Contestant.objects.all()}
    t = tournament_start(
        tournament=tournament_create(
            name="h",
            format="round_robin",
            contestants=[c.name for c in people],
            prompt_set="tiny",
            judge=None,
            config={"rounds": 3},
            seed=5,
        )
    )
    for r in range(3):
        tournament_advance(tournament_id=t.pk)
        served_in_slot_order(t)  # the same battles, in the same order, every run
        for m in t.matches.filter(status="pending"):
            match_play(match_id=m.pk)
        for i in range(t.matches.filter(round=r).count()):
            # Honest voters pick the stronger model. In the last round, when the crowd has
            # voted on every pair twice, "rebel" votes on every pair, for the weaker.
            voter = "rebel" if r == 2 else f"honest-{r}-{i}"
            battle = battle_next(tournament=t, session_key=voter)
            shown = t.matches.get(public_id=battle.public_id)
            names = [e.contestant.name for e in shown.entries.order_by("position")]
            a_better = strength[names[0]] > strength[names[1]]
            pick = ("b" if a_better else "a") if voter == "rebel" else ("a" if a_better else "b")
            vote_record(
                public_id=battle.public_id,
                outcome=pick,
                idempotency_key=f"{r}{i}",
                session_key=voter,
            )
    staff = Client()
    staff.force_login(User.objects.create_user("boss", is_staff=True))
    page = staff.get("/staff/voters/").content.decode()
    assert '<tr class="flagged"><td>session rebel…</td>' in page
    assert page.count('class="flagged"') == 1
    assert Client().get("/staff/voters/").status_code == 302

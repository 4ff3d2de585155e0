from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from arena.models import Match, Vote
from arena.services.battles import battle_next
from arena.services.voting import vote_record
from arena.voters import Voter, voter_opens_at, voter_page, voter_vote_count

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_boards() -> None:
    """Fitted boards are cached under a stamp of the standings, which a rolled-back test
    leaves as it found them: an earlier test's crowd board would be read as this one's."""
    cache.clear()


def _vote_all(tournament, session: str, outcome_of) -> int:
    """Vote on every battle the session is given; ``outcome_of(names)`` picks the outcome."""
    votes = 0
    while (battle := battle_next(tournament=tournament, session_key=session)) is not None:
        match = Match.objects.get(public_id=battle.public_id)
        names = [e.contestant.name for e in match.entries.order_by("position")]
        vote_record(
            public_id=battle.public_id,
            idempotency_key=uuid.uuid4().hex,
            session_key=session,
            outcome=outcome_of(names),
            tournament_id=tournament.pk,
        )
        votes += 1
    return votes


def test_a_voter_who_always_prefers_the_crowds_favourite_agrees_with_it(
    human_tournament_of,
) -> None:
    t = human_tournament_of(3)
    cast = _vote_all(t, "alphabet", lambda names: "a" if names[0] < names[1] else "b")
    page = voter_page(Voter("alphabet"))
    assert page.count == cast == 3 and voter_vote_count(Voter("alphabet")) == 3
    assert (page.agreed, page.compared, page.agreement) == (3, 3, 1.0)
    assert [r.contestant for r in page.board] == ["sim-0", "sim-1", "sim-2"]
    assert page.board[0].bt > page.board[-1].bt and page.board[0].crowd_rank is not None
    assert [v.agreement for v in page.votes] == [1.0, 1.0, 1.0]


def test_ties_are_not_counted_as_agreeing_or_not(human_tournament_of) -> None:
    t = human_tournament_of(3)
    _vote_all(t, "undecided", lambda names: "tie")
    page = voter_page(Voter("undecided"))
    assert (page.agreed, page.compared, page.agreement) == (0, 0, None)
    assert all(v.agreement is None for v in page.votes) and len(page.board) == 3


def test_a_signed_in_voter_counts_the_votes_of_their_user_and_of_this_browser(
    human_tournament_of, django_user_model
) -> None:
    t = human_tournament_of(3)
    _vote_all(t, "browser", lambda names: "a")
    user = django_user_model.objects.create_user("voter")
    Vote.objects.filter(pk=Vote.objects.first().pk).update(user=user, session_key="elsewhere")
    assert voter_vote_count(Voter("browser")) == 2
    assert voter_vote_count(Voter("browser", user_id=user.pk)) == 3


def test_past_the_limit_voting_opens_when_the_oldest_vote_in_the_window_leaves_it(
    human_tournament_of, settings
) -> None:
    settings.VOTES_PER_MINUTE = 2
    t = human_tournament_of(3)
    now = timezone.now()
    match = t.matches.first()
    for seconds_ago in (50, 20):
        Vote.objects.create(
            match=match, session_key="hasty", idempotency_key=f"k{seconds_ago}", ranking=[]
        )
        Vote.objects.filter(idempotency_key=f"k{seconds_ago}").update(
            created_at=now - timedelta(seconds=seconds_ago)
        )
    assert voter_opens_at(Voter("hasty"), ip="", now=now) == now + timedelta(seconds=10)
    Vote.objects.filter(idempotency_key="k50").delete()
    assert voter_opens_at(Voter("hasty"), ip="", now=now) is None

from __future__ import annotations

import pytest

from arena.models import Contestant, Match, MatchStatus, Standing, TournamentStatus, Vote
from arena.services.advance import tournament_advance
from arena.services.battles import battle_next
from arena.services.matches import match_play
from arena.services.tournaments import tournament_create, tournament_start
from arena.services.voting import VoteRefused, vote_record

pytestmark = pytest.mark.django_db


@pytest.fixture
def human_tournament(human_tournament_of):
    tournament = human_tournament_of(3)
    assert {m.status for m in tournament.matches.all()} == {"awaiting_vote"}
    return tournament


def test_human_matches_get_their_answers_then_wait_for_a_vote(human_tournament) -> None:
    matches = human_tournament.matches.all()
    assert {m.status for m in matches} == {MatchStatus.AWAITING_VOTE}
    assert all(e.response_id for m in matches for e in m.entries.all())


def test_a_battle_shows_the_prompt_and_answers_but_no_model(human_tournament) -> None:
    battle = battle_next(tournament=human_tournament, session_key="s1")
    assert battle is not None and len(battle.answers) == 2
    match = Match.objects.get(public_id=battle.public_id)
    assert battle.prompt == match.prompt.text
    shown = repr(battle)
    assert not any(c.name in shown for c in Contestant.objects.all())
    assert str(match.pk) != str(battle.public_id)


def test_a_reload_shows_the_same_battle_and_other_voters_get_other_battles(
    human_tournament,
) -> None:
    first = battle_next(tournament=human_tournament, session_key="s1")
    assert battle_next(tournament=human_tournament, session_key="s1") == first
    other = battle_next(tournament=human_tournament, session_key="s2")
    assert other is not None and other.public_id != first.public_id


def test_a_vote_completes_the_battle_reveals_the_models_and_moves_the_elo(human_tournament) -> None:
    battle = battle_next(tournament=human_tournament, session_key="s1")
    reveal = vote_record(
        public_id=battle.public_id, outcome="a", idempotency_key="k1", session_key="s1"
    )
    match = Match.objects.get(public_id=battle.public_id)
    names = [e.contestant.name for e in match.entries.order_by("position")]
    assert reveal.models == tuple(names)
    assert reveal.ranking == ((names[0],), (names[1],))
    assert match.status == MatchStatus.COMPLETED and match.judgment.judge is None
    winner = Standing.objects.get(contestant__name=names[0])
    assert winner.elo > 1000.0 and winner.wins == 1.0


def test_a_replayed_vote_counts_once_and_returns_the_same_reveal(human_tournament) -> None:
    battle = battle_next(tournament=human_tournament, session_key="s1")
    first = vote_record(
        public_id=battle.public_id, outcome="tie", idempotency_key="k", session_key="s1"
    )
    again = vote_record(
        public_id=battle.public_id, outcome="tie", idempotency_key="k", session_key="s1"
    )
    assert first == again
    assert Vote.objects.count() == 1
    assert sum(Standing.objects.values_list("ties", flat=True)) == 2


@pytest.mark.parametrize(
    ("change", "field", "phrase"),
    [
        ({"idempotency_key": "other"}, "battle", "already has your vote"),
        ({"idempotency_key": "k1", "public_id": "elsewhere"}, "idempotency_key", "another battle"),
        ({"outcome": "c"}, "outcome", "one of"),
        ({"idempotency_key": ""}, "idempotency_key", "required"),
    ],
)
def test_votes_after_the_reveal_or_with_bad_input_are_refused(
    human_tournament, change, field, phrase
) -> None:
    battle = battle_next(tournament=human_tournament, session_key="s1")
    vote_record(public_id=battle.public_id, outcome="a", idempotency_key="k1", session_key="s1")
    kwargs = {
        "public_id": battle.public_id,
        "outcome": "b",
        "idempotency_key": "k2",
        "session_key": "s1",
    }
    kwargs.update(change)
    with pytest.raises(VoteRefused) as refused:
        vote_record(**kwargs)
    assert refused.value.field == field and phrase in refused.value.message
    assert Vote.objects.count() == 1


def test_only_the_voter_the_battle_was_shown_to_may_vote(human_tournament) -> None:
    battle = battle_next(tournament=human_tournament, session_key="s1")
    with pytest.raises(VoteRefused, match="not shown to you"):
        vote_record(public_id=battle.public_id, outcome="a", idempotency_key="x", session_key="s2")
    with pytest.raises(VoteRefused, match="unknown battle"):
        vote_record(public_id="not-a-uuid", outcome="a", idempotency_key="y", session_key="s1")
    assert not Vote.objects.exists()


def test_the_tournament_completes_when_every_battle_has_its_vote(human_tournament) -> None:
    for i in range(3):
        battle = battle_next(tournament=human_tournament, session_key=f"voter{i}")
        vote_record(
            public_id=battle.public_id,
            outcome="bothbad",
            idempotency_key=str(i),
            session_key=f"voter{i}",
        )
    tournament_advance(tournament_id=human_tournament.pk)
    human_tournament.refresh_from_db()
    assert human_tournament.status == TournamentStatus.COMPLETED
    assert all(m.judgment.both_bad for m in human_tournament.matches.all())
    assert battle_next(tournament=human_tournament, session_key="late") is None


@pytest.fixture
def kwise_tournament(human_tournament_of):
    return human_tournament_of(4, format="kwise", config={"k": 4, "rounds": 1}, seed=2)


def test_a_kwise_battle_is_ranked_whole_with_ties(kwise_tournament) -> None:
    battle = battle_next(tournament=kwise_tournament, session_key="s")
    assert len(battle.answers) == 4 and not battle.is_pairwise
    reveal = vote_record(
        public_id=battle.public_id, ranks=[2, 1, 1, 4], idempotency_key="k", session_key="s"
    )
    m = reveal.models
    assert reveal.ranking == ((m[1], m[2]), (m[0],), (m[3],))
    standings = {s.contestant.name: s for s in Standing.objects.filter(tournament=kwise_tournament)}
    assert standings[m[3]].wins == 0.0 and standings[m[1]].wins == pytest.approx(2.5 / 3)


@pytest.mark.parametrize("ranks", [[1, 2, 3], [0, 1, 2, 3], [1, 2, 3, 5]])
def test_a_kwise_ranking_must_rank_each_answer_from_1_to_k(kwise_tournament, ranks) -> None:
    battle = battle_next(tournament=kwise_tournament, session_key="s")
    with pytest.raises(VoteRefused) as refused:
        vote_record(public_id=battle.public_id, ranks=ranks, idempotency_key="k", session_key="s")
    assert refused.value.field == "ranks"
    assert not Vote.objects.exists()


def test_a_pairwise_outcome_is_refused_for_a_kwise_battle(kwise_tournament) -> None:
    battle = battle_next(tournament=kwise_tournament, session_key="s")
    with pytest.raises(VoteRefused, match="rank them"):
        vote_record(public_id=battle.public_id, outcome="a", idempotency_key="k", session_key="s")


def test_a_voter_past_the_rate_limit_is_refused_and_nothing_is_counted(
    human_tournament, settings
) -> None:
    settings.VOTES_PER_MINUTE = 1
    first = battle_next(tournament=human_tournament, session_key="s")
    vote_record(
        public_id=first.public_id, outcome="a", idempotency_key="1", session_key="s", ip="10.0.0.1"
    )
    second = battle_next(tournament=human_tournament, session_key="s")
    with pytest.raises(VoteRefused) as refused:
        vote_record(public_id=second.public_id, outcome="a", idempotency_key="2", session_key="s")
    assert refused.value.field == "rate" and "at most 1 in a minute" in refused.value.message
    assert Vote.objects.count() == 1
    assert Match.objects.get(public_id=second.public_id).status == MatchStatus.AWAITING_VOTE


def test_the_daily_cap_counts_the_last_day_and_the_rate_only_the_last_minute(
    human_tournament, settings
) -> None:
    from datetime import timedelta

    from django.utils import timezone

    settings.VOTES_PER_MINUTE, settings.VOTES_PER_DAY = 1, 2

    def vote(key: str) -> None:
        battle = battle_next(tournament=human_tournament, session_key="s")
        vote_record(public_id=battle.public_id, outcome="a", idempotency_key=key, session_key="s")

    vote("1")
    Vote.objects.update(created_at=timezone.now() - timedelta(hours=2))  # past the minute
    vote("2")  # the rate allows it: one vote in the last minute was none
    Vote.objects.filter(idempotency_key="2").update(
        created_at=timezone.now() - timedelta(minutes=5)
    )
    with pytest.raises(VoteRefused, match="at most 2 in a day"):
        vote("3")
    Vote.objects.update(created_at=timezone.now() - timedelta(days=2))  # both a day old
    vote("4")
    assert Vote.objects.count() == 3


def test_a_signed_in_voter_is_limited_across_sessions(human_tournament, settings) -> None:
    from django.contrib.auth.models import User

    settings.VOTES_PER_MINUTE = 1
    user = User.objects.create(username="voter")

    def vote(session: str) -> None:
        battle = battle_next(tournament=human_tournament, session_key=session)
        vote_record(
            public_id=battle.public_id,
            outcome="a",
            idempotency_key=session,
            session_key=session,
            user_id=user.pk,
        )

    vote("phone")
    with pytest.raises(VoteRefused, match="at most 1 in a minute"):
        vote("laptop")
    assert Vote.objects.count() == 1


def test_one_address_is_capped_across_sessions_and_only_its_hash_is_stored(
    human_tournament, settings
) -> None:
    settings.VOTES_PER_IP_PER_DAY = 1
    a = battle_next(tournament=human_tournament, session_key="a")
    vote_record(
        public_id=a.public_id, outcome="b", idempotency_key="1", session_key="a", ip="203.0.113.9"
    )
    b = battle_next(tournament=human_tournament, session_key="b")
    with pytest.raises(VoteRefused, match="from one address"):
        vote_record(
            public_id=b.public_id,
            outcome="b",
            idempotency_key="2",
            session_key="b",
            ip="203.0.113.9",
        )
    stored = Vote.objects.get()
    assert stored.ip_hash and "203.0.113.9" not in str(Vote.objects.values().get())


@pytest.mark.django_db(transaction=True)
def test_a_vote_schedules_one_leaderboard_refit_per_window_in_a_worker(
    contestants, prompt_set, monkeypatch
) -> None:
    from django.core.cache import cache

    from arena import tasks
    from arena.services.results import tournament_results_publish

    scheduled: list[tuple[int, ...]] = []
    monkeypatch.setattr(
        tasks.publish_leaderboard, "apply_async", lambda **kw: scheduled.append(kw["args"])
    )
    cache.clear()
    people = contestants(4)
    t = tournament_start(
        tournament=tournament_create(
            name="h",
            format="round_robin",
            contestants=[c.name for c in people],
            prompt_set="tiny",
            judge=None,
            config={"rounds": 1},
            seed=1,
        )
    )
    tournament_advance(tournament_id=t.pk)
    for m in t.matches.all():
        match_play(match_id=m.pk)

    def vote(i: int) -> None:
        battle = battle_next(tournament=t, session_key=f"v{i}")
        vote_record(
            public_id=battle.public_id, outcome="a", idempotency_key=str(i), session_key=f"v{i}"
        )

    for i in range(3):
        vote(i)
    assert scheduled == [(t.pk,)]  # three votes in one window: one refit
    tournament_results_publish(tournament_id=t.pk)  # what the worker runs
    vote(3)
    assert scheduled == [(t.pk,), (t.pk,)]  # the publish opened the next window


def test_the_deferred_publish_sends_progress_and_leaderboards_that_the_request_does_not(
    human_tournament, monkeypatch, django_capture_on_commit_callbacks
) -> None:
    from arena import live
    from arena.services import results

    sent: list[tuple[str, dict]] = []
    monkeypatch.setattr(live, "publish", lambda group, event: sent.append((group, event)))
    monkeypatch.setattr(results, "_schedule_results", lambda tournament_id: None)
    for i in range(3):
        battle = battle_next(tournament=human_tournament, session_key=f"v{i}")
        with django_capture_on_commit_callbacks(execute=True):
            vote_record(
                public_id=battle.public_id, outcome="a", idempotency_key=str(i), session_key=f"v{i}"
            )
        # The request itself sends one event per vote: the finished match.
        assert [e["type"] for _, e in sent] == ["match.finished"]
        sent.clear()
    with django_capture_on_commit_callbacks(execute=True):
        results.tournament_results_publish(tournament_id=human_tournament.pk)
    events = {e["type"]: e for _, e in sent}
    assert sorted(events) == ["leaderboard.changed", "leaderboard.updated", "tournament.progress"]
    assert events["tournament.progress"]["done"] == 3


def test_the_last_vote_of_a_round_queues_the_next_round_even_if_the_deferred_publish_fails(
    human_tournament, monkeypatch, django_capture_on_commit_callbacks
) -> None:
    from arena import tasks
    from arena.services import matches

    def broker_down(**kwargs) -> None:
        raise ConnectionError("the broker is unreachable")

    advanced: list[int] = []
    monkeypatch.setattr(matches, "enqueue_advance", advanced.append)
    monkeypatch.setattr(tasks.publish_leaderboard, "apply_async", broker_down)
    for i in range(3):
        assert advanced == []  # a battle is still open
        battle = battle_next(tournament=human_tournament, session_key=f"v{i}")
        with django_capture_on_commit_callbacks(execute=True):
            vote_record(
                public_id=battle.public_id, outcome="a", idempotency_key=str(i), session_key=f"v{i}"
            )
    assert advanced == [human_tournament.pk]


def test_two_votes_on_one_battle_count_once_whoever_wins(human_tournament) -> None:
    battle = battle_next(tournament=human_tournament, session_key="s")
    vote_record(public_id=battle.public_id, outcome="a", idempotency_key="1", session_key="s")
    with pytest.raises(VoteRefused, match="already has your vote"):
        vote_record(public_id=battle.public_id, outcome="b", idempotency_key="2", session_key="s")
    match = Match.objects.get(public_id=battle.public_id)
    assert match.votes.count() == 1 and match.judgment.ranking == match.votes.get().ranking
    assert sum(Standing.objects.values_list("matches", flat=True)) == 2


@pytest.mark.django_db(transaction=True)
def test_votes_racing_on_the_same_battles_count_once_each_and_lose_no_standing(
    human_tournament_of,
) -> None:
    """Votes take no tournament lock: concurrent ones must still count exactly once."""
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("SQLite serialises writers: the race needs PostgreSQL (services mode)")
    t = human_tournament_of(6)  # 15 battles
    battles = [battle_next(tournament=t, session_key=f"v{i}") for i in range(15)]

    def vote(i: int, attempt: int) -> str:
        try:
            vote_record(
                public_id=battles[i].public_id,
                outcome="a" if attempt else "b",
                idempotency_key=f"{i}-{attempt}",  # a second tab: another key
                session_key=f"v{i}",
            )
            return "counted"
        except VoteRefused as refused:
            return refused.message
        finally:
            connection.close()

    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(vote, [i for i in range(15) for _ in range(2)], [0, 1] * 15))
    assert outcomes.count("counted") == 15
    assert outcomes.count("this battle already has your vote") == 15
    assert Vote.objects.count() == 15 and Match.objects.filter(status="completed").count() == 15
    standings = Standing.objects.filter(tournament=t)
    assert sum(s.matches for s in standings) == 30 and sum(s.wins for s in standings) == 15


def test_a_replay_spelled_another_way_is_still_a_replay_and_owes_its_round_again(
    human_tournament, django_capture_on_commit_callbacks
) -> None:
    """A request cut off after its commit (its after-commit work lost) is answered by the
    replay, which does that work again: the next round once no match is open."""
    from arena.services import matches

    queued: list[int] = []
    battles = []
    for i in range(3):
        battles.append(battle_next(tournament=human_tournament, session_key=f"s{i}"))
        with django_capture_on_commit_callbacks(execute=False):  # lost with the connection
            vote_record(
                public_id=battles[-1].public_id,
                outcome="a",
                idempotency_key=f"k{i}",
                session_key=f"s{i}",
            )
    original = matches.enqueue_advance
    matches.enqueue_advance = queued.append
    try:
        again = vote_record(
            public_id=str(battles[-1].public_id).upper().replace("-", ""),
            outcome="a",
            idempotency_key="k2",
            session_key="s2",
        )
    finally:
        matches.enqueue_advance = original
    assert again.replayed and queued == [human_tournament.pk]
    assert Vote.objects.count() == 3


@pytest.mark.parametrize("action", ["pause", "cancel"])
def test_a_paused_or_cancelled_tournament_takes_no_vote(human_tournament, action: str) -> None:
    from arena.services.tournaments import TOURNAMENT_ACTIONS

    battle = battle_next(tournament=human_tournament, session_key="s1")
    TOURNAMENT_ACTIONS[action](tournament=human_tournament)
    with pytest.raises(VoteRefused):
        vote_record(public_id=battle.public_id, outcome="a", idempotency_key="k", session_key="s1")
    assert not Vote.objects.exists()
    assert (
        Match.objects.filter(public_id=battle.public_id, status=MatchStatus.COMPLETED).count() == 0
    )

"""A judged tournament sends the matches whose judge disagreed with itself (its two orders,
or its panel's members) to a review tournament that people vote on: the same prompt and
answers, blind; the people's verdicts count as human votes, the judge's stand as its own,
and the judged tournament's page says how many went, were answered, or could not go."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.test import Client

from arena.models import Match, PairCell, Tournament
from arena.services import matches as svc
from arena.services.advance import tournament_advance
from arena.services.battles import battle_next
from arena.services.tournaments import tournament_cancel, tournament_create, tournament_start
from arena.services.voting import vote_record
from judges.backends.base import OrderVerdict, Verdict
from judges.orders import self_disagreement
from tests.arena.served import served_contestants, served_judge
from tests.judges.fake_openai import FakeOpenAIServer

pytestmark = pytest.mark.django_db

NAMES = ["model-0", "model-1", "model-2"]


def answering(judge_says: str):
    def respond(request: dict) -> object:
        if request["model"] == "judge":
            return judge_says
        return f"Reply number {request['model'][-1]}."  # names no model: blind voting takes it

    return respond


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as fake:
        yield fake


@pytest.fixture
def setup(server: FakeOpenAIServer, prompt_set) -> Tournament:
    served_contestants(server, NAMES)
    served_judge(server, "judge", settings={"both_orders": True})
    review = tournament_create(
        name="second opinions",
        format="review",
        contestants=NAMES,
        prompt_set=prompt_set.name,
        judge=None,
    )
    return tournament_start(tournament=review)


def judged(review: Tournament, **config: object) -> Tournament:
    tournament = tournament_start(
        tournament=tournament_create(
            name="judged",
            format="round_robin",
            contestants=NAMES,
            prompt_set="tiny",
            judge="judge",
            config={"rounds": 1, "disagreements_to": "second opinions", **config},
        )
    )
    tournament_advance(tournament_id=tournament.pk)
    for match in tournament.matches.order_by("pk"):
        assert svc.match_play(match_id=match.pk) == "completed"
    return tournament


def test_each_match_whose_orders_disagree_becomes_a_blind_battle_with_the_same_answers(
    server: FakeOpenAIServer, setup: Tournament
) -> None:
    server.responder = answering("[[A]]")  # always the first: its two orders disagree
    tournament = judged(setup)

    sent = list(Match.objects.filter(tournament=setup).order_by("slot"))
    judged_matches = list(tournament.matches.order_by("pk"))
    assert [m.escalation for m in judged_matches] == ["sent (orders disagree)"] * 3
    assert [m.escalated_from_id for m in sent] == [m.pk for m in judged_matches]
    for battle, match in zip(sent, judged_matches, strict=True):
        assert battle.status == "awaiting_vote" and battle.prompt_id == match.prompt_id
        same = [(e.contestant_id, e.position, e.response_id) for e in battle.entries.all()]
        assert same == [(e.contestant_id, e.position, e.response_id) for e in match.entries.all()]


def test_the_peoples_votes_count_as_human_verdicts_and_the_judges_stay_its_own(
    server: FakeOpenAIServer, setup: Tournament
) -> None:
    server.responder = answering("[[A]]")
    tournament = judged(setup)

    for voter in range(3):
        battle = battle_next(tournament=setup, session_key=f"v{voter}")
        assert battle is not None
        vote_record(
            public_id=battle.public_id,
            outcome="a",
            idempotency_key=f"k{voter}",
            session_key=f"v{voter}",
        )

    judge_cells = PairCell.objects.filter(tournament=tournament)
    assert {(c.source.startswith("judge:"), c.ties) for c in judge_cells} == {(True, 1)}
    human_cells = PairCell.objects.filter(tournament=setup, source="humans")
    assert sum(c.a_wins + c.b_wins for c in human_cells) == 3
    cache.clear()
    page = Client().get(f"/tournaments/{tournament.pk}/").content.decode()
    assert "3 matches sent to people" in page and "3 voted on so far" in page
    assert "second opinions" in page


def test_a_judge_that_agrees_with_itself_sends_nothing(
    server: FakeOpenAIServer, setup: Tournament
) -> None:
    # "[[C]]" is a tie in both orders: the same verdict either way round
    server.responder = answering("[[C]]")
    tournament = judged(setup)

    assert not Match.objects.filter(tournament=setup).exists()
    assert set(tournament.matches.values_list("escalation", flat=True)) == {""}


DISAGREEING = Verdict(
    ranking=((0, 1),),
    orders=(
        OrderVerdict(shown=(0, 1), ranking=((0,), (1,))),
        OrderVerdict(shown=(1, 0), ranking=((0,), (1,))),
    ),
)


def test_a_closed_review_or_an_answer_naming_its_model_is_counted_as_not_sent(
    server: FakeOpenAIServer, setup: Tournament
) -> None:
    server.responder = answering("[[C]]")  # nothing sent while playing
    tournament = judged(setup)
    first, second = tournament.matches.order_by("pk")[:2]
    response = second.entries.get(position=0).response
    response.text = f"As {response.contestant.name}, I think so."
    response.save()

    assert svc.match_escalate(tournament=tournament, match=second, verdict=DISAGREEING) == (
        f"not sent: answer 0 names {response.contestant.name}"
    )
    tournament_cancel(tournament=setup)
    assert svc.match_escalate(tournament=tournament, match=first, verdict=DISAGREEING) == (
        "not sent: the review tournament is cancelled"
    )
    assert not Match.objects.filter(tournament=setup).exists()
    cache.clear()
    page = Client().get(f"/tournaments/{tournament.pk}/").content.decode()
    assert "0 matches sent to people" in page
    assert "1 not sent: the review tournament is cancelled" in page


def errors_of(**arguments: object) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as caught:
        tournament_create(prompt_set="tiny", **arguments)  # type: ignore[arg-type]
    return caught.value.message_dict


def test_a_tournament_sends_only_to_an_open_review_with_all_its_contestants(
    setup: Tournament,
) -> None:
    def refusal(judge: str | None, target: object) -> list[str]:
        config = {"rounds": 1, "disagreements_to": target}
        found = errors_of(
            name="x", format="round_robin", contestants=NAMES, judge=judge, config=config
        )
        return found["disagreements_to"]

    assert refusal("judge", "nothing") == ["no tournament named 'nothing'"]
    assert refusal("judge", 2**70) == [f"no tournament named {2**70}"]  # no row, no 500
    assert "only a tournament with a judge" in refusal(None, "second opinions")[0]
    small = tournament_create(
        name="small", format="review", contestants=NAMES[:2], prompt_set="tiny", judge=None
    )
    assert refusal("judge", small.pk) == ["small lacks contestants model-2"]
    other = tournament_create(
        name="rr", format="round_robin", contestants=NAMES, prompt_set="tiny", judge="judge"
    )
    assert refusal("judge", other.pk) == ["rr is a round_robin tournament, not a review"]
    tournament_cancel(tournament=setup)
    assert refusal("judge", "second opinions") == ["second opinions is cancelled"]
    review_with_judge = errors_of(
        name="r", format="review", contestants=NAMES, judge="judge", config={}
    )
    assert "judged by people" in review_with_judge["judge"][0]


def test_panel_members_that_disagree_are_a_disagreement_too() -> None:
    split = Verdict(
        ranking=((0,), (1,)), extra={"panel": [{"ranking": [[0], [1]]}, {"ranking": [[1], [0]]}]}
    )
    agreed = Verdict(ranking=((0,), (1,)), extra={"panel": [{"ranking": [[0], [1]]}] * 2})
    assert self_disagreement(split) == "panel members disagree"
    assert self_disagreement(agreed) is None

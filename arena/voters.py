"""Reads about one voter: their votes, how often the crowd agrees, their own leaderboard,
and when a voter past a vote limit may vote again. Read-only, for the voting pages.

A voter is their browser session, and the user signed in to it: a signed-in voter's page
gathers their votes from every browser, an anonymous one's from this browser only.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db.models import Q, QuerySet

from arena.boards import global_leaderboard
from arena.evidence import COLUMNS, Entrant, pair_increments
from arena.models import Contestant, Vote
from arena.services.voting import vote_ip_hash
from arena.standings import LeaderboardRow, PairTallies, leaderboard_rows

# The columns of the evidence cells a leaderboard is fitted from (arena.standings).
_TALLIED = tuple(COLUMNS.index(c) for c in ("a_wins", "b_wins", "ties", "share", "a_points"))
_VOTES = COLUMNS.index("votes")
# The page lists this many of the latest votes; the fits use them all.
LISTED_VOTES = 50


@dataclass(frozen=True)
class Voter:
    session_key: str
    user_id: int | None = None

    @property
    def votes(self) -> Q:
        mine = Q(session_key=self.session_key) if self.session_key else Q(pk__in=[])
        return (mine | Q(user_id=self.user_id)) if self.user_id else mine


def voter_vote_count(voter: Voter) -> int:
    return Vote.objects.filter(voter.votes).count()


@dataclass(frozen=True)
class CastVote:
    created_at: datetime.datetime
    tournament_id: int
    tournament: str
    prompt: str
    ranking: list[list[str]]  # tiers of names, best first
    both_bad: bool
    # Of this vote's decisive pairs that the crowd's board rates, the share it orders alike;
    # None when it has none (a tie, or a model the crowd has not rated).
    agreement: float | None


@dataclass(frozen=True)
class PersonalRow:
    contestant: str
    rank: int
    bt: float | None
    bt_low: float | None
    bt_high: float | None
    verdicts: float  # this voter's verdicts on the model (a K-wise vote is shared out)
    crowd_rank: int | None
    crowd_bt: float | None


@dataclass(frozen=True)
class VoterPage:
    count: int
    votes: list[CastVote]  # the latest first, at most LISTED_VOTES
    agreed: int  # decisive pairs the crowd's board orders as this voter did
    compared: int  # decisive pairs the crowd's board rates
    board: list[PersonalRow]

    @property
    def agreement(self) -> float | None:
        return self.agreed / self.compared if self.compared else None


def voter_page(voter: Voter) -> VoterPage:
    """The voter's votes, their agreement with the crowd (the human-votes board, which
    counts this voter's votes too) and their own Bradley-Terry board beside the crowd's."""
    mine = Vote.objects.filter(voter.votes).order_by("-created_at", "-pk")
    verdicts = list(mine.values_list("ranking", "both_bad"))
    names = dict(Contestant.objects.values_list("pk", "name"))
    crowd = {r["contestant"]: r for r in global_leaderboard(source="humans")[0]}
    crowd_bt = {m: r["bt"] for m, r in crowd.items() if r["bt"] is not None}
    agreed = compared = 0
    for ids, _ in verdicts:
        same, rated = _agreement([[names[c] for c in tier] for tier in ids], crowd_bt)
        agreed, compared = agreed + same, compared + rated
    return VoterPage(
        count=len(verdicts),
        votes=_cast_votes(mine[:LISTED_VOTES], names, crowd_bt),
        agreed=agreed,
        compared=compared,
        board=[
            PersonalRow(
                contestant=r["contestant"],
                rank=r["rank"],
                bt=r["bt"],
                bt_low=r["bt_low"],
                bt_high=r["bt_high"],
                verdicts=round(r["matches"], 2),
                crowd_rank=crowd[r["contestant"]]["rank"] if r["contestant"] in crowd else None,
                crowd_bt=crowd_bt.get(r["contestant"]),
            )
            for r in _personal_rows(verdicts, names)
        ],
    )


def _cast_votes(
    votes: QuerySet[Vote], names: dict[int, str], crowd_bt: dict[str, float]
) -> list[CastVote]:
    listed = []
    for created, tournament_id, tournament, prompt, ids, both_bad in votes.values_list(
        "created_at", "match__tournament_id", "match__tournament__name",
        "match__prompt__text", "ranking", "both_bad",
    ):  # fmt: skip
        ranking = [[names[c] for c in tier] for tier in ids]
        same, rated = _agreement(ranking, crowd_bt)
        listed.append(
            CastVote(
                created_at=created,
                tournament_id=tournament_id,
                tournament=tournament,
                prompt=prompt,
                ranking=ranking,
                both_bad=both_bad,
                agreement=same / rated if rated else None,
            )
        )
    return listed


def _agreement(ranking: list[list[str]], crowd_bt: dict[str, float]) -> tuple[int, int]:
    """(pairs the crowd orders alike, decisive pairs the crowd rates) of one vote."""
    agreed = rated = 0
    for i, better in enumerate(ranking):
        for worse in ranking[i + 1 :]:
            for a in better:
                for b in worse:
                    if a in crowd_bt and b in crowd_bt:
                        rated += 1
                        agreed += crowd_bt[a] > crowd_bt[b]
    return agreed, rated


def _personal_rows(
    votes: list[tuple[list[list[int]], bool]], names: dict[int, str]
) -> list[LeaderboardRow]:
    """The voter's own board: their votes summed per pair as the evidence cells sum
    everyone's (arena.evidence), fitted as every board is (arena.standings)."""
    sums: dict[tuple[int, int], list[float]] = defaultdict(lambda: [0.0] * 6)
    for ranking, both_bad in votes:
        entrants = [Entrant(c) for tier in ranking for c in tier]
        for pair, increments in pair_increments(entrants, ranking, both_bad=both_bad).items():
            cell = sums[pair]
            for n, column in enumerate((*_TALLIED, _VOTES)):
                cell[n] += increments[column]
    if not sums:
        return []
    judged = {c for pair in sums for c in pair}
    tallies = PairTallies.of(
        [names[c] for c in judged],
        [(names[a], names[b], tuple(cell)) for (a, b), cell in sums.items()],
    )
    return leaderboard_rows(tallies, min_verdicts=settings.MIN_VERDICTS)


# The vote limits as arena.services.voting counts them: (most votes, over what span).
def _limits(by_address: bool) -> list[tuple[int, timedelta, str]]:
    limits = [
        (settings.VOTES_PER_MINUTE, timedelta(minutes=1), "voter"),
        (settings.VOTES_PER_DAY, timedelta(days=1), "voter"),
    ]
    if by_address:
        limits.append((settings.VOTES_PER_IP_PER_DAY, timedelta(days=1), "address"))
    return [limit for limit in limits if limit[0]]


def voter_opens_at(voter: Voter, *, ip: str, now: datetime.datetime) -> datetime.datetime | None:
    """When every limit this voter is past lets them vote again (the oldest vote that
    holds them back leaves its window); None when no limit holds them back."""
    ip_hash = vote_ip_hash(ip)
    by_voter = Q(user_id=voter.user_id) if voter.user_id else Q(session_key=voter.session_key)
    opens: list[datetime.datetime] = []
    for most, span, who in _limits(bool(ip_hash)):
        which = by_voter if who == "voter" else Q(ip_hash=ip_hash)
        window = Vote.objects.filter(which, created_at__gte=now - span).order_by("-created_at")
        # Past the limit while ``most`` votes are in the window: open once the most-th
        # newest has left it.
        held = list(window.values_list("created_at", flat=True)[most - 1 : most])
        if held:
            opens.append(held[0] + span)
    return max(opens, default=None)

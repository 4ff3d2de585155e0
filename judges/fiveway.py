"""Arithmetic of 5-way pairwise verdicts: swapping, combining both orders, length control.

A 5-way verdict is turned into a signed score, positive when the FIRST answer (in the
caller's order) is better: A>>B = +2, A>B = +1, A=B = 0, B>A = -1, B>>A = -2. Scores make
order correction a sign flip and combination an average.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from judges.backends.base import Ranking
from judges.parsing import FiveWayVerdict

Margin = Literal["strong", "slight", "tie"]
OrderDisagreement = Literal["tie", "average"]

_SCORES: dict[FiveWayVerdict, int] = {"A>>B": 2, "A>B": 1, "A=B": 0, "B>A": -1, "B>>A": -2}
_SWAPPED: dict[FiveWayVerdict, FiveWayVerdict] = {
    "A>>B": "B>>A",
    "A>B": "B>A",
    "A=B": "A=B",
    "B>A": "A>B",
    "B>>A": "A>>B",
}


@dataclass(frozen=True)
class FiveWayOutcome:
    ranking: Ranking
    margin: Margin
    length_penalty_applied: bool = False


def unswap_five_way(vote: FiveWayVerdict) -> FiveWayVerdict:
    """Map a vote given on swapped answers back to the original order."""
    return _SWAPPED[vote]


def combined_score(votes: Sequence[FiveWayVerdict], policy: OrderDisagreement) -> float:
    """Mean score of the (order-corrected) votes.

    Votes pointing opposite ways are position bias, not preference: under "tie" they
    cancel to 0 (the MT-Bench / Arena-Hard convention); under "average" they are averaged
    like any other pair, so (A>>B, B>A) still leans to A."""
    scores = [_SCORES[v] for v in votes]
    if policy == "tie" and any(s > 0 for s in scores) and any(s < 0 for s in scores):
        return 0.0
    return sum(scores) / len(scores)


def outcome_of(score: float) -> FiveWayOutcome:
    # Strong only when every reading said strong (mean of +-2): a conservative reading
    # of a judge that hesitated in one order.
    if score == 0:
        return FiveWayOutcome(ranking=((0, 1),), margin="tie")
    ranking: Ranking = ((0,), (1,)) if score > 0 else ((1,), (0,))
    return FiveWayOutcome(ranking=ranking, margin="strong" if abs(score) >= 2 else "slight")


def apply_length_penalty(
    outcome: FiveWayOutcome, lengths: tuple[int, int], max_extra_chars: int | None
) -> FiveWayOutcome:
    """WildBench's length control: a slight win by a much longer answer becomes a tie.

    Lin et al. 2024, "WildBench: Benchmarking LLMs with Challenging Tasks from Real Users
    in the Wild" (arXiv:2406.04770), section 3.2: "if the winner's response is longer than
    the loser's by more than K characters, a slight win becomes a tie". Strong wins stand:
    the judge was sure for reasons length does not explain away. None disables it."""
    if max_extra_chars is None or outcome.margin != "slight":
        return outcome
    winner, loser = outcome.ranking[0][0], outcome.ranking[1][0]
    if lengths[winner] - lengths[loser] <= max_extra_chars:
        return outcome
    return FiveWayOutcome(ranking=((0, 1),), margin="tie", length_penalty_applied=True)

"""Backend-independent pieces of pairwise judging: prompt rendering and vote arithmetic.

A vote is what the judge said about the answers in the order it saw them ("A", "B" or
"tie"); a ranking is in the caller's answer indices. Keeping the two apart is what makes
position swapping (judging (A, B) and then (B, A)) easy to get right.
"""

from __future__ import annotations

from judges.backends.base import Ranking
from judges.fencing import new_boundary, render_messages
from judges.parsing import PairwiseVerdict
from judges.prompts import PromptTemplate

_RANKINGS: dict[PairwiseVerdict, Ranking] = {
    "A": ((0,), (1,)),
    "B": ((1,), (0,)),
    "tie": ((0, 1),),
}

_SWAPPED: dict[PairwiseVerdict, PairwiseVerdict] = {"A": "B", "B": "A", "tie": "tie"}


def render_pairwise(
    template: PromptTemplate,
    *,
    question: str,
    answer_a: str,
    answer_b: str,
    boundary: str | None = None,
) -> list[dict[str, str]]:
    """Messages for one pairwise call; a fresh fence boundary unless one is given."""
    if boundary is None:
        boundary = new_boundary((question, answer_a, answer_b))
    values = {
        "question": question,
        "answer_a": answer_a,
        "answer_b": answer_b,
        "boundary": boundary,
    }
    return render_messages(template, values)


def unswap(vote: PairwiseVerdict) -> PairwiseVerdict:
    """Map a vote given on swapped answers back to the original order."""
    return _SWAPPED[vote]


def combine_votes(first: PairwiseVerdict, second: PairwiseVerdict) -> PairwiseVerdict:
    # A judge that changes its mind when the answers swap places is showing position
    # bias, not a preference: count it as a tie (the Arena-Hard / MT-Bench convention).
    return first if first == second else "tie"


def ranking_of(vote: PairwiseVerdict) -> Ranking:
    return _RANKINGS[vote]


def slot_ranking(label: str) -> Ranking:
    """A 3-way or 5-way label as the judge wrote it, as tiers of the slots it saw (0 is the
    answer shown first): only the direction counts, a strong win ranks as a slight one."""
    if label in ("tie", "A=B"):
        return _RANKINGS["tie"]
    return _RANKINGS["A" if label.startswith("A") else "B"]

"""Turn a judge's free text into a verdict label, tolerantly but never by guessing.

Judges are asked to end with ``[[A]]``, ``[[B]]`` or ``[[C]]`` (tie), the MT-Bench
convention (Zheng et al. 2023, "Judging LLM-as-a-Judge with MT-Bench and Chatbot Arena").
Their explanations often quote the labels before the final one ("[[A]] would apply if..."),
so the LAST label in the text is the verdict. Text without any label gives ``None``: the
caller decides whether to ask again; it must not be read as a tie.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Literal, cast

PairwiseVerdict = Literal["A", "B", "tie"]

# Tolerates spaces, markdown bold and lower case inside the brackets ("[[ a ]]",
# "[[**B**]]") and "tie" spelt out; nothing looser, so prose is never taken for a verdict.
# ASCII only: Unicode case folding lets "İ" match "I", and "tİe".upper() is no label.
_LABEL = re.compile(r"\[\[\s*\**\s*(A|B|C|TIE)\s*\**\s*\]\]", re.IGNORECASE | re.ASCII)

_MEANING: dict[str, PairwiseVerdict] = {"A": "A", "B": "B", "C": "tie", "TIE": "tie"}


def parse_pairwise_verdict(text: str) -> PairwiseVerdict | None:
    labels = _LABEL.findall(text)
    return _MEANING[labels[-1].upper()] if labels else None


# -- 5-way verdicts --------------------------------------------------------------------

FiveWayVerdict = Literal["A>>B", "A>B", "A=B", "B>A", "B>>A"]

# Arena-Hard's 5-point scale (Li et al. 2024, "From Crowdsourced Data to High-Quality
# Benchmarks: Arena-Hard and BenchBuilder"), written as [[A>>B]] ... [[B>>A]]. The same
# tolerance as above: spaces and markdown bold inside the brackets, "B=A" for "A=B",
# "B<A" style reversals are NOT accepted (a judge that writes them misread the format).
_FIVE_WAY = re.compile(
    r"\[\[\s*\**\s*([AB])\s*(>>|>|=)\s*([AB])\s*\**\s*\]\]", re.IGNORECASE | re.ASCII
)


def _five_way_label(left: str, operator: str, right: str) -> FiveWayVerdict | None:
    left, right = left.upper(), right.upper()
    if left == right:
        return None
    if operator == "=":
        return "A=B"
    label = f"{left}{operator}{right}"
    return cast(FiveWayVerdict, label)


def parse_five_way_verdict(text: str) -> FiveWayVerdict | None:
    """The last well-formed 5-way label in ``text``, or None (never a guessed tie)."""
    for match in reversed(list(_FIVE_WAY.finditer(text))):
        label = _five_way_label(*match.groups())
        if label is not None:
            return label
    return None


def find_pairwise_label(text: str) -> tuple[PairwiseVerdict, int] | None:
    """The verdict and the offset of its letter in ``text``: where to read logprobs."""
    matches = list(_LABEL.finditer(text))
    if not matches:
        return None
    last = matches[-1]
    return _MEANING[last.group(1).upper()], last.start(1)


# -- listwise rankings -----------------------------------------------------------------

LetterRanking = tuple[tuple[str, ...], ...]

# "[[RANKING: C > A = D > B]]" (tiers separated by ">", ties by "="). Letters only: a judge
# that writes model names or numbers gets the repair prompt rather than a guessed mapping.
_RANKING = re.compile(r"\[\[\s*\**\s*RANKING\s*:([^\[\]]*)\]\]", re.IGNORECASE | re.ASCII)
_RANK_ITEM = re.compile(r"\s*\**\s*([A-Z])\s*\**\s*", re.IGNORECASE | re.ASCII)


def parse_listwise_ranking(text: str, labels: Sequence[str]) -> LetterRanking | None:
    """The last ``[[RANKING: ...]]`` in ``text`` as tiers of labels, or None.

    Valid only if every label appears exactly once: a ranking that drops or repeats an
    answer cannot be mapped back without guessing."""
    matches = _RANKING.findall(text)
    if not matches:
        return None
    tiers: list[tuple[str, ...]] = []
    for tier_text in matches[-1].split(">"):
        tier: list[str] = []
        for item in tier_text.split("="):
            match = _RANK_ITEM.fullmatch(item)
            if match is None:
                return None
            tier.append(match.group(1).upper())
        tiers.append(tuple(tier))
    seen = [label for tier in tiers for label in tier]
    if len(seen) != len(set(seen)) or set(seen) != set(labels):
        return None
    return tuple(tiers)

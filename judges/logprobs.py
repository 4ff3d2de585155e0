"""Verdict probabilities from the judge's token logprobs.

A judge asked for ``logprobs=True, top_logprobs=5`` reports, for every token it wrote, the
few most likely tokens it could have written instead. At the verdict letter of ``[[A]]``
those alternatives are the other verdicts, so their probabilities, renormalised over the
verdict labels found, say how sure the judge was: P(A better), P(tie), P(B better).
This is the G-Eval idea (Liu et al. 2023, "G-Eval: NLG Evaluation using GPT-4 with Better
Human Alignment") of weighting labels by their token probabilities, applied to a pairwise
verdict. Labels missing from the top alternatives count as 0; if none is found at all,
there are no probabilities (None), never a made-up distribution.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from judges.parsing import find_pairwise_label

# Keys of Verdict.probabilities for a pair, in the caller's answer order.
OUTCOMES = ("A", "tie", "B")

# What a top-logprob token means once brackets, bold and spaces are stripped: tokenizers
# split "[[A]]" as "[[", "A", "]]" or "[[A", "]]" or " A" depending on the model.
_TOKEN_MEANING = {"A": "A", "B": "B", "C": "tie", "TIE": "tie"}


@dataclass(frozen=True)
class TokenLogprob:
    token: str
    logprob: float
    top: tuple[tuple[str, float], ...] = ()


def _meaning(token: str) -> str | None:
    return _TOKEN_MEANING.get(token.strip(" \t\n[]*").upper())


def _token_at(tokens: Sequence[TokenLogprob], offset: int) -> TokenLogprob | None:
    # The content is the concatenation of the tokens, so offsets add up.
    start = 0
    for token in tokens:
        end = start + len(token.token)
        if start <= offset < end:
            return token
        start = end
    return None


def label_probabilities(tokens: Sequence[TokenLogprob], text: str) -> dict[str, float] | None:
    """P(A better), P(tie), P(B better) at the final [[A]]/[[B]]/[[C]] label of ``text``."""
    found = find_pairwise_label(text)
    if found is None:
        return None
    token = _token_at(tokens, found[1])
    if token is None or _meaning(token.token) is None:
        return None  # the letter shares a token with other text: alternatives mean nothing
    mass = dict.fromkeys(OUTCOMES, 0.0)
    # The chosen token is normally among its own top alternatives; count it once.
    alternatives = dict(token.top)
    alternatives.setdefault(token.token, token.logprob)
    for alternative, logprob in alternatives.items():
        meaning = _meaning(alternative)
        if meaning is not None:
            mass[meaning] += math.exp(logprob)
    total = sum(mass.values())
    if total <= 0:
        return None
    return {outcome: mass[outcome] / total for outcome in OUTCOMES}


def swap_probabilities(probabilities: Mapping[str, float]) -> dict[str, float]:
    """Probabilities given on swapped answers, in the original order."""
    return {"A": probabilities["B"], "tie": probabilities["tie"], "B": probabilities["A"]}


def average_probabilities(
    readings: Sequence[Mapping[str, float]], weights: Sequence[float] | None = None
) -> dict[str, float]:
    weights = list(weights) if weights is not None else [1.0] * len(readings)
    total = sum(weights)
    return {
        outcome: sum(w * p[outcome] for w, p in zip(weights, readings, strict=True)) / total
        for outcome in OUTCOMES
    }


def most_likely(probabilities: Mapping[str, float]) -> str:
    """The most probable outcome; an exact A/B draw is a tie rather than a coin flip."""
    best = max(probabilities[o] for o in OUTCOMES)
    winners = [o for o in OUTCOMES if probabilities[o] == best]
    return winners[0] if len(winners) == 1 else "tie"

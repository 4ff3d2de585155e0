"""Turn a judge's free text into a verdict label, tolerantly but never by guessing.

Judges are asked to end with ``[[A]]``, ``[[B]]`` or ``[[C]]`` (tie), the MT-Bench
convention (Zheng et al. 2023, "Judging LLM-as-a-Judge with MT-Bench and Chatbot Arena").
Their explanations often quote the labels before the final one ("[[A]] would apply if..."),
so the LAST label in the text is the verdict. Text without any label gives ``None``: the
caller decides whether to ask again; it must not be read as a tie.
"""

from __future__ import annotations

import re
from typing import Literal

PairwiseVerdict = Literal["A", "B", "tie"]

# Tolerates spaces, markdown bold and lower case inside the brackets ("[[ a ]]",
# "[[**B**]]") and "tie" spelt out; nothing looser, so prose is never taken for a verdict.
# ASCII only: Unicode case folding lets "İ" match "I", and "tİe".upper() is no label.
_LABEL = re.compile(r"\[\[\s*\**\s*(A|B|C|TIE)\s*\**\s*\]\]", re.IGNORECASE | re.ASCII)

_MEANING: dict[str, PairwiseVerdict] = {"A": "A", "B": "B", "C": "tie", "TIE": "tie"}


def parse_pairwise_verdict(text: str) -> PairwiseVerdict | None:
    labels = _LABEL.findall(text)
    return _MEANING[labels[-1].upper()] if labels else None

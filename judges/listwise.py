"""Backend-independent pieces of listwise (K-wise) judging: labels, order, rendering.

The judge sees K answers labelled A, B, C, ... in a presentation order; it answers with
tiers of labels. ``order[position] = answer index`` maps labels back to the caller's
indices, so shuffling the presentation (against position bias) never leaks into results.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence

from judges.backends.base import Ranking
from judges.fencing import fence, new_boundary, render_messages
from judges.parsing import LetterRanking
from judges.prompts import PromptTemplate

MAX_ANSWERS = 8
LETTERS = "ABCDEFGH"


def labels_for(count: int) -> tuple[str, ...]:
    return tuple(LETTERS[:count])


def presentation_order(
    question: str, texts: Sequence[str], *, shuffle: bool, seed: int
) -> list[int]:
    """Which answer goes in which position.

    The shuffle is seeded by the settings' seed AND the match's content, so every match
    gets its own order (one fixed permutation for all matches would just move the bias)
    while a replay of the same tournament shows the judge exactly the same prompts."""
    order = list(range(len(texts)))
    if shuffle:
        digest = hashlib.sha256("\x1f".join([str(seed), question, *texts]).encode()).digest()
        random.Random(int.from_bytes(digest[:8], "big")).shuffle(order)
    return order


def render_listwise(
    template: PromptTemplate,
    *,
    question: str,
    texts_in_order: Sequence[str],
    boundary: str | None = None,
) -> list[dict[str, str]]:
    if boundary is None:
        boundary = new_boundary((question, *texts_in_order))
    labels = labels_for(len(texts_in_order))
    blocks = [
        f"[Answer {label}]\n{fence(f'ANSWER {label}', text, boundary)}"
        for label, text in zip(labels, texts_in_order, strict=True)
    ]
    values = {
        "question": question,
        "answers": "\n\n".join(blocks),
        "labels": ", ".join(labels),
        "count": str(len(labels)),
        "boundary": boundary,
    }
    return render_messages(template, values)


def repair_message(template: PromptTemplate, count: int) -> str:
    return template.repair.replace("{labels}", ", ".join(labels_for(count)))


def ranking_from_letters(tiers: LetterRanking, order: Sequence[int]) -> Ranking:
    """Tiers of labels (as the judge saw them) to tiers of the caller's answer indices."""
    return tuple(tuple(sorted(order[LETTERS.index(label)] for label in tier)) for tier in tiers)

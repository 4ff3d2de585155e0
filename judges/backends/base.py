"""The small contract every backend keeps, and the two kinds of failure it may raise.

Transient failures (timeouts, 429, 5xx) are worth retrying with backoff; permanent ones
(bad request, unparseable verdict after repair) are recorded on the match and not retried.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

# Tiers of answer indices, best first; indices in one tier are tied.
Ranking = tuple[tuple[int, ...], ...]


class BackendError(Exception):
    transient = False
    # USD already spent on calls that returned before the failure (the first order of a
    # pair, a reply that could not be read, the panel members that answered): paid for,
    # so a caller keeping a spend counts it although no verdict came of it.
    cost: float = 0.0


class TransientError(BackendError):
    """Try again later: the same request may well succeed."""

    transient = True

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class RawOutput:
    """What a model said in one call of a comparison that failed (``call`` names which:
    the judge's first reply, the reply to the repair prompt, ...), kept so that a person
    can read why no verdict came of it."""

    call: str
    text: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "text", storable(self.text))


class PermanentError(BackendError):
    """Retrying the same request cannot help. ``raw_outputs``: the replies the failed
    comparison got, if it got any (an unreadable verdict, not a refused request)."""

    def __init__(self, message: str, *, raw_outputs: Sequence[RawOutput] = ()) -> None:
        super().__init__(message)
        self.raw_outputs = tuple(raw_outputs)


_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def storable(text: str) -> str:
    """Model text as a database can keep it: without NUL (PostgreSQL refuses it in text)
    and without lone surrogates (not encodable as UTF-8), each replaced by U+FFFD."""
    if text.isascii() and "\x00" not in text:
        return text
    return _UNSTORABLE.sub("\ufffd", text)


@dataclass(frozen=True)
class Generation:
    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_ms: int = 0
    cost: float = 0.0

    def __post_init__(self) -> None:
        # Whatever a model wrote is stored as it arrives, so it is made storable here, once.
        object.__setattr__(self, "text", storable(self.text))


@dataclass(frozen=True)
class Answer:
    """An answer to judge. ``author`` names the contestant for simulated judges and logs
    only: a real judge must never put it in its prompt (answers are judged blind)."""

    text: str
    author: str = ""


@dataclass(frozen=True)
class Verdict:
    ranking: Ranking
    both_bad: bool = False
    probabilities: dict[str, float] | None = None
    raw_output: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    latency_ms: int = 0
    extra: dict[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "raw_output", storable(self.raw_output))


class Generator(Protocol):
    def generate(self, prompt: str) -> Generation: ...


class Comparator(Protocol):
    def compare(self, prompt: str, answers: Sequence[Answer]) -> Verdict: ...

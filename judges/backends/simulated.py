"""SIMULATED contestants and judges: no model is called. For demos, tests and the simulator.

A simulated contestant has a hidden strength (Elo scale) and "answers" with filler text
that is a deterministic function of its name, the seed and the prompt. A simulated judge
ranks answers by a Bradley-Terry draw on the authors' hidden strengths, with ties from
Davidson's model: for strengths p = 10^(r/400),
    P(A wins) = pA / (pA + pB + nu*sqrt(pA*pB)),   P(tie) = nu*sqrt(pA*pB) / (same),
(Davidson 1970, "On extending the Bradley-Terry model to accommodate ties"). nu = 0.5 gives
20% ties between equals. K > 2 answers are ranked by a Plackett-Luce draw (no ties).
"""

from __future__ import annotations

import hashlib
import math
import random
import time
from collections.abc import Mapping, Sequence

from judges.backends.base import (
    Answer,
    Generation,
    OrderVerdict,
    PermanentError,
    Ranking,
    Verdict,
)

_WORDS = (
    "first consider the question carefully then weigh each option against the evidence "
    "a clear answer names its assumptions gives an example and checks the result"
).split()


def _rng(*parts: object) -> random.Random:
    digest = hashlib.sha256(":".join(str(p) for p in parts).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


class SimulatedContestant:
    def __init__(self, *, name: str, seed: int = 0, length: int = 60) -> None:
        self.name = name
        self.seed = seed
        self.length = length

    def generate(self, prompt: str) -> Generation:
        rng = _rng(self.seed, self.name, prompt)
        words = [rng.choice(_WORDS) for _ in range(rng.randint(self.length // 2, self.length))]
        text = "(simulated answer) " + " ".join(words).capitalize() + "."
        return Generation(
            text=text, prompt_tokens=len(prompt.split()), completion_tokens=len(words)
        )


class SimulatedJudge:
    def __init__(
        self,
        *,
        strengths: Mapping[str, float],
        seed: int = 0,
        tie_strength: float = 0.5,
        both_bad_share: float = 0.25,
        delay_s: float = 0.0,
    ) -> None:
        self.strengths = dict(strengths)
        self.seed = seed
        self.nu = tie_strength
        self.both_bad_share = both_bad_share
        self.delay_s = delay_s

    def compare(self, prompt: str, answers: Sequence[Answer]) -> Verdict:
        if len(answers) < 2:
            raise PermanentError(f"need at least 2 answers to compare, got {len(answers)}")
        unknown = [a.author for a in answers if a.author not in self.strengths]
        if unknown:
            raise PermanentError(f"simulated judge has no hidden strength for {unknown}")
        if self.delay_s:
            time.sleep(self.delay_s)
        rng = _rng(self.seed, prompt, *(a.author for a in answers), *(a.text for a in answers))
        power = [10 ** (self.strengths[a.author] / 400) for a in answers]
        if len(answers) == 2:
            ranking, both_bad = self._pair(power[0], power[1], rng)
        else:
            ranking, both_bad = self._plackett_luce(power, rng), False
        raw = "simulated: " + " > ".join("=".join(str(i) for i in tier) for tier in ranking)
        # Shown in the caller's order, so its slots are the answers' indices.
        shown = OrderVerdict(shown=tuple(range(len(answers))), ranking=ranking)
        return Verdict(ranking=ranking, both_bad=both_bad, raw_output=raw, orders=(shown,))

    def _pair(self, pa: float, pb: float, rng: random.Random) -> tuple[Ranking, bool]:
        tie = self.nu * math.sqrt(pa * pb)
        draw = rng.random() * (pa + pb + tie)
        if draw < pa:
            return ((0,), (1,)), False
        if draw < pa + pb:
            return ((1,), (0,)), False
        return ((0, 1),), rng.random() < self.both_bad_share

    @staticmethod
    def _plackett_luce(power: Sequence[float], rng: random.Random) -> Ranking:
        # Sorting by log-strength plus Gumbel noise samples a Plackett-Luce ranking.
        keys = [math.log(p) - math.log(-math.log(rng.random() or 1e-300)) for p in power]
        order = sorted(range(len(power)), key=lambda i: -keys[i])
        return tuple((i,) for i in order)

"""A panel of judges: several comparators judge the same match, one verdict comes out.

Panels of different judge models correlate better with people than one large judge and
dilute any single model's self-preference (Verga et al. 2024, "Replacing Judges with
Juries: Evaluating LLM Generations with a Panel of Diverse Models", arXiv:2404.18796).

- ``combine="majority"``: every pair of answers is decided by a weighted plurality of
  the judges' pairwise outcomes (win, loss or tie, each derived from the judge's ranking);
  a plurality shared by two outcomes is a tie, since the panel did not decide. For K > 2
  the pairwise decisions are ordered by Copeland score (wins + half ties), equal scores
  sharing a tier, which also settles the rare majority cycle as a tie.
- ``combine="probability"``: pairs only; the judges' outcome probabilities are averaged
  (weighted) and the most likely outcome wins; every judge must supply probabilities.

Judges are called one after another and any error propagates: a panel verdict with a
missing member would be a different panel. Pure apart from calling the comparators.

A Judge row of kind "panel" names its members (other Judge rows) in its settings;
:func:`parse_panel_settings` checks those settings, and arena.services.backends builds
the members and the panel from them.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Any, Literal, cast

from judges.backends.base import (
    Answer,
    BackendError,
    Comparator,
    PermanentError,
    Ranking,
    RawOutput,
    Verdict,
)
from judges.logprobs import average_probabilities, most_likely

Combine = Literal["majority", "probability"]
PairOutcome = Literal["first", "second", "tie"]

_OUTCOME_RANKINGS: dict[str, Ranking] = {"A": ((0,), (1,)), "B": ((1,), (0,)), "tie": ((0, 1),)}


def pair_outcome(ranking: Ranking, i: int, j: int) -> PairOutcome:
    """How a ranking orders answers i and j."""
    tier = {index: level for level, members in enumerate(ranking) for index in members}
    if tier[i] == tier[j]:
        return "tie"
    return "first" if tier[i] < tier[j] else "second"


def _plurality(tally: dict[PairOutcome, float]) -> PairOutcome:
    best = max(tally.values())
    leaders = [outcome for outcome, weight in tally.items() if math.isclose(weight, best)]
    return leaders[0] if len(leaders) == 1 else "tie"


def majority_ranking(rankings: Sequence[Ranking], weights: Sequence[float], k: int) -> Ranking:
    score = [0.0] * k
    for i, j in combinations(range(k), 2):
        tally: dict[PairOutcome, float] = {"first": 0.0, "second": 0.0, "tie": 0.0}
        for ranking, weight in zip(rankings, weights, strict=True):
            tally[pair_outcome(ranking, i, j)] += weight
        decided = _plurality(tally)
        score[i] += {"first": 1.0, "tie": 0.5, "second": 0.0}[decided]
        score[j] += {"first": 0.0, "tie": 0.5, "second": 1.0}[decided]
    levels = sorted(set(score), reverse=True)
    return tuple(tuple(i for i in range(k) if score[i] == level) for level in levels)


def _check_rankings(verdicts: Sequence[Verdict], k: int) -> None:
    for number, verdict in enumerate(verdicts, start=1):
        indices = sorted(i for tier in verdict.ranking for i in tier)
        if indices != list(range(k)):
            raise PermanentError(f"panel judge {number} ranked {indices}, expected 0..{k - 1}")


def _probability_verdict(
    verdicts: Sequence[Verdict], weights: Sequence[float], k: int
) -> tuple[Ranking, dict[str, float]]:
    if k != 2:
        raise PermanentError("panel combine='probability' works on pairs only")
    missing = [n for n, v in enumerate(verdicts, start=1) if v.probabilities is None]
    if missing:
        raise PermanentError(f"panel combine='probability': judges {missing} gave none")
    probabilities = average_probabilities([v.probabilities or {} for v in verdicts], weights)
    return _OUTCOME_RANKINGS[most_likely(probabilities)], probabilities


def _header(number: int, count: int, name: str | None, weight: float) -> str:
    # Names and weights go into the stored raw output: weights learnt from human votes
    # change over time, and a judgment must say which ones made it.
    if name is None:
        return f"=== panel judge {number} of {count} ==="
    return f"=== panel judge {number} of {count}: {name} (weight {weight:g}) ==="


def combine_verdicts(
    verdicts: Sequence[Verdict],
    k: int,
    *,
    combine: Combine,
    weights: Sequence[float],
    names: Sequence[str] | None = None,
) -> Verdict:
    """One verdict from the panel's verdicts on the same K answers."""
    _check_rankings(verdicts, k)
    probabilities: dict[str, float] | None = None
    if combine == "probability":
        ranking, probabilities = _probability_verdict(verdicts, weights, k)
    else:
        ranking = majority_ranking([v.ranking for v in verdicts], weights, k)
    # "Both bad" needs a tie AND more than half the panel's weight saying so.
    bad_weight = sum(w for v, w in zip(verdicts, weights, strict=True) if v.both_bad)
    both_bad = len(ranking) == 1 and bad_weight > sum(weights) / 2
    return Verdict(
        ranking=ranking,
        both_bad=both_bad,
        probabilities=probabilities,
        raw_output="\n".join(
            f"{_header(n, len(verdicts), names[n - 1] if names else None, w)}\n{v.raw_output}"
            for n, (v, w) in enumerate(zip(verdicts, weights, strict=True), start=1)
        ),
        prompt_tokens=sum(v.prompt_tokens for v in verdicts),
        completion_tokens=sum(v.completion_tokens for v in verdicts),
        cost=sum(v.cost for v in verdicts),
        latency_ms=sum(v.latency_ms for v in verdicts),
        extra={
            "combine": combine,
            "weights": list(weights),
            "members": list(names) if names else None,
            "panel": [
                {
                    "ranking": v.ranking,
                    "both_bad": v.both_bad,
                    "probabilities": v.probabilities,
                    "raw_output": v.raw_output,
                    "extra": v.extra,
                }
                for v in verdicts
            ],
        },
    )


def _checked_weights(weights: Sequence[float] | None, count: int) -> list[float]:
    if weights is None:
        return [1.0] * count
    values = [float(w) for w in weights]
    if len(values) != count:
        raise PermanentError(f"panel has {count} judges but {len(values)} weights")
    if any(not math.isfinite(w) or w < 0 for w in values) or sum(values) <= 0:
        raise PermanentError("panel weights must be finite, >= 0, and not all 0")
    return values


class PanelJudge:
    """A Comparator made of comparators (see module doc)."""

    def __init__(
        self,
        judges: Sequence[Comparator],
        *,
        combine: Combine = "majority",
        weights: Sequence[float] | None = None,
        names: Sequence[str] | None = None,
    ) -> None:
        if not judges:
            raise PermanentError("a panel needs at least one judge")
        if combine not in ("majority", "probability"):
            raise PermanentError(f"panel combine must be 'majority' or 'probability': {combine!r}")
        if names is not None and len(names) != len(judges):
            raise PermanentError(f"panel has {len(judges)} judges but {len(names)} names")
        self.judges = list(judges)
        self.names = list(names) if names is not None else None
        self.combine: Combine = combine
        self.weights = _checked_weights(weights, len(self.judges))

    @property
    def template_hash(self) -> str | None:
        """One hash over the members' template hashes, for the tournament manifest: a
        member whose template changed makes a different panel."""
        hashes = [getattr(judge, "template_hash", None) for judge in self.judges]
        if not any(hashes):
            return None
        labels = self.names or [str(n) for n in range(1, len(self.judges) + 1)]
        lines = "\n".join(f"{label}={h or ''}" for label, h in zip(labels, hashes, strict=True))
        return hashlib.sha256(lines.encode()).hexdigest()

    def compare(self, prompt: str, answers: Sequence[Answer]) -> Verdict:
        if self.combine == "probability" and len(answers) != 2:
            # Refused before any judge is paid for.
            raise PermanentError("panel combine='probability' works on pairs only")
        verdicts: list[Verdict] = []
        for judge in self.judges:
            try:
                verdicts.append(judge.compare(prompt, answers))
            except PermanentError as error:
                failed = self._member_failed(verdicts, error)
                failed.cost = error.cost + sum(v.cost for v in verdicts)  # those were paid
                raise failed from error
            except BackendError as error:
                error.cost += sum(v.cost for v in verdicts)  # the members that answered were paid
                raise
        try:
            return combine_verdicts(
                verdicts, len(answers), combine=self.combine, weights=self.weights, names=self.names
            )
        except BackendError as error:
            error.cost += sum(v.cost for v in verdicts)
            raise

    def _member_failed(self, verdicts: Sequence[Verdict], error: PermanentError) -> PermanentError:
        """The panel's failure: which member failed, and every reply so far under its
        member's name (those before it answered, and were paid for)."""
        labels = self.names or [f"panel judge {n}" for n in range(1, len(self.judges) + 1)]
        failed = labels[len(verdicts)]
        return PermanentError(
            f"{failed}: {error}",
            raw_outputs=[
                *(
                    RawOutput(label, v.raw_output)
                    for label, v in zip(labels[: len(verdicts)], verdicts, strict=True)
                ),
                *(RawOutput(f"{failed}: {o.call}", o.text) for o in error.raw_outputs),
            ],
        )


# -- a panel's settings, as stored on a Judge row of kind "panel" --------------------------

PANEL_KEYS = ("members", "combine", "weights")

# weights: "human_agreement" = each member weighted by its accuracy against human votes.
HUMAN_AGREEMENT = "human_agreement"

PanelWeights = tuple[float, ...] | Literal["human_agreement"] | None


@dataclass(frozen=True)
class PanelSpec:
    """What a panel Judge row asks for: member judges by name, the rule, the weights."""

    members: tuple[str, ...]
    combine: Combine = "majority"
    weights: PanelWeights = None


def _members(value: Any, own_name: str) -> tuple[str, ...]:
    if not isinstance(value, list | tuple) or not all(isinstance(m, str) for m in value):
        raise PermanentError("judge setting 'members' must be a list of judge names")
    members = tuple(m.strip() for m in value)
    if len(members) < 2:
        raise PermanentError(
            f"judge setting 'members': a panel needs at least 2 judges, got {len(members)}"
        )
    repeated = sorted({m for m in members if members.count(m) > 1})
    if repeated:
        raise PermanentError(
            f"judge setting 'members': {', '.join(repeated)} listed twice (use 'weights')"
        )
    if own_name in members:
        raise PermanentError(f"judge setting 'members': panel {own_name!r} cannot include itself")
    return members


def _weights(value: Any, members: tuple[str, ...]) -> PanelWeights:
    if value is None or value == HUMAN_AGREEMENT:
        return cast(PanelWeights, value)
    if isinstance(value, Mapping):
        unknown = sorted(set(value) - set(members))
        if unknown:
            raise PermanentError(
                f"judge setting 'weights' names judges not in 'members': {unknown}"
            )
        value = [value.get(m, 1.0) for m in members]
    if not isinstance(value, list | tuple) or any(
        isinstance(w, bool) or not isinstance(w, int | float) for w in value
    ):
        raise PermanentError(
            "judge setting 'weights' must be a list of numbers, a mapping of member to "
            f"number, or {HUMAN_AGREEMENT!r}"
        )
    try:
        return tuple(_checked_weights(value, len(members)))
    except PermanentError as error:
        raise PermanentError(f"judge setting 'weights': {error}") from None


def parse_panel_settings(settings: Mapping[str, Any], *, own_name: str) -> PanelSpec:
    """Check a panel Judge row's settings; errors name the setting at fault."""
    unknown = sorted(set(settings) - set(PANEL_KEYS))
    if unknown:
        raise PermanentError(
            f"unknown judge setting {', '.join(map(repr, unknown))} for a panel; "
            f"allowed: {', '.join(PANEL_KEYS)}"
        )
    members = _members(settings.get("members"), own_name)
    combine = settings.get("combine", "majority")
    if combine not in ("majority", "probability"):
        raise PermanentError("judge setting 'combine' must be 'majority' or 'probability'")
    return PanelSpec(
        members=members,
        combine=cast(Combine, combine),
        weights=_weights(settings.get("weights"), members),
    )


def agreement_weights(
    members: Sequence[str], accuracy: Mapping[str, float | None]
) -> tuple[float, ...]:
    """Weights from each member's accuracy against human votes on the same pairs.

    A member with no pair in common with the voters gets the mean of the others' (it is
    neither trusted nor distrusted more than the panel as a whole); with no human data at
    all, every member weighs 1."""
    known = [a for m in members if (a := accuracy.get(m)) is not None]
    fallback = sum(known) / len(known) if known else 1.0
    weights = [a if (a := accuracy.get(m)) is not None else fallback for m in members]
    if sum(weights) <= 0:
        return tuple(1.0 for _ in members)  # every member disagrees with people: no signal
    return tuple(float(w) for w in weights)

"""Voters whose votes the crowd's Bradley-Terry model finds too surprising.

Chatbot Arena flags anomalous voters by testing each one's votes against the model fitted
on everyone's (Chiang et al. 2024, "Chatbot Arena", §5), combining per-vote p-values with
Fisher's method. With two-outcome votes those p-values are discrete and Fisher's χ² null
is far too conservative: a voter who picks the weaker model in all of 40 votes scores only
p ≈ 0.08 (tests/ratings/test_voter_anomaly.py). So we test the same hypothesis with an
exact count test instead:

- in each decisive vote the model's underdog wins with probability q_i < 1/2 (votes between
  equals carry no information and are skipped, and so are ties: a ties-as-half-a-win BT
  model says nothing about them);
- under the null (the voter votes like the crowd) the number of upsets U_j after j votes
  is Poisson-binomial(q_1..q_j); its exact upper tail P(U_j ≥ u_j) is the p-value;
- the test is sequential: after every vote from ``min_votes`` on, and the voter is flagged
  the first time the tail falls below α / (voters × looks) — Bonferroni over every voter
  and every look, so looking after each vote does not inflate the false-alarm rate.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True)
class VoterReport:
    voter: str
    decisive_votes: int
    upsets: int  # votes for the model's underdog
    expected_upsets: float
    p_value: float  # P(at least this many upsets | votes like the crowd), all votes
    flagged_at: int | None  # the decisive vote at which the sequential test fired


def _underdog_probability(ratings: Mapping[str, float], a: str, b: str, scale: float) -> float:
    return 1.0 / (1.0 + 10 ** (abs(ratings[a] - ratings[b]) / scale))


def _add_vote(distribution: NDArray[np.float64], q: float) -> NDArray[np.float64]:
    """Convolve the upset-count distribution with one Bernoulli(q) vote."""
    grown = np.zeros(len(distribution) + 1)
    grown[:-1] += distribution * (1.0 - q)
    grown[1:] += distribution * q
    return grown


def voter_reports(
    votes: Sequence[tuple[str, str, str]],
    ratings: Mapping[str, float],
    *,
    alpha: float = 0.01,
    min_votes: int = 5,
    scale: float = 400.0,
) -> list[VoterReport]:
    """``votes``: (voter, winner, loser) for decisive votes, in time order; ``ratings`` on
    the Elo scale. Reports for every voter with ``min_votes`` or more, most suspect first."""
    by_voter: dict[str, list[tuple[float, bool]]] = {}
    for voter, winner, loser in votes:
        if ratings[winner] == ratings[loser]:
            continue
        q = _underdog_probability(ratings, winner, loser, scale)
        by_voter.setdefault(voter, []).append((q, ratings[winner] < ratings[loser]))
    eligible = {v: seen for v, seen in by_voter.items() if len(seen) >= min_votes}
    looks = sum(len(seen) - min_votes + 1 for seen in eligible.values())
    threshold = alpha / max(looks, 1)
    reports = []
    for voter, seen in eligible.items():
        distribution = np.ones(1)
        upsets, flagged_at, tail = 0, None, 1.0
        for j, (q, upset) in enumerate(seen, start=1):
            distribution = _add_vote(distribution, q)
            upsets += upset
            tail = float(distribution[upsets:].sum())
            if flagged_at is None and j >= min_votes and tail < threshold:
                flagged_at = j
        reports.append(
            VoterReport(
                voter=voter,
                decisive_votes=len(seen),
                upsets=upsets,
                expected_upsets=round(sum(q for q, _ in seen), 3),
                p_value=min(tail, 1.0),
                flagged_at=flagged_at,
            )
        )
    return sorted(reports, key=lambda r: (r.p_value, r.voter))

"""Evidence kept as counts: what one verdict adds to the cells the leaderboards are fitted
from. Pure (no Django): arena.services.verdicts writes the increments with each verdict,
and the recount (``manage.py aggregates``) sums the same increments over every verdict.

A cell holds, for two contestants ``a < b`` (by id) in one tournament, judged by one
source (humans, or one judge) on prompts of one category, the sufficient statistics of
everything the boards show:

- outcomes from ``a``'s side (``a_wins``, ``b_wins``, ``ties``, of which ``both_bad``): a
  K-wise ranking counts as its K(K-1)/2 pairs, as the fits see it (ratings.data);
- ``share`` and ``a_points``: each pair of a K-wise verdict is 1/(K-1) of a verdict for
  each of the two, so a model's verdicts and points (1 per entrant ranked below it and 0.5
  per tie, over K-1; arena.standings.apply_ranking) are sums over its cells; ``votes``,
  2/(K(K-1)) per pair, sums to the number of verdicts (what Soft Condorcet averages over);
- position and length: how often the answer shown first won or lost a decisive pair, and
  the longer answer (in tokens) likewise: the judges' biases;
- inverse-probability weights: the outcomes again, each times ``w - 1`` (``ipw_a_wins``,
  ``ipw_b_wins``, ``ipw_ties``), where ``w`` is the verdict's weight (``ipw_weight``: 1
  unless an active sampler drew the pair, arena.services.draws): the fit's counts are the
  outcomes plus these (Chatbot Arena, Chiang et al. 2024, section 4: weighting each vote by
  the inverse of its pair's sampling probability keeps adaptivity from biasing the
  ratings). Stored as the excess over 1 so that unweighted verdicts add nothing;
- graded outcomes: each verdict's score of ``a`` in [0, 1] (its judge's probabilities, a
  5-way margin, or the mean over the orders it was judged in: judges.orders.first_score;
  hard verdicts score 1, 0.5, 0) written as a tie part ``2 min(s, 1 - s)`` and a win part
  ``|2 s - 1|`` for the side above a half (``g_a_wins``, ``g_b_wins``, ``g_ties``, and
  their inverse-probability excess): the same Bernoulli likelihood as the score, and hard
  verdicts fall in the hard columns' cells unchanged (ratings.graded's module docstring);
- orders: every order a verdict was judged in (its judge's readings, else the verdict in
  the order shown) as one observation of the pair with ``a`` shown first (``ab_n``, and
  ``a``'s summed hard and graded scores ``ab_hard``, ``ab_graded``) or ``b`` first
  (``ba_*``): what a fit with a first-position term per judge reads (ratings.graded);
- style: for pairs whose two answers have style features (``styled``, of which
  ``styled_ties`` ties), the sums of ``score_a`` (``sy``), of the normalised differences
  ``d = (f_a - f_b) / (f_a + f_b)`` per feature (FastChat's style control, ratings.style),
  of ``score_a * d`` and of the products ``d_i * d_j``. A style-controlled fit needs those
  moments only (ratings.style_moments).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations_with_replacement
from typing import Any, TypeVar

from judges.backends.base import OrderVerdict
from judges.orders import SLIGHT_WIN, first_score
from ratings.style import FEATURES as FEATURES  # named by the services' SQL too

V = TypeVar("V")

Style = tuple[float, ...]  # one answer's FEATURES, in order

N_FEATURES = len(FEATURES)
# The upper triangle of d d^T, row by row.
PRODUCTS: tuple[tuple[int, int], ...] = tuple(combinations_with_replacement(range(N_FEATURES), 2))

COUNTS: tuple[str, ...] = (
    "a_wins",
    "b_wins",
    "ties",
    "both_bad",
    "first_won",
    "first_lost",
    "longer_won",
    "longer_lost",
    "styled",
    "styled_ties",
)
IPW: tuple[str, ...] = ("ipw_a_wins", "ipw_b_wins", "ipw_ties")
GRADED: tuple[str, ...] = ("g_a_wins", "g_b_wins", "g_ties")
IPW_GRADED: tuple[str, ...] = tuple(f"ipw_{c}" for c in GRADED)
BY_ORDER: tuple[str, ...] = ("ab_n", "ab_hard", "ab_graded", "ba_n", "ba_hard", "ba_graded")
SUMS: tuple[str, ...] = (
    "share",
    "a_points",
    "votes",
    *IPW,
    *GRADED,
    *IPW_GRADED,
    *BY_ORDER,
    "sy",
    *(f"sd_{f}" for f in FEATURES),
    *(f"syd_{f}" for f in FEATURES),
    *(f"sdd_{FEATURES[i]}_{FEATURES[j]}" for i, j in PRODUCTS),
)
COLUMNS: tuple[str, ...] = COUNTS + SUMS
_LENGTH = FEATURES.index("length")


def ipw_weight(probability: float | None, contestants: int) -> float:
    """A verdict's weight in the fit: 1 / (p · pairs) for a pair an active sampler drew
    with probability ``p`` (1 under uniform sampling, so weighted and unweighted verdicts
    are on one scale), else 1."""
    pairs = contestants * (contestants - 1) / 2
    if probability is None or probability <= 0 or pairs < 1:
        return 1.0
    return 1.0 / (probability * pairs)


def source_of(judge_id: int | None) -> str:
    """Who gave a verdict, as cells and the leaderboard filters name it."""
    return "humans" if judge_id is None else f"judge:{judge_id}"


@dataclass(frozen=True)
class Reading:
    """One order a verdict was judged in: the answers' positions by slot (slot 0 shown
    first), tiers of slots best first, and the graded score of slot 0 against slot 1
    when the judge gave one (pairs only)."""

    shown: tuple[int, ...]
    ranking: tuple[tuple[int, ...], ...]
    first_score: float | None = None


def readings_of(orders: Sequence[OrderVerdict], slight: float = SLIGHT_WIN) -> tuple[Reading, ...]:
    """A judgment's saved orders as readings, scored as its judge's settings say."""
    return tuple(
        Reading(
            shown=tuple(o.shown),
            ranking=tuple(tuple(t) for t in o.ranking),
            first_score=first_score(o, slight),
        )
        for o in orders
    )


@dataclass(frozen=True)
class Entrant:
    """An answer in a verdict: its contestant and, when known, its style features."""

    contestant: int
    style: Style | None = None


def _difference(a: Style, b: Style) -> tuple[float, ...]:
    return tuple((x - y) / (x + y) if x + y else 0.0 for x, y in zip(a, b, strict=True))


def _score(level_x: int, level_y: int) -> float:
    return 0.5 if level_x == level_y else float(level_x < level_y)


def _as_shown(entrants: Sequence[Entrant], level: Mapping[int, int]) -> Reading:
    """A verdict without readings as its one reading: the answers in the order shown,
    ranked as the verdict ranks them."""
    slots: dict[int, list[int]] = {}
    for slot, entrant in enumerate(entrants):
        slots.setdefault(level[entrant.contestant], []).append(slot)
    return Reading(
        shown=tuple(range(len(entrants))), ranking=tuple(tuple(slots[k]) for k in sorted(slots))
    )


def _observations(
    entrants: Sequence[Entrant], readings: Sequence[Reading]
) -> dict[tuple[int, int], list[tuple[bool, float, float]]]:
    """Per pair ``(a, b)``, each reading's (a shown first, a's hard score, a's graded
    score)."""
    found: dict[tuple[int, int], list[tuple[bool, float, float]]] = {}
    for reading in readings:
        slot_level = {slot: i for i, tier in enumerate(reading.ranking) for slot in tier}
        for p, answer_p in enumerate(reading.shown):
            for q in range(p + 1, len(reading.shown)):
                x, y = entrants[answer_p].contestant, entrants[reading.shown[q]].contestant
                hard = _score(slot_level[p], slot_level[q])
                graded = hard
                if reading.first_score is not None and len(reading.shown) == 2:
                    graded = reading.first_score
                if x < y:
                    found.setdefault((x, y), []).append((True, hard, graded))
                else:
                    found.setdefault((y, x), []).append((False, 1.0 - hard, 1.0 - graded))
    return found


def _graded_parts(score: float) -> tuple[float, float, float]:
    """A score as (a-win, b-win, tie) parts with the same likelihood (module docstring)."""
    return max(0.0, 2 * score - 1), max(0.0, 1 - 2 * score), 2 * min(score, 1 - score)


def pair_increments(
    entrants: Sequence[Entrant],
    ranking: Sequence[Sequence[int]],
    *,
    both_bad: bool,
    weight: float = 1.0,
    readings: Sequence[Reading] = (),
) -> dict[tuple[int, int], tuple[float, ...]]:
    """Per pair ``(a, b)``, ``a < b``, what this verdict adds to each of COLUMNS.

    ``entrants`` are in answer position (the first was shown first); ``ranking`` is tiers
    of contestant ids, best first; ``weight`` its inverse-probability weight (``ipw_weight``);
    ``readings`` the orders its judge saw (none: the verdict as shown is its one reading).
    """
    extra = weight - 1.0
    level = {c: i for i, tier in enumerate(ranking) for c in tier}
    observed = _observations(entrants, readings or (_as_shown(entrants, level),))
    k = len(entrants)
    share = 1.0 / max(k - 1, 1)
    votes = 2.0 / max(k * (k - 1), 2)
    increments: dict[tuple[int, int], tuple[float, ...]] = {}
    for i, first in enumerate(entrants):
        for second in entrants[i + 1 :]:
            x, y = first.contestant, second.contestant
            a_side, b_side = (first, second) if x < y else (second, first)
            a, b = a_side.contestant, b_side.contestant
            tie = level[a] == level[b]
            a_won = not tie and level[a] < level[b]
            score_a = 0.5 if tie else float(a_won)
            first_won = not tie and level[x] < level[y]
            d, longer, styled = (0.0,) * N_FEATURES, 0.0, False
            if a_side.style is not None and b_side.style is not None:
                d, styled = _difference(a_side.style, b_side.style), True
                longer = a_side.style[_LENGTH] - b_side.style[_LENGTH]
            counts = (
                float(a_won),
                float(not tie and not a_won),
                float(tie),
                float(tie and both_bad),
                float(first_won),
                float(not tie and not first_won),
                float(not tie and longer != 0 and (longer > 0) == a_won),
                float(not tie and longer != 0 and (longer > 0) != a_won),
                float(styled),
                float(styled and tie),
            )
            seen = observed.get((a, b), [])
            graded = sum(g for _, _, g in seen) / len(seen) if seen else score_a
            parts = _graded_parts(graded)
            ab = [(h, g) for a_first, h, g in seen if a_first]
            ba = [(h, g) for a_first, h, g in seen if not a_first]
            sums = (
                share,
                share * score_a,
                votes,
                extra * a_won,
                extra * (not tie and not a_won),
                extra * tie,
                *parts,
                *(extra * part for part in parts),
                float(len(ab)),
                sum(h for h, _ in ab),
                sum(g for _, g in ab),
                float(len(ba)),
                sum(h for h, _ in ba),
                sum(g for _, g in ba),
                score_a if styled else 0.0,
                *d,
                *(score_a * v for v in d),
                *(d[p] * d[q] for p, q in PRODUCTS),
            )
            increments[(a, b)] = counts + sums
    return increments


# Per prompt and pair, the outcomes by order (the judges' position flips, and agreement
# with the human votes on the same prompt and pair): a shown first, then b shown first.
ORDERED: tuple[str, ...] = (
    "ab_a_wins",
    "ab_b_wins",
    "ab_ties",
    "ba_a_wins",
    "ba_b_wins",
    "ba_ties",
)


def ordered_increments(
    entrants: Sequence[Entrant], ranking: Sequence[Sequence[int]]
) -> dict[tuple[int, int], tuple[int, ...]]:
    """Per pair ``(a, b)``, ``a < b``, what this verdict adds to each of ORDERED."""
    level = {c: i for i, tier in enumerate(ranking) for c in tier}
    increments: dict[tuple[int, int], tuple[int, ...]] = {}
    for i, first in enumerate(entrants):
        for second in entrants[i + 1 :]:
            a, b = sorted((first.contestant, second.contestant))
            outcome = (level[a] < level[b], level[a] > level[b], level[a] == level[b])
            a_first = first.contestant == a
            counts = (*map(int, outcome), 0, 0, 0) if a_first else (0, 0, 0, *map(int, outcome))
            increments[(a, b)] = counts
    return increments


def votes_besides_judgment(
    votes: Sequence[V], judgment: tuple[Any, bool], outcome: Callable[[V], tuple[Any, bool]]
) -> list[V]:
    """The votes on a battle shown to several voters, but the one that is its judgment:
    the first vote that committed, found as the one whose ``outcome`` (ranking, both bad)
    equals the judgment's, else the first. Each of the others is evidence of its own (the
    cells, the exports, the recount all count them so)."""
    rest = list(votes)
    if rest:
        rest.pop(next((i for i, v in enumerate(rest) if outcome(v) == judgment), 0))
    return rest


# A ranking with fewer entrants is a pair: its cells say all a Plackett-Luce fit would.
KWISE_MIN_ENTRANTS = 3


def ranking_key(ranking: Sequence[Sequence[int]]) -> str | None:
    """A K-wise verdict's ranking as its RankingCell names it: tiers best first, ids sorted
    inside a tier (``"7|3,9|4"``), so equal rankings share a cell; None for a pair."""
    if sum(len(tier) for tier in ranking) < KWISE_MIN_ENTRANTS:
        return None
    return "|".join(",".join(str(c) for c in sorted(int(c) for c in tier)) for tier in ranking)


def ranking_tiers(key: str) -> list[list[int]]:
    """The tiers of contestant ids a ranking key names."""
    return [[int(c) for c in tier.split(",")] for tier in key.split("|")]

"""Position bias measured on what a judge said in each order it saw (``Verdict.orders``),
not on the verdict made of them: a judge that always answers [[A]], judged in both orders,
gives a tie once its orders are merged, and only its orders show it flipping every time.

- flip: a pair judged in both orders whose two rankings, mapped back to the answers,
  differ (a win one way and a tie the other counts; a strong and a slight win the same way
  do not), as Zheng et al. 2023 and Arena-Hard's inconsistency count it;
- graded score: in a pair's order, how much of the win the judge gave the answer shown
  first, in [0, 1]: from its probabilities (P(first) + P(tie) / 2, TrustJudge's expected
  score), else from a 5-way margin (a strong win 1, a slight win ``slight``: 0.75 by
  default, a tie 0.5), else from its ranking (1, 0.5, 0);
- first slot: in each order, the answer shown first against every other answer, in the
  decisive pairs: won or lost. For two answers that is the first-position win rate; for K
  answers it is the same question asked of every pair holding slot A, so 0.5 means no
  position bias whatever K is.

Pure: arena.services.verdicts adds these counts to a cell as each verdict lands.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from judges.backends.base import OrderVerdict, Ranking, Verdict


@dataclass(frozen=True)
class OrderCounts:
    """What judgments add up to: how many kept their orders, how many pairs were judged in
    both orders and flipped, and the first slot's decisive pairs won and lost."""

    judgments: int = 0
    both_orders: int = 0
    flips: int = 0
    first_won: int = 0
    first_lost: int = 0

    def __add__(self, other: OrderCounts) -> OrderCounts:
        return OrderCounts(*(x + y for x, y in zip(self.as_tuple(), other.as_tuple(), strict=True)))

    def as_tuple(self) -> tuple[int, int, int, int, int]:
        return (self.judgments, self.both_orders, self.flips, self.first_won, self.first_lost)


COLUMNS: tuple[str, ...] = ("judgments", "both_orders", "flips", "first_won", "first_lost")


def answer_ranking(order: OrderVerdict) -> Ranking:
    """The order's ranking of slots as a ranking of the answers (caller's indices)."""
    return tuple(tuple(sorted(order.shown[slot] for slot in tier)) for tier in order.ranking)


def orders_disagree(orders: Sequence[OrderVerdict]) -> bool | None:
    """Whether a pair judged in both orders was ranked differently in each; None when the
    judgment is not a pair judged in two different orders."""
    if len(orders) != 2 or len(orders[0].shown) != 2 or orders[0].shown == orders[1].shown:
        return None
    return answer_ranking(orders[0]) != answer_ranking(orders[1])


def self_disagreement(verdict: Verdict) -> str | None:
    """How a verdict's judge disagreed with itself, if it did: its two orders ranked the
    answers differently ("orders disagree"), or its panel's members did ("panel members
    disagree"); None when it agreed or had nothing to disagree with."""
    if orders_disagree(verdict.orders):
        return "orders disagree"
    members = verdict.extra.get("panel") if isinstance(verdict.extra, dict) else None
    if isinstance(members, list) and len(members) > 1:
        rankings = {tuple(tuple(tier) for tier in m.get("ranking") or ()) for m in members}
        if len(rankings) > 1:
            return "panel members disagree"
    return None


def first_slot_record(order: OrderVerdict) -> tuple[int, int]:
    """(won, lost): the answer shown first against each other answer, decisive pairs only."""
    level = {slot: i for i, tier in enumerate(order.ranking) for slot in tier}
    first = level.get(0)
    if first is None:
        return 0, 0
    others = [level[s] for s in range(1, len(order.shown)) if s in level]
    return sum(first < x for x in others), sum(first > x for x in others)


# A slight win's share of the win (5-way [[A>B]]): less than a strong win's, more than a
# tie's. Arena-Hard counts a strong win three times where a slight win counts once; on a
# [0, 1] score the midpoint between a tie and a strong win says the same "won, not by
# much" without inventing verdicts. A judge's ``slight_win_score`` setting changes it.
SLIGHT_WIN = 0.75

_FIVE_WAY = {"A>>B": 1.0, "A>B": None, "A=B": 0.5, "B>A": None, "B>>A": 0.0}


def first_score(order: OrderVerdict, slight: float = SLIGHT_WIN) -> float | None:
    """The graded score of the answer shown first against the second, in a pair's order;
    None for K answers (their pairs are scored from the ranking)."""
    if len(order.shown) != 2:
        return None
    p = order.probabilities
    if p and all(k in p for k in ("A", "tie", "B")) and sum(p.values()) > 0:
        return (p["A"] + p["tie"] / 2) / (p["A"] + p["tie"] + p["B"])
    if order.label in _FIVE_WAY:
        fixed = _FIVE_WAY[order.label]
        if fixed is not None:
            return fixed
        return slight if order.label == "A>B" else 1.0 - slight
    level = {slot: i for i, tier in enumerate(order.ranking) for slot in tier}
    if 0 not in level or 1 not in level:
        return None
    return 0.5 if level[0] == level[1] else float(level[0] < level[1])


def order_counts(orders: Sequence[OrderVerdict]) -> OrderCounts:
    """What one judgment's orders add to the counts (nothing when it kept none)."""
    if not orders:
        return OrderCounts()
    flipped = orders_disagree(orders)
    records = [first_slot_record(o) for o in orders]
    return OrderCounts(
        judgments=1,
        both_orders=int(flipped is not None),
        flips=int(bool(flipped)),
        first_won=sum(won for won, _ in records),
        first_lost=sum(lost for _, lost in records),
    )


def order_from_json(value: Mapping[str, Any]) -> OrderVerdict:
    """An order as ``OrderVerdict.as_json`` stored it."""
    return OrderVerdict(
        shown=tuple(value["shown"]),
        ranking=tuple(tuple(tier) for tier in value["ranking"]),
        label=value.get("label", ""),
        probabilities=value.get("probabilities"),
        raw_output=value.get("raw_output", ""),
    )


def wilson_interval(hits: int, n: int, z: float = 1.96) -> tuple[float, float] | None:
    """The Wilson score interval of a share (95% by default): unlike the normal
    approximation it stays inside [0, 1] and is honest at 0 and n hits (Wilson 1927)."""
    if n <= 0:
        return None
    p = hits / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)

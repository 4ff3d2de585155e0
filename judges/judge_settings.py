"""A judge's settings, as stored on the Judge row (JSON), checked once into typed values.

Every key has a default, unknown keys are refused (a typo like "both_order" must not run
silently with defaults), and values of the wrong type are refused rather than coerced: a
form or JSON config may carry "false" as a string, which Python finds truthy.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, TypeGuard, cast

from judges.backends.base import PermanentError
from judges.costs import Price, price_from_settings
from judges.fiveway import OrderDisagreement
from judges.limits import EndpointLimits, limits_from_settings

JUDGE_DEFAULTS: Mapping[str, Any] = MappingProxyType(
    {
        "temperature": 0.0,
        "max_tokens": 1024,
        "both_orders": False,
        "template": "pairwise_3way",
        "listwise_template": "listwise",
        "length_penalty_chars": None,
        "logprobs": False,
        "order_disagreement": "tie",
        # A 5-way slight win's share of the win in graded fits (judges.orders.first_score).
        "slight_win_score": 0.75,
        "shuffle": False,
        "seed": 0,
        "price_in": None,
        "price_out": None,
        # Limits of the judge's endpoint, shared with every client of it: judges.limits.
        "max_concurrency": None,
        "rpm": None,
        "tpm": None,
        # Serve a retry of the same comparison from the verdict cache: judges.cache.
        "cache": True,
    }
)

# Keys that change how requests are paced or cached, or how a verdict is scored, never
# what a judge says.
NON_SEMANTIC_KEYS = frozenset({"max_concurrency", "rpm", "tpm", "cache", "slight_win_score"})

# top_logprobs is fixed: 5 alternatives cover the 3 verdict letters with room for
# spelling variants (" A", "A"), and it is the most every provider accepts.
TOP_LOGPROBS = 5


@dataclass(frozen=True)
class JudgeSettings:
    temperature: float
    max_tokens: int
    both_orders: bool
    template: str
    listwise_template: str
    length_penalty_chars: int | None
    logprobs: bool
    order_disagreement: OrderDisagreement
    shuffle: bool
    seed: int
    price: Price
    limits: EndpointLimits = EndpointLimits()
    cache: bool = True
    slight_win_score: float = 0.75

    def request_params(self) -> dict[str, Any]:
        params: dict[str, Any] = {"temperature": self.temperature, "max_tokens": self.max_tokens}
        if self.logprobs:
            params.update(logprobs=True, top_logprobs=TOP_LOGPROBS)
        return params


def _reject_unknown(settings: Mapping[str, Any]) -> None:
    unknown = sorted(set(settings) - set(JUDGE_DEFAULTS))
    if unknown:
        names = ", ".join(repr(k) for k in unknown)
        raise PermanentError(
            f"unknown judge setting {names}; allowed: {', '.join(sorted(JUDGE_DEFAULTS))}"
        )


def _bool(merged: Mapping[str, Any], key: str) -> bool:
    value = merged[key]
    if not isinstance(value, bool):
        raise PermanentError(f"judge setting {key!r} must be true or false")
    return value


def _int(merged: Mapping[str, Any], key: str, *, minimum: int | None = None) -> int:
    value = merged[key]
    if isinstance(value, bool) or not isinstance(value, int):
        raise PermanentError(f"judge setting {key!r} must be an integer")
    if minimum is not None and value < minimum:
        raise PermanentError(f"judge setting {key!r} must be >= {minimum}, got {value}")
    return value


def _name(merged: Mapping[str, Any], key: str) -> str:
    value = merged[key]
    if not isinstance(value, str):
        raise PermanentError(f"judge setting {key!r} must be a template name")
    return value


def _order_disagreement(merged: Mapping[str, Any]) -> OrderDisagreement:
    value = merged["order_disagreement"]
    if value not in ("tie", "average"):
        raise PermanentError("judge setting 'order_disagreement' must be 'tie' or 'average'")
    return cast(OrderDisagreement, value)


def _is_slight_win(value: object) -> TypeGuard[int | float]:
    """A 5-way slight win's share of the win: a number from 0.5 (a tie) to 1 (a strong win)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and 0.5 <= value <= 1


def _slight_win(merged: Mapping[str, Any]) -> float:
    value = merged["slight_win_score"]
    if not _is_slight_win(value):
        raise PermanentError("judge setting 'slight_win_score' must be a number from 0.5 to 1")
    return float(value)


def slight_win_of(settings: Mapping[str, Any] | None) -> float:
    """A judge row's ``slight_win_score`` for scoring its verdicts (the default where it
    has none or not a valid one: a panel's settings, or a verdict saved before the key)."""
    value = (settings or {}).get("slight_win_score")
    return float(value) if _is_slight_win(value) else float(JUDGE_DEFAULTS["slight_win_score"])


def parse_judge_settings(settings: Mapping[str, Any]) -> JudgeSettings:
    _reject_unknown(settings)
    merged = {**JUDGE_DEFAULTS, **settings}
    penalty = merged["length_penalty_chars"]
    return JudgeSettings(
        temperature=merged["temperature"],
        max_tokens=merged["max_tokens"],
        both_orders=_bool(merged, "both_orders"),
        template=_name(merged, "template"),
        listwise_template=_name(merged, "listwise_template"),
        length_penalty_chars=None
        if penalty is None
        else _int(merged, "length_penalty_chars", minimum=0),
        logprobs=_bool(merged, "logprobs"),
        order_disagreement=_order_disagreement(merged),
        shuffle=_bool(merged, "shuffle"),
        seed=_int(merged, "seed"),
        price=price_from_settings(merged),
        limits=limits_from_settings(merged, "judge setting"),
        cache=_bool(merged, "cache"),
        slight_win_score=_slight_win(merged),
    )

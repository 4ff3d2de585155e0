"""What model calls cost, from token usage and per-model prices.

Prices are USD per million tokens, input and output apart, the way providers publish
them. They come from the generator's or judge's settings (``price_in``, ``price_out``)
because prices change and differ between providers of the same model: the platform
records the price it was told, it does not ship a price list that would go stale.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from judges.backends.base import PermanentError

PRICE_KEYS = ("price_in", "price_out")
_PER = 1_000_000


@dataclass(frozen=True)
class Price:
    """USD per million input (prompt) and output (completion) tokens."""

    price_in: float = 0.0
    price_out: float = 0.0

    def cost(self, prompt_tokens: float, completion_tokens: float) -> float:
        return (prompt_tokens * self.price_in + completion_tokens * self.price_out) / _PER


FREE = Price()


def _price_value(settings: Mapping[str, Any], key: str) -> float:
    value = settings.get(key)
    if value is None:
        return 0.0
    # bool is an int: "price_in": true is a config mistake, not a price of 1 USD.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PermanentError(f"setting {key!r} must be a number (USD per million tokens)")
    if not math.isfinite(value) or value < 0:
        raise PermanentError(f"setting {key!r} must be a finite number >= 0, got {value!r}")
    return float(value)


def price_from_settings(settings: Mapping[str, Any]) -> Price:
    """The price in ``settings``; missing or None prices count as free (cost 0)."""
    return Price(_price_value(settings, "price_in"), _price_value(settings, "price_out"))


def estimate_cost(
    n_matches: int,
    expected_prompt_tokens: float,
    expected_completion_tokens: float,
    price_in: float,
    price_out: float,
    calls_per_match: float = 1.0,
) -> float:
    """Expected USD for a tournament's judging, before running it.

    ``calls_per_match`` covers both_orders (2), panels (one per judge) and an allowance
    for repair prompts (e.g. 2.1 when 5% of calls need one)."""
    for name, value in (
        ("n_matches", n_matches),
        ("expected_prompt_tokens", expected_prompt_tokens),
        ("expected_completion_tokens", expected_completion_tokens),
        ("price_in", price_in),
        ("price_out", price_out),
        ("calls_per_match", calls_per_match),
    ):
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    per_call = Price(price_in, price_out).cost(expected_prompt_tokens, expected_completion_tokens)
    return n_matches * calls_per_match * per_call

"""Verdicts of one comparison, served again when that same comparison is retried.

A judge's verdict is a sample: two matches that show the judge the same prompt and
answers in the same order are two samples, and each must cost a call. So the cache only
answers a retry of the same comparison (a match whose task runs again after a worker died
or a panel member failed): its key is the caller's *scope* (the match's identity, given
to the judge when it is built: ``cache_scope``) plus everything that determines what is
sent and how the reply is read: endpoint and model, the prompt, the answers' texts in
their order, the templates' contents (by hash), every judge setting that is not a limit,
and the verdict parser's version (``judges.parsing.PARSER_VERSION``). The key is the
sha256 of a canonical JSON of all that (:func:`cache_key`). A judge built without a scope
neither reads nor writes the cache.

Only successful verdicts are stored (an error raises before anything is cached). A hit
returns the stored verdict with its usage, cost and latency set to zero and
``extra["cached"] = True``: nothing was spent on it, so summing the usage of every
verdict still gives what the servers reported.

The default cache is a process-wide in-memory LRU; an app can plug a shared one (a DB
table, Redis) with :func:`set_default_verdict_cache`, or give a judge its own. A judge
with the setting ``"cache": false`` neither reads nor writes any cache.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any, Protocol

from judges.backends.base import Verdict

__all__ = [
    "LRUVerdictCache",
    "VerdictCache",
    "cache_key",
    "default_verdict_cache",
    "served_from_cache",
    "set_default_verdict_cache",
]


class VerdictCache(Protocol):
    def get(self, key: str) -> Verdict | None: ...

    def set(self, key: str, verdict: Verdict) -> None: ...


def cache_key(parts: Mapping[str, Any]) -> str:
    """sha256 of a canonical JSON (sorted keys, no whitespace, UTF-8) of ``parts``."""
    canonical = json.dumps(
        parts, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=repr
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def served_from_cache(verdict: Verdict) -> Verdict:
    return dataclasses.replace(
        verdict,
        prompt_tokens=0,
        completion_tokens=0,
        cost=0.0,
        latency_ms=0,
        extra={**verdict.extra, "cached": True},
    )


class LRUVerdictCache:
    """Thread-safe in-memory LRU of at most ``maxsize`` verdicts."""

    def __init__(self, maxsize: int = 10_000) -> None:
        if maxsize < 1:
            raise ValueError(f"maxsize must be >= 1, got {maxsize}")
        self.maxsize = maxsize
        self._items: OrderedDict[str, Verdict] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> Verdict | None:
        with self._lock:
            verdict = self._items.get(key)
            if verdict is not None:
                self._items.move_to_end(key)
            return verdict

    def set(self, key: str, verdict: Verdict) -> None:
        with self._lock:
            self._items[key] = verdict
            self._items.move_to_end(key)
            while len(self._items) > self.maxsize:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        return len(self._items)


_default: VerdictCache = LRUVerdictCache()


def default_verdict_cache() -> VerdictCache:
    return _default


def set_default_verdict_cache(cache: VerdictCache) -> None:
    global _default
    _default = cache

"""One Redis connection pool per process for Django's cache (and the sessions it holds).

Django keeps a cache client per async context, and every request runs in a context of
its own (under ASGI, and in asgi.py's WSGI thread pool alike), so each request built a new
client with a new pool and opened a new Redis connection to read its session: a connect,
a DNS lookup and a handshake per request (benchmarks/README.md, "Web load"). The
``pool_class`` option of Django's RedisCache hands every client the process's pool instead.
"""

from __future__ import annotations

import threading
from typing import Any

import redis

_lock = threading.Lock()
_pools: dict[tuple[str, tuple[tuple[str, Any], ...]], redis.ConnectionPool] = {}


class SharedConnectionPool(redis.ConnectionPool):
    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> redis.ConnectionPool:  # type: ignore[override]
        # redis-py resets a pool's connections in a forked child by itself (it checks pids).
        key = (url, tuple(sorted(kwargs.items())))
        with _lock:
            pool = _pools.get(key)
            if pool is None:
                pool = _pools[key] = redis.ConnectionPool.from_url(url, **kwargs)
            return pool

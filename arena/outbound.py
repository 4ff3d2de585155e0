"""Where workers may send a model's requests: a base URL is checked when a contestant or
judge is saved and again when a client is made for it (a row may predate the check).

Local models are the common case (Ollama on 127.0.0.1, a GPU box on the LAN), so private
addresses are allowed; what is refused is this server's own database and Redis (a request
there from a worker is the staff-to-infrastructure hop the reliability issue names) and
the networks in ``ARENA_MODEL_HOSTS_DENY`` (by default link-local, where clouds serve
instance metadata and credentials). Names are resolved at each check, so a name that later
resolves elsewhere (DNS rebinding) is caught at use, not at save only.
"""

from __future__ import annotations

import functools
import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings

DEFAULT_PORTS = {
    "http": 80,
    "https": 443,
    "redis": 6379,
    "rediss": 6379,
    "postgres": 5432,
    "postgresql": 5432,
}


def base_url_refusal(url: str) -> str | None:
    """Why a model's base URL may not be called, or None."""
    if not url:
        return None
    parts = urlsplit(url)
    if parts.username or parts.password:
        return "a base URL with a user or password in it is refused: name a key variable instead"
    if not parts.hostname:
        return None  # the URL validator reports it
    port = parts.port or DEFAULT_PORTS.get(parts.scheme, 80)
    addresses = _addresses(parts.hostname, port)
    own = _own_services(settings.DATABASE_URL, settings.REDIS_URL)
    for address in addresses:
        if (address, port) in own:
            return f"{parts.hostname}:{port} is this server's own database or Redis"
        denied = next((n for n in _denied_networks() if ipaddress.ip_address(address) in n), None)
        if denied is not None:
            where = f"{parts.hostname} ({address})"
            return f"{where} is in a denied network ({denied}, ARENA_MODEL_HOSTS_DENY)"
    return None


def _addresses(host: str, port: int) -> set[str]:
    """Every address the name resolves to; none when it does not resolve (nothing to call)."""
    try:
        found = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        return set()
    return {str(ipaddress.ip_address(str(info[4][0]).split("%")[0])) for info in found}


@functools.lru_cache(maxsize=8)
def _own_services(*urls: str) -> frozenset[tuple[str, int]]:
    """The (address, port) pairs of the database and Redis this server uses: resolved once
    per process (they do not move while it runs), not once per model call."""
    own: set[tuple[str, int]] = set()
    for url in urls:
        parts = urlsplit(url) if url else None
        if parts is None or not parts.hostname:
            continue
        port = parts.port or DEFAULT_PORTS.get(parts.scheme, 0)
        own.update((address, port) for address in _addresses(parts.hostname, port))
    return frozenset(own)


def _denied_networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(n, strict=False) for n in settings.MODEL_HOSTS_DENY]

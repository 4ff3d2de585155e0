"""Typed readers for environment variables that fail loudly on bad values.

A typo in a deployment variable should stop the process at start-up with the variable's
name in the message, not surface later as a confusing runtime error.
"""

from __future__ import annotations

import os


class EnvError(ValueError):
    """An environment variable holds a value its reader cannot accept."""


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise EnvError(f"{name}={raw!r} is not a boolean (use 1/0, true/false, yes/no, on/off)")


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise EnvError(f"{name}={raw!r} is not an integer") from None
    if minimum is not None and value < minimum:
        raise EnvError(f"{name}={value} must be at least {minimum}")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return list(default)
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_url(name: str, *, schemes: tuple[str, ...]) -> str:
    """An optional URL; when set, its scheme must be one of ``schemes``."""
    raw = env_str(name)
    if raw and raw.split("://", 1)[0] not in schemes:
        raise EnvError(f"{name} must start with one of {', '.join(s + '://' for s in schemes)}")
    return raw

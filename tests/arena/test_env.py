from __future__ import annotations

import pytest

from arena.env import EnvError, env_bool, env_int, env_list, env_url


def test_typed_readers_parse_good_values(monkeypatch) -> None:
    monkeypatch.setenv("X_BOOL", "yes")
    monkeypatch.setenv("X_INT", " 12 ")
    monkeypatch.setenv("X_LIST", "a, b,,c")
    monkeypatch.setenv("X_URL", "redis://127.0.0.1:6379/0")
    assert env_bool("X_BOOL") is True
    assert env_int("X_INT", 1, minimum=1) == 12
    assert env_list("X_LIST", []) == ["a", "b", "c"]
    assert env_url("X_URL", schemes=("redis",)).startswith("redis://")
    assert env_int("X_UNSET", 5) == 5


@pytest.mark.parametrize(
    ("reader", "value"),
    [
        (lambda: env_bool("X"), "maybe"),
        (lambda: env_int("X", 1), "ten"),
        (lambda: env_int("X", 1, minimum=1), "0"),
        (lambda: env_url("X", schemes=("redis",)), "http://x"),
    ],
)
def test_bad_values_fail_loudly_naming_the_variable(monkeypatch, reader, value) -> None:
    monkeypatch.setenv("X", value)
    with pytest.raises(EnvError, match="X"):
        reader()

from __future__ import annotations

import pytest

from arena.models import BackendKind, Contestant, JudgeKind
from arena.services.backends import contestant_generator, judge_comparator
from judges.backends.base import PermanentError


def test_a_row_saved_around_the_form_still_sends_no_disallowed_variable() -> None:
    """The allowlist is checked where a key is read too: a row written before it existed,
    or by a raw update, fails its matches instead of sending the secret."""
    leaky = Contestant(
        name="x", backend=BackendKind.OPENAI, base_url="http://h/v1", api_key_env="DATABASE_URL"
    )
    with pytest.raises(PermanentError, match="DATABASE_URL is not a key variable"):
        contestant_generator(contestant=leaky)
    frozen = {
        "kind": JudgeKind.OPENAI,
        "model": "j",
        "base_url": "http://h/v1",
        "api_key_env": "DJANGO_SECRET_KEY",
        "settings": {},
    }
    with pytest.raises(PermanentError, match="DJANGO_SECRET_KEY is not a key variable"):
        judge_comparator(judge=frozen, contestants=[leaky])


def test_a_base_url_is_checked_again_when_its_client_is_made(settings) -> None:
    settings.REDIS_URL = "redis://127.0.0.1:6379/0"
    row = Contestant(name="x", backend=BackendKind.OPENAI, base_url="http://127.0.0.1:6379/v1")
    with pytest.raises(PermanentError, match="own database or Redis"):
        contestant_generator(contestant=row)

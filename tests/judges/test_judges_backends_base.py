from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from judges.backends.base import Generation, Verdict, storable


def test_nul_and_lone_surrogates_become_replacement_characters() -> None:
    assert storable("a\x00b\ud800c") == "a\ufffdb\ufffdc"
    assert Generation(text="x\x00").text == "x\ufffd"
    assert Verdict(ranking=((0,), (1,)), raw_output="[[A]]\x00").raw_output == "[[A]]\ufffd"


@given(st.text())
def test_storable_text_encodes_as_utf8_without_nul_and_keeps_everything_else(text: str) -> None:
    kept = storable(text)
    assert "\x00" not in kept
    assert kept.encode("utf-8").decode("utf-8") == kept  # encoding raises on a lone surrogate
    assert len(kept) == len(text)
    assert all(k == t or k == "\ufffd" for k, t in zip(kept, text, strict=True))

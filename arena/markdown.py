"""Model output is untrusted: render its markdown with raw HTML disabled, then sanitise."""

from __future__ import annotations

from functools import lru_cache

import nh3
from markdown_it import MarkdownIt

# "commonmark" with html off escapes any raw HTML in the answer; tables and strikethrough
# are common in model answers. A single line break stays a line break (as in chat UIs):
# models differ in how often they use one, so dropping it would make some models' answers
# run together and bias the votes. nh3 (ammonia) is the second line of defence.
_md = MarkdownIt("commonmark", {"html": False, "linkify": False, "breaks": True}).enable(
    ["table", "strikethrough"]
)


# An answer is shown in many battles (one per opponent and voter): render it once per
# process. A pure function of the text, so the cache can never be stale; long texts are
# not kept, so the cache stays under about 512 x 2 x 16 KiB.
CACHED_CHARS = 16 * 1024


def render_markdown(text: str) -> str:
    return _cached(text) if len(text) <= CACHED_CHARS else _render(text)


@lru_cache(maxsize=512)
def _cached(text: str) -> str:
    return _render(text)


def _render(text: str) -> str:
    return nh3.clean(_md.render(text), link_rel="noopener noreferrer nofollow")

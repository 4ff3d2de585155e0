"""Answers that say which model wrote them break a blind vote.

Chatbot Arena drops such battles from its anonymous leaderboard (FastChat's identity-word
filter); we do the same before a battle is shown. The list names model families and their
makers; ambiguous everyday words (meta, palm, google as a verb…) are left out on purpose,
since a false alarm only costs one battle but a common word would cost many.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

IDENTITY_WORDS = (
    "openai",
    "chatgpt",
    "gpt-3.5",
    "gpt-4",
    "gpt-4o",
    "anthropic",
    "claude",
    "bard",
    "gemini",
    "deepmind",
    "lamda",
    "llama",
    "llama-2",
    "llama 2",
    "vicuna",
    "lmsys",
    "alpaca",
    "koala",
    "mistral",
    "mixtral",
    "qwen",
    "tongyi",
    "alibaba cloud",
    "deepseek",
    "chatglm",
    "zhipu",
    "baichuan",
    "yi-34b",
    "01.ai",
    "falcon-",
    "tulu",
    "olmo",
    "allen institute",
    "cohere",
    "command-r",
    "phi-3",
    "grok",
    "xai",
    "ernie bot",
    "moonshot",
    "kimi",
)


def identity_words_in(text: str, *, extra: Iterable[str] = ()) -> list[str]:
    """The identity words (and ``extra`` names, e.g. the contestant's own) found in ``text``."""
    found = []
    for word in (*IDENTITY_WORDS, *extra):
        if word and re.search(rf"(?<![\w-]){re.escape(word)}(?![\w])", text, re.IGNORECASE):
            found.append(word)
    return found

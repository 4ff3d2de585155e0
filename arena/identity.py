"""Answers that say which model wrote them break a blind vote.

Chatbot Arena drops such battles from its anonymous leaderboard (FastChat's identity-word
filter); we do the same before a battle is shown. Three nets: the list below (model
families and their makers; ambiguous everyday words such as meta, palm or google as a verb
are left out on purpose, since a false alarm only costs one battle but a common word would
cost many); each contestant's own terms (``identity_terms``: its name, model id and family,
and its provider's name from its base URL); and an answer introducing itself as an AI by a
name or maker in the first person (``I am Zephyrine, an AI assistant``, ``I was trained by
Acme Labs``), whatever the name.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from urllib.parse import urlsplit

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


# Parts of model ids and host names that name no one.
_GENERIC = frozenset(
    "api www com net org dev app cloud models model chat instruct base latest preview turbo "
    "mini large small medium text code local localhost inference hf huggingface openrouter "
    "meta palm google simulated test serve server proxy gateway azure amazonaws".split()
)


def identity_terms(*, name: str, model_id: str = "") -> tuple[str, ...]:
    """What names one contestant, matched anywhere in its answers: its name and model id
    whole, each part of the model id (split at ``/``, ``:`` and ``@``) and its family (the
    part up to its first version number: ``Zephyrine-7B-Instruct`` → ``zephyrine``). Words
    under four letters, numbers and everyday ones are left out."""
    terms = [name, model_id]
    for part in re.split(r"[/:@]", model_id):
        terms += [part, re.split(r"[-_ .]?v?\d", part, maxsplit=1)[0]]
    return _kept(terms)


def provider_terms(base_url: str) -> tuple[str, ...]:
    """Who serves a contestant, from its base URL's host name (the labels before the
    top-level domain: ``api.acmecloud.dev`` → ``acmecloud``). A provider's name may be an
    everyday word (together, fireworks), so answers are searched for it only as a maker:
    ``by Acmecloud``, ``Acmecloud AI``, ``Acmecloud's model``."""
    host = urlsplit(base_url).hostname or ""
    try:
        ipaddress.ip_address(host)
        return ()
    except ValueError:
        return _kept(host.split(".")[:-1])


def _kept(terms: Iterable[str]) -> tuple[str, ...]:
    kept: dict[str, None] = {}
    for term in terms:
        term = term.strip(" -_.").lower()
        if len(term) >= 4 and term not in _GENERIC and not term.isdigit():
            kept[term] = None
    return tuple(kept)


# An answer calling itself an AI by a name, or naming who made it, in the first person.
_NAME = r"([A-Z][\w\-]*(?:[ .][A-Z][\w\-]*){0,2})"
_I = r"\b(?:I am|I'm|I was|[Mm]y name is|[Cc]all me)\s+"
_SELF = re.compile(
    rf"{_I}(?:[^.!?\n]{{0,60}}?\b)?"
    rf"(?:developed|created|trained|built|made|released|designed)\s+by\s+(?:the\s+)?{_NAME}"
    rf"|{_I}{_NAME},?\s+(?:an?\s+|your\s+)?(?:[\w-]+\s+){{0,3}}?"
    r"(?:AI|artificial intelligence|assistant|language model|chatbot|LLM)\b"
)


def self_introductions(text: str) -> list[str]:
    """The names or makers an answer gives itself (``_SELF``)."""
    return [next(g for g in m.groups() if g) for m in _SELF.finditer(text)]


def identity_words_in(
    text: str, *, extra: Iterable[str] = (), makers: Iterable[str] = ()
) -> list[str]:
    """What in ``text`` names a model: the identity words, ``extra`` terms (a contestant's
    ``identity_terms``), ``makers`` named as makers (its ``provider_terms``), and the names
    an answer introducing itself gives."""
    found = []
    for word in (*IDENTITY_WORDS, *extra):
        if word and re.search(rf"(?<![\w-]){re.escape(word)}(?![\w])", text, re.IGNORECASE):
            found.append(word)
    for maker in makers:
        word = re.escape(maker)
        as_maker = (
            rf"\b(?:by|from)\s+{word}\b|\b{word}(?:'s)?\s+(?:AI|labs?|model|assistant|team)\b"
        )
        if maker and re.search(as_maker, text, re.IGNORECASE):
            found.append(maker)
    found += [f"{name} (introducing itself)" for name in self_introductions(text)]
    return found


def contestant_identity(*, name: str, model_id: str, base_url: str) -> dict[str, tuple[str, ...]]:
    """``identity_words_in``'s keyword arguments for one contestant's answers."""
    return {
        "extra": identity_terms(name=name, model_id=model_id),
        "makers": provider_terms(base_url),
    }

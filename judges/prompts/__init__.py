"""Judge prompt templates, stored as text files so a tournament can record their hash.

A template file has three sections, each opened by a ``=== name ===`` line:

- ``system``: the judge's instructions;
- ``user``: the question and answers, with ``{question}``, ``{answer_a}``, ``{answer_b}``
  placeholders (for pairwise templates);
- ``repair``: the short follow-up sent once when the verdict cannot be parsed;
- ``format`` (optional): the verdict format the judge is asked for, one of
  ``pairwise_3way`` (the default), ``pairwise_5way`` or ``listwise``.

Text before the first section is a comment (sources, rationale); it is not sent, but the
hash covers it like everything else in the file.

Every template fences the question and answers as data (see ``judges/fencing.py``); the
``{boundary}`` placeholder is replaced by a fresh random code on every request.

The repair text lives in the same file on purpose: it can change the verdict, so the
template hash must cover it.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib import resources

from judges.backends.base import PermanentError

_NAME = re.compile(r"[a-z0-9_]+")
_SECTION = re.compile(r"^=== (\w+) ===\n", re.MULTILINE)
_REQUIRED = ("system", "user", "repair")
VERDICT_FORMATS = frozenset({"pairwise_3way", "pairwise_5way", "listwise"})


@dataclass(frozen=True)
class PromptTemplate:
    name: str
    sha256: str
    system: str
    user: str
    repair: str
    verdict_format: str = "pairwise_3way"


def load_template(name: str) -> PromptTemplate:
    # The name comes from a tournament's judge config: keep it to a bare file stem so it
    # can never point outside this folder.
    if not _NAME.fullmatch(name):
        raise PermanentError(f"template name {name!r} must match [a-z0-9_]+")
    resource = resources.files(__name__).joinpath(f"{name}.txt")
    if not resource.is_file():
        raise PermanentError(f"unknown judge template {name!r}")
    raw = resource.read_bytes()
    sections = _split_sections(raw.decode("utf-8"), name)
    return PromptTemplate(
        name=name,
        sha256=hashlib.sha256(raw).hexdigest(),
        system=sections["system"],
        user=sections["user"],
        repair=sections["repair"],
        verdict_format=_verdict_format(sections, name),
    )


def _verdict_format(sections: dict[str, str], name: str) -> str:
    verdict_format = sections.get("format", "pairwise_3way")
    if verdict_format not in VERDICT_FORMATS:
        raise PermanentError(f"judge template {name!r} has unknown format {verdict_format!r}")
    return verdict_format


def _split_sections(text: str, name: str) -> dict[str, str]:
    parts = _SECTION.split(text)
    # re.split with one group gives [preamble, name1, body1, name2, body2, ...].
    sections = {key: body.strip() for key, body in zip(parts[1::2], parts[2::2], strict=True)}
    missing = [key for key in _REQUIRED if key not in sections]
    if missing:
        raise PermanentError(f"judge template {name!r} lacks sections {missing}")
    return sections

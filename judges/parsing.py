"""Turn a judge's free text into a verdict, meeting judges where they are but never guessing.

Judges are asked for ``[[A]]`` / ``[[B]]`` / ``[[C]]`` (MT-Bench, Zheng et al. 2023),
``[[A>>B]]`` .. ``[[B>>A]]`` (Arena-Hard, Li et al. 2024) or ``[[RANKING: C > A = D > B]]``,
and many answer in their own words instead. The forms read here are the ones judges and
judge benchmarks commonly write (tests/judges/data/verdicts/ records real and paraphrased
examples with their sources):

- bracketed labels and chains: ``[[A]]``, ``[[C]]`` (tie), ``[[tie]]``, ``[[A>B]]``,
  ``[[RANKING: C > A = D > B]]``; ``[[A]] > [[C]]`` and bare ``A > C = B`` chains; RankGPT's
  ``[1] > [3] > [2]`` (Sun et al. 2023) with numbers standing for positions;
- JSON objects and arrays, fenced or not: ``{"winner": "A"}``, ``{"ranking": ["A", "C"]}``,
  nested tiers ``[["A"], ["C", "B"]]``, WildBench's ``"choice": "A++"`` (Lin et al. 2024),
  FastChat's ``model_a`` / ``model_b``;
- a verdict after a cue: ``Final verdict: B``, ``Winner: Assistant A``, ``Ranking: A, C, B``
  (or a numbered list under it), Prometheus' ``[RESULT] A``, Auto-J's ``final decision is
  Response 1``, ``<answer>B</answer>``;
- references the way judges name answers: ``Assistant A``, ``Response 1``, ``Output (b)``
  (AlpacaEval / LLMBar), ``model_a``, ``the first response``; ties as ``tie``, ``both are
  equally good``, ``neither``; PandaLM's leading ``1`` / ``2`` / ``Tie`` line and JudgeLM's
  leading pair of scores;
- sentences: ``Assistant B is (slightly / significantly) better``, ``A wins``, ``I prefer
  Response A``, ``it's a tie``.

How a verdict is chosen (the part that keeps the parser honest):

1. Mentions that decide nothing are dropped: labels followed by "if", "when", "means", "for a
   tie" (the instructions read back); labels enumerated together (``[[A]], [[B]] or [[C]]``,
   or one per line of a numbered list of options); a label right after "e.g.", "example
   output:", "this format:", "not", "rather than"; a label used as a name ("[[B]] misses the
   edge case"); a comparison of one aspect ("better at formatting", "A > C in brevity"); a
   sentence under "if", "whether" or "not".
2. Explicit mentions (brackets, bracketed chains, JSON, cues, tags, a reply's last line when
   it is nothing but a verdict) outrank sentences and bare chains said in passing. The LAST
   explicit mention is the verdict, so a judge may think aloud and correct itself. A later,
   less detailed restatement keeps the earlier verdict ("[[A>B]], so [[A]]").
3. A sentence after that verdict which contradicts it makes the reply unreadable (None): the
   judge changed its mind in prose, and the caller's repair prompt should ask again.
4. Without any explicit mention, sentences decide only if they all agree.
5. A verdict that names a label that does not exist (E among four answers), leaves an answer
   out, names one twice, or (5-way) lacks a margin is refused (None): it is never repaired
   by guessing. For comparison, FastChat's MT-Bench takes whichever of "[[A]]", "[[B]]",
   "[[C]]" it tests first (``fastchat/llm_judge/common.py``), Arena-Hard refuses any
   judgment holding two different labels (``get_score``, lmarena/arena-hard-auto), and
   RankGPT fills a ranking's missing passages in their original order
   (``receive_permutation``, sunnweiwei/RankGPT).

Reasoning models' ``<think>...</think>`` drafts are skipped: only the text after the last
``</think>`` is read. Full-width forms (``［［Ａ］］``) are folded to ASCII, markdown emphasis is
ignored, and matching is ASCII-only (Unicode case folding would let "İ" pass for "i").
"""

from __future__ import annotations

import bisect
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Literal, cast

PairwiseVerdict = Literal["A", "B", "tie"]
FiveWayVerdict = Literal["A>>B", "A>B", "A=B", "B>A", "B>>A"]
LetterRanking = tuple[tuple[str, ...], ...]

# Which reading of judge text this module gives. Part of the verdict cache's key
# (judges.cache): a stored verdict read by an older parser is not served as today's.
# Raise it with any change that can read a reply differently.
PARSER_VERSION = 2

_Margin = Literal["strong", "slight"]
_PAIR = ("A", "B")


# -- normalisation -----------------------------------------------------------------------

# One character for one character, so offsets into the folded text are offsets into the
# judge's text (logprobs are read at them). Markdown emphasis becomes space.
_FOLD: dict[int, str] = {cp: chr(cp - 0xFEE0) for cp in range(0xFF01, 0xFF5F)}
_FOLD.update(
    {
        0x3000: " ",
        0x00A0: " ",
        0x2002: " ",
        0x2003: " ",
        0x2009: " ",
        0x202F: " ",
        0x3010: "[",
        0x3011: "]",
        0x3014: "[",
        0x3015: "]",
        0x300C: '"',
        0x300D: '"',
        0x201C: '"',
        0x201D: '"',
        0x2018: "'",
        0x2019: "'",
        0x2013: "-",
        0x2014: "-",
        ord("*"): " ",
        ord("`"): " ",
        0xFF0A: " ",
        0xFF40: " ",
    }
)

_FLAGS = re.ASCII
_THINK_END = re.compile(r"</think\s*>", re.IGNORECASE | _FLAGS)


# -- readings and mentions ----------------------------------------------------------------


@dataclass(frozen=True)
class _Reading:
    """What one mention says: tiers of labels as the judge named them, best first.

    Labels outside the answer set are kept (as written, or "?n" for a position number out
    of range) so that the verdict can be refused rather than silently repaired."""

    tiers: LetterRanking
    margin: _Margin | None = None


@dataclass(frozen=True)
class _Mention:
    reading: _Reading
    start: int
    end: int
    explicit: bool
    letter_at: int  # where the verdict letter (or tie word) is: logprobs are read there


@dataclass(frozen=True)
class _Context:
    labels: tuple[str, ...]

    @property
    def pairwise(self) -> bool:
        return len(self.labels) == 2


def _tie(ctx: _Context) -> _Reading:
    return _Reading((ctx.labels,))


# -- items: the ways judges name one answer ---------------------------------------------------

_NOUN = r"(?:assistant|answer|response|output|model|candidate|chatbot|submission)"
_ORDINALS = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth")
_ORDINAL_ITEM = (
    rf"(?i:the\s+(?:{'|'.join(_ORDINALS)})\s+"
    rf"(?:response|answer|output|assistant|one|option|candidate|model|submission))\b"
)


def _item_pattern(bare: str) -> str:
    return (
        r"(?:"
        rf"\[\[\s*(?:(?i:{_NOUN})[\s_]*)?(?:[A-Za-z]|\d{{1,2}})\s*\]\]"
        r"|\[\s*(?:[A-Za-z]|\d{1,2})\s*\]"
        rf"|(?i:{_NOUN})[\s_]*\(\s*(?:[A-Za-z]|\d{{1,2}})\s*\)"
        rf"|(?i:{_NOUN})\s*(?:[A-Z]|\d{{1,2}})(?![A-Za-z0-9])"
        rf"|(?i:{_NOUN})_(?:[A-Za-z]|\d{{1,2}})(?![A-Za-z0-9])"
        rf"|{_ORDINAL_ITEM}"
        r"|\(\s*[A-Za-z]\s*\)"
        rf"|(?<![A-Za-z0-9'_])(?:{bare})(?![A-Za-z0-9_])"
        r")"
    )


# In prose only capital letters stand for answers ("a" is an article); after a cue, inside
# brackets or in JSON a lower-case letter is accepted too.
_ITEM = re.compile(_item_pattern("[A-Z]"), _FLAGS)
_ITEM_RELAXED = re.compile(_item_pattern("[A-Za-z]"), _FLAGS)
_ORDINAL_WORD = re.compile(rf"(?i:\b({'|'.join(_ORDINALS)})\b)", _FLAGS)
_ITEM_NOISE = re.compile(rf"(?i:{_NOUN})|[\[\]()\s_]", _FLAGS)


def _item_value(token: str) -> str:
    """The label an item names: "[[Answer c]]" -> "C"; "Response 2" -> "#2" (a position)."""
    ordinal = _ORDINAL_WORD.search(token)
    if ordinal is not None:
        return f"#{_ORDINALS.index(ordinal.group(1).lower()) + 1}"
    core = _ITEM_NOISE.sub("", token)
    return f"#{int(core)}" if core.isdigit() else core.upper()


def _letter_offset(token: str) -> int:
    """Offset of the letter or digit that names the answer inside an item's text."""
    for index in range(len(token) - 1, -1, -1):
        if token[index].isalnum():
            return index
    return 0


@dataclass(frozen=True)
class _Chain:
    values: tuple[str, ...]
    ops: tuple[str, ...]
    tokens: tuple[str, ...]
    start: int
    end: int
    letter_at: int


_OP = re.compile(r"\s*(>>|>|==|=)\s*", _FLAGS)
_OP_OR_COMMA = re.compile(r"\s*(>>|>|==|=|,)\s*", _FLAGS)
_TIER_SEP = re.compile(r"\s*(=|==|,|&|(?i:and))\s*", _FLAGS)


def _scan_chain(text: str, pos: int, item: re.Pattern[str], op: re.Pattern[str]) -> _Chain | None:
    first = item.match(text, pos)
    if first is None:
        return None
    tokens, ops, end = [first.group()], [], first.end()
    while (operator := op.match(text, end)) is not None:
        following = item.match(text, operator.end())
        if following is None:
            break
        ops.append(operator.group(1))
        tokens.append(following.group())
        end = following.end()
    return _Chain(
        values=tuple(_item_value(t) for t in tokens),
        ops=tuple(ops),
        tokens=tuple(tokens),
        start=pos,
        end=end,
        letter_at=first.start() + _letter_offset(first.group()),
    )


def _resolve(values: Sequence[str], ctx: _Context) -> list[str]:
    """Position numbers become labels when every item is a number ("[1] > [3]"); a chain
    mixing letters and numbers is kept unresolved, which makes it invalid."""
    numeric = [v.startswith("#") for v in values]
    if not any(numeric):
        return list(values)
    if not all(numeric):
        return [f"?{v}" if v.startswith("#") else v for v in values]
    out = []
    for value in values:
        number = int(value[1:])
        out.append(ctx.labels[number - 1] if 1 <= number <= len(ctx.labels) else f"?{number}")
    return out


def _resolve_tiers(tiers: Sequence[Sequence[str]], ctx: _Context) -> LetterRanking:
    flat = iter(_resolve([value for tier in tiers for value in tier], ctx))
    return tuple(tuple(next(flat) for _ in tier) for tier in tiers)


def _single(value: str, ctx: _Context, *, tie_letter: bool) -> _Reading:
    """One named answer: in a pair it beats the other one; among more it is only a head."""
    if tie_letter and ctx.pairwise and value == "C":
        return _tie(ctx)  # MT-Bench's [[C]]
    if ctx.pairwise and value in ctx.labels:
        other = ctx.labels[1] if value == ctx.labels[0] else ctx.labels[0]
        return _Reading(((value,), (other,)))
    return _Reading(((value,),))


def _chain_reading(chain: _Chain, ctx: _Context, *, tie_letter: bool) -> _Reading:
    values = _resolve(chain.values, ctx)
    if len(values) == 1:
        return _single(values[0], ctx, tie_letter=tie_letter)
    tiers: list[list[str]] = [[values[0]]]
    for operator, value in zip(chain.ops, values[1:], strict=True):
        if operator in ("=", "=="):
            tiers[-1].append(value)
        else:
            tiers.append([value])
    margin: _Margin | None = None
    if ctx.pairwise and len(values) == 2 and len(tiers) == 2:
        margin = "strong" if chain.ops[0] == ">>" else "slight"
    return _Reading(tuple(tuple(t) for t in tiers), margin)


def _compares_itself(chain: _Chain) -> bool:
    # "[[A>A]]" is a malformed label, not a verdict on any pair: it is skipped, not refused.
    return len(chain.values) == 2 and chain.values[0] == chain.values[1]


def _names_no_answer(token: str) -> bool:
    """Alone, "[A]" is a heading ("[Answer A]" in our own prompts), "[[5]]" a rating."""
    token = token.strip()
    single_bracket = token.startswith("[") and not token.startswith("[[")
    return single_bracket or token.strip("[]").strip().isdigit()


# -- phrases: what follows a cue, a JSON value, a reply's last line ---------------------------

_STRONG = r"significantly|much|far|vastly|substantially|considerably|dramatically|way"
_SLIGHT = r"slightly|marginally|somewhat|a\s+bit|a\s+little|a\s+tad|only\s+slightly"
_ADVERB = rf"(?:{_STRONG}|{_SLIGHT}|clearly|definitely|overall|generally|noticeably|obviously)"
_COMPARATIVE = re.compile(
    r"(?i:(?:'s\s+(?:answer|response|output|reply)\s*)?"
    r"(?:\s+(?:is|was|seems|appears|looks|performs|did|does)(?:\s+to\s+be)?)?"
    rf"(?:\s+(?P<adverb>{_ADVERB}))?"
    r"\s+(?:the\s+)?(?:clear\s+)?"
    r"(?:better|superior|preferable|preferred|stronger|best|winner|wins)\b"
    r"(?:\s+(?:answer|response|one|choice|option|output|overall|of\s+the\s+two))?)",
    _FLAGS,
)
# "better at formatting", "better in style": a partial comparison, not a verdict.
_QUALIFIED = re.compile(
    r"(?i:\s+(?:at|on|to|when|regarding|about|with|if|from|because\s+of"
    r"|for(?!\s+(?:this|the)\s+(?:question|task|prompt|user|request)\b)"
    r"|in(?!\s+(?:this\s+case|every\s+(?:way|respect)|all\s+respects|my\s+(?:view|opinion))\b))\b)",
    _FLAGS,
)
_THAN = re.compile(r"(?i:\s+than\s+)", _FLAGS)
_PLUS = re.compile(r"\s*(\+\+|\+)(?![+\w])", _FLAGS)
_TIE_PHRASE = re.compile(
    r"(?i:(?:it'?s\s+|it\s+is\s+|this\s+is\s+)?(?:a\s+)?(?:tie|tied|draw)\b"
    r"(?:\s*,\s*(?:relatively|roughly|about|essentially)\s+(?:the\s+same|equal)\b)?"
    r"|(?:both|the\s+two|they|all)"
    r"(?:\s+(?:answers|responses|assistants|outputs|are|were|of\s+them|is))*"
    r"\s+(?:equally\s+[a-z]+|equal|the\s+same|tied|equivalent"
    r"|of\s+(?:the\s+)?(?:same|equal|similar|comparable)\s+quality)\b"
    r"|(?:equally\s+(?:good|bad|helpful|strong|weak|poor)|equal|same|the\s+same|neither)\b)",
    _FLAGS,
)
_BOUNDARY = re.compile(
    r"\s*(?:$|[.,;:!?)\]\-(]|(?i:because|since|as|due|with|which|but|although|though|while"
    r"|for|overall|here|given|thanks)\b)",
    _FLAGS,
)
_END = re.compile(r"""[\s.!?"']*$""", _FLAGS)
_LEADING = re.compile(r"""[\s"'>#]+""", _FLAGS)


def _skip_leading(text: str, pos: int) -> int:
    found = _LEADING.match(text, pos)
    return pos if found is None else found.end()


def _margin(adverb: str | None) -> _Margin | None:
    if adverb is None:
        return None
    if re.fullmatch(_STRONG, adverb, re.IGNORECASE | _FLAGS):
        return "strong"
    if re.fullmatch(_SLIGHT, adverb, re.IGNORECASE | _FLAGS):
        return "slight"
    return None


def _comparison(text: str, pos: int) -> tuple[_Margin | None, int] | None:
    """A comparison at ``pos`` ("is significantly better than Assistant B"): margin, end."""
    found = _COMPARATIVE.match(text, pos)
    if found is None or _QUALIFIED.match(text, found.end()):
        return None
    end = found.end()
    than = _THAN.match(text, end)
    if than is not None and (other := _ITEM_RELAXED.match(text, than.end())) is not None:
        end = other.end()
    return _margin(found.group("adverb")), end


def _phrase(
    text: str, start: int, end: int, ctx: _Context, *, commas: bool, whole: bool
) -> tuple[_Reading, int] | None:
    """The verdict that ``text[start:end]`` opens with, and where its letter is.

    ``whole`` asks for nothing but the verdict (a reply's last line); otherwise a boundary
    must follow it ("Winner: Assistant A, because ..."), so prose is never half-read."""
    segment = text[:end]
    pos = _skip_leading(segment, start)

    def closes(at: int) -> bool:
        return (_END if whole else _BOUNDARY).match(segment, at) is not None

    tie = _TIE_PHRASE.match(segment, pos)
    if tie is not None and closes(tie.end()):
        return _tie(ctx), tie.start()
    chain = _scan_chain(segment, pos, _ITEM_RELAXED, _OP_OR_COMMA if commas else _OP)
    if chain is None or _compares_itself(chain):
        return None
    if len(chain.values) == 1 and _names_no_answer(chain.tokens[0]):
        return None
    reading = _chain_reading(chain, ctx, tie_letter=True)
    after = chain.end
    if len(chain.values) == 1:
        plus = _PLUS.match(segment, after)
        compared = None if whole else _comparison(segment, after)
        if plus is not None and ctx.pairwise:
            margin: _Margin = "strong" if plus.group(1) == "++" else "slight"
            reading, after = replace(reading, margin=margin), plus.end()
        elif compared is not None:
            reading, after = replace(reading, margin=compared[0]), compared[1]
    if not closes(after):
        return None
    lone_lower = re.fullmatch(r"[a-z]", chain.tokens[0]) is not None and len(chain.values) == 1
    if lone_lower and _END.match(segment, chain.end) is None:
        return None  # "a" followed by more words is an article, not answer A
    return reading, chain.letter_at


# -- finders ---------------------------------------------------------------------------------

_BRACKETS = re.compile(r"\[\[([^\[\]]{0,200})\]\]", _FLAGS)
_BRACKET_TIE = re.compile(r"(?i:tie|draw|equal|same)\s*$", _FLAGS)
_USED_AS_NAME = re.compile(
    r"(?i:'s\b|\s+is(?!\s+(?:my|the|our)\s+(?:final\s+)?(?:verdict|answer|choice|decision)\b)"
    r"|\s+(?:was|does|did|doesn't|has|had|provides|gives|fails|lacks|misses|answers"
    r"|handles|includes|uses|offers|explains|covers|contains|makes|gets|says|states|claims)\b)",
    _FLAGS,
)
_RANKING_PREFIX = re.compile(r"\s*(?i:ranking)\s*:", _FLAGS)
_CUE = re.compile(
    r"(?:^|(?<=[.!?;:\n]))[ \t>#\-]*"
    r"(?i:(?:(?:so|thus|therefore|hence|overall|in\s+conclusion|in\s+summary|to\s+conclude),?\s+)?"
    r"(?:(?:my|the|our)\s+)?(?:(?:final|overall|ultimate)\s+)?"
    r"(?:(?:verdict|decision|judge?ment|choice|winner|preference"
    r"|(?:preferred|better)(?:\s+(?:answer|response|output|assistant))?"
    r"|(?P<rank>rankings?|order(?:ing)?))"
    r"(?:\s+(?:is|would\s+be|will\s+be))?\s*(?::|=|\bis\b|-\s)"
    # "The result is A" may end a worked solution; only "Result: A" is a verdict line.
    r"|(?:result|conclusion)\s*:))[ \t]*",
    re.MULTILINE | _FLAGS,
)
_RESULT = re.compile(r"(?i:\[\s*result\s*(?:\]\s*:?|:))[ \t]*", _FLAGS)
_TAG = re.compile(
    r"(?i:<\s*(answer|verdict|winner|choice|result|ranking|decision)\s*>)"
    r"([^<]{0,200})(?i:<\s*/\s*\1\s*>)",
    _FLAGS,
)
_LIST_LINE = re.compile(r"[ \t]*\d{1,2}\s*[.)][ \t]*(.*)", _FLAGS)
_PANDALM = re.compile(r"\s*(1|2|(?i:tie))[ \t]*\n[ \t]*\n", _FLAGS)
_SCORES = re.compile(
    r"\s*(\d{1,2}(?:\.\d+)?)\s*(?:,\s*|\s+)(\d{1,2}(?:\.\d+)?)[ \t]*(?:\n|$)", _FLAGS
)
# What may precede a bare letter that names an answer in a sentence ("Overall, A is better").
_LEADS_A_BARE_LETTER = re.compile(
    r"""(?:^|[.!?;:,(\n"'\-]|(?i:\b(?:so|thus|therefore|hence|overall|then|and|but|think|say"""
    r"""|believe|feel|clearly|honestly|ultimately|conclusion|summary|sum|verdict)\b))[ \t]*$""",
    _FLAGS,
)
_PREFER = re.compile(
    r"(?i:\bI\s+(?:would\s+|'d\s+)?(?:prefer|choose|pick|select|favou?r|go\s+with)\s+)", _FLAGS
)
_TIE_SENTENCE = re.compile(
    r"(?i:\b(?:it'?s|it\s+is|this\s+is)\s+a\s+(?:tie|draw)\b"
    r"|\b(?:both|the\s+two|(?:assistant|answer|response|output)\s+[A-Z]\s+and\s+"
    r"(?:assistant\s+|answer\s+|response\s+|output\s+)?[A-Z])"
    r"(?:\s+(?:answers|responses|assistants|outputs))?\s+(?:are|were)\s+"
    r"(?:equally\s+(?:good|bad|helpful|strong|weak|poor|correct|valid|acceptable)"
    r"|of\s+(?:the\s+)?(?:same|equal|similar|comparable)\s+quality|tied|equivalent)\b"
    r"|\bneither\s+(?:answer|response|assistant|output|one)\s+is\s+(?:better|superior|preferable)\b"
    r"|\bthey\s+are\s+(?:equally\s+good|tied|equivalent)\b)",
    _FLAGS,
)


def _json_mentions(text: str, ctx: _Context) -> list[_Mention]:
    decoder = json.JSONDecoder()
    starts = [m.start() for m in re.finditer(r"\{\s*\"|\[\s*(?:\"|\[\s*\"|\d)", text)]
    mentions: list[_Mention] = []
    covered = -1
    # Only the last few candidates: a verdict is near the end, and each attempt costs a scan.
    for start in starts[-48:]:
        if start < covered:
            continue
        try:
            value, end = decoder.raw_decode(text, start)
        except (ValueError, RecursionError):
            continue
        covered = end
        reading = _json_reading(value, ctx) if isinstance(value, dict) else None
        if isinstance(value, list) and _bare_array_is_a_verdict(text, start, end):
            reading = _json_list(value, ctx)
        if reading is not None:
            mentions.append(_Mention(reading, start, end, True, start))
        elif isinstance(value, dict):
            # Prose inside a JSON object is the judge's reasoning, not its verdict.
            mentions.append(_Mention(_Reading(()), start, end, False, start))
        else:
            covered = start  # "[1] > [3]" is a chain, not the array [1]
    return mentions


def _bare_array_is_a_verdict(text: str, start: int, end: int) -> bool:
    before = text[:start].strip().lower()
    alone = before in ("", "json") and not text[end:].strip()
    line = text[text.rfind("\n", 0, start) + 1 : start]
    return alone or (_CUE.search(line) is not None and line.rstrip().endswith(":"))


_VERDICT_KEYS = frozenset(
    "winner verdict finalverdict decision finaldecision choice finalchoice preference preferred"
    " better betteranswer betterresponse best result answer judgment judgement outcome"
    " pairwisechoice label".split()
)
_RANKING_KEYS = frozenset("ranking rankings finalranking order rank".split())


def _json_reading(value: dict[str, object], ctx: _Context, depth: int = 0) -> _Reading | None:
    readings: list[_Reading] = []
    for key, item in value.items():
        name = re.sub(r"[^a-z]", "", key.lower())
        found: _Reading | None = None
        if name in _VERDICT_KEYS or name in _RANKING_KEYS:
            found = _json_value(item, ctx, commas=name in _RANKING_KEYS)
        elif isinstance(item, dict) and depth < 3:
            found = _json_reading(item, ctx, depth + 1)
        if found is not None:
            readings.append(found)
    # Two keys that disagree ("winner": "A", "verdict": "tie") are no verdict at all.
    return readings[0] if readings and all(r == readings[0] for r in readings) else None


def _json_value(item: object, ctx: _Context, *, commas: bool) -> _Reading | None:
    if isinstance(item, str):
        found = _phrase(item, 0, len(item), ctx, commas=commas, whole=False)
        return found[0] if found is not None else None
    if isinstance(item, list):
        return _json_list(item, ctx)
    return None


def _json_list(items: list[object], ctx: _Context) -> _Reading | None:
    """["A", "C", "B"] or tiers [["A"], ["C", "B"]]: best first."""
    tiers: list[list[str]] = []
    for element in items:
        group = element if isinstance(element, list) else [element]
        values = [_json_ref(member) for member in group]
        if not values or any(v is None for v in values):
            return None
        tiers.append([v for v in values if v is not None])
    return _Reading(_resolve_tiers(tiers, ctx)) if tiers else None


def _json_ref(member: object) -> str | None:
    if isinstance(member, int) and not isinstance(member, bool):
        return f"#{member}"
    if not isinstance(member, str):
        return None
    found = _ITEM_RELAXED.fullmatch(member.strip())
    return _item_value(found.group()) if found is not None else None


def _bracket_mentions(text: str, ctx: _Context) -> list[_Mention]:
    mentions = []
    for found in _BRACKETS.finditer(text):
        inner_start, inner_end = found.span(1)
        prefix = _RANKING_PREFIX.match(text, inner_start, inner_end)
        if prefix is not None:
            inner_start = prefix.end()
        inner = text[:inner_end]
        pos = _skip_leading(inner, inner_start)
        tie = _BRACKET_TIE.match(inner, pos)
        if tie is not None:
            mentions.append(_Mention(_tie(ctx), found.start(), found.end(), True, pos))
            continue
        chain = _scan_chain(inner, pos, _ITEM_RELAXED, _OP)
        if chain is None or _END.fullmatch(inner, chain.end) is None or _compares_itself(chain):
            continue
        if len(chain.values) == 1 and chain.values[0].startswith("#"):
            continue  # "[[5]]" is a rating
        if len(chain.values) == 1 and _USED_AS_NAME.match(text, found.end()):
            continue  # "[[B]] misses the edge case": the label names an answer, judges none
        plus = _PLUS.match(inner, chain.end)
        reading = _chain_reading(chain, ctx, tie_letter=True)
        if plus is not None and len(chain.values) == 1 and ctx.pairwise:
            reading = replace(reading, margin="strong" if plus.group(1) == "++" else "slight")
        mentions.append(_Mention(reading, found.start(), found.end(), True, chain.letter_at))
    return mentions


def _chain_mentions(text: str, ctx: _Context) -> list[_Mention]:
    """Chains outside double brackets: "[[A]] > [[C]] > [[B]]" and RankGPT's "[1] > [3]" are
    explicit; a bare "A > C = B" in prose is said in passing (a reply's last line that is
    nothing but a chain is read whole by _edge_line_mentions)."""
    mentions, covered = [], -1
    for found in _ITEM.finditer(text):
        if found.start() < covered:
            continue
        chain = _scan_chain(text, found.start(), _ITEM, _OP)
        if chain is None or not chain.ops or _compares_itself(chain):
            continue
        covered = chain.end
        bracketed = any(t.lstrip().startswith("[") for t in chain.tokens)
        if not bracketed and _QUALIFIED.match(text, chain.end):
            continue  # "A > C in brevity" compares one aspect
        reading = _chain_reading(chain, ctx, tie_letter=False)
        mentions.append(_Mention(reading, chain.start, chain.end, bracketed, chain.letter_at))
    return mentions


def _cue_mentions(text: str, ctx: _Context) -> list[_Mention]:
    mentions = []
    for pattern in (_CUE, _RESULT):
        for found in pattern.finditer(text):
            is_ranking = pattern is _CUE and found.group("rank") is not None
            line_end = _line_end(text, found.end())
            start, end = found.end(), line_end
            if not text[start:end].strip():  # "Final verdict:\n[[A]]" or a numbered ranking
                listed = _numbered_ranking(text, line_end + 1, ctx) if is_ranking else None
                if listed is not None:
                    mentions.append(
                        _Mention(listed[0], found.start(), listed[1], True, found.end())
                    )
                    continue
                start = _next_line_start(text, line_end)
                end = _line_end(text, start)
            read = _phrase(text, start, end, ctx, commas=is_ranking, whole=False)
            if read is not None:
                mentions.append(_Mention(read[0], found.start(), end, True, read[1]))
    for found in _TAG.finditer(text):
        read = _phrase(text, found.start(2), found.end(2), ctx, commas=True, whole=False)
        if read is not None:
            mentions.append(_Mention(read[0], found.start(), found.end(), True, read[1]))
    return mentions


def _numbered_ranking(text: str, pos: int, ctx: _Context) -> tuple[_Reading, int] | None:
    """A numbered list under a ranking cue, one tier a line: "1. C\\n2. A = D\\n3. B"."""
    tiers: list[list[str]] = []
    end = pos
    while pos < len(text):
        line_end = _line_end(text, pos)
        found = _LIST_LINE.fullmatch(text, pos, line_end)
        if found is None:
            break
        chain = _scan_chain(text[:line_end], found.start(1), _ITEM_RELAXED, _TIER_SEP)
        if chain is None or _BOUNDARY.match(text[:line_end], chain.end) is None:
            return None
        tiers.append(list(chain.values))
        end, pos = line_end, line_end + 1
    return (_Reading(_resolve_tiers(tiers, ctx)), end) if len(tiers) >= 2 else None


def _line_end(text: str, pos: int) -> int:
    end = text.find("\n", pos)
    return len(text) if end < 0 else end


def _next_line_start(text: str, line_end: int) -> int:
    pos = line_end + 1
    while pos < len(text):
        end = _line_end(text, pos)
        if text[pos:end].strip():
            return pos
        pos = end + 1
    return len(text)


def _last_line(text: str) -> tuple[int, int]:
    end = len(text.rstrip())
    start = text.rfind("\n", 0, end) + 1
    return start, end


def _edge_line_mentions(text: str, ctx: _Context) -> list[_Mention]:
    """A reply that ends on a bare verdict ("Output (b)", "B", "Tie", "A > C > B"), and
    the pairwise judges that lead with it: PandaLM's "1"/"2"/"Tie" line, JudgeLM's scores."""
    mentions = []
    start, end = _last_line(text)
    line = text[start:end]
    if line.strip() and not line.rstrip().endswith(":") and not line.lstrip().startswith("#"):
        read = _phrase(text, start, end, ctx, commas=False, whole=True)
        if read is not None:
            mentions.append(_Mention(read[0], start, end, True, read[1]))
    if ctx.pairwise:
        panda = _PANDALM.match(text)
        if panda is not None:
            value = panda.group(1)
            reading = (
                _tie(ctx)
                if value.lower() == "tie"
                else _single(_resolve([f"#{value}"], ctx)[0], ctx, tie_letter=False)
            )
            mentions.append(_Mention(reading, panda.start(1), panda.end(1), True, panda.start(1)))
        scores = _SCORES.match(text)
        if scores is not None and max(float(scores.group(1)), float(scores.group(2))) <= 10:
            first, second = float(scores.group(1)), float(scores.group(2))
            reading = (
                _tie(ctx)
                if first == second
                else _single("A" if first > second else "B", ctx, tie_letter=False)
            )
            mentions.append(
                _Mention(reading, scores.start(1), scores.end(2), True, scores.start(1))
            )
    return mentions


def _sentence_mentions(text: str, ctx: _Context) -> list[_Mention]:
    """Verdicts said in prose: "Assistant B is slightly better", "I prefer Response A"."""
    mentions = []
    for found in _ITEM.finditer(text):
        compared = _comparison(text, found.end())
        if compared is None or _names_no_answer(found.group()):
            continue
        bare = len(found.group()) == 1
        if bare and not _LEADS_A_BARE_LETTER.search(
            text, max(0, found.start() - 40), found.start()
        ):
            continue  # "Plan A is better", "Vitamin C is better": a name, not an answer
        value = _resolve([_item_value(found.group())], ctx)[0]
        reading = replace(_single(value, ctx, tie_letter=False), margin=compared[0])
        letter = found.start() + _letter_offset(found.group())
        mentions.append(_Mention(reading, found.start(), compared[1], False, letter))
    for found in _PREFER.finditer(text):
        chosen = _ITEM_RELAXED.match(text, found.end())
        if chosen is not None and _BOUNDARY.match(text, chosen.end()):
            value = _resolve([_item_value(chosen.group())], ctx)[0]
            letter = chosen.start() + _letter_offset(chosen.group())
            mentions.append(
                _Mention(
                    _single(value, ctx, tie_letter=False),
                    found.start(),
                    chosen.end(),
                    False,
                    letter,
                )
            )
    for found in _TIE_SENTENCE.finditer(text):
        if not _QUALIFIED.match(text, found.end()):
            mentions.append(_Mention(_tie(ctx), found.start(), found.end(), False, found.start()))
    return mentions


# -- quoting, negation, enumeration ------------------------------------------------------------

_QUOTE_AFTER = re.compile(
    r"""[\s"')\]]*(?i:if|when|whenever|means|meaning|indicates|denotes|represents|stands\s+for"""
    r"""|signif[a-z]*|for\s+(?:a\s+)?(?:tie|draw))\b""",
    _FLAGS,
)
_QUOTE_BEFORE = re.compile(
    r"""(?i:e\.g\.|\bfor\s+example|\bfor\s+instance|\bsuch\s+as|\bexample(?:\s+output)?"""
    r"""|\beither|\bone\s+of(?:\s+the\s+following)?"""
    r"""|\blike\s+this)[\s:,"'(\-]*$"""
    # "... in exactly this format, using every label once:\n[[RANKING: C > A = D > B]]"
    r"""|(?i:\b(?:this|the\s+following)\s+format\b[^\n]*[:,][\s"'(]*$)"""
    # 'Example output: "My final verdict is tie: [[A=B]]"', read back inside its quotes
    r"""|(?i:\bexample(?:\s+output)?\s*:\s*["'][^"'\n]*$)"""
    # "If Assistant A is better, output [[A]]": the rule, not its application
    r"""|(?i:\b(?:if|when)\b[^.!?;\n]{0,80}\b(?:output|respond\s+with|reply\s+with|answer\s+with"""
    r"""|write|return|print|use)[\s:,"'(]*$)""",
    _FLAGS,
)
_NEGATED_BEFORE = re.compile(
    r"""(?i:\bnot|\bnever|\brather\s+than|\binstead\s+of|n't)[\s:,"'(]*$""", _FLAGS
)
_DOUBT = re.compile(
    r"(?i:\b(?:not|never|if|whether|unless|could|might|would\s+have)\b|n't\b)", _FLAGS
)
_ENUMERATION_GAP = re.compile(r"""[\s"',/|]*(?i:or|and)?[\s"',/|]*""", _FLAGS)
_LIST_MARKER = re.compile(r"[ \t]*(?:\d{1,2}[.)]|[-+\u2022])[ \t]+", _FLAGS)


def _quotes_instructions(text: str, mention: _Mention) -> bool:
    if _QUOTE_AFTER.match(text, mention.end):
        return True
    line_start = text.rfind("\n", 0, mention.start) + 1
    window_start = line_start
    if not text[line_start : mention.start].strip() and line_start > 0:
        window_start = text.rfind("\n", 0, line_start - 1) + 1  # the cue may end the line above
    window = text[max(window_start, mention.start - 160) : mention.start]
    if _QUOTE_BEFORE.search(window):
        return True
    near = text[max(line_start, mention.start - 25) : mention.start]
    return _NEGATED_BEFORE.search(near) is not None


def _doubted(text: str, mention: _Mention) -> bool:
    """A sentence verdict under "if", "whether" or "not" states no verdict."""
    clause_start = max(text.rfind(mark, 0, mention.start) for mark in ".!?;\n") + 1
    return _DOUBT.search(text, max(clause_start, mention.start - 120), mention.start) is not None


def _enumerated(text: str, mentions: Sequence[_Mention]) -> set[_Mention]:
    """Labels listed side by side ("[[A]], [[B]] or [[C]]") or one per line of a numbered
    list of options ("1. Assistant A is significantly better: [[A>>B]]") are the
    instructions read back, not a verdict."""
    explicit = sorted((m for m in mentions if m.explicit), key=lambda m: m.start)
    dropped: set[_Mention] = set()
    for left, right in zip(explicit, explicit[1:], strict=False):
        gap = text[left.end : right.start]
        if left.reading != right.reading and "\n" not in gap and _ENUMERATION_GAP.fullmatch(gap):
            dropped.update((left, right))
    starts = _line_starts(text)
    listed = {
        i for i, pos in enumerate(starts) if _LIST_MARKER.match(text, pos, _line_end(text, pos))
    }
    by_line: dict[int, list[_Mention]] = {}
    for mention in mentions:
        by_line.setdefault(bisect.bisect_right(starts, mention.start) - 1, []).append(mention)
    block: list[_Mention] = []
    readings: set[_Reading] = set()
    for index in range(len(starts) + 1):
        on_line = by_line.get(index, [])
        if index in listed and any(m.explicit for m in on_line):
            block += on_line
            readings |= {m.reading for m in on_line if m.explicit}
            continue
        if len(readings) >= 2:
            dropped.update(block)
        block, readings = [], set()
    return dropped


def _line_starts(text: str) -> list[int]:
    return [0, *(m.end() for m in re.finditer("\n", text))]


# -- choosing the verdict ----------------------------------------------------------------------


def _mentions(text: str, ctx: _Context) -> list[_Mention]:
    json_found = _json_mentions(text, ctx)
    spans = [(m.start, m.end) for m in json_found]

    def outside_json(m: _Mention) -> bool:
        return not any(start <= m.start < end for start, end in spans)

    brackets = [m for m in _bracket_mentions(text, ctx) if outside_json(m)]
    chains = [m for m in _chain_mentions(text, ctx) if outside_json(m)]
    # "[[A]] > [[C]]" is one chain, and the "C > A" inside "[[RANKING: C > A]]" no chain.
    chains = [c for c in chains if not any(b.start <= c.start and c.end <= b.end for b in brackets)]
    brackets = [
        b for b in brackets if not any(c.start <= b.start and b.end <= c.end for c in chains)
    ]
    prose = [
        *brackets,
        *chains,
        *(m for m in _cue_mentions(text, ctx) if outside_json(m)),
        *(m for m in _edge_line_mentions(text, ctx) if outside_json(m)),
    ]
    sentences = [m for m in _sentence_mentions(text, ctx) if outside_json(m)]
    kept = [m for m in prose if not _quotes_instructions(text, m)]
    kept += [m for m in sentences if not _doubted(text, m) and not _quotes_instructions(text, m)]
    dropped = _enumerated(text, kept)
    found = [m for m in kept if m not in dropped]
    found += [m for m in json_found if m.reading.tiers]
    return sorted(found, key=lambda m: (m.end, m.start))


def _compatible(said: _Reading, verdict: _Reading) -> bool:
    """Whether ``said`` (perhaps partial) agrees with everything ``verdict`` says."""
    if len(said.tiers) == 1 and len(said.tiers[0]) == 1 and len(verdict.tiers) > 1:
        return said.tiers[0][0] in verdict.tiers[0]  # "C is the best": only a head
    place = {label: rank for rank, tier in enumerate(verdict.tiers) for label in tier}
    order = [(label, rank) for rank, tier in enumerate(said.tiers) for label in tier]
    if any(label not in place for label, _ in order):
        return False
    for i, (x, rank_x) in enumerate(order):
        for y, rank_y in order[i + 1 :]:
            if (rank_x < rank_y) != (place[x] < place[y]) or (rank_x == rank_y) != (
                place[x] == place[y]
            ):
                return False
    return said.margin is None or verdict.margin is None or said.margin == verdict.margin


def _decide(text: str, ctx: _Context, valid: Callable[[_Reading], bool]) -> _Mention | None:
    region = _THINK_END.split(text)[-1]
    offset = len(text) - len(region)
    mentions = _mentions(region.translate(_FOLD), ctx)
    explicit = [m for m in mentions if m.explicit]
    if explicit:
        found = _last_explicit(explicit, valid)
        later = [m for m in mentions if not m.explicit and m.start >= explicit[-1].end]
        if found is None or not all(_compatible(m.reading, found.reading) for m in later):
            return None
        final = found
    else:
        candidates = [m for m in mentions if valid(m.reading)]
        if not candidates:
            return None
        final = candidates[-1]
        if not all(_compatible(m.reading, final.reading) for m in mentions):
            return None
    return replace(final, letter_at=final.letter_at + offset)


def _last_explicit(
    explicit: Sequence[_Mention], valid: Callable[[_Reading], bool]
) -> _Mention | None:
    """The last explicit verdict, or else the last valid one that every later mention
    restates with less detail ("[[A>B]] so [[A]]"; "[[RANKING: C > A > D > B]]: [[C]] wins")."""
    for index in range(len(explicit) - 1, -1, -1):
        candidate = explicit[index]
        if valid(candidate.reading):
            restated = explicit[index + 1 :]
            ok = all(_compatible(m.reading, candidate.reading) for m in restated)
            return candidate if ok else None
    return None


def _complete(reading: _Reading, labels: Sequence[str]) -> bool:
    seen = [label for tier in reading.tiers for label in tier]
    return len(seen) == len(set(seen)) and set(seen) == set(labels)


# -- public API --------------------------------------------------------------------------------

_PAIRWISE = _Context(_PAIR)


def _pairwise_of(reading: _Reading) -> PairwiseVerdict:
    return "tie" if len(reading.tiers) == 1 else cast(PairwiseVerdict, reading.tiers[0][0])


def find_pairwise_label(text: str) -> tuple[PairwiseVerdict, int] | None:
    """The verdict and the offset of its letter (or tie word) in ``text``: where the
    logprobs of the verdict are read."""
    mention = _decide(text, _PAIRWISE, lambda r: _complete(r, _PAIR))
    return None if mention is None else (_pairwise_of(mention.reading), mention.letter_at)


def parse_pairwise_verdict(text: str) -> PairwiseVerdict | None:
    """A 3-way pairwise verdict ("A", "B" or "tie"), or None (never a guessed tie)."""
    found = find_pairwise_label(text)
    return None if found is None else found[0]


def _five_way_of(reading: _Reading) -> FiveWayVerdict | None:
    if len(reading.tiers) == 1:
        return "A=B"
    if reading.margin is None:
        return None  # "Assistant A is better" does not say by how much
    winner, loser = reading.tiers[0][0], reading.tiers[1][0]
    return cast(FiveWayVerdict, f"{winner}{'>>' if reading.margin == 'strong' else '>'}{loser}")


def parse_five_way_verdict(text: str) -> FiveWayVerdict | None:
    """One of Arena-Hard's five labels, or None: a verdict without a margin is refused."""
    mention = _decide(
        text, _PAIRWISE, lambda r: _complete(r, _PAIR) and _five_way_of(r) is not None
    )
    return None if mention is None else _five_way_of(mention.reading)


def parse_listwise_ranking(text: str, labels: Sequence[str]) -> LetterRanking | None:
    """The judge's ranking as tiers of labels, best first, or None.

    Valid only if every label appears exactly once: a ranking that drops, repeats or
    invents an answer cannot be mapped back without guessing."""
    ctx = _Context(tuple(labels))
    mention = _decide(text, ctx, lambda r: _complete(r, ctx.labels))
    return None if mention is None else mention.reading.tiers


def format_ranking(tiers: LetterRanking) -> str:
    """The canonical chain, "C > A = D > B": what the parser reads back as ``tiers``."""
    return " > ".join(" = ".join(tier) for tier in tiers)


def format_pairwise_verdict(verdict: PairwiseVerdict) -> str:
    return {"A": "[[A]]", "B": "[[B]]", "tie": "[[C]]"}[verdict]


def format_five_way_verdict(verdict: FiveWayVerdict) -> str:
    return f"[[{verdict}]]"

"""Public battle files into a completed tournament of their own (``manage.py import_battles``).

A FastChat, LMArena or Kaggle battle file (ratings.io reads and checks it, naming the line
and field of the first bad row) becomes a tournament whose verdicts feed the global boards
like any others: contestants by name (created as pre-generated ones when new), a prompt
set (prompts from the conversations, else one per ``question_id``, else one per row), a
completed match per battle (answer A shown first), its judgment (judged by humans, or by
an imported judge), each answer's style features (LMArena's ``conv_metadata``, else
computed from the answer texts; kept on the match's entries, without the texts, so that
the recount (``manage.py aggregates check``) finds the same cells), the evidence cells,
the standings (online Elo in the file's time order) and the Elo history.

All or nothing: one transaction. Rows are written as columns (COPY on PostgreSQL, with
their foreign keys checked once per key where the role may: arena.sql.bulk_load) and the
cells computed with numpy, the same increments as arena.evidence.pair_increments for a
battle of two.
"""

from __future__ import annotations

import binascii
import hashlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from numpy.typing import NDArray

from arena import evidence
from arena.models import (
    BackendKind,
    Contestant,
    EloPoint,
    Judge,
    JudgeKind,
    Judgment,
    Match,
    MatchEntry,
    MatchStatus,
    PairCell,
    Prompt,
    PromptPair,
    PromptPairCell,
    PromptSet,
    Standing,
    Tournament,
    TournamentStatus,
)
from arena.sql import Loaded, bulk_load, new_ids
from arena.standings import ELO_K
from ratings.data import Outcome
from ratings.io import CATEGORIES, BattleFileError, BattleTable, read_battle_table
from ratings.style import FEATURES, answer_features

Progress = Callable[[str], None]
FORMAT = "imported"  # the tournament's format: played elsewhere, nothing to schedule


@dataclass(frozen=True)
class BattlesImported:
    tournament_id: int
    battles: int
    contestants_created: list[str]
    prompts: int
    styled: int
    seconds: float


def _fail(field: str, message: str) -> ValidationError:
    return ValidationError({field: [message]})


def _source(source: str) -> Judge | None:
    """``humans``, or ``judge:NAME`` (an imported judge, created when new)."""
    if source == "humans":
        return None
    if not source.startswith("judge:") or not source[6:].strip():
        raise _fail("source", f"humans or judge:NAME, not {source!r}")
    judge, _ = Judge.objects.get_or_create(
        name=source[6:].strip(), defaults={"kind": JudgeKind.IMPORTED}
    )
    if judge.kind != JudgeKind.IMPORTED:
        raise _fail(
            "source",
            f"{judge.name} is a judge of this arena ({judge.kind}): name the file's judge "
            "otherwise, so that its verdicts do not mix with this one's",
        )
    return judge


def _checked(table: BattleTable) -> None:
    if len(table) == 0:
        raise _fail("file", f"{table.source}: no battles")
    uneven = np.flatnonzero(table.weight != 1.0)
    if uneven.size:
        raise _fail(
            "file",
            f"{table.source}:{table.line_of(int(uneven[0]))}: field 'weight': weighted battles "
            "are not imported (a verdict counts once); drop the column or the rows",
        )
    limit = Contestant._meta.get_field("name").max_length
    assert limit is not None  # a CharField has one
    long = [m for m in table.models if len(m) > limit]
    if long:
        raise _fail("file", f"{table.source}: model name longer than 100 characters: {long[0]!r}")
    same = np.flatnonzero(table.model_a == table.model_b)
    if same.size:
        raise _fail(
            "file",
            f"{table.source}:{table.line_of(int(same[0]))}: field 'model_b': a model "
            "cannot battle itself",
        )


# --------------------------------------------------------------------------- prompts


def _first_user_turn(conversation: Any) -> str:
    """The first user turn of an OpenAI-style conversation (content a string or typed parts)."""
    for turn in conversation or []:
        if isinstance(turn, dict) and turn.get("role") == "user":
            return _content(turn.get("content"))
    return ""


def _content(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # typed parts: [{"type": "text", "text": ...}, ...]
        return "\n".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return "" if content is None else str(content)


def _kaggle_text(value: Any) -> str:
    """Kaggle's text columns are JSON-encoded lists of strings (one per turn)."""
    if not isinstance(value, str):
        return ""
    try:
        turns = json.loads(value)
    except ValueError:
        return value
    return "\n\n".join(str(t) for t in turns if t is not None) if isinstance(turns, list) else value


def _first_user_turns(conversations: Any) -> list[str] | Any:
    """Each conversation's first user turn: as columns (pyarrow) when every conversation
    opens with a user turn of plain text, else turn by turn."""
    import pyarrow as pa
    import pyarrow.compute as pc

    first = pc.list_element(conversations, 0)
    content = pc.struct_field(first, "content")
    if pa.types.is_string(content.type) or pa.types.is_large_string(content.type):
        opens = pc.equal(pc.struct_field(first, "role"), "user")
        if pc.all(opens).as_py() and content.null_count == 0:
            return content
    return [_first_user_turn(c) for c in conversations.to_pylist()]


def _whole(array: Any) -> Any:
    """One contiguous array (a Parquet file's columns come in chunks)."""
    return array.combine_chunks() if hasattr(array, "combine_chunks") else array


def _prompts(table: BattleTable) -> tuple[list[str], list[str], NDArray[np.intp]]:
    """The distinct prompts (external ids and texts) and each battle's prompt index: by
    text (from the conversations, or Kaggle's prompt), else by question_id, else a prompt
    per row."""
    import pyarrow as pa
    import pyarrow.compute as pc

    text = table.text
    texts: Any = None
    if "conversation_a" in text:
        texts = _first_user_turns(text["conversation_a"])
    elif "prompt" in text:
        texts = [_kaggle_text(p) for p in text["prompt"].to_pylist()]
    if texts is not None:
        encoded = pc.dictionary_encode(
            _whole(pa.array(texts) if isinstance(texts, list) else texts)
        )
        distinct = [str(t) for t in encoded.dictionary.to_pylist()]
        external = [hashlib.sha256(t.encode()).hexdigest()[:32] for t in distinct]
        return external, distinct, np.asarray(encoded.indices, dtype=np.intp)
    if "question_id" in text:
        encoded = pc.dictionary_encode(_whole(pc.cast(text["question_id"], pa.string())))
        distinct = [str(q) for q in encoded.dictionary.to_pylist()]
        return distinct, distinct, np.asarray(encoded.indices, dtype=np.intp)
    rows = [f"row-{table.line_of(i)}" for i in range(len(table))]
    return rows, rows, np.arange(len(table), dtype=np.intp)


def _categories(table: BattleTable, index: NDArray[np.intp], n_prompts: int) -> list[str]:
    """Each prompt's category: the first of ratings.io.CATEGORIES its first battle is
    tagged with (LMArena tags several; a prompt here has one), else none."""
    primary = np.full(len(table), "", dtype=object)
    for name in reversed(list(CATEGORIES)):
        flags = table.categories.get(name)
        if flags is not None:
            primary[flags] = name
    _, first = np.unique(index, return_index=True)  # each prompt's first battle
    return [str(primary[i]) for i in first]


# --------------------------------------------------------------------------- style


def _style(table: BattleTable) -> tuple[NDArray[np.float64], NDArray[np.float64]] | None:
    """Per battle, each side's style features (FEATURES order; NaN where unknown)."""
    if table.style_a is not None and table.style_b is not None:
        return np.asarray(table.style_a), np.asarray(table.style_b)
    columns = [("conversation_a", "conversation_b"), ("response_a", "response_b")]
    for left, right in columns:
        if left in table.text and right in table.text:
            answers = (
                _answers(table.text[left].to_pylist()),
                _answers(table.text[right].to_pylist()),
            )
            return tuple(  # type: ignore[return-value]
                np.array([list(answer_features(t).values()) for t in side], dtype=np.float64)
                for side in answers
            )
    return None


def _answers(values: list[Any]) -> list[str]:
    """The assistant's text of each conversation (or Kaggle's JSON list of answers)."""
    out = []
    for value in values:
        if isinstance(value, list):
            out.append(
                "\n\n".join(
                    _content(t.get("content"))
                    for t in value
                    if isinstance(t, dict) and t.get("role") == "assistant"
                )
            )
        else:
            out.append(_kaggle_text(value))
    return out


# --------------------------------------------------------------------------- verdicts


def _outcomes(table: BattleTable) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """Per battle, model A's score (1, 0.5, 0) and whether it was a both-bad tie."""
    code = np.asarray(table.outcome)
    score = np.select([code == Outcome.A_WINS, code == Outcome.B_WINS], [1.0, 0.0], default=0.5)
    return score, code == Outcome.TIE_BOTHBAD


def _online_elo(
    a: NDArray[np.intp], b: NDArray[np.intp], score: NDArray[np.float64], n_models: int
) -> tuple[list[float], list[tuple[int, list[float]]]]:
    """FastChat's online Elo over the battles in order, and the history points (the
    boards' growth rule, arena.boards.ELO_POINT_GROWTH)."""
    from arena.boards import ELO_POINT_GROWTH

    elo = [1000.0] * n_models
    points: list[tuple[int, list[float]]] = []
    last = 0
    for n, (i, j, s) in enumerate(zip(a.tolist(), b.tolist(), score.tolist(), strict=True), 1):
        expected = 1.0 / (1.0 + 10.0 ** ((elo[j] - elo[i]) / 400.0))
        delta = ELO_K * (s - expected)
        elo[i] += delta
        elo[j] -= delta
        if n - last >= max(1.0, last * ELO_POINT_GROWTH) or n == len(a):
            points.append((n, list(elo)))
            last = n
    return elo, points


def _group_sum(
    keys: NDArray[np.int64], columns: list[NDArray[np.float64]]
) -> tuple[NDArray[np.int64], list[NDArray[np.float64]]]:
    unique, inverse = np.unique(keys, return_inverse=True)
    # Weighted counts are float64 (numpy's stub types every bincount as integers).
    sums = [np.bincount(inverse, weights=c, minlength=len(unique)) for c in columns]
    return unique, [s.astype(np.float64, copy=False) for s in sums]


def _pair_cells(
    *,
    a: NDArray[np.intp],
    b: NDArray[np.intp],
    a_first: NDArray[np.bool_],
    score: NDArray[np.float64],
    both_bad: NDArray[np.bool_],
    style: tuple[NDArray[np.float64], NDArray[np.float64]] | None,
    category: NDArray[np.intp],
    n_models: int,
) -> tuple[NDArray[np.int64], dict[str, NDArray[np.float64]]]:
    """The PairCell columns (arena.evidence.COLUMNS) summed per (category, a, b): for a
    battle of two, what ``pair_increments`` adds, computed for all battles at once."""
    n = len(a)
    tie = score == 0.5
    a_won, b_won = score == 1.0, score == 0.0
    first_won = np.where(a_first, a_won, b_won)
    first_lost = ~tie & ~first_won
    ones = np.ones(n)
    values: dict[str, NDArray[np.float64]] = {
        "a_wins": a_won * 1.0,
        "b_wins": b_won * 1.0,
        "ties": tie * 1.0,
        "both_bad": (tie & both_bad) * 1.0,
        "first_won": first_won * 1.0,
        "first_lost": first_lost * 1.0,
        "share": ones,
        "a_points": score,
        "votes": ones,
        **{c: np.zeros(n) for c in evidence.IPW},  # imported battles are unweighted
        # a battle's graded score is its hard one: a win, a loss or a tie in its own cells
        "g_a_wins": np.maximum(0.0, 2 * score - 1),
        "g_b_wins": np.maximum(0.0, 1 - 2 * score),
        "g_ties": 2 * np.minimum(score, 1 - score),
        **{c: np.zeros(n) for c in evidence.IPW_GRADED},
        # one observation per battle, in the order it was shown
        "ab_n": a_first.astype(np.float64),
        "ab_hard": np.where(a_first, score, 0.0),
        "ab_graded": np.where(a_first, score, 0.0),
        "ba_n": (~a_first).astype(np.float64),
        "ba_hard": np.where(a_first, 0.0, score),
        "ba_graded": np.where(a_first, 0.0, score),
    }
    k = len(FEATURES)
    d, styled, longer = np.zeros((n, k)), np.zeros(n, dtype=bool), np.zeros(n)
    if style is not None:
        fa, fb = style  # by side as shown; a (the lower id) is side A where a_first
        sa = np.where(a_first[:, None], fa, fb)
        sb = np.where(a_first[:, None], fb, fa)
        # any(axis=1) of a 2-D array is an array; numpy's stub also allows a scalar.
        styled = ~(np.isnan(sa).any(axis=1) | np.isnan(sb).any(axis=1))  # type: ignore[assignment]
        total = sa + sb
        with np.errstate(invalid="ignore", divide="ignore"):
            d = np.where(
                styled[:, None] & (total > 0), (sa - sb) / np.where(total > 0, total, 1), 0.0
            )
        longer = np.where(styled, sa[:, 0] - sb[:, 0], 0.0)
    values["longer_won"] = (~tie & (longer != 0) & ((longer > 0) == a_won)) * 1.0
    values["longer_lost"] = (~tie & (longer != 0) & ((longer > 0) != a_won)) * 1.0
    values["styled"] = styled * 1.0
    values["styled_ties"] = (styled & tie) * 1.0
    values["sy"] = np.where(styled, score, 0.0)
    for i, f in enumerate(FEATURES):
        values[f"sd_{f}"] = d[:, i]
        values[f"syd_{f}"] = score * d[:, i]
    for i, j in evidence.PRODUCTS:
        values[f"sdd_{FEATURES[i]}_{FEATURES[j]}"] = d[:, i] * d[:, j]
    key = (category.astype(np.int64) * n_models + a) * n_models + b
    unique, sums = _group_sum(key, [values[c] for c in evidence.COLUMNS])
    return unique, dict(zip(evidence.COLUMNS, sums, strict=True))


def _prompt_cells(
    a: NDArray[np.intp],
    b: NDArray[np.intp],
    a_first: NDArray[np.bool_],
    score: NDArray[np.float64],
    prompt: NDArray[np.intp],
    n_models: int,
) -> tuple[NDArray[np.int64], list[NDArray[np.float64]]]:
    """The PromptPairCell columns (arena.evidence.ORDERED) summed per (prompt, a, b)."""
    outcome = [score == 1.0, score == 0.0, score == 0.5]
    columns = [(a_first & o) * 1.0 for o in outcome] + [(~a_first & o) * 1.0 for o in outcome]
    key = (prompt.astype(np.int64) * n_models + a) * n_models + b
    return _group_sum(key, columns)


# --------------------------------------------------------------------------- writing


def _random_uuids(n: int) -> NDArray[Any]:
    """n version-4 UUIDs as 32 hex digits (what PostgreSQL and Django's SQLite store)."""
    raw = np.frombuffer(os.urandom(16 * n), dtype=np.uint8).reshape(n, 16).copy()
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    return np.frombuffer(binascii.hexlify(raw.tobytes()), dtype="S32").astype(str)


def battles_import(
    *,
    path: Path,
    name: str = "",
    source: str = "humans",
    progress: Progress | None = None,
) -> BattlesImported:
    """Import a battle file as a completed tournament; see the module docstring."""
    started = time.monotonic()

    def say(message: str) -> None:
        if progress is not None:
            progress(f"{time.monotonic() - started:6.1f} s  {message}")

    try:
        table = read_battle_table(path)
    except BattleFileError as error:
        raise _fail("file", str(error)) from None
    _checked(table)
    say(f"read {len(table):,} battles")
    external, prompt_texts, prompt_of = _prompts(table)
    battles = _Battles(
        table=table,
        external=external,
        prompt_texts=prompt_texts,
        categories=_categories(table, prompt_of, len(external)),
        prompt_of=prompt_of,
        style=_style(table),
        outcomes=_outcomes(table),
        order=(
            np.argsort(table.timestamp, kind="stable")
            if table.timestamp is not None
            else np.arange(len(table))
        ),
    )
    with transaction.atomic():
        judge = _source(source)
        tournament_id, created = _write(battles, name or path.stem, judge, say)
    say("committed")
    style = battles.style
    return BattlesImported(
        tournament_id=tournament_id,
        battles=len(table),
        contestants_created=created,
        prompts=len(external),
        styled=0 if style is None else int((~np.isnan(style[0]).any(axis=1)).sum()),
        seconds=time.monotonic() - started,
    )


@dataclass(frozen=True)
class _Battles:
    """A file's battles as the import writes them: the table, its distinct prompts
    (external ids, texts, categories) and each battle's prompt, style features, outcome
    (model A's score, both bad) and place in time."""

    table: BattleTable
    external: list[str]
    prompt_texts: list[str]
    categories: list[str]
    prompt_of: NDArray[np.intp]
    style: tuple[NDArray[np.float64], NDArray[np.float64]] | None
    outcomes: tuple[NDArray[np.float64], NDArray[np.bool_]]
    order: NDArray[np.intp]


def _write(
    battles: _Battles, title: str, judge: Judge | None, say: Progress
) -> tuple[int, list[str]]:
    table = battles.table
    n = len(table)
    now = timezone.now()
    if PromptSet.objects.filter(name=title).exists():
        raise _fail("name", f"a prompt set named {title!r} exists: choose another --name")
    # contestants, by name
    existing = dict(Contestant.objects.filter(name__in=table.models).values_list("name", "pk"))
    created = [m for m in table.models if m not in existing]
    for m in created:
        existing[m] = Contestant.objects.create(name=m, backend=BackendKind.PREGENERATED).pk
    contestant = np.array([existing[m] for m in table.models], dtype=np.int64)
    prompt_set = PromptSet.objects.create(
        name=title, source=str(table.source), description=f"imported from {table.layout} file"
    )
    tournament = Tournament.objects.create(
        name=title,
        format=FORMAT,
        status=TournamentStatus.COMPLETED,
        prompt_set=prompt_set,
        judge=judge,
        started_at=now,
        finished_at=now,
        planned_matches=n,
        manifest={
            "imported_from": Path(str(table.source)).name,
            "layout": table.layout,
            "battles": n,
            "source": "humans" if judge is None else f"judge:{judge.name}",
        },
    )
    tournament.contestants.set(contestant.tolist())
    say(f"{len(created)} contestants created")
    with bulk_load() as loaded:
        _rows_write(loaded, battles, tournament, judge, contestant, say)
        how = "one query per key" if loaded.fast else "PostgreSQL, row by row, at commit"
        say(f"checking the new rows' references ({how})")
    return tournament.pk, created


def _rows_write(
    loaded: Loaded,
    battles: _Battles,
    tournament: Tournament,
    judge: Judge | None,
    contestant: NDArray[np.int64],
    say: Progress,
) -> None:
    """The prompts, matches, entries, verdicts and evidence, by COPY."""
    table, external, categories = battles.table, battles.external, battles.categories
    style, order, prompt_of = battles.style, battles.order, battles.prompt_of
    score, both_bad = battles.outcomes
    n = len(table)
    now = tournament.started_at
    assert now is not None  # _write starts the tournament it imports into
    prompt_ids = new_ids(Prompt, len(external))
    loaded.copy(
        Prompt._meta.db_table,
        {
            "id": prompt_ids,
            "prompt_set_id": np.full(len(external), tournament.prompt_set_id),
            "external_id": external,
            "text": battles.prompt_texts,
            "category": categories,
            "reference_answer": [""] * len(external),
        },
    )
    category_names = sorted(set(categories))
    category_of_prompt = np.array([category_names.index(c) for c in categories], dtype=np.intp)
    say(f"{len(external):,} prompts")
    # matches in the file's time order (answer A shown first), their entries and verdicts
    a_side, b_side = np.asarray(table.model_a)[order], np.asarray(table.model_b)[order]
    score, both_bad, prompt_of = score[order], both_bad[order], prompt_of[order]
    when = (
        np.asarray(table.timestamp)[order]
        if table.timestamp is not None
        else now.timestamp() + np.arange(n) * 1e-6
    )
    stamps = (np.asarray(when) * 1e6).astype("datetime64[us]")  # UTC
    match_ids = new_ids(Match, n)
    loaded.copy(
        Match._meta.db_table,
        {
            "id": match_ids,
            # Random ids in ascending order: the unique index takes them in order, not
            # scattered over its pages (an imported battle's id is no secret: it is voted).
            "public_id": np.sort(_random_uuids(n)),
            "tournament_id": np.full(n, tournament.pk),
            "round": np.zeros(n, dtype=np.int64),
            "slot": np.arange(n),
            "prompt_id": prompt_ids[prompt_of],
            "status": [MatchStatus.COMPLETED.value] * n,
            "attempts": np.zeros(n, dtype=np.int64),
            "claimed_at": [None] * n,
            "draw_probability": [None] * n,
            "error": [""] * n,
            "created_at": stamps,
            "finished_at": stamps,
        },
    )
    say(f"{n:,} matches")
    loaded.copy(
        MatchEntry._meta.db_table,
        {
            "match_id": np.concatenate([match_ids, match_ids]),
            "contestant_id": np.concatenate([contestant[a_side], contestant[b_side]]),
            "position": np.concatenate([np.zeros(n, dtype=np.int64), np.ones(n, dtype=np.int64)]),
            "response_id": [None] * (2 * n),
            **_entry_style(style, order),
        },
    )
    ca, cb = contestant[a_side].tolist(), contestant[b_side].tolist()
    rankings = [
        f"[[{x}], [{y}]]" if s == 1.0 else f"[[{y}], [{x}]]" if s == 0.0 else f"[[{x}, {y}]]"
        for x, y, s in zip(ca, cb, score.tolist(), strict=True)
    ]
    loaded.copy(
        Judgment._meta.db_table,
        {
            "match_id": match_ids,
            "judge_id": [None if judge is None else judge.pk] * n,
            "ranking": rankings,
            "both_bad": both_bad,
            "probabilities": [None] * n,
            "raw_output": [""] * n,
            "prompt_tokens": np.zeros(n, dtype=np.int64),
            "completion_tokens": np.zeros(n, dtype=np.int64),
            "cost": np.zeros(n),
            "latency_ms": np.zeros(n, dtype=np.int64),
            "created_at": stamps,
        },
    )
    say(f"{2 * n:,} entries and {n:,} verdicts")
    _evidence_write(
        loaded=loaded,
        tournament=tournament,
        judge=judge,
        contestant=contestant,
        a_side=a_side,
        b_side=b_side,
        score=score,
        both_bad=both_bad,
        style=None if style is None else (style[0][order], style[1][order]),
        prompt_of=prompt_of,
        prompt_ids=prompt_ids,
        category_of_prompt=category_of_prompt,
        category_names=category_names,
    )
    say("cells, standings and Elo history")


def _entry_style(
    style: tuple[NDArray[np.float64], NDArray[np.float64]] | None, order: NDArray[np.intp]
) -> dict[str, Any]:
    """Each entry's style features (answer A's rows, then answer B's), NULL where unknown:
    kept on the entry (the file's answers are not), where a recount finds them."""
    if style is None:
        return {}
    features = np.concatenate([style[0][order], style[1][order]])
    known = ~np.isnan(features).any(axis=1)
    return {
        f"style_{f}": np.ma.masked_array(
            np.rint(np.where(known, features[:, i], 0)).astype(np.int64), mask=~known
        )
        for i, f in enumerate(FEATURES)
    }


def _evidence_write(
    *,
    loaded: Loaded,
    tournament: Tournament,
    judge: Judge | None,
    contestant: NDArray[np.int64],
    a_side: NDArray[np.intp],
    b_side: NDArray[np.intp],
    score: NDArray[np.float64],
    both_bad: NDArray[np.bool_],
    style: tuple[NDArray[np.float64], NDArray[np.float64]] | None,
    prompt_of: NDArray[np.intp],
    prompt_ids: NDArray[np.int64],
    category_of_prompt: NDArray[np.intp],
    category_names: list[str],
) -> None:
    """The cells, the standings and the Elo history of the imported verdicts."""
    m = len(contestant)
    # a cell's a is the contestant with the lower id; answer A was shown first
    a_first = contestant[a_side] < contestant[b_side]
    lo = np.where(a_first, a_side, b_side)
    hi = np.where(a_first, b_side, a_side)
    score_lo = np.where(a_first, score, 1.0 - score)
    source = evidence.source_of(None if judge is None else judge.pk)
    keys, sums = _pair_cells(
        a=lo, b=hi, a_first=a_first, score=score_lo, both_bad=both_bad, style=style,
        category=category_of_prompt[prompt_of], n_models=m,
    )  # fmt: skip
    cat, rest = np.divmod(keys, m * m)
    pa, pb = np.divmod(rest, m)
    loaded.copy(
        PairCell._meta.db_table,
        {
            "tournament_id": np.full(len(keys), tournament.pk),
            "source": [source] * len(keys),
            "category": [category_names[c] for c in cat.tolist()],
            "a_id": contestant[pa],
            "b_id": contestant[pb],
            **{
                c: np.rint(v).astype(np.int64) if c in evidence.COUNTS else v
                for c, v in sums.items()
            },
        },
    )
    keys, ordered = _prompt_cells(lo, hi, a_first, score_lo, prompt_of, m)
    prompt, rest = np.divmod(keys, m * m)
    pa, pb = np.divmod(rest, m)
    a_ids, b_ids, p_ids = contestant[pa], contestant[pb], prompt_ids[prompt]
    loaded.copy(
        PromptPairCell._meta.db_table,
        {
            "prompt_id": p_ids,
            "tournament_id": np.full(len(keys), tournament.pk),
            "source": [source] * len(keys),
            "a_id": a_ids,
            "b_id": b_ids,
            **{
                c: np.rint(v).astype(np.int64)
                for c, v in zip(evidence.ORDERED, ordered, strict=True)
            },
        },
    )
    loaded.copy(
        PromptPair._meta.db_table,
        {
            "prompt_id": p_ids,
            "a_id": a_ids,
            "b_id": b_ids,
            "first_source": [source] * len(keys),
            "shared": np.zeros(len(keys), dtype=bool),
        },
    )
    elo, points = _online_elo(a_side, b_side, score, m)
    wins = np.bincount(a_side, score, m) + np.bincount(b_side, 1.0 - score, m)
    ties = np.bincount(a_side, score == 0.5, m) + np.bincount(b_side, score == 0.5, m)
    matches = np.bincount(a_side, minlength=m) + np.bincount(b_side, minlength=m)
    loaded.copy(
        Standing._meta.db_table,
        {
            "tournament_id": np.full(m, tournament.pk),
            "contestant_id": contestant,
            "elo": np.array(elo),
            "matches": matches,
            "wins": wins,
            "ties": np.rint(ties).astype(np.int64),
        },
    )
    loaded.copy(
        EloPoint._meta.db_table,
        {
            "tournament_id": np.full(len(points), tournament.pk),
            "verdicts": np.array([k for k, _ in points]),
            "elo": [
                json.dumps(
                    {str(c): round(e, 2) for c, e in zip(contestant.tolist(), values, strict=True)}
                )
                for _, values in points
            ],
        },
    )

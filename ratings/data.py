"""Input types: pairwise battles as arrays, K-wise tiered rankings, aggregated cells.

Everything the rating methods consume is built here, so validation happens once and
the fitting code can trust its arrays. Names become integer indices once (models are
sorted by name, so results do not depend on the order battles arrive in), and battles
are aggregated into counts per unique ``(model_a, model_b, outcome)`` cell: Bradley-Terry
and the bootstrap only need those counts, which turns millions of rows into at most
``4 * n_models**2`` cells.

Winner labels follow FastChat's battle files: ``model_a``, ``model_b``, ``tie`` and
``tie (bothbad)``.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "WINNER_LABELS",
    "Battles",
    "Cells",
    "Outcome",
    "aggregate",
    "battles_from_arrays",
    "battles_from_records",
    "battles_from_rankings",
    "normalize_ranking",
    "ranking_to_pairs",
]


class Outcome(IntEnum):
    """Result of one battle, from model A's side.

    The numeric order (B wins < tie < A wins) is FastChat's ``preprocess_for_bt`` coding,
    so sorted cells line up with theirs; ``TIE_BOTHBAD`` comes last because most methods
    fold it into ``TIE``.
    """

    B_WINS = 0
    TIE = 1
    A_WINS = 2
    TIE_BOTHBAD = 3


WINNER_LABELS: Mapping[str, Outcome] = {
    "model_a": Outcome.A_WINS,
    "model_b": Outcome.B_WINS,
    "tie": Outcome.TIE,
    "tie (bothbad)": Outcome.TIE_BOTHBAD,
}

#: Score of model A for each outcome code: a tie (of either kind) is half a win.
SCORE_OF_OUTCOME: NDArray[np.float64] = np.array([0.0, 0.5, 1.0, 0.5])
SCORE_OF_OUTCOME.setflags(write=False)

Tier = Sequence[str]
RankingInput = Sequence[Tier]


def _frozen(array: NDArray[Any]) -> NDArray[Any]:
    """Make an array read-only, since results and inputs are shared, never mutated."""
    array.setflags(write=False)
    return array


@dataclass(frozen=True, eq=False)
class Battles:
    """Pairwise battles as parallel arrays (one row per battle).

    ``model_a``/``model_b`` index into ``models`` (sorted names). ``weight`` defaults to 1;
    ``timestamp`` is optional and only used by order-dependent methods (online Elo).
    """

    models: tuple[str, ...]
    model_a: NDArray[np.intp]
    model_b: NDArray[np.intp]
    outcome: NDArray[np.int8]
    weight: NDArray[np.float64]
    timestamp: NDArray[np.float64] | None = None

    def __len__(self) -> int:
        return int(self.model_a.shape[0])

    @property
    def n_models(self) -> int:
        return len(self.models)

    @property
    def score_a(self) -> NDArray[np.float64]:
        """Score of model A per battle: 1 win, 0.5 tie, 0 loss."""
        return SCORE_OF_OUTCOME[self.outcome]

    def index_of(self, model: str) -> int:
        """Index of a model name, with a clear error if it never appears."""
        try:
            return self.models.index(model)
        except ValueError:
            raise ValueError(f"unknown model {model!r}") from None

    def matches_per_model(self) -> NDArray[np.int64]:
        """Number of battles each model took part in (unweighted)."""
        n = self.n_models
        counts = np.bincount(self.model_a, minlength=n) + np.bincount(self.model_b, minlength=n)
        return np.asarray(counts, dtype=np.int64)

    def time_order(self) -> NDArray[np.intp]:
        """Indices that put battles in timestamp order; ties keep their file order."""
        if self.timestamp is None:
            return np.arange(len(self), dtype=np.intp)
        return np.argsort(self.timestamp, kind="stable").astype(np.intp)

    def take(self, rows: NDArray[np.intp]) -> Battles:
        """A new battle set with the given rows (in that order), same model universe."""
        return Battles(
            models=self.models,
            model_a=_frozen(self.model_a[rows]),
            model_b=_frozen(self.model_b[rows]),
            outcome=_frozen(self.outcome[rows]),
            weight=_frozen(self.weight[rows]),
            timestamp=None if self.timestamp is None else _frozen(self.timestamp[rows]),
        )


@dataclass(frozen=True, eq=False)
class Cells:
    """Battles aggregated per unique ``(model_a, model_b, outcome)`` cell.

    ``count`` is the summed battle weight of the cell and ``n_battles`` the number of rows
    behind it; the bootstrap resamples rows, so it needs both.
    """

    models: tuple[str, ...]
    model_a: NDArray[np.intp]
    model_b: NDArray[np.intp]
    outcome: NDArray[np.int8]
    count: NDArray[np.float64]
    n_battles: NDArray[np.int64]

    def __len__(self) -> int:
        return int(self.model_a.shape[0])

    @property
    def n_models(self) -> int:
        return len(self.models)

    @property
    def score_a(self) -> NDArray[np.float64]:
        return SCORE_OF_OUTCOME[self.outcome]

    def matches_per_model(self) -> NDArray[np.int64]:
        """Number of battles (rows) each model took part in."""
        n = self.n_models
        per_a = np.bincount(self.model_a, weights=self.n_battles, minlength=n)
        per_b = np.bincount(self.model_b, weights=self.n_battles, minlength=n)
        counts: NDArray[np.int64] = np.rint(per_a + per_b).astype(np.int64)
        return counts


# --------------------------------------------------------------------------- encoding


def _as_str_list(values: ArrayLike | Sequence[str], field: str) -> list[str]:
    """Model names as a list of str; anything else is an error naming the row."""
    if isinstance(values, np.ndarray) and values.dtype.kind == "U":
        # every element is already a str: only emptiness needs checking (fast path)
        empty = np.flatnonzero(values == "")
        if empty.size:
            raise ValueError(f"row {empty[0]}: field {field!r} must be a non-empty string, got ''")
        names: list[str] = values.tolist()
        return names
    items: list[Any] = values.tolist() if isinstance(values, np.ndarray) else list(values)  # type: ignore[arg-type]
    for row, item in enumerate(items):
        if not isinstance(item, str) or not item:
            raise ValueError(f"row {row}: field {field!r} must be a non-empty string, got {item!r}")
    return items


def _is_str_column(values: object) -> bool:
    return isinstance(values, np.ndarray) and values.dtype.kind == "U" and values.ndim == 1


def _encode_names(
    names_a: list[str], names_b: list[str], models: Sequence[str] | None
) -> tuple[tuple[str, ...], NDArray[np.intp], NDArray[np.intp]]:
    """Map names to indices into the sorted model list.

    Hashing (``dict.fromkeys`` then ``map``) instead of ``np.unique`` on strings: it is
    ~15x faster on millions of rows because it never sorts the strings themselves.
    """
    if models is not None:
        universe = tuple(sorted(set(models)))
        if len(universe) != len(models):
            raise ValueError("models: duplicate names")
        known = set(universe)
        for field, names in (("model_a", names_a), ("model_b", names_b)):
            if not known.issuperset(names):
                row = next(r for r, name in enumerate(names) if name not in known)
                raise ValueError(f"row {row}: field {field!r}: unknown model {str(names[row])!r}")
    else:
        seen = dict.fromkeys(names_a)
        seen.update(dict.fromkeys(names_b))
        universe = tuple(sorted(seen))
    lookup = {name: i for i, name in enumerate(universe)}
    a = np.fromiter(map(lookup.__getitem__, names_a), dtype=np.intp, count=len(names_a))
    b = np.fromiter(map(lookup.__getitem__, names_b), dtype=np.intp, count=len(names_b))
    return universe, a, b


def _encode_str_arrays(
    names_a: NDArray[np.str_], names_b: NDArray[np.str_], models: Sequence[str] | None
) -> tuple[tuple[str, ...], NDArray[np.intp], NDArray[np.intp]]:
    """``_encode_names`` for numpy string columns, without making Python strings.

    A binary search of every name in the sorted universe (``np.searchsorted`` on the
    strings) is about twice as fast as ``tolist`` + dict lookups. Without ``models`` the
    universe starts as the names in the first rows and grows by the names the search
    misses, so it ends up exactly the set of names that appear.
    """
    if models is not None:
        universe = tuple(sorted(set(models)))
        if len(universe) != len(models):
            raise ValueError("models: duplicate names")
        known = np.array(universe, dtype=str)
    else:
        head = 1 << 16
        known = np.unique(np.concatenate([names_a[:head], names_b[:head]]))
    if names_a.size == 0:
        return tuple(known.tolist()), np.zeros(0, np.intp), np.zeros(0, np.intp)
    encoded: list[NDArray[np.intp]] = []
    sizes: list[int] = []
    for field, names in (("model_a", names_a), ("model_b", names_b)):
        while True:
            index = np.searchsorted(known, names).clip(max=known.size - 1).astype(np.intp)
            missed = np.flatnonzero(known[index] != names)
            if not missed.size:
                break
            if models is not None:
                row = int(missed[0])
                raise ValueError(f"row {row}: field {field!r}: unknown model {str(names[row])!r}")
            known = np.union1d(known, names[missed])
        encoded.append(index)
        sizes.append(known.size)
    a, b = encoded
    if sizes[1] != sizes[0]:  # names first seen in model_b shifted the sorted indices
        a = np.searchsorted(known, names_a).astype(np.intp)
    return tuple(known.tolist()), a, b


def _encode_outcomes(winner: ArrayLike | Sequence[str] | Sequence[int], n: int) -> NDArray[np.int8]:
    """Winner labels (FastChat strings) or ``Outcome`` codes to int8 codes."""
    values = np.asarray(winner)
    if values.shape != (n,):
        raise ValueError(f"field 'winner': expected {n} values, got shape {values.shape}")
    if values.dtype.kind in "iu":
        bad = np.flatnonzero((values < 0) | (values > 3))
        if bad.size:
            raise ValueError(
                f"row {bad[0]}: field 'winner': invalid outcome code {values[bad[0]].item()}"
            )
        return values.astype(np.int8)
    if values.dtype.kind not in "UO":
        raise ValueError(f"field 'winner': expected labels or outcome codes, got {values.dtype}")
    codes = np.full(n, -1, dtype=np.int8)
    for label, code in WINNER_LABELS.items():
        codes[values == label] = code
    bad = np.flatnonzero(codes < 0)
    if bad.size:
        allowed = ", ".join(WINNER_LABELS)
        raise ValueError(
            f"row {bad[0]}: field 'winner': {values[bad[0]].item()!r} is not one of {allowed}"
        )
    return codes


def _float_column(
    values: ArrayLike | None, n: int, field: str, default: float | None
) -> NDArray[np.float64] | None:
    """A finite float column of length n (or the default when absent)."""
    if values is None:
        return None if default is None else np.full(n, default, dtype=np.float64)
    try:
        column = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"field {field!r}: not numeric ({exc})") from None
    if column.shape != (n,):
        raise ValueError(f"field {field!r}: expected {n} values, got shape {column.shape}")
    bad = np.flatnonzero(~np.isfinite(column))
    if bad.size:
        raise ValueError(f"row {bad[0]}: field {field!r}: not a finite number")
    return column


def battles_from_arrays(
    model_a: ArrayLike | Sequence[str],
    model_b: ArrayLike | Sequence[str],
    winner: ArrayLike | Sequence[str] | Sequence[int],
    *,
    weight: ArrayLike | None = None,
    timestamp: ArrayLike | None = None,
    models: Sequence[str] | None = None,
) -> Battles:
    """Validate and encode battles given as parallel columns.

    ``winner`` holds FastChat labels (``model_a``, ``model_b``, ``tie``, ``tie (bothbad)``)
    or ``Outcome`` codes. ``models`` fixes the model universe (e.g. to keep models that
    have no battles yet); by default it is every name that appears. Errors are
    ``ValueError`` naming the row and field.
    """
    names_a: list[str] | NDArray[np.str_]
    names_b: list[str] | NDArray[np.str_]
    if _is_str_column(model_a) and _is_str_column(model_b):
        names_a, names_b = np.asarray(model_a), np.asarray(model_b)
        for field, column in (("model_a", names_a), ("model_b", names_b)):
            empty = np.flatnonzero(column == "")
            if empty.size:
                raise ValueError(
                    f"row {empty[0]}: field {field!r} must be a non-empty string, got ''"
                )
    else:
        names_a = _as_str_list(model_a, "model_a")
        names_b = _as_str_list(model_b, "model_b")
    n = len(names_a)
    if len(names_b) != n:
        raise ValueError(f"field 'model_b': expected {n} values, got {len(names_b)}")
    if isinstance(names_a, np.ndarray) and isinstance(names_b, np.ndarray):
        universe, a, b = _encode_str_arrays(names_a, names_b, models)
    else:
        universe, a, b = _encode_names(list(names_a), list(names_b), models)
    same = np.flatnonzero(a == b)
    if same.size:
        row = int(same[0])
        raise ValueError(f"row {row}: model_a and model_b are the same model {str(names_a[row])!r}")
    outcome = _encode_outcomes(winner, n)
    weights = _float_column(weight, n, "weight", 1.0)
    assert weights is not None
    negative = np.flatnonzero(weights < 0)
    if negative.size:
        raise ValueError(f"row {negative[0]}: field 'weight': must be >= 0")
    stamps = _float_column(timestamp, n, "timestamp", None)
    return Battles(
        models=universe,
        model_a=_frozen(a),
        model_b=_frozen(b),
        outcome=_frozen(outcome),
        weight=_frozen(weights),
        timestamp=None if stamps is None else _frozen(stamps),
    )


def battles_from_records(
    records: Iterable[Mapping[str, Any]], *, models: Sequence[str] | None = None
) -> Battles:
    """Battles from FastChat-style dicts (``model_a``, ``model_b``, ``winner``, optional
    ``weight`` and ``tstamp``). ``weight``/``tstamp`` must be on every record or none."""
    rows = list(records)
    for row, record in enumerate(rows):
        for field in ("model_a", "model_b", "winner"):
            if field not in record:
                raise ValueError(f"row {row}: missing field {field!r}")
    optional: dict[str, list[Any] | None] = {}
    for field in ("weight", "tstamp"):
        present = [field in record for record in rows]
        if any(present) and not all(present):
            raise ValueError(f"row {present.index(False)}: missing field {field!r}")
        optional[field] = [record[field] for record in rows] if rows and all(present) else None
    return battles_from_arrays(
        [r["model_a"] for r in rows],
        [r["model_b"] for r in rows],
        np.array([r["winner"] for r in rows], dtype=object),
        weight=optional["weight"],
        timestamp=optional["tstamp"],
        models=models,
    )


# --------------------------------------------------------------------------- rankings


def normalize_ranking(ranking: RankingInput) -> tuple[tuple[str, ...], ...]:
    """Check a tiered ranking (best first, ties share a tier) and freeze it.

    Needs at least two entries overall, no empty tier, no model twice.
    """
    if any(isinstance(tier, str) for tier in ranking):
        raise ValueError("ranking: each tier must be a list of model names, not a string")
    tiers = tuple(tuple(tier) for tier in ranking)
    try:
        return _checked(tiers)
    except TypeError:  # an unhashable name: no cache, the check says what is wrong
        return _checked.__wrapped__(tiers)


# A leaderboard refit reads every verdict of a tournament, and they repeat: a pairwise
# tournament of 20 models has at most 760 distinct verdicts however many votes it holds.
# Checked once per distinct ranking, a refit takes markedly less CPU
# (`benchmarks/refit_cost.py`, its second fit; the figures are in benchmarks/README.md).
RANKING_CACHE = 16384


@functools.lru_cache(maxsize=RANKING_CACHE)
def _checked(tiers: tuple[tuple[str, ...], ...]) -> tuple[tuple[str, ...], ...]:
    if any(len(tier) == 0 for tier in tiers):
        raise ValueError("ranking: empty tier")
    flat = [name for tier in tiers for name in tier]
    for name in flat:
        if not isinstance(name, str) or not name:
            raise ValueError(f"ranking: model names must be non-empty strings, got {name!r}")
    if len(flat) < 2:
        raise ValueError("ranking: needs at least two entries")
    if len(set(flat)) != len(flat):
        raise ValueError(f"ranking: model listed twice in {flat}")
    return tiers


def ranking_to_pairs(ranking: RankingInput) -> list[tuple[str, str, Outcome]]:
    """The K(K-1)/2 pairwise outcomes implied by a tiered ranking.

    Each pair is written with the better-or-equal entry as model A (in the order the
    entries are listed), so the outcome is ``A_WINS`` across tiers and ``TIE`` inside one.
    """
    return list(_pairs(normalize_ranking(ranking)))


@functools.lru_cache(maxsize=RANKING_CACHE)
def _pairs(tiers: tuple[tuple[str, ...], ...]) -> tuple[tuple[str, str, Outcome], ...]:
    placed = [(name, level) for level, tier in enumerate(tiers) for name in tier]
    pairs: list[tuple[str, str, Outcome]] = []
    for i, (first, level_i) in enumerate(placed):
        for second, level_j in placed[i + 1 :]:
            outcome = Outcome.TIE if level_i == level_j else Outcome.A_WINS
            pairs.append((first, second, outcome))
    return tuple(pairs)


def battles_from_rankings(
    rankings: Sequence[RankingInput],
    *,
    weights: Sequence[float] | None = None,
    pair_weighting: Literal["unit", "per_ranking"] = "unit",
    models: Sequence[str] | None = None,
) -> Battles:
    """Decompose K-wise rankings into pairwise battles for BT / Elo.

    ``pair_weighting="unit"`` counts every implied pair as one battle (a 5-way ranking
    weighs 10 battles); ``"per_ranking"`` divides by K(K-1)/2 so each ranking weighs one
    battle in total, which keeps large-K judgments from dominating pairwise votes.
    """
    if weights is not None and len(weights) != len(rankings):
        raise ValueError(f"weights: expected {len(rankings)} values, got {len(weights)}")
    if pair_weighting not in ("unit", "per_ranking"):
        raise ValueError(f"pair_weighting: unknown value {pair_weighting!r}")
    names_a: list[str] = []
    names_b: list[str] = []
    outcomes: list[int] = []
    pair_weights: list[float] = []
    for index, ranking in enumerate(rankings):
        try:
            pairs = ranking_to_pairs(ranking)
        except ValueError as exc:
            raise ValueError(f"ranking {index}: {exc}") from None
        base = 1.0 if weights is None else float(weights[index])
        share = base if pair_weighting == "unit" else base / len(pairs)
        for first, second, outcome in pairs:
            names_a.append(first)
            names_b.append(second)
            outcomes.append(int(outcome))
            pair_weights.append(share)
    return battles_from_arrays(
        names_a,
        names_b,
        np.asarray(outcomes, dtype=np.int64),
        weight=np.asarray(pair_weights, dtype=np.float64),
        models=models,
    )


# --------------------------------------------------------------------------- aggregation


def aggregate(battles: Battles, *, merge_bothbad: bool = True) -> Cells:
    """Sum battles into unique ``(model_a, model_b, outcome)`` cells, sorted by that key.

    ``merge_bothbad`` folds ``tie (bothbad)`` into ``tie`` as FastChat does for ratings.
    Uses one ``bincount`` over a dense key when the key space is small (the usual case:
    200 models give 160k keys) and ``np.unique`` otherwise.
    """
    n = battles.n_models
    outcome = battles.outcome.astype(np.int64)
    if merge_bothbad:
        outcome = np.where(outcome == Outcome.TIE_BOTHBAD, int(Outcome.TIE), outcome)
    key = (battles.model_a.astype(np.int64) * n + battles.model_b) * 4 + outcome
    key_space = 4 * n * n
    if key_space <= 4 * len(battles) + 1_000_000:
        n_rows = np.bincount(key, minlength=key_space)
        present = np.flatnonzero(n_rows)
        count = np.bincount(key, weights=battles.weight, minlength=key_space)[present]
        n_battles = n_rows[present]
    else:
        present, inverse, n_battles = np.unique(key, return_inverse=True, return_counts=True)
        count = np.bincount(inverse, weights=battles.weight, minlength=present.size)
    return Cells(
        models=battles.models,
        model_a=_frozen((present // 4 // n).astype(np.intp)),
        model_b=_frozen((present // 4 % n).astype(np.intp)),
        outcome=_frozen((present % 4).astype(np.int8)),
        count=_frozen(count.astype(np.float64)),
        n_battles=_frozen(n_battles.astype(np.int64)),
    )

"""How good is a judge? Bias and consistency measures, and agreement with people.

Pure functions over plain records, so they run on a tournament's judgments as well as on
published data sets (the tests use LLMFAO's GPT-4, GPT-3.5 and crowd verdicts):

- position flip rate: of the pairs judged in both orders, the share whose winner changes
  with the order (Zheng et al. 2023, "Judging LLM-as-a-Judge", section 3.3 "position bias";
  Arena-Hard reports the same as inconsistency);
- tie rate;
- transitivity violations: among triples of answers to the same prompt with all three
  pairs judged, the share no weak order can explain (a > b > c > a, or a > b, b > c, a = c);
- preference for the longer answer: of decisive verdicts between answers of different
  length, the share won by the longer one (verbosity bias; Saito et al. 2023, "Verbosity
  Bias in Preference Labeling by Large Language Models");
- agreement with human votes on the same pairs: accuracy and Cohen's kappa (Cohen 1960,
  "A Coefficient of Agreement for Nominal Scales"), kappa correcting for the agreement two
  judges with the same label frequencies would reach by chance.
"""

from __future__ import annotations

import functools
from collections import Counter, defaultdict
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from itertools import combinations, product
from typing import Literal

import numpy as np

from ratings.bradley_terry import PairTable, chord_fit, fit_strengths, hessian_factor
from ratings.metrics import kendall_tau

Winner = Literal["left", "right", "tie"]
WINNERS: tuple[Winner, ...] = ("left", "right", "tie")


@dataclass(frozen=True)
class PairJudgment:
    """One verdict on two answers to one prompt, as the judge saw them (left shown first)."""

    prompt: str
    left: str
    right: str
    winner: Winner
    left_length: int | None = None
    right_length: int | None = None

    def winning_side(self) -> str | None:
        """The winner's name, or None for a tie: what must not depend on the order."""
        if self.winner == "tie":
            return None
        return self.left if self.winner == "left" else self.right


@dataclass(frozen=True)
class Agreement:
    n: int
    accuracy: float
    kappa: float


@dataclass(frozen=True)
class Transitivity:
    triples: int
    violations: int

    @property
    def rate(self) -> float | None:
        return self.violations / self.triples if self.triples else None


@dataclass(frozen=True)
class JudgeQuality:
    judgments: int
    tie_rate: float | None
    position_flip_rate: float | None
    transitivity: Transitivity
    longer_answer_win_rate: float | None


def _share(hits: int, total: int) -> float | None:
    return hits / total if total else None


def tie_rate(judgments: Sequence[PairJudgment]) -> float | None:
    return _share(sum(j.winner == "tie" for j in judgments), len(judgments))


def position_flip_rate(judgments: Iterable[PairJudgment]) -> float | None:
    """Share of both-orders pairs whose winner (or tie) changes when the order does.

    Judgments of the same two answers on the same prompt in opposite orders are paired up
    in the order given; None if no pair was judged both ways."""
    by_order: dict[tuple[str, str, str], list[PairJudgment]] = defaultdict(list)
    for judgment in judgments:
        by_order[(judgment.prompt, judgment.left, judgment.right)].append(judgment)
    pairs = flips = 0
    for (prompt, left, right), forward in by_order.items():
        if left >= right:
            continue  # each unordered pair once, from its alphabetically first orientation
        backward = by_order.get((prompt, right, left), [])
        for one, other in zip(forward, backward, strict=False):
            pairs += 1
            flips += one.winning_side() != other.winning_side()
    return _share(flips, pairs)


def votes_flip_rate(votes: Iterable[Sequence[str]]) -> float | None:
    """The same from our judges' ``Verdict.extra["votes"]`` (already order-corrected)."""
    both = [v for v in votes if len(v) == 2]
    return _share(sum(v[0] != v[1] for v in both), len(both))


def plurality(labels: Iterable[Hashable]) -> Hashable | None:
    """The most frequent label; None when the top count is shared (no majority to use)."""
    counts = Counter(labels).most_common()
    if not counts or (len(counts) > 1 and counts[0][1] == counts[1][1]):
        return None
    return counts[0][0]


def _relation(judgments: Iterable[PairJudgment]) -> dict[str, dict[tuple[str, str], int]]:
    """Per prompt, for each unordered pair (a < b): +1 if a is preferred, -1 if b, 0 tie.

    Repeated judgments of a pair are reduced to their plurality; an undecided plurality
    leaves the pair out rather than inventing a tie."""
    votes: dict[tuple[str, str, str], list[int]] = defaultdict(list)
    for j in judgments:
        a, b = sorted((j.left, j.right))
        winner = j.winning_side()
        votes[(j.prompt, a, b)].append(0 if winner is None else (1 if winner == a else -1))
    relation: dict[str, dict[tuple[str, str], int]] = defaultdict(dict)
    for (prompt, a, b), signs in votes.items():
        decided = plurality(signs)
        if decided is not None:
            relation[prompt][(a, b)] = int(decided)  # type: ignore[call-overload]
    return relation


def _sign(x: int) -> int:
    return (x > 0) - (x < 0)


def _explained_by_a_weak_order(ab: int, bc: int, ac: int) -> bool:
    # Try every assignment of levels (higher is better) to a, b, c: 27 cases.
    for la, lb, lc in product(range(3), repeat=3):
        implied = (_sign(la - lb), _sign(lb - lc), _sign(la - lc))
        if implied == (ab, bc, ac):
            return True
    return False


def transitivity(judgments: Iterable[PairJudgment]) -> Transitivity:
    triples = violations = 0
    for pairs in _relation(judgments).values():
        items = sorted({name for pair in pairs for name in pair})
        for a, b, c in combinations(items, 3):
            if (a, b) in pairs and (b, c) in pairs and (a, c) in pairs:
                triples += 1
                violations += not _explained_by_a_weak_order(
                    pairs[(a, b)], pairs[(b, c)], pairs[(a, c)]
                )
    return Transitivity(triples=triples, violations=violations)


# The (ab, bc, ac) relations (+1 first preferred, -1 second, 0 tie) some weak order of
# three items explains, indexed by (ab + 1) * 9 + (bc + 1) * 3 + (ac + 1).
_EXPLAINED = np.array(
    [_explained_by_a_weak_order(ab, bc, ac) for ab, bc, ac in product((-1, 0, 1), repeat=3)]
)


@functools.lru_cache(maxsize=8)
def _triples(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every i < j < k below n, as three index arrays (the pairs i < j, each with every k > j)."""
    first, second = np.triu_indices(n, 1)
    after = n - 1 - second  # how many k follow each pair
    i, j = np.repeat(first, after), np.repeat(second, after)
    offset = np.arange(int(after.sum())) - np.repeat(np.cumsum(after) - after, after)
    return i.astype(np.intp), j.astype(np.intp), (j + 1 + offset).astype(np.intp)


def matrix_transitivity(relation: np.ndarray) -> Transitivity:
    """``transitivity`` for one relation over n items given as an n x n matrix (+1: the row
    item is preferred, -1: the column item, 0: a tie, NaN: not judged), antisymmetric:
    every triple with all three pairs judged, checked at once (100 items: 161,700 triples)."""
    n = relation.shape[0]
    if n < 3:
        return Transitivity(triples=0, violations=0)
    i, j, k = _triples(n)
    ab, bc, ac = relation[i, j], relation[j, k], relation[i, k]
    judged = ~(np.isnan(ab) | np.isnan(bc) | np.isnan(ac))
    code = ((ab[judged] + 1) * 9 + (bc[judged] + 1) * 3 + (ac[judged] + 1)).astype(np.intp)
    return Transitivity(triples=int(judged.sum()), violations=int((~_EXPLAINED[code]).sum()))


def longer_answer_win_rate(judgments: Iterable[PairJudgment]) -> float | None:
    """0.5 is length-neutral; well above it suggests verbosity bias (or better long answers)."""
    decisive = [
        j
        for j in judgments
        if j.winner != "tie"
        and j.left_length is not None
        and j.right_length is not None
        and j.left_length != j.right_length
    ]
    longer_won = sum(
        (j.winner == "left") == ((j.left_length or 0) > (j.right_length or 0)) for j in decisive
    )
    return _share(longer_won, len(decisive))


def confusion_matrix(
    predicted: Sequence[Hashable], reference: Sequence[Hashable], labels: Sequence[Hashable]
) -> np.ndarray:
    index = {label: i for i, label in enumerate(labels)}
    matrix = np.zeros((len(labels), len(labels)), dtype=np.int64)
    for p, r in zip(predicted, reference, strict=True):
        matrix[index[p], index[r]] += 1
    return matrix


def agreement(
    predicted: Sequence[Hashable],
    reference: Sequence[Hashable],
    labels: Sequence[Hashable] = WINNERS,
) -> Agreement:
    """Accuracy and Cohen's kappa of a judge against reference labels on the same items."""
    return agreement_of(confusion_matrix(predicted, reference, labels))


def agreement_of(matrix: np.ndarray) -> Agreement:
    """``agreement`` from its confusion matrix (rows: the judge's label, columns: the
    reference's), e.g. counts kept per label rather than one item each."""
    n = int(matrix.sum())
    if n == 0:
        raise ValueError("no items to compare")
    observed = float(np.trace(matrix)) / n
    expected = float(matrix.sum(axis=1) @ matrix.sum(axis=0)) / n**2
    kappa = 1.0 if expected == 1 else (observed - expected) / (1 - expected)
    return Agreement(n=n, accuracy=observed, kappa=kappa)


def judge_quality(judgments: Sequence[PairJudgment]) -> JudgeQuality:
    return JudgeQuality(
        judgments=len(judgments),
        tie_rate=tie_rate(judgments),
        position_flip_rate=position_flip_rate(judgments),
        transitivity=transitivity(judgments),
        longer_answer_win_rate=longer_answer_win_rate(judgments),
    )


# --------------------------------------------------------------------------- intervals


@dataclass(frozen=True)
class AgreementIntervals:
    """Percentile bootstrap intervals of accuracy and kappa over the items compared."""

    accuracy: tuple[float, float]
    kappa: tuple[float, float]


def _accuracy_kappa(matrices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Accuracy and Cohen's kappa of a stack of confusion matrices (n x 3 x 3)."""
    total = matrices.sum(axis=(1, 2))
    safe = np.where(total > 0, total, 1.0)
    observed = np.trace(matrices, axis1=1, axis2=2) / safe
    expected = np.einsum("ni,ni->n", matrices.sum(axis=2), matrices.sum(axis=1)) / safe**2
    kappa = np.where(
        expected < 1, (observed - expected) / np.where(expected < 1, 1 - expected, 1), 1.0
    )
    return observed, kappa


def agreement_intervals(
    per_item: np.ndarray, *, replicates: int = 200, level: float = 0.95, seed: int = 0
) -> AgreementIntervals:
    """Intervals for ``agreement_of`` over items (a prompt and pair each): ``per_item`` is
    items x 3 x 3 confusion counts (rows the judge's label, columns the reference's).
    Items are resampled, not verdicts, since a judge's verdicts on one item share its
    difficulty; Poisson(1) weights per item (the Poisson bootstrap, Hanley & MacGibbon
    2006) keep a replicate one matrix product."""
    if not len(per_item):
        raise ValueError("no items to resample")
    # Items with the same counts are interchangeable, and c of them drawn Poisson(1) each
    # add up to Poisson(c): one draw per distinct row (a few hundred, however many items).
    rows, repeats = np.unique(
        np.asarray(per_item, dtype=np.float64).reshape(len(per_item), 9), axis=0, return_counts=True
    )
    rng = np.random.default_rng(seed)
    weights = rng.poisson(repeats.astype(np.float64), (replicates, len(rows)))
    accuracy, kappa = _accuracy_kappa((weights @ rows).reshape(-1, 3, 3))
    tail = 100 * (1 - level) / 2
    return AgreementIntervals(
        accuracy=tuple(np.percentile(accuracy, [tail, 100 - tail]).tolist()),
        kappa=tuple(np.percentile(kappa, [tail, 100 - tail]).tolist()),
    )


@dataclass(frozen=True)
class RankAgreement:
    """Kendall's tau-b between two leaderboards over the models both rate, with a
    percentile bootstrap interval."""

    tau: float
    low: float
    high: float
    models: int


PairCounts = tuple[np.ndarray, np.ndarray, np.ndarray]  # per pair: a wins, b wins, ties


def _table(n: int, a: np.ndarray, b: np.ndarray, counts: np.ndarray) -> PairTable:
    """BT's sufficient statistics: per pair (a < b), each side's wins and half the ties."""
    half = counts[:, 2] / 2.0
    return PairTable(
        n_models=n,
        i=np.asarray(a, dtype=np.intp),
        j=np.asarray(b, dtype=np.intp),
        score_i=counts[:, 0] + half,
        score_j=counts[:, 1] + half,
    )


def _board(n: int, a: np.ndarray, b: np.ndarray, counts: np.ndarray, prior: float) -> np.ndarray:
    """Log-strengths of the BT fit with a ridge ``prior`` (``ratings.bradley_terry``)."""
    theta, _, _ = fit_strengths(_table(n, a, b, counts), prior=prior)
    return np.asarray(theta, dtype=np.float64)


class _Refits:
    """Refits of one board on redrawn counts, by chord steps from its point estimate (the
    Hessian factored once there, as ratings.bootstrap does; full Newton if they stall)."""

    def __init__(self, n: int, a: np.ndarray, b: np.ndarray, counts: np.ndarray, prior: float):
        self.n, self.a, self.b, self.counts, self.prior = n, a, b, counts, prior
        self.point = _board(n, a, b, counts, prior)
        self.factor = hessian_factor(self.point, _table(n, a, b, counts), prior)

    def redrawn(self, rng: np.random.Generator) -> np.ndarray:
        # Each verdict weighted Poisson(1): a cell of c verdicts draws Poisson(c) (the
        # Poisson bootstrap), from c = 50 on as its normal approximation N(c, c), whose
        # draws cost a fifth (a fit on a large arena's thousands of cells).
        counts = self.counts.astype(np.float64)
        large = counts >= 50
        drawn = np.empty_like(counts)
        drawn[~large] = rng.poisson(counts[~large])
        drawn[large] = counts[large] + np.sqrt(counts[large]) * rng.standard_normal(large.sum())
        table = _table(self.n, self.a, self.b, np.maximum(drawn, 0.0))
        theta, converged = chord_fit(table, self.prior, self.point, self.factor, 1e-8)
        if not converged:
            theta, _, _ = fit_strengths(table, prior=self.prior, start=self.point)
        return np.asarray(theta, dtype=np.float64)


def leaderboard_agreement(
    n_models: int,
    judge: tuple[np.ndarray, np.ndarray, np.ndarray],
    human: tuple[np.ndarray, np.ndarray, np.ndarray],
    *,
    replicates: int = 100,
    level: float = 0.95,
    prior: float = 0.1,
    seed: int = 0,
) -> RankAgreement | None:
    """Kendall's tau between the Bradley-Terry leaderboard a judge's verdicts give and the
    one the human votes give, over the models both have judged (None under 3 such models).

    ``judge`` and ``human`` are (a, b, counts) per pair: model indices and an n x 3 array
    of a wins, b wins and ties. The interval weighs every verdict Poisson(1) (the Poisson
    bootstrap: a cell of c verdicts draws Poisson(c)), refits both boards each time and
    takes the replicates' percentiles. It is an interval for the tau two boards of this
    size reach (their noise lowers tau below that
    of the true leaderboards, which no finite sample shows): by simulation it covers that
    95% of the time (tests/judges/test_judges_quality.py), where the bias-corrected
    percentile interval covered it 76% of the time. Boards that are the very same data
    (tau 1) are a degenerate case: redrawn, they agree less, and the interval lies below 1."""

    def seen(a: np.ndarray, b: np.ndarray, counts: np.ndarray) -> set[int]:
        played = counts.sum(axis=1) > 0
        return set(a[played].tolist()) | set(b[played].tolist())

    shared = sorted(seen(*judge) & seen(*human))
    if len(shared) < 3:
        return None
    boards = _Refits(n_models, *judge, prior), _Refits(n_models, *human, prior)
    point = kendall_tau(boards[0].point[shared], boards[1].point[shared])
    rng = np.random.default_rng(seed)
    taus = [
        kendall_tau(boards[0].redrawn(rng)[shared], boards[1].redrawn(rng)[shared])
        for _ in range(replicates)
    ]
    tail = 100 * (1 - level) / 2
    low, high = np.nanpercentile(taus, [tail, 100 - tail]).tolist()
    return RankAgreement(tau=point, low=low, high=high, models=len(shared))

"""Judge quality measures, on small made-up cases and on the LLMFAO data.

LLMFAO (Dmitry Ustalov, CC BY 4.0, files and licence in tests/judges/data/llmfao/): 2139
pairs of model answers to 13 prompts, each judged by GPT-4, by GPT-3.5 Turbo Instruct
and by 1-5 crowd workers; ``winner`` is left/right/tie and ``id`` joins the files. The crowd
label of a pair is the plurality of its workers; 308 pairs have no unique plurality and
are left out of agreement. The numbers below were computed by judges/quality.py on these
files and cross-checked by the independent computations in this module.
"""

from __future__ import annotations

import csv
from collections import Counter, defaultdict
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from judges.quality import (
    PairJudgment,
    agreement,
    judge_quality,
    longer_answer_win_rate,
    plurality,
    position_flip_rate,
    tie_rate,
    transitivity,
    votes_flip_rate,
)

DATA = Path(__file__).parent / "data" / "llmfao"


def judged(prompt: str, left: str, right: str, winner: str, **lengths: int) -> PairJudgment:
    return PairJudgment(prompt, left, right, winner, **lengths)  # type: ignore[arg-type]


# -- small cases ---------------------------------------------------------------------------


def test_position_flip_rate_counts_pairs_whose_winner_follows_the_order() -> None:
    judgments = [
        judged("p", "x", "y", "left"),  # x wins...
        judged("p", "y", "x", "right"),  # ...and x wins again: consistent
        judged("p", "x", "z", "left"),  # x wins...
        judged("p", "z", "x", "left"),  # ...then z wins: the first shown always wins
        judged("q", "x", "y", "tie"),  # judged one way only: not counted
    ]

    assert position_flip_rate(judgments) == 0.5


def test_position_flip_rate_is_none_without_both_orders() -> None:
    assert position_flip_rate([judged("p", "x", "y", "left")]) is None


def test_flip_rate_from_our_judges_votes() -> None:
    assert votes_flip_rate([["A", "A"], ["A", "B"], ["tie", "tie"], ["A"]]) == pytest.approx(1 / 3)


def test_tie_rate() -> None:
    assert tie_rate([judged("p", "x", "y", w) for w in ("tie", "left", "tie", "right")]) == 0.5
    assert tie_rate([]) is None


@pytest.mark.parametrize(
    ("outcomes", "violations"),
    [
        ({("a", "b"): "left", ("b", "c"): "left", ("a", "c"): "left"}, 0),  # a > b > c
        ({("a", "b"): "left", ("b", "c"): "left", ("c", "a"): "left"}, 1),  # a > b > c > a
        ({("a", "b"): "left", ("b", "c"): "left", ("a", "c"): "tie"}, 1),  # a > b > c, a = c
        ({("a", "b"): "tie", ("b", "c"): "tie", ("a", "c"): "tie"}, 0),
        ({("a", "b"): "tie", ("b", "c"): "left", ("a", "c"): "left"}, 0),  # a = b > c
    ],
)
def test_transitivity_flags_triples_no_weak_order_explains(
    outcomes: dict[tuple[str, str], str], violations: int
) -> None:
    judgments = [judged("p", left, right, w) for (left, right), w in outcomes.items()]

    result = transitivity(judgments)

    assert (result.triples, result.violations) == (1, violations)


def test_transitivity_only_counts_triples_on_the_same_prompt() -> None:
    judgments = [
        judged("p1", "a", "b", "left"),
        judged("p1", "b", "c", "left"),
        judged("p2", "c", "a", "left"),
    ]

    assert transitivity(judgments).triples == 0
    assert transitivity(judgments).rate is None


def test_longer_answer_win_rate_ignores_ties_and_equal_lengths() -> None:
    judgments = [
        judged("p", "x", "y", "left", left_length=900, right_length=100),  # longer won
        judged("p", "x", "z", "right", left_length=900, right_length=50),  # shorter won
        judged("p", "y", "z", "left", left_length=300, right_length=200),  # longer won
        judged("p", "x", "w", "tie", left_length=900, right_length=10),
        judged("p", "y", "w", "left", left_length=10, right_length=10),
        judged("p", "z", "w", "left"),  # unknown lengths
    ]

    assert longer_answer_win_rate(judgments) == pytest.approx(2 / 3)


def test_cohens_kappa_matches_a_textbook_example() -> None:
    # Two readers, 50 items: both yes 20, both no 15, 5 and 10 disagreements.
    # p_o = 0.7, p_e = 0.5 * 0.6 + 0.5 * 0.4 = 0.5, kappa = 0.4.
    first = ["yes"] * 25 + ["no"] * 25
    second = ["yes"] * 20 + ["no"] * 5 + ["yes"] * 10 + ["no"] * 15

    result = agreement(first, second, labels=("yes", "no"))

    assert (result.n, result.accuracy) == (50, 0.7)
    assert result.kappa == pytest.approx(0.4)


def test_perfect_and_chance_agreement() -> None:
    labels = ["left", "right", "tie", "left"]

    assert agreement(labels, labels).kappa == 1.0
    assert agreement(["left", "left"], ["left", "left"]).kappa == 1.0
    assert agreement(["left", "right"], ["left", "left"]).kappa == 0.0


def test_plurality_needs_a_unique_top_count() -> None:
    assert plurality(["tie", "left", "tie"]) == "tie"
    assert plurality(["left", "right"]) is None
    assert plurality([]) is None


# -- LLMFAO --------------------------------------------------------------------------------


def read(name: str) -> list[dict[str, str]]:
    with (DATA / name).open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def crowd_majority() -> dict[str, str | None]:
    workers: dict[str, list[str]] = defaultdict(list)
    for row in read("crowd-comparisons.csv"):
        workers[row["id"]].append(row["winner"])
    return {pair: plurality(votes) for pair, votes in workers.items()}  # type: ignore[misc]


@pytest.fixture(scope="module")
def machine() -> dict[str, list[dict[str, str]]]:
    return {name: read(f"{name}-crowd-comparisons.csv") for name in ("gpt4", "gpt3")}


def as_judgments(rows: list[dict[str, str]]) -> list[PairJudgment]:
    return [judged(r["prompt"], r["left"], r["right"], r["winner"]) for r in rows]


def against_crowd(
    rows: list[dict[str, str]], crowd: dict[str, str | None]
) -> tuple[list[str], list[str]]:
    kept = [r for r in rows if crowd[r["id"]] is not None]
    return [r["winner"] for r in kept], [crowd[r["id"]] or "" for r in kept]


def independent_kappa(first: list[str], second: list[str]) -> float:
    # Written apart from judges.quality on purpose: dict counts, no numpy, no matrix.
    n = len(first)
    observed = sum(a == b for a, b in zip(first, second, strict=True)) / n
    count_1, count_2 = Counter(first), Counter(second)
    expected = sum(count_1[k] * count_2[k] for k in set(count_1) | set(count_2)) / n / n
    return (observed - expected) / (1 - expected)


def test_llmfao_files_hold_the_expected_pairs(
    crowd_majority: dict[str, str | None], machine: dict[str, list[dict[str, str]]]
) -> None:
    assert len(crowd_majority) == 2139
    assert sum(label is None for label in crowd_majority.values()) == 308
    for rows in machine.values():
        assert sorted(r["id"] for r in rows) == sorted(crowd_majority)


def test_gpt4_agreement_with_the_crowd_majority(
    crowd_majority: dict[str, str | None], machine: dict[str, list[dict[str, str]]]
) -> None:
    predicted, reference = against_crowd(machine["gpt4"], crowd_majority)

    result = agreement(predicted, reference)

    assert result.n == 1831
    assert result.accuracy == pytest.approx(0.4462, abs=5e-4)
    assert result.kappa == pytest.approx(0.2181, abs=5e-4)
    assert result.kappa == pytest.approx(independent_kappa(predicted, reference), abs=1e-12)


def test_gpt35_agreement_with_the_crowd_majority(
    crowd_majority: dict[str, str | None], machine: dict[str, list[dict[str, str]]]
) -> None:
    predicted, reference = against_crowd(machine["gpt3"], crowd_majority)

    result = agreement(predicted, reference)

    assert result.n == 1831
    assert result.accuracy == pytest.approx(0.3774, abs=5e-4)
    assert result.kappa == pytest.approx(0.1015, abs=5e-4)
    assert result.kappa == pytest.approx(independent_kappa(predicted, reference), abs=1e-12)


def test_gpt4_agrees_with_people_more_than_gpt35_does(
    crowd_majority: dict[str, str | None], machine: dict[str, list[dict[str, str]]]
) -> None:
    gpt4 = agreement(*against_crowd(machine["gpt4"], crowd_majority))
    gpt3 = agreement(*against_crowd(machine["gpt3"], crowd_majority))

    assert gpt4.accuracy > gpt3.accuracy
    assert gpt4.kappa > gpt3.kappa > 0  # both better than chance, GPT-4 clearly more


def test_on_pairs_both_call_decisive_gpt4_picks_the_crowds_winner_three_times_in_four(
    crowd_majority: dict[str, str | None], machine: dict[str, list[dict[str, str]]]
) -> None:
    # The crowd calls 42% of pairs a tie and GPT-4 only 3%, which drags raw accuracy down.
    decisive = {
        name: [
            (r["winner"], crowd_majority[r["id"]])
            for r in rows
            if r["winner"] != "tie" and crowd_majority[r["id"]] in ("left", "right")
        ]
        for name, rows in machine.items()
    }
    rate = {name: sum(a == b for a, b in pairs) / len(pairs) for name, pairs in decisive.items()}

    assert len(decisive["gpt4"]) == 1043
    assert rate["gpt4"] == pytest.approx(0.7459, abs=5e-4)
    assert rate["gpt3"] == pytest.approx(0.6313, abs=5e-4)


def test_llmfao_tie_rates_and_transitivity(
    crowd_majority: dict[str, str | None], machine: dict[str, list[dict[str, str]]]
) -> None:
    gpt4 = judge_quality(as_judgments(machine["gpt4"]))
    gpt3 = judge_quality(as_judgments(machine["gpt3"]))

    assert gpt4.tie_rate == pytest.approx(66 / 2139)
    assert gpt3.tie_rate == pytest.approx(194 / 2139)
    assert (gpt4.transitivity.triples, gpt4.transitivity.violations) == (517, 22)
    assert (gpt3.transitivity.triples, gpt3.transitivity.violations) == (517, 128)
    assert gpt4.transitivity.rate is not None and gpt3.transitivity.rate is not None
    assert gpt4.transitivity.rate < gpt3.transitivity.rate  # the stronger judge is saner
    # Each pair was shown in one order only, and LLMFAO's CSVs carry no answer texts.
    assert gpt4.position_flip_rate is None
    assert gpt4.longer_answer_win_rate is None


def test_llmfao_tie_counts_match_a_plain_count(machine: dict[str, list[dict[str, str]]]) -> None:
    assert Counter(r["winner"] for r in machine["gpt4"]) == {
        "right": 1130,
        "left": 943,
        "tie": 66,
    }


@given(
    st.integers(3, 9).flatmap(
        lambda n: st.tuples(
            st.just(n),
            st.lists(st.sampled_from([None, -1, 0, 1]), min_size=n * n, max_size=n * n),
        )
    )
)
def test_the_matrix_count_of_intransitive_triples_equals_the_per_judgment_count(drawn) -> None:
    import numpy as np

    from judges.quality import matrix_transitivity

    n, signs = drawn
    relation = np.full((n, n), np.nan)
    judgments = []
    for a in range(n):
        for b in range(a + 1, n):
            sign = signs[a * n + b]
            if sign is None:
                continue
            relation[a, b], relation[b, a] = sign, -sign
            winner = "tie" if sign == 0 else "left" if sign == 1 else "right"
            judgments.append(PairJudgment("p", f"m{a}", f"m{b}", winner))
    assert matrix_transitivity(relation) == transitivity(judgments)


LABEL = {"left": 0, "right": 1, "tie": 2}


def per_item(rows: list[dict[str, str]], crowd: dict[str, str | None]):
    import numpy as np

    kept = [r for r in rows if crowd[r["id"]] is not None]
    matrices = np.zeros((len(kept), 3, 3))
    for i, r in enumerate(kept):
        matrices[i, LABEL[r["winner"]], LABEL[crowd[r["id"]] or ""]] = 1
    return matrices


def test_gpt4s_agreement_intervals_hold_its_llmfao_accuracy_and_kappa(
    crowd_majority: dict[str, str | None], machine: dict[str, list[dict[str, str]]]
) -> None:
    from judges.quality import agreement_intervals

    intervals = agreement_intervals(per_item(machine["gpt4"], crowd_majority))

    low, high = intervals.accuracy
    assert low < 0.4462 < high and 0.03 < high - low < 0.06  # about 2 x 1.96 x 0.0116
    assert intervals.kappa[0] < 0.2181 < intervals.kappa[1]


def test_the_agreement_interval_covers_a_known_accuracy_about_95_percent_of_the_time() -> None:
    """By simulation: a judge that gives the reference's label with probability 0.6 (else
    one of the other two at random), on 300 items, 200 times."""
    import numpy as np

    from judges.quality import agreement_intervals

    covered = 0
    for seed in range(200):
        rng = np.random.default_rng([seed, 5])
        truth = rng.integers(0, 3, 300)
        right = rng.random(300) < 0.6
        said = np.where(right, truth, (truth + rng.integers(1, 3, 300)) % 3)
        matrices = np.zeros((300, 3, 3))
        matrices[np.arange(300), said, truth] = 1
        low, high = agreement_intervals(matrices, seed=seed).accuracy
        covered += low <= 0.6 <= high
    assert 0.90 <= covered / 200 <= 0.99


def pair_counts(rows: list[dict[str, str]], index: dict[str, int]):
    """Per unordered pair (a < b by index): a wins, b wins, ties, from left/right verdicts."""
    import numpy as np

    counts: dict[tuple[int, int], list[int]] = defaultdict(lambda: [0, 0, 0])
    for r in rows:
        left, right = index[r["left"]], index[r["right"]]
        a, b = min(left, right), max(left, right)
        if r["winner"] == "tie":
            counts[(a, b)][2] += 1
        else:
            winner = left if r["winner"] == "left" else right
            counts[(a, b)][0 if winner == a else 1] += 1
    keys = sorted(counts)
    return (
        np.array([k[0] for k in keys]),
        np.array([k[1] for k in keys]),
        np.array([counts[k] for k in keys], dtype=np.int64),
    )


def test_the_leaderboards_of_gpt4_and_of_the_llmfao_crowd_agree_with_a_kendall_tau_interval(
    machine: dict[str, list[dict[str, str]]],
) -> None:
    from judges.quality import leaderboard_agreement

    crowd = read("crowd-comparisons.csv")
    names = sorted({r[side] for r in crowd for side in ("left", "right")})
    index = {name: i for i, name in enumerate(names)}
    gpt4, people = pair_counts(machine["gpt4"], index), pair_counts(crowd, index)

    found = leaderboard_agreement(len(names), gpt4, people, replicates=60)
    same = leaderboard_agreement(len(names), people, people, replicates=60)

    assert found is not None and same is not None and found.models == len(names) == 59
    assert found.low <= found.tau <= found.high and 0.3 < found.tau < same.tau == pytest.approx(1.0)
    assert found.high < 1.0  # a judge that only sees each pair once is not the crowd


def test_leaderboards_sharing_fewer_than_three_models_have_no_tau() -> None:
    import numpy as np

    from judges.quality import leaderboard_agreement

    two = (np.array([0]), np.array([1]), np.array([[3, 1, 0]]))
    assert leaderboard_agreement(4, two, two) is None


def test_the_tau_interval_covers_the_agreement_boards_of_that_size_reach() -> None:
    """By simulation against a known truth: a judge whose strengths are the humans' plus
    noise, 15 verdicts per pair from each; the target is the mean tau over 150 draws."""
    import numpy as np

    from judges.quality import _board, leaderboard_agreement
    from ratings.metrics import kendall_tau

    m = 10
    start = np.random.default_rng(0)
    human = start.normal(0, 0.5, m)
    judge = human + start.normal(0, 0.3, m)
    a, b = np.triu_indices(m, 1)

    def verdicts(theta: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        p = 1 / (1 + np.exp(-(theta[a] - theta[b])))
        wins = rng.binomial(15, p * 0.85)
        ties = rng.binomial(15 - wins, np.clip(0.15 / (1 - p * 0.85), 0, 1))
        return np.stack([wins, 15 - wins - ties, ties], axis=1)

    target = np.mean(
        [
            kendall_tau(
                _board(m, a, b, verdicts(judge, rng), 0.1),
                _board(m, a, b, verdicts(human, rng), 0.1),
            )
            for rng in (np.random.default_rng([s, 1]) for s in range(150))
        ]
    )
    covered = 0
    for s in range(40):
        rng = np.random.default_rng([s, 2])
        found = leaderboard_agreement(
            m, (a, b, verdicts(judge, rng)), (a, b, verdicts(human, rng)), replicates=50, seed=s
        )
        assert found is not None
        covered += found.low <= target <= found.high
    assert covered / 40 >= 0.85  # 95% nominal; 40 draws have a binomial sd of 0.034

"""PanelJudge: several comparators on the same match, combined by majority or probability."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from judges.backends.base import (
    Answer,
    PermanentError,
    Ranking,
    RawOutput,
    TransientError,
    Verdict,
)
from judges.panel import (
    PanelJudge,
    PanelSpec,
    agreement_weights,
    majority_ranking,
    pair_outcome,
    parse_panel_settings,
)

PAIR = (Answer(text="first", author="m1"), Answer(text="second", author="m2"))
FOUR = tuple(Answer(text=f"answer {i}") for i in range(4))
A_WINS: Ranking = ((0,), (1,))
B_WINS: Ranking = ((1,), (0,))
TIE: Ranking = ((0, 1),)


class Stub:
    """A comparator that always returns the same verdict and counts its calls."""

    def __init__(self, ranking: Ranking, **fields: object) -> None:
        self.verdict = Verdict(ranking=ranking, **fields)  # type: ignore[arg-type]
        self.calls: list[tuple[str, int]] = []

    def compare(self, prompt: str, answers: Sequence[Answer]) -> Verdict:
        self.calls.append((prompt, len(answers)))
        return self.verdict


class Failing:
    def compare(self, prompt: str, answers: Sequence[Answer]) -> Verdict:
        raise TransientError("rate limited")


@pytest.mark.parametrize(
    ("rankings", "expected"),
    [
        ([A_WINS, A_WINS, B_WINS], A_WINS),
        ([B_WINS, TIE, B_WINS], B_WINS),
        ([A_WINS, B_WINS, TIE], TIE),  # one vote each: no plurality
        ([A_WINS, B_WINS], TIE),
        ([TIE, TIE, A_WINS], TIE),
        ([A_WINS, TIE], TIE),  # a shared plurality is not a decision
    ],
)
def test_a_pair_is_decided_by_the_plurality_of_the_judges(
    rankings: list[Ranking], expected: Ranking
) -> None:
    panel = PanelJudge([Stub(r, raw_output=f"judge said {r}") for r in rankings])

    verdict = panel.compare("q", PAIR)

    assert verdict.ranking == expected


def test_weights_can_outvote_a_head_count() -> None:
    panel = PanelJudge([Stub(A_WINS), Stub(B_WINS), Stub(B_WINS)], weights=[3, 1, 1])

    assert panel.compare("q", PAIR).ranking == A_WINS


def test_every_judge_sees_the_same_match_and_all_raw_outputs_are_kept() -> None:
    judges = [
        Stub(A_WINS, raw_output="one [[A]]", prompt_tokens=10, completion_tokens=2, cost=0.5),
        Stub(A_WINS, raw_output="two [[A]]", prompt_tokens=20, completion_tokens=3, cost=0.25),
    ]

    verdict = PanelJudge(judges).compare("the prompt", PAIR)

    assert [j.calls for j in judges] == [[("the prompt", 2)], [("the prompt", 2)]]
    assert "one [[A]]" in verdict.raw_output and "two [[A]]" in verdict.raw_output
    assert [p["raw_output"] for p in verdict.extra["panel"]] == ["one [[A]]", "two [[A]]"]
    assert (verdict.prompt_tokens, verdict.completion_tokens, verdict.cost) == (30, 5, 0.75)
    assert verdict.extra["combine"] == "majority"


def test_k_wise_rankings_combine_pair_by_pair_into_copeland_tiers() -> None:
    rankings: list[Ranking] = [
        ((0,), (1,), (2,), (3,)),
        ((1,), (0,), (2,), (3,)),
        ((0,), (1, 2), (3,)),
    ]

    verdict = PanelJudge([Stub(r) for r in rankings]).compare("q", FOUR)

    assert verdict.ranking == ((0,), (1,), (2,), (3,))


def test_a_majority_cycle_becomes_a_tie() -> None:
    # Condorcet's paradox: 0>1 (2 of 3), 1>2 (2 of 3), 2>0 (2 of 3).
    rankings: list[Ranking] = [((0,), (1,), (2,)), ((1,), (2,), (0,)), ((2,), (0,), (1,))]

    assert majority_ranking(rankings, [1, 1, 1], 3) == ((0, 1, 2),)


def test_probability_combination_averages_with_weights() -> None:
    judges = [
        Stub(A_WINS, probabilities={"A": 0.6, "tie": 0.1, "B": 0.3}),
        Stub(B_WINS, probabilities={"A": 0.2, "tie": 0.1, "B": 0.7}),
    ]

    even = PanelJudge(judges, combine="probability").compare("q", PAIR)
    leaning = PanelJudge(judges, combine="probability", weights=[3, 1]).compare("q", PAIR)

    assert even.ranking == B_WINS
    assert even.probabilities == pytest.approx({"A": 0.4, "tie": 0.1, "B": 0.5})
    assert leaning.ranking == A_WINS
    assert leaning.probabilities == pytest.approx({"A": 0.5, "tie": 0.1, "B": 0.4})


def test_probability_combination_needs_probabilities_from_every_judge_on_a_pair() -> None:
    with_probs = Stub(A_WINS, probabilities={"A": 1.0, "tie": 0.0, "B": 0.0})

    with pytest.raises(PermanentError, match=r"judges \[2\]"):
        PanelJudge([with_probs, Stub(A_WINS)], combine="probability").compare("q", PAIR)
    with pytest.raises(PermanentError, match="pairs only"):
        PanelJudge([with_probs], combine="probability").compare("q", FOUR)


def test_both_bad_needs_a_tie_and_a_weighted_majority_flagging_it() -> None:
    bad = [Stub(TIE, both_bad=True), Stub(TIE, both_bad=True), Stub(TIE)]

    assert PanelJudge(bad).compare("q", PAIR).both_bad is True
    assert PanelJudge(bad, weights=[1, 1, 3]).compare("q", PAIR).both_bad is False


def test_a_judge_error_propagates_for_the_task_to_retry() -> None:
    with pytest.raises(TransientError):
        PanelJudge([Stub(A_WINS), Failing()]).compare("q", PAIR)


def test_a_member_without_a_verdict_fails_the_panel_keeping_every_reply_by_name() -> None:
    class Undecided:
        def compare(self, prompt: str, answers: Sequence[Answer]) -> Verdict:
            raise PermanentError(
                "no verdict after one repair prompt",
                raw_outputs=[RawOutput("judge", "hmm"), RawOutput("repair", "still hmm")],
            )

    panel = PanelJudge([Stub(A_WINS, raw_output="[[A]]"), Undecided()], names=["gpt", "llama"])

    with pytest.raises(PermanentError) as caught:
        panel.compare("q", PAIR)

    assert str(caught.value) == "llama: no verdict after one repair prompt"
    assert caught.value.raw_outputs == (
        RawOutput("gpt", "[[A]]"),
        RawOutput("llama: judge", "hmm"),
        RawOutput("llama: repair", "still hmm"),
    )


def test_a_judge_ranking_the_wrong_answers_is_refused() -> None:
    with pytest.raises(PermanentError, match="panel judge 1"):
        PanelJudge([Stub(((0,), (5,)))]).compare("q", PAIR)


@pytest.mark.parametrize(
    ("judges", "kwargs"),
    [
        ([], {}),
        ([Stub(A_WINS)], {"combine": "vote"}),
        ([Stub(A_WINS)], {"weights": [1, 2]}),
        ([Stub(A_WINS), Stub(A_WINS)], {"weights": [0, 0]}),
        ([Stub(A_WINS)], {"weights": [-1]}),
    ],
)
def test_bad_panel_configurations_are_refused(judges: list[Stub], kwargs: dict) -> None:
    with pytest.raises(PermanentError):
        PanelJudge(judges, **kwargs)


def test_pair_outcome_reads_tiers() -> None:
    ranking: Ranking = ((2,), (0, 3), (1,))

    assert pair_outcome(ranking, 0, 3) == "tie"
    assert pair_outcome(ranking, 2, 1) == "first"
    assert pair_outcome(ranking, 1, 0) == "second"


# -- a panel Judge row's settings ----------------------------------------------------------


def test_panel_settings_default_to_an_unweighted_majority() -> None:
    spec = parse_panel_settings({"members": ["gpt", "claude"]}, own_name="jury")

    assert spec == PanelSpec(members=("gpt", "claude"), combine="majority", weights=None)


def test_agreement_weights_give_an_unmeasured_judge_the_mean_of_the_others() -> None:
    weights = agreement_weights(["a", "b", "c"], {"a": 0.8, "b": 0.6, "humans": None})

    assert weights == pytest.approx((0.8, 0.6, 0.7))


def test_agreement_weights_are_equal_when_nobody_has_voted() -> None:
    assert agreement_weights(["a", "b"], {}) == (1.0, 1.0)


def test_named_members_and_their_weights_head_their_raw_outputs() -> None:
    panel = PanelJudge(
        [Stub(A_WINS, raw_output="yes"), Stub(B_WINS, raw_output="no")],
        weights=[2, 0.5],
        names=["big", "small"],
    )

    verdict = panel.compare("q", PAIR)

    assert "=== panel judge 1 of 2: big (weight 2) ===\nyes" in verdict.raw_output
    assert "=== panel judge 2 of 2: small (weight 0.5) ===\nno" in verdict.raw_output
    assert verdict.extra["members"] == ["big", "small"]


def test_a_panels_template_hash_changes_with_any_members_template() -> None:
    class Hashed(Stub):
        def __init__(self, template_hash: str) -> None:
            super().__init__(A_WINS)
            self.template_hash = template_hash

    one = PanelJudge([Hashed("h1"), Hashed("h2")], names=["x", "y"])
    other = PanelJudge([Hashed("h1"), Hashed("h3")], names=["x", "y"])

    assert one.template_hash and one.template_hash != other.template_hash
    assert PanelJudge([Stub(A_WINS), Stub(A_WINS)]).template_hash is None


def test_a_failing_member_s_error_carries_what_the_members_before_it_cost() -> None:
    panel = PanelJudge([Stub(A_WINS, cost=0.25), Stub(B_WINS, cost=0.5), Failing()])

    with pytest.raises(TransientError) as failed:
        panel.compare("q", PAIR)

    assert failed.value.cost == 0.75

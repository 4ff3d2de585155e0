"""The demo: real Vicuna answers and simulated contestants, judged by a SIMULATED judge.

No model is called: the judge draws verdicts from hidden strengths (judges.backends.
simulated), which are made up for the demo and say nothing about the real models.
"""

from __future__ import annotations

from pathlib import Path

from django.db import transaction

from arena.models import BackendKind, Contestant, Judge, JudgeKind, PromptSet, Tournament
from arena.services.imports import prompt_set_import_jsonl, responses_import_jsonl
from arena.services.tournaments import tournament_create

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "vicuna_qa"
PROMPT_SET = "vicuna-80"
ANSWER_FILES = {
    "gpt-3.5-turbo": "answer_gpt35.jsonl",
    "bard": "answer_bard.jsonl",
    "vicuna-13b": "answer_vicuna-13b.jsonl",
    "alpaca-13b": "answer_alpaca-13b.jsonl",
    "llama-13b": "answer_llama-13b.jsonl",
}
# Hidden strengths (Elo scale) the simulated judge draws from: invented for the demo.
HIDDEN_STRENGTHS = {
    "gpt-3.5-turbo": 1130.0,
    "bard": 1090.0,
    "vicuna-13b": 1070.0,
    "alpaca-13b": 960.0,
    "llama-13b": 900.0,
}
SIMULATED = {"sim-strong": 1180.0, "sim-middle": 1010.0, "sim-weak": 850.0}


def demo_load(*, judge_delay_s: float = 1.0) -> PromptSet:
    """Load the demo's prompt set, contestants and judge; safe to run again."""
    with transaction.atomic():
        pset = prompt_set_import_jsonl(
            name=PROMPT_SET,
            path=FIXTURES / "question.jsonl",
            source="FastChat Vicuna eval questions (Apache-2.0)",
        )
        for name, filename in ANSWER_FILES.items():
            responses_import_jsonl(contestant_name=name, prompt_set=pset, path=FIXTURES / filename)
        for name, strength in SIMULATED.items():
            Contestant.objects.get_or_create(
                name=name,
                defaults={"backend": BackendKind.SIMULATED, "generation": {"strength": strength}},
            )
        # The delay paces the demo so that a person can watch the leaderboard move.
        Judge.objects.update_or_create(
            name="simulated-judge",
            defaults={
                "kind": JudgeKind.SIMULATED,
                "settings": {"strengths": HIDDEN_STRENGTHS, "delay_s": judge_delay_s},
            },
        )
    return pset


def demo_vote_tournament_create() -> Tournament:
    """A human-judged arena over the real Vicuna answers, for voting in the browser.

    Adaptive: the active sampler picks which pairs voters see next (Chatbot Arena's rule,
    the pairs whose outcome is least certain under the current fit), a batch at a time.
    """
    return tournament_create(
        name="Vote: Vicuna answers (humans judge)",
        format="adaptive",
        contestants=list(ANSWER_FILES),
        prompt_set=PROMPT_SET,
        judge=None,
        config={"sampler": "ci_reduction", "batch": 8, "max_matches": 400},
        seed=11,
    )


def demo_rank_tournament_create() -> Tournament:
    """A human-judged K-wise tournament: voters rank four Vicuna-set answers at once."""
    return tournament_create(
        name="Rank four: Vicuna answers (humans judge)",
        format="kwise",
        contestants=list(ANSWER_FILES),
        prompt_set=PROMPT_SET,
        judge=None,
        config={"k": 4, "rounds": 20},
        seed=12,
    )


def demo_bracket_create(*, seed: int) -> Tournament:
    """A seeded single-elimination bracket over all eight, with a third-place match."""
    return tournament_create(
        name=f"Demo bracket (seed {seed})",
        format="single_elimination",
        contestants=[*ANSWER_FILES, *SIMULATED],
        prompt_set=PROMPT_SET,
        judge="simulated-judge",
        config={"third_place": True},
        seed=seed,
    )


def demo_tournament_create(*, seed: int = 1, rounds: int = 3) -> Tournament:
    names = [*ANSWER_FILES, *SIMULATED]
    return tournament_create(
        name=f"Demo round-robin (seed {seed})",
        format="round_robin",
        contestants=names,
        prompt_set=PROMPT_SET,
        judge="simulated-judge",
        config={"rounds": rounds},
        seed=seed,
    )

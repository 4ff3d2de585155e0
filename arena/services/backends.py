"""Build a judges/ backend from a Contestant or Judge row."""

from __future__ import annotations

from collections.abc import Iterable

from arena.models import BackendKind, Contestant, Judge, JudgeKind
from judges.backends.base import Comparator, Generation, Generator, PermanentError
from judges.backends.simulated import SimulatedContestant, SimulatedJudge


class PregeneratedOnly:
    """A contestant whose answers were imported: nothing to call when one is missing."""

    def __init__(self, name: str) -> None:
        self.name = name

    def generate(self, prompt: str) -> Generation:
        raise PermanentError(f"{self.name} has no imported answer for this prompt")


def contestant_generator(*, contestant: Contestant, seed: int = 0) -> Generator:
    if contestant.backend == BackendKind.SIMULATED:
        return SimulatedContestant(name=contestant.name, seed=seed)
    if contestant.backend == BackendKind.PREGENERATED:
        return PregeneratedOnly(contestant.name)
    if contestant.backend == BackendKind.OPENAI:
        from judges.backends.openai_compat import OpenAICompatGenerator

        return OpenAICompatGenerator(
            base_url=contestant.base_url,
            model=contestant.model_id,
            api_key_env=contestant.api_key_env,
            generation=contestant.generation,
        )
    raise PermanentError(f"unknown backend {contestant.backend!r} for {contestant.name}")


def judge_comparator(
    *, judge: Judge, contestants: Iterable[Contestant], seed: int = 0
) -> Comparator:
    if judge.kind == JudgeKind.SIMULATED:
        configured = judge.settings.get("strengths", {})
        strengths = {
            c.name: float(configured.get(c.name, c.generation.get("strength", 1000.0)))
            for c in contestants
        }
        return SimulatedJudge(
            strengths=strengths,
            seed=seed,
            tie_strength=float(judge.settings.get("tie_strength", 0.5)),
            delay_s=float(judge.settings.get("delay_s", 0.0)),
        )
    if judge.kind == JudgeKind.OPENAI:
        from judges.backends.openai_compat import OpenAICompatJudge

        return OpenAICompatJudge(
            base_url=judge.base_url,
            model=judge.model_id,
            api_key_env=judge.api_key_env,
            settings=judge.settings,
        )
    raise PermanentError(f"unknown judge kind {judge.kind!r} for {judge.name}")

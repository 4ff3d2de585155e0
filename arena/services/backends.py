"""Build a judges/ backend from a Contestant or Judge row.

Every builder checks its row's settings and raises PermanentError naming the setting at
fault; nothing is called and no model is loaded until the backend is first used, so the
admin and ``tournament_start`` can build a backend just to validate it.
"""

from __future__ import annotations

import threading
import time
import zlib
from collections.abc import Iterable, Sequence

from arena.models import BackendKind, Contestant, Judge, JudgeKind, Queue
from judges.backends.base import Comparator, Generation, Generator, PermanentError
from judges.backends.simulated import SimulatedContestant, SimulatedJudge
from judges.panel import PanelJudge, agreement_weights, parse_panel_settings


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
    if contestant.backend == BackendKind.TRANSFORMERS:
        from judges.backends.transformers_local import TransformersGenerator

        return TransformersGenerator(model=contestant.model_id, generation=contestant.generation)
    raise PermanentError(f"unknown backend {contestant.backend!r} for {contestant.name}")


def judge_comparator(
    *, judge: Judge, contestants: Iterable[Contestant], seed: int = 0
) -> Comparator:
    return _comparator(judge, list(contestants), seed, chain=())


def _comparator(
    judge: Judge, contestants: Sequence[Contestant], seed: int, chain: tuple[str, ...]
) -> Comparator:
    if judge.kind == JudgeKind.SIMULATED:
        return _simulated(judge, contestants, seed)
    if judge.kind == JudgeKind.OPENAI:
        from judges.backends.openai_compat import OpenAICompatJudge

        return OpenAICompatJudge(
            base_url=judge.base_url,
            model=judge.model_id,
            api_key_env=judge.api_key_env,
            settings=judge.settings,
        )
    if judge.kind == JudgeKind.TRANSFORMERS:
        from judges.backends.transformers_local import TransformersJudge

        return TransformersJudge(model=judge.model_id, settings=judge.settings)
    if judge.kind == JudgeKind.PANEL:
        return _panel(judge, contestants, seed, chain)
    raise PermanentError(f"unknown judge kind {judge.kind!r} for {judge.name}")


def _simulated(judge: Judge, contestants: Sequence[Contestant], seed: int) -> SimulatedJudge:
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


# -- panels -----------------------------------------------------------------------------


def _panel(
    judge: Judge, contestants: Sequence[Contestant], seed: int, chain: tuple[str, ...]
) -> PanelJudge:
    spec = parse_panel_settings(judge.settings, own_name=judge.name)
    chain = (*chain, judge.name)
    rows = {row.name: row for row in Judge.objects.filter(name__in=spec.members)}
    missing = [name for name in spec.members if name not in rows]
    if missing:
        raise PermanentError(
            f"judge setting 'members': unknown judge {', '.join(map(repr, missing))}"
        )
    for name in spec.members:
        if name in chain:  # through a member panel that lists this one again
            loop = " → ".join((*chain, name))
            raise PermanentError(f"judge setting 'members': panel includes itself ({loop})")
        if rows[name].queue == Queue.GPU and judge.queue != Queue.GPU:
            # Matches go to the queue of the tournament's judge: a member that needs a GPU
            # would otherwise load its model on a worker without one.
            raise PermanentError(
                f"judge 'queue' must be gpu: panel member {name!r} runs on the gpu queue"
            )
    members = [
        # Each member its own seed: identical simulated members would always agree.
        _comparator(rows[name], contestants, _member_seed(seed, name), chain)
        for name in spec.members
    ]
    weights: Sequence[float] | None
    if isinstance(spec.weights, str):  # HUMAN_AGREEMENT, the one word parse allows
        weights = agreement_weights(spec.members, _human_accuracy())
    else:
        weights = spec.weights
    return PanelJudge(members, combine=spec.combine, weights=weights, names=spec.members)


def _member_seed(seed: int, name: str) -> int:
    return seed + zlib.crc32(name.encode())


# Agreement with human votes scans every judgment, and a panel is built for every match:
# computed at most once a minute per process. The weights used are written into every
# panel judgment's raw output, so a judgment still says which weights made it.
_AGREEMENT_TTL_S = 60.0
_agreement_lock = threading.Lock()
_agreement_cache: tuple[float, dict[str, float | None]] | None = None


def _human_accuracy() -> dict[str, float | None]:
    global _agreement_cache
    with _agreement_lock:
        now = time.monotonic()
        if _agreement_cache is None or now - _agreement_cache[0] > _AGREEMENT_TTL_S:
            from arena.boards import judge_quality_panel

            accuracy = {row["source"]: row["human_accuracy"] for row in judge_quality_panel()}
            _agreement_cache = (now, accuracy)
        return _agreement_cache[1]


def forget_human_agreement() -> None:
    """Recompute agreement weights at the next panel built (tests)."""
    global _agreement_cache
    with _agreement_lock:
        _agreement_cache = None

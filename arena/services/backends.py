"""Build a judges/ backend from a Contestant or Judge row.

Every builder checks its row's settings and raises PermanentError naming the setting at
fault; nothing is called and no model is loaded until the backend is first used, so the
admin and ``tournament_start`` can build a backend just to validate it.
"""

from __future__ import annotations

import threading
import time
import zlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from arena.models import BackendKind, Contestant, Judge, JudgeKind, Queue, key_variable_refusal
from arena.outbound import base_url_refusal
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
        from judges.backends.openai_http import OpenAICompatGenerator

        return OpenAICompatGenerator(
            base_url=_base_url(contestant.base_url),
            model=contestant.model_id,
            api_key_env=_key_variable(contestant.api_key_env),
            generation=contestant.generation,
        )
    if contestant.backend == BackendKind.TRANSFORMERS:
        from judges.backends.transformers_local import TransformersGenerator

        return TransformersGenerator(model=contestant.model_id, generation=contestant.generation)
    raise PermanentError(f"unknown backend {contestant.backend!r} for {contestant.name}")


def _key_variable(name: str) -> str:
    """Checked again where it is used: a row saved before the allowlist, or edited around
    the form, still sends nothing the operator did not allow."""
    refusal = key_variable_refusal(name)
    if refusal:
        raise PermanentError(refusal)
    return name


def _base_url(url: str) -> str:
    """Likewise where a model is served, resolved again now (arena.outbound)."""
    refusal = base_url_refusal(url)
    if refusal:
        raise PermanentError(refusal)
    return url


def judge_freeze(*, judge: Judge) -> dict[str, Any]:
    """The judge row as it is now, as plain JSON: what a tournament freezes in its manifest
    at its start and is judged with to its end (``judge_comparator``), so that editing or
    re-creating the row changes only tournaments started after. A panel carries each of
    its members, frozen the same way."""
    return _freeze(judge, chain=())


def _freeze(judge: Judge, chain: tuple[str, ...]) -> dict[str, Any]:
    frozen: dict[str, Any] = {
        "name": judge.name,
        "kind": judge.kind,
        "model": judge.model_id,
        "base_url": judge.base_url,
        "api_key_env": judge.api_key_env,  # the variable's name, never the key
        "queue": judge.queue,
        "settings": judge.settings,
    }
    if judge.kind == JudgeKind.PANEL:
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
        frozen["members"] = [_freeze(rows[name], chain) for name in spec.members]
    return frozen


def judge_comparator(
    *,
    judge: Judge | Mapping[str, Any],
    contestants: Iterable[Contestant],
    seed: int = 0,
    cache_scope: str | None = None,
) -> Comparator:
    """A comparator of the judge: a row as it is now, or a frozen one (``judge_freeze``).
    ``cache_scope`` names the comparison (a match) whose retry the verdict cache may serve
    (judges.cache)."""
    frozen = judge_freeze(judge=judge) if isinstance(judge, Judge) else judge
    return _comparator(frozen, list(contestants), seed, cache_scope)


def _comparator(
    judge: Mapping[str, Any],
    contestants: Sequence[Contestant],
    seed: int,
    scope: str | None,
) -> Comparator:
    kind, settings = judge["kind"], judge["settings"]
    if kind == JudgeKind.SIMULATED:
        return _simulated(settings, contestants, seed)
    if kind == JudgeKind.OPENAI:
        from judges.backends.openai_judge import OpenAICompatJudge

        return OpenAICompatJudge(
            base_url=_base_url(judge["base_url"]),
            model=judge["model"],
            api_key_env=_key_variable(judge.get("api_key_env", "")),
            settings=settings,
            cache_scope=scope,
        )
    if kind == JudgeKind.TRANSFORMERS:
        from judges.backends.transformers_local import TransformersJudge

        return TransformersJudge(model=judge["model"], settings=settings, cache_scope=scope)
    if kind == JudgeKind.PANEL:
        return _panel(judge, contestants, seed, scope)
    raise PermanentError(f"unknown judge kind {kind!r} for {judge['name']}")


def _simulated(
    settings: Mapping[str, Any], contestants: Sequence[Contestant], seed: int
) -> SimulatedJudge:
    configured = settings.get("strengths", {})
    strengths = {
        c.name: float(configured.get(c.name, c.generation.get("strength", 1000.0)))
        for c in contestants
    }
    return SimulatedJudge(
        strengths=strengths,
        seed=seed,
        tie_strength=float(settings.get("tie_strength", 0.5)),
        delay_s=float(settings.get("delay_s", 0.0)),
    )


# -- panels -----------------------------------------------------------------------------


def _panel(
    judge: Mapping[str, Any], contestants: Sequence[Contestant], seed: int, scope: str | None
) -> PanelJudge:
    spec = parse_panel_settings(judge["settings"], own_name=judge["name"])
    members = {member["name"]: member for member in judge.get("members", [])}
    for name in spec.members:
        if members[name].get("queue") == Queue.GPU and judge.get("queue") != Queue.GPU:
            # Matches go to the queue of the tournament's judge: a member that needs a GPU
            # would otherwise load its model on a worker without one.
            raise PermanentError(
                f"judge 'queue' must be gpu: panel member {name!r} runs on the gpu queue"
            )
    comparators = [
        # Each member its own seed (identical simulated members would always agree) and
        # its own cache scope (identical members are two samples, not one).
        _comparator(
            members[name],
            contestants,
            _member_seed(seed, name),
            None if scope is None else f"{scope}/{name}",
        )
        for name in spec.members
    ]
    weights: Sequence[float] | None
    if isinstance(spec.weights, str):  # HUMAN_AGREEMENT, the one word parse allows
        weights = agreement_weights(spec.members, _human_accuracy())
    else:
        weights = spec.weights
    return PanelJudge(comparators, combine=spec.combine, weights=weights, names=spec.members)


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

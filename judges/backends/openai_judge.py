"""An LLM judge's conversation: how it is asked, repaired when its verdict cannot be read,
and read, for two answers (pairwise: 3-way or 5-way, one order or both) or three to eight
(listwise).

The conversation is a plan (a generator of the messages each call needs) that
``OpenAICompatJudge.compare`` drives through the judge's ``ChatEndpoint``: the HTTP one of
judges.backends.openai_http by default, or an in-process model (transformers_local), so
it is written once, apart from the transport.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Protocol, TypeVar, cast

from judges.backends.base import (
    Answer,
    BackendError,
    OrderVerdict,
    PermanentError,
    Ranking,
    RawOutput,
    Verdict,
)
from judges.backends.openai_http import ChatReply, HTTPChatEndpoint
from judges.cache import VerdictCache, cache_key, default_verdict_cache, served_from_cache
from judges.fiveway import (
    apply_length_penalty,
    combined_score,
    outcome_of,
    unswap_five_way,
)
from judges.judge_settings import JUDGE_DEFAULTS, NON_SEMANTIC_KEYS, parse_judge_settings
from judges.limits import LIMITERS
from judges.listwise import (
    LETTERS,
    MAX_ANSWERS,
    labels_for,
    presentation_order,
    ranking_from_letters,
    render_listwise,
    repair_message,
)
from judges.logprobs import (
    average_probabilities,
    label_probabilities,
    most_likely,
    swap_probabilities,
)
from judges.pairwise import combine_votes, ranking_of, render_pairwise, slot_ranking, unswap
from judges.parsing import (
    PARSER_VERSION,
    FiveWayVerdict,
    PairwiseVerdict,
    parse_five_way_verdict,
    parse_listwise_ranking,
    parse_pairwise_verdict,
)
from judges.prompts import PromptTemplate, load_template

__all__ = [
    "ChatEndpoint",
    "OpenAICompatJudge",
    "UnparseableVerdictError",
]

_T = TypeVar("_T")

_EMPTY: Mapping[str, Any] = MappingProxyType({})


class UnparseableVerdictError(PermanentError):
    """The judge gave no readable verdict, even after the repair prompt.

    Carries the judge's replies (``raw_outputs``: its first, then the repair's) so that the
    match can record what was said."""


class ChatEndpoint(Protocol):
    """What a judge's conversation plan needs: one chat call, and a way to let go."""

    def complete(
        self, messages: Sequence[Mapping[str, str]], params: Mapping[str, Any]
    ) -> ChatReply: ...

    def close(self) -> None: ...


# A judge's conversation as a generator: it yields the messages of each call it needs,
# is sent back the reply, and returns its result. ``compare`` drives it through whatever
# endpoint the judge has (HTTP, or an in-process model), so the conversation is written
# once, apart from the transport.
_Plan = Generator[list[dict[str, str]], ChatReply, _T]


@dataclass(frozen=True)
class _Reading:
    """One judge call (plus its repair, if any), mapped to the caller's answer order.

    ``vote`` is a 3-way or 5-way label depending on the template; ``probabilities`` are
    there only with logprobs on and the verdict letter found among the top alternatives."""

    vote: str
    prompt_tokens: int
    completion_tokens: int
    latency_ms: int
    order: OrderVerdict
    probabilities: dict[str, float] | None = None


def _usage(replies: Sequence[ChatReply]) -> dict[str, int]:
    return {
        "prompt_tokens": sum(r.prompt_tokens for r in replies),
        "completion_tokens": sum(r.completion_tokens for r in replies),
        "latency_ms": sum(r.latency_ms for r in replies),
    }


class OpenAICompatJudge:
    """An LLM judge behind an OpenAI-compatible API; answers are judged blind and fenced.

    Two answers: a pairwise template, 3-way ([[A]]/[[B]]/[[C]], MT-Bench style) or 5-way
    ([[A>>B]] ... [[B>>A]], Arena-Hard style). With ``both_orders`` the pair is judged twice
    with the answers swapped, the usual remedy for position bias (Zheng et al. 2023); a
    disagreement counts as a tie unless ``order_disagreement`` is "average".
    Three to eight answers: a listwise template ranking them in tiers in one call.
    The settings keys and their defaults are ``judges.judge_settings.JUDGE_DEFAULTS``."""

    def __init__(
        self,
        *,
        base_url: str,
        model: str,
        api_key_env: str = "",
        settings: Mapping[str, Any] = _EMPTY,
        timeout: float = 120.0,
        cache: VerdictCache | None = None,
        cache_scope: str | None = None,
        endpoint: ChatEndpoint | None = None,
    ) -> None:
        """``endpoint`` replaces the HTTP endpoint (an in-process model, say); the
        conversation, parsing and caching stay the same. ``cache_scope`` names the one
        comparison this judge is built for (a match), whose retry the verdict cache may
        answer; without it every comparison calls the model (judges.cache)."""
        self.settings = parse_judge_settings(settings)
        self.base_url = base_url
        self.model = model
        # What determines a verdict, for the cache key: the settings as they take effect
        # (defaults filled in, so an explicit default and an omitted key are the same).
        self._semantic_settings = {
            k: v for k, v in {**JUDGE_DEFAULTS, **settings}.items() if k not in NON_SEMANTIC_KEYS
        }
        self._cache = cache
        self.cache_scope = cache_scope
        self.template = load_template(self.settings.template)
        self.listwise_template = load_template(self.settings.listwise_template)
        self._check_templates()
        self.both_orders: bool = self.settings.both_orders
        self.params: Mapping[str, Any] = MappingProxyType(self.settings.request_params())
        self._endpoint: ChatEndpoint = endpoint or HTTPChatEndpoint(
            base_url=base_url, model=model, api_key_env=api_key_env, timeout=timeout, max_retries=0
        )
        LIMITERS.configure(base_url, model, self.settings.limits)

    def _params_for(self, answers: Sequence[Answer]) -> Mapping[str, Any]:
        """Request parameters for this comparison (a subclass may vary them)."""
        return self.params

    def _check_templates(self) -> None:
        # Combinations that would silently do nothing are refused when the judge is built.
        pairwise = self.template.verdict_format
        if pairwise not in ("pairwise_3way", "pairwise_5way"):
            raise PermanentError(f"judge setting 'template': {self.template.name} is not pairwise")
        if self.listwise_template.verdict_format != "listwise":
            raise PermanentError(
                f"judge setting 'listwise_template': {self.listwise_template.name} is not listwise"
            )
        if self.settings.logprobs and pairwise != "pairwise_3way":
            raise PermanentError("judge setting 'logprobs' needs a 3-way template")
        if self.settings.length_penalty_chars is not None and pairwise != "pairwise_5way":
            # Only a 5-way verdict knows a slight win from a strong one.
            raise PermanentError("judge setting 'length_penalty_chars' needs a 5-way template")
        averaging = self.settings.order_disagreement == "average"
        if averaging and pairwise == "pairwise_3way" and not self.settings.logprobs:
            raise PermanentError(
                "judge setting 'order_disagreement': 'average' needs 'logprobs' "
                "or a 5-way template (a 3-way vote has nothing to average)"
            )

    @property
    def template_name(self) -> str:
        return self.template.name

    @property
    def template_hash(self) -> str:
        """sha256 of the pairwise template file, for a tournament to record what its judge saw."""
        return self.template.sha256

    @property
    def listwise_template_hash(self) -> str:
        return self.listwise_template.sha256

    def compare(self, prompt: str, answers: Sequence[Answer]) -> Verdict:
        plan = self._plan(prompt, answers)
        key = self.cache_key(prompt, answers)
        cache = self._active_cache()
        hit = cache.get(key) if cache is not None else None
        if hit is not None:
            return served_from_cache(hit)
        params = self._params_for(answers)
        replies: list[ChatReply] = []
        try:
            request = next(plan)
            while True:
                replies.append(self._endpoint.complete(request, params))
                request = plan.send(replies[-1])
        except StopIteration as done:
            verdict: Verdict = done.value
        except BackendError as error:
            error.cost += self._cost(replies)
            raise
        if cache is not None:
            cache.set(key, verdict)
        return verdict

    def _cost(self, replies: Sequence[ChatReply]) -> float:
        usage = _usage(replies)
        return self.settings.price.cost(usage["prompt_tokens"], usage["completion_tokens"])

    def _active_cache(self) -> VerdictCache | None:
        if not self.settings.cache or self.cache_scope is None:
            return None
        return self._cache if self._cache is not None else default_verdict_cache()

    def cache_key(self, prompt: str, answers: Sequence[Answer]) -> str:
        """The verdict cache key of this request (see judges.cache)."""
        return cache_key(
            {
                "v": 2,
                "scope": self.cache_scope,
                "parser": PARSER_VERSION,
                "base_url": self.base_url.rstrip("/"),
                "model": self.model,
                "prompt": prompt,
                # Authors never reach the judge, so they do not change its verdict.
                "answers": [a.text for a in answers],
                "template": self.template.sha256,
                "listwise_template": self.listwise_template.sha256,
                "settings": self._semantic_settings,
            }
        )

    def _plan(self, prompt: str, answers: Sequence[Answer]) -> _Plan[Verdict]:
        # Checked before the plan starts, so that a bad request fails without a call.
        if len(answers) == 2:
            return self._compare_pair(prompt, answers[0], answers[1])
        if 2 < len(answers) <= MAX_ANSWERS:
            return self._compare_list(prompt, answers)
        raise PermanentError(f"this judge compares 2 to {MAX_ANSWERS} answers, got {len(answers)}")

    # -- the conversation ---------------------------------------------------------------

    def _ask(
        self,
        messages: list[dict[str, str]],
        parse: Callable[[str], _T | None],
        repair_text: str,
        expected: str,
    ) -> _Plan[tuple[_T, list[ChatReply]]]:
        """One call, and one repair turn if its verdict cannot be read; else an error."""
        replies = [(yield messages)]
        parsed = parse(replies[0].text)
        if parsed is None:
            # In the same conversation, so the judge keeps its reasoning.
            repair = [
                *messages,
                {"role": "assistant", "content": replies[0].text},
                {"role": "user", "content": repair_text},
            ]
            replies.append((yield repair))
            parsed = parse(replies[-1].text)
        if parsed is None:
            raise UnparseableVerdictError(
                f"judge output has no {expected} after one repair prompt",
                raw_outputs=[
                    RawOutput(call, reply.text)
                    for call, reply in zip(("judge", "repair"), replies, strict=True)
                ],
            )
        return parsed, replies

    @staticmethod
    def _raw(replies: Sequence[ChatReply]) -> str:
        return "\n--- repair ---\n".join(r.text for r in replies)

    def _verdict(
        self, ranking: Ranking, replies_usage: Mapping[str, int], **fields: Any
    ) -> Verdict:
        return Verdict(
            ranking=ranking,
            prompt_tokens=replies_usage["prompt_tokens"],
            completion_tokens=replies_usage["completion_tokens"],
            latency_ms=replies_usage["latency_ms"],
            cost=self.settings.price.cost(
                replies_usage["prompt_tokens"], replies_usage["completion_tokens"]
            ),
            **fields,
        )

    # -- pairwise -------------------------------------------------------------------------

    @property
    def _five_way(self) -> bool:
        return self.template.verdict_format == "pairwise_5way"

    def _compare_pair(self, prompt: str, first: Answer, second: Answer) -> _Plan[Verdict]:
        # Only the texts go in: Answer.author must never reach the judge.
        readings = [(yield from self._read(prompt, first.text, second.text, swapped=False))]
        if self.both_orders:
            try:
                swapped = yield from self._read(prompt, second.text, first.text, swapped=True)
            except UnparseableVerdictError as error:
                # What the judge said in the first order is part of the story: keep it too.
                swapped_outputs = [
                    RawOutput(f"answers swapped: {o.call}", o.text) for o in error.raw_outputs
                ]
                raise UnparseableVerdictError(
                    f"answers swapped: {error}",
                    raw_outputs=[
                        RawOutput("answers in order", readings[0].order.raw_output),
                        *swapped_outputs,
                    ],
                ) from None
            readings.append(swapped)
        extra: dict[str, object] = {
            "votes": [r.vote for r in readings],
            "template": self.template.name,
            "template_hash": self.template.sha256,
        }
        if self._five_way:
            ranking, probabilities = self._five_way_ranking(readings, first, second, extra), None
        else:
            ranking, probabilities = self._three_way_ranking(readings, extra)
        usage = {
            key: sum(getattr(r, key) for r in readings)
            for key in ("prompt_tokens", "completion_tokens", "latency_ms")
        }
        return self._verdict(
            ranking,
            usage,
            probabilities=probabilities,
            raw_output=self._join_raw(readings),
            extra=extra,
            orders=tuple(r.order for r in readings),
        )

    def _five_way_ranking(
        self,
        readings: Sequence[_Reading],
        first: Answer,
        second: Answer,
        extra: dict[str, object],
    ) -> Ranking:
        votes = [cast(FiveWayVerdict, r.vote) for r in readings]
        outcome = outcome_of(combined_score(votes, self.settings.order_disagreement))
        outcome = apply_length_penalty(
            outcome, (len(first.text), len(second.text)), self.settings.length_penalty_chars
        )
        extra["margin"] = outcome.margin
        extra["length_penalty_applied"] = outcome.length_penalty_applied
        return outcome.ranking

    def _three_way_ranking(
        self, readings: Sequence[_Reading], extra: dict[str, object]
    ) -> tuple[Ranking, dict[str, float] | None]:
        votes = [cast(PairwiseVerdict, r.vote) for r in readings]
        vote = votes[0] if len(votes) == 1 else combine_votes(votes[0], votes[1])
        if not self.settings.logprobs:
            return ranking_of(vote), None
        found = [r.probabilities for r in readings if r.probabilities is not None]
        if len(found) != len(readings):
            # Half a distribution would be biased towards the order that reported one.
            extra["probabilities_missing"] = True
            return ranking_of(vote), None
        probabilities = average_probabilities(found)
        if len(readings) == 2 and self.settings.order_disagreement == "average":
            vote = cast(PairwiseVerdict, most_likely(probabilities))
        return ranking_of(vote), probabilities

    def _read(
        self, question: str, answer_a: str, answer_b: str, *, swapped: bool
    ) -> _Plan[_Reading]:
        messages = render_pairwise(
            self.template, question=question, answer_a=answer_a, answer_b=answer_b
        )
        vote: str
        said_probabilities: dict[str, float] | None = None
        if self._five_way:
            found, replies = yield from self._ask(
                messages, parse_five_way_verdict, self.template.repair, "[[A>>B]]..[[B>>A]] verdict"
            )
            five = cast(FiveWayVerdict, found)  # mypy widens the Literal through the TypeVar
            said: str = five
            vote = unswap_five_way(five) if swapped else five
        else:
            found3, replies = yield from self._ask(
                messages, parse_pairwise_verdict, self.template.repair, "[[A]]/[[B]]/[[C]] verdict"
            )
            three = cast(PairwiseVerdict, found3)
            said = three
            vote = unswap(three) if swapped else three
            if self.settings.logprobs:
                said_probabilities = label_probabilities(replies[-1].logprobs, replies[-1].text)
        probabilities = said_probabilities
        if probabilities is not None and swapped:
            probabilities = swap_probabilities(probabilities)
        order = OrderVerdict(
            shown=(1, 0) if swapped else (0, 1),
            ranking=slot_ranking(said),
            label=said,
            probabilities=said_probabilities,
            raw_output=self._raw(replies),
        )
        return _Reading(vote=vote, probabilities=probabilities, order=order, **_usage(replies))

    @staticmethod
    def _join_raw(readings: Sequence[_Reading]) -> str:
        if len(readings) == 1:
            return readings[0].order.raw_output
        original, swapped = readings
        return (
            "=== order A,B ===\n"
            f"{original.order.raw_output}\n"
            "=== order B,A (answers swapped) ===\n"
            f"{swapped.order.raw_output}"
        )

    # -- listwise -------------------------------------------------------------------------

    def _compare_list(self, prompt: str, answers: Sequence[Answer]) -> _Plan[Verdict]:
        texts = [a.text for a in answers]
        order = presentation_order(
            prompt, texts, shuffle=self.settings.shuffle, seed=self.settings.seed
        )
        template: PromptTemplate = self.listwise_template
        messages = render_listwise(
            template, question=prompt, texts_in_order=[texts[i] for i in order]
        )
        labels = labels_for(len(answers))
        tiers, replies = yield from self._ask(
            messages,
            lambda text: parse_listwise_ranking(text, labels),
            repair_message(template, len(answers)),
            "[[RANKING: ...]] line naming every answer once",
        )
        letters = " > ".join(" = ".join(tier) for tier in tiers)
        slots = tuple(tuple(sorted(LETTERS.index(x) for x in tier)) for tier in tiers)
        said = OrderVerdict(
            shown=tuple(order), ranking=slots, label=letters, raw_output=self._raw(replies)
        )
        return self._verdict(
            ranking_from_letters(tiers, order),
            _usage(replies),
            raw_output=said.raw_output,
            orders=(said,),
            extra={
                "letter_ranking": letters,
                "presentation_order": order,
                "template": template.name,
                "template_hash": template.sha256,
            },
        )

    def close(self) -> None:
        self._endpoint.close()

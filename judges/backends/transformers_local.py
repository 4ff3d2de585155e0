"""Contestants and judges run in-process with Hugging Face ``transformers`` (extra ``local``).

For GPU machines that hold the weights themselves: a Contestant or Judge of kind
"transformers" names a model directory (or a hub name the machine has cached) in
``model_id``, and the Celery worker of the ``gpu`` queue loads it once per process and
keeps it (``celery worker -Q gpu -c <GPUs>``; give each worker its GPU with
``CUDA_VISIBLE_DEVICES``). Nothing here downloads at run time unless the transformers
cache is allowed to: set ``HF_HUB_OFFLINE=1`` on machines that must never reach the hub.

A judge keeps every behaviour of the API judge (templates and fencing, both orders,
5-way, listwise, repair prompt, logprob probabilities, verdict cache), because it runs
the same conversation plan (:class:`judges.backends.openai_judge.OpenAICompatJudge`)
through an in-process endpoint instead of HTTP. Two ways to get a verdict:

- ``verdict: "generate"``: the model writes its judgment, which is parsed as an API
  judge's would be (with token logprobs when ``logprobs`` is on);
- ``verdict: "score"`` (pairs only): no text is generated; the model's log-likelihood of
  each verdict label ("[[A]]", "[[B]]", "[[C]]", or the five 5-way labels) right after
  the prompt is computed in one batched forward pass, and the most likely label is the
  verdict. It cannot be unparseable, costs one forward pass instead of a decoding loop,
  and with ``logprobs`` on gives P(A), P(tie), P(B) over the labels (the
  distribution-sensitive scoring of TrustJudge). It skips the judge's written reasoning,
  so it suits models tuned to answer with the label.

torch and transformers are imported when a model is first used, so the web process can
build (and so validate) these backends without them installed.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, get_args

from judges.backends.base import (
    Answer,
    BackendError,
    Generation,
    PermanentError,
    TransientError,
)
from judges.backends.openai_http import ChatReply, _reject_unknown
from judges.backends.openai_judge import OpenAICompatJudge
from judges.costs import PRICE_KEYS, price_from_settings
from judges.logprobs import TokenLogprob
from judges.parsing import FiveWayVerdict

__all__ = [
    "LOCAL_KEYS",
    "LocalChatEndpoint",
    "LocalModel",
    "TransformersGenerator",
    "TransformersJudge",
    "load_local_model",
]

_EMPTY: Mapping[str, Any] = MappingProxyType({})

# Where and how the weights are loaded; accepted by contestants and judges alike.
LOCAL_KEYS = frozenset({"device", "dtype"})
_GENERATION_KEYS = frozenset({"temperature", "top_p", "max_tokens", "seed", "system"})
_DTYPES = ("auto", "float32", "float16", "bfloat16")
_VERDICT_MODES = ("generate", "score")

# The labels a scored verdict chooses from, by template format.
_THREE_WAY_LABELS = ("A", "B", "C")
_FIVE_WAY_LABELS: tuple[str, ...] = get_args(FiveWayVerdict)


def _require_torch() -> tuple[Any, Any]:
    try:
        import torch
        import transformers
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise PermanentError(
            "in-process models need the optional extra: pip install -e '.[local]'"
        ) from exc
    return torch, transformers


def _check_local(settings: Mapping[str, Any], what: str) -> tuple[str, str]:
    device = settings.get("device", "auto")
    if not isinstance(device, str) or not (
        device in ("auto", "cpu", "cuda", "mps") or device.startswith("cuda:")
    ):
        raise PermanentError(f"{what} 'device' must be auto, cpu, cuda, cuda:N or mps")
    dtype = settings.get("dtype", "auto")
    if dtype not in _DTYPES:
        raise PermanentError(f"{what} 'dtype' must be one of {', '.join(_DTYPES)}")
    return device, dtype


def _system_into_user(messages: Sequence[Mapping[str, str]]) -> list[dict[str, str]]:
    system = "\n\n".join(m["content"] for m in messages if m["role"] == "system")
    rest = [dict(m) for m in messages if m["role"] != "system"]
    if system and rest and rest[0]["role"] == "user":
        rest[0]["content"] = f"{system}\n\n{rest[0]['content']}"
    return rest


@contextmanager
def _backend_errors(name: str) -> Iterator[None]:
    """Model failures as the two kinds of backend error the tasks know how to handle.

    Running out of GPU memory can pass (other work on the device finishes): transient.
    Anything else the model or tokenizer raises will happen again on the same input."""
    try:
        yield
    except BackendError:
        raise
    except Exception as exc:
        torch = sys.modules.get("torch")
        if torch is not None and isinstance(exc, torch.cuda.OutOfMemoryError):
            raise TransientError(f"{name}: out of GPU memory") from exc
        raise PermanentError(f"{name}: {type(exc).__name__}: {exc}"[:500]) from exc


@dataclass
class LocalModel:
    """A loaded causal LM and its tokenizer. One call at a time: generation on one model
    from several threads would interleave on the device and the seed is process-wide."""

    name: str
    model: Any
    tokenizer: Any
    lock: threading.Lock

    @property
    def device(self) -> Any:
        return self.model.device

    def render(self, messages: Sequence[Mapping[str, str]]) -> tuple[str, bool]:
        """The prompt text, and whether the tokenizer should add its special tokens."""
        if getattr(self.tokenizer, "chat_template", None):
            try:
                text = self._apply_template(messages)
            except Exception:  # jinja's TemplateError, raised by the template itself
                # Some templates (Gemma's, Mistral's older ones) refuse a system turn: give
                # the instructions at the top of the first user turn instead.
                text = self._apply_template(_system_into_user(messages))
            return str(text), False  # the template already wrote BOS and role markers
        # A base model without a chat template: a plain transcript ending on the reply.
        lines = [f"{m['role'].capitalize()}: {m['content']}" for m in messages]
        return "\n\n".join([*lines, "Assistant:"]), True

    def _apply_template(self, messages: Sequence[Mapping[str, str]]) -> Any:
        return self.tokenizer.apply_chat_template(
            list(messages), add_generation_prompt=True, tokenize=False
        )

    def encode(self, messages: Sequence[Mapping[str, str]]) -> Any:
        text, special = self.render(messages)
        encoded = self.tokenizer(text, return_tensors="pt", add_special_tokens=special)
        return encoded.to(self.device)

    def generate(
        self,
        messages: Sequence[Mapping[str, str]],
        *,
        max_new_tokens: int,
        temperature: float = 0.0,
        top_p: float | None = None,
        seed: int | None = None,
        top_logprobs: int = 0,
    ) -> ChatReply:
        torch, _ = _require_torch()
        started = time.perf_counter()
        with self.lock, torch.inference_mode(), _backend_errors(self.name):
            inputs = self.encode(messages)
            if seed is not None:
                torch.manual_seed(seed)
            sampling: dict[str, Any] = {"do_sample": temperature > 0}
            if temperature > 0:
                sampling["temperature"] = temperature
                if top_p is not None:
                    sampling["top_p"] = top_p
            output = self.model.generate(
                **inputs,
                max_new_tokens=max_new_tokens,
                pad_token_id=self._pad_id(),
                return_dict_in_generate=True,
                output_logits=top_logprobs > 0,
                **sampling,
            )
        prompt_length = inputs["input_ids"].shape[1]
        new_ids = [int(i) for i in output.sequences[0, prompt_length:]]
        new_ids = self._until_eos(new_ids)
        logprobs = self._logprobs(output, new_ids, top_logprobs) if top_logprobs else ()
        text = (
            "".join(t.token for t in logprobs)
            if logprobs
            else self.tokenizer.decode(new_ids, skip_special_tokens=True)
        )
        return ChatReply(
            text=text,
            prompt_tokens=prompt_length,
            completion_tokens=len(new_ids),
            latency_ms=round((time.perf_counter() - started) * 1000),
            logprobs=logprobs,
        )

    def score(
        self, messages: Sequence[Mapping[str, str]], candidates: Sequence[str]
    ) -> tuple[list[float], int, int]:
        """Log-likelihood of each candidate continuation after the prompt, in one batch;
        also the prompt's and the longest candidate's token counts."""
        torch, _ = _require_torch()
        with self.lock, torch.inference_mode(), _backend_errors(self.name):
            prompt_ids = self.encode(messages)["input_ids"][0].tolist()
            options = [self.tokenizer(c, add_special_tokens=False)["input_ids"] for c in candidates]
            if any(not ids for ids in options):
                raise PermanentError(f"{self.name}: a verdict label encodes to no token")
            width = len(prompt_ids) + max(len(ids) for ids in options)
            pad = self._pad_id()
            rows = [
                prompt_ids + ids + [pad] * (width - len(prompt_ids) - len(ids)) for ids in options
            ]
            mask = [
                [1] * (len(prompt_ids) + len(ids)) + [0] * (width - len(prompt_ids) - len(ids))
                for ids in options
            ]
            logits = self.model(
                input_ids=torch.tensor(rows, device=self.device),
                attention_mask=torch.tensor(mask, device=self.device),
            ).logits.float()
            logp = torch.log_softmax(logits, dim=-1)
            totals = []
            for row, ids in enumerate(options):
                # The logits at position p predict the token at p + 1.
                start = len(prompt_ids) - 1
                picked = logp[row, start : start + len(ids)].gather(
                    1, torch.tensor(ids, device=self.device).unsqueeze(1)
                )
                totals.append(float(picked.sum()))
        return totals, len(prompt_ids), max(len(ids) for ids in options)

    def _pad_id(self) -> int:
        pad = self.tokenizer.pad_token_id
        return int(pad if pad is not None else (self.tokenizer.eos_token_id or 0))

    def _until_eos(self, ids: list[int]) -> list[int]:
        eos = self.tokenizer.eos_token_id
        return ids[: ids.index(eos)] if eos is not None and eos in ids else ids

    def _logprobs(self, output: Any, ids: Sequence[int], top: int) -> tuple[TokenLogprob, ...]:
        torch, _ = _require_torch()
        tokens = []
        # Raw logits (before temperature or top-p): the model's own distribution.
        for step, token_id in enumerate(ids):
            logp = torch.log_softmax(output.logits[step][0].float(), dim=-1)
            values, indices = torch.topk(logp, min(top, logp.shape[-1]))
            tokens.append(
                TokenLogprob(
                    token=self.tokenizer.decode([token_id]),
                    logprob=float(logp[token_id]),
                    top=tuple(
                        (self.tokenizer.decode([int(i)]), float(v))
                        for v, i in zip(values, indices, strict=True)
                    ),
                )
            )
        return tuple(tokens)


_LOADED: dict[tuple[str, str, str], LocalModel] = {}
_LOADING = threading.Lock()


def _resolve_device(torch: Any, device: str) -> str:
    if device != "auto":
        return device
    return "cuda" if torch.cuda.is_available() else "cpu"


def load_local_model(name: str, *, device: str = "auto", dtype: str = "auto") -> LocalModel:
    """The model at ``name`` (a directory, or a hub name already in the local cache),
    loaded once per process and kept: loading a real model takes seconds to minutes."""
    torch, transformers = _require_torch()
    key = (name, device, dtype)
    with _LOADING:
        loaded = _LOADED.get(key)
        if loaded is None:
            try:
                tokenizer = transformers.AutoTokenizer.from_pretrained(name)
                model = transformers.AutoModelForCausalLM.from_pretrained(
                    name, dtype=dtype if dtype == "auto" else getattr(torch, dtype)
                )
            except (OSError, ValueError) as exc:
                # No such directory, not a causal LM, or not in the cache while offline:
                # loading again will not change that.
                raise PermanentError(f"cannot load local model {name!r}: {exc}") from exc
            model.to(_resolve_device(torch, device))
            model.eval()
            loaded = LocalModel(name=name, model=model, tokenizer=tokenizer, lock=threading.Lock())
            _LOADED[key] = loaded
        return loaded


def forget_local_models() -> None:
    """Drop every loaded model (tests; a worker that must free its GPU)."""
    with _LOADING:
        _LOADED.clear()


class TransformersGenerator:
    """A contestant: one prompt in, one answer out, from an in-process model.

    ``generation`` keys: temperature (0 = greedy), top_p, max_tokens (new tokens, default
    512), seed, system, device, dtype, and prices (``price_in``/``price_out`` per million
    tokens, to account a GPU's cost if wanted)."""

    def __init__(self, *, model: str, generation: Mapping[str, Any] = _EMPTY) -> None:
        if not model:
            raise PermanentError("a transformers contestant needs model_id (a model directory)")
        _reject_unknown(
            generation, _GENERATION_KEYS | LOCAL_KEYS | set(PRICE_KEYS), "generation setting"
        )
        self.model_name = model
        self.device, self.dtype = _check_local(generation, "generation setting")
        self.price = price_from_settings(generation)
        self.temperature = float(generation.get("temperature", 0.0))
        top_p = generation.get("top_p")
        self.top_p = None if top_p is None else float(top_p)
        self.max_tokens = int(generation.get("max_tokens", 512))
        seed = generation.get("seed")
        self.seed = None if seed is None else int(seed)
        self.system: str | None = generation.get("system")

    def generate(self, prompt: str) -> Generation:
        local = load_local_model(self.model_name, device=self.device, dtype=self.dtype)
        messages = [{"role": "user", "content": prompt}]
        if self.system:
            messages.insert(0, {"role": "system", "content": self.system})
        reply = local.generate(
            messages,
            max_new_tokens=self.max_tokens,
            temperature=self.temperature,
            top_p=self.top_p,
            seed=self.seed,
        )
        return reply.generation(self.price)


class LocalChatEndpoint:
    """The chat endpoint of :class:`OpenAICompatJudge`, answered by an in-process model.

    ``params`` are the judge's request parameters; the private key ``verdict_labels``
    asks for a scored verdict among those labels instead of generated text."""

    def __init__(self, *, model: str, device: str, dtype: str) -> None:
        self.model = model
        self.device = device
        self.dtype = dtype

    def complete(
        self, messages: Sequence[Mapping[str, str]], params: Mapping[str, Any]
    ) -> ChatReply:
        local = load_local_model(self.model, device=self.device, dtype=self.dtype)
        labels = params.get("verdict_labels")
        if labels:
            return self._scored(local, messages, labels)
        return local.generate(
            messages,
            max_new_tokens=int(params.get("max_tokens", 1024)),
            temperature=float(params.get("temperature", 0.0)),
            seed=params.get("seed"),
            top_logprobs=int(params.get("top_logprobs", 0)) if params.get("logprobs") else 0,
        )

    @staticmethod
    def _scored(
        local: LocalModel, messages: Sequence[Mapping[str, str]], labels: Sequence[str]
    ) -> ChatReply:
        started = time.perf_counter()
        totals, prompt_tokens, label_tokens = local.score(messages, [f"[[{x}]]" for x in labels])
        best = max(range(len(labels)), key=lambda i: totals[i])
        # Shaped as the verdict token's logprobs, so judges.logprobs reads the label
        # distribution exactly as it reads an API's top_logprobs.
        tokens = (
            TokenLogprob("[[", 0.0),
            TokenLogprob(labels[best], totals[best], top=tuple(zip(labels, totals, strict=True))),
            TokenLogprob("]]", 0.0),
        )
        return ChatReply(
            text="".join(t.token for t in tokens),
            prompt_tokens=prompt_tokens,
            completion_tokens=label_tokens,
            latency_ms=round((time.perf_counter() - started) * 1000),
            logprobs=tokens,
        )

    def close(self) -> None:
        """Loaded models stay for the next match (see load_local_model)."""


class TransformersJudge(OpenAICompatJudge):
    """An LLM judge run in-process (see module doc). ``settings`` are an API judge's
    (judges.judge_settings) plus ``device``, ``dtype`` and ``verdict``."""

    def __init__(
        self, *, model: str, settings: Mapping[str, Any] = _EMPTY, cache_scope: str | None = None
    ) -> None:
        if not model:
            raise PermanentError("a transformers judge needs model_id (a model directory)")
        device, dtype = _check_local(settings, "judge setting")
        verdict = settings.get("verdict", "generate")
        if verdict not in _VERDICT_MODES:
            raise PermanentError("judge setting 'verdict' must be 'generate' or 'score'")
        judge_settings = {k: v for k, v in settings.items() if k not in {*LOCAL_KEYS, "verdict"}}
        super().__init__(
            # A pseudo URL: it keys the verdict cache and names the model in errors.
            base_url=f"transformers:{model}",
            model=model,
            settings={**judge_settings},
            cache_scope=cache_scope,
            endpoint=LocalChatEndpoint(model=model, device=device, dtype=dtype),
        )
        self.verdict_mode = verdict
        # The verdict mode changes what the judge says, so it is part of the cache key.
        self._semantic_settings = {**self._semantic_settings, "verdict": verdict}

    def _params_for(self, answers: Sequence[Answer]) -> Mapping[str, Any]:
        if self.verdict_mode != "score" or len(answers) != 2:
            return self.params  # a listwise ranking has too many outcomes to score
        labels = _FIVE_WAY_LABELS if self._five_way else _THREE_WAY_LABELS
        return {**self.params, "verdict_labels": labels}

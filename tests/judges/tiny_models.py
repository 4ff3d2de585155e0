"""Tiny, randomly initialised causal LMs and tokenizers, built and saved inside a test.

No download and no network: the tokenizer is made with the ``tokenizers`` library from a
word list, the model from a GPT-2 config of a few thousand parameters, and both are
saved to a directory that a Contestant's or Judge's ``model_id`` can name, so the real
loading code (``from_pretrained``) is what the tests exercise.

The tests that need them skip when torch or transformers are not installed (the extra
``local``), unless ARENA_REQUIRE_LOCAL_MODELS is set, as CI does: there a missing install
must fail, not skip.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from judges.prompts import load_template

# Nothing here may reach the model hub: the models are built on disk by the tests. Set
# before transformers is first imported, which is when huggingface_hub reads it.
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def require_local_models() -> tuple[Any, Any]:
    """(torch, transformers), or skip the calling module when they are not installed."""
    if os.environ.get("ARENA_REQUIRE_LOCAL_MODELS"):
        import torch
        import transformers

        return torch, transformers
    return pytest.importorskip("torch"), pytest.importorskip("transformers")


def _words() -> list[str]:
    # Every word of the judge templates, so the prompts tokenize to real ids, plus the
    # pieces of every verdict label.
    text = " ".join(
        load_template(name).system + " " + load_template(name).user
        for name in ("pairwise_3way", "pairwise_5way", "listwise")
    )
    extra = "[[ ]] A B C > >> = question answer explain recursion haiku rain"
    from tokenizers.pre_tokenizers import Whitespace

    pieces = [p for p, _ in Whitespace().pre_tokenize_str(text + " " + extra)]
    return sorted(set(pieces))


def _save_tokenizer(path: Path, vocab: dict[str, int], *, split_words: bool) -> Any:
    from tokenizers import Tokenizer
    from tokenizers.models import WordLevel
    from tokenizers.pre_tokenizers import Whitespace, WhitespaceSplit
    from transformers import PreTrainedTokenizerFast

    unk = "[UNK]" if "[UNK]" in vocab else next(iter(vocab))
    core = Tokenizer(WordLevel(vocab=vocab, unk_token=unk))
    core.pre_tokenizer = Whitespace() if split_words else WhitespaceSplit()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=core)
    tokenizer.save_pretrained(path)
    return tokenizer


def _save_model(path: Path, vocab_size: int, seed: int) -> None:
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(seed)  # the same random weights on every run
    config = GPT2Config(
        vocab_size=vocab_size, n_positions=4096, n_embd=16, n_layer=2, n_head=2, n_inner=32
    )
    GPT2LMHeadModel(config).save_pretrained(path)


def build_tiny_model(path: Path, seed: int = 0) -> Path:
    """A random model whose vocabulary covers the judge templates' words."""
    vocab = {"[UNK]": 0, **{w: i for i, w in enumerate(_words(), start=1)}}
    _save_tokenizer(path, vocab, split_words=True)
    _save_model(path, len(vocab), seed)
    return path


def build_says_a_model(path: Path) -> Path:
    """A random model that can only ever write "[[A]]": its vocabulary is that one token
    (and it is also the unknown token). A judge built on it always votes for the answer
    shown first, which makes the generate-and-parse path testable without training."""
    _save_tokenizer(path, {"[[A]]": 0}, split_words=False)
    _save_model(path, 1, seed=0)
    return path

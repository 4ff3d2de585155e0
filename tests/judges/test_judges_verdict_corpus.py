"""Every judge output in the corpus (tests/judges/data/verdicts/) reads as recorded."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from judges.parsing import (
    format_ranking,
    parse_five_way_verdict,
    parse_listwise_ranking,
    parse_pairwise_verdict,
)

CORPUS = Path(__file__).parent / "data" / "verdicts"
KINDS = ("pairwise", "five_way", "listwise")


def entries(kind: str) -> list[dict[str, Any]]:
    lines = (CORPUS / f"{kind}.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def cases(kind: str) -> list[Any]:
    return [pytest.param(entry, id=entry["id"]) for entry in entries(kind)]


@pytest.mark.parametrize("entry", cases("pairwise"))
def test_each_pairwise_judge_output_reads_as_recorded(entry: dict[str, Any]) -> None:
    assert parse_pairwise_verdict(entry["text"]) == entry["expected"], entry["why"]


@pytest.mark.parametrize("entry", cases("five_way"))
def test_each_five_way_judge_output_reads_as_recorded(entry: dict[str, Any]) -> None:
    assert parse_five_way_verdict(entry["text"]) == entry["expected"], entry["why"]


@pytest.mark.parametrize("entry", cases("listwise"))
def test_each_listwise_judge_output_reads_as_recorded(entry: dict[str, Any]) -> None:
    tiers = parse_listwise_ranking(entry["text"], tuple(entry["labels"]))
    assert (None if tiers is None else format_ranking(tiers)) == entry["expected"], entry["why"]


def test_every_entry_names_its_source_licence_kind_and_reason() -> None:
    for kind in KINDS:
        for entry in entries(kind):
            assert entry["source"] and entry["licence"] and entry["why"], entry["id"]
            assert entry["kind"] in {"quoted", "paraphrased", "synthetic"}, entry["id"]


def test_the_corpus_is_large_enough_and_holds_real_and_refused_replies_of_each_kind() -> None:
    everything = [entry for kind in KINDS for entry in entries(kind)]
    assert len(everything) >= 60
    assert len({entry["id"] for entry in everything}) == len(everything)
    for kind in KINDS:
        kinds = Counter(entry["kind"] for entry in entries(kind))
        assert kinds["quoted"] >= 1, kind
        assert sum(entry["expected"] is None for entry in entries(kind)) >= 3, kind

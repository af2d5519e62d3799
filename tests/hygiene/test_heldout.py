"""The scanner on our held-out set (tests/hygiene/heldout.jsonl): memories written for
this project from the data set README's definitions, not from dev.jsonl's wording. The
floors sit a little below today's figures, so a rule that stops generalising fails
here even while the dev set still scores."""

from __future__ import annotations

from pathlib import Path

import pytest

from apps.hygiene.evaluation import evaluate, read_cases

HELD_OUT = Path(__file__).with_name("heldout.jsonl")

# (line precision, line recall) floors per category.
FLOORS = {
    "secret": (0.95, 0.95),
    "pii": (0.93, 0.95),
    "injection": (0.95, 0.95),
}


@pytest.fixture(scope="module")
def figures() -> dict:
    return evaluate(read_cases(HELD_OUT)).figures()


def test_it_reads_every_held_out_line(figures):
    assert figures["lines"] == 164


@pytest.mark.parametrize("category", sorted(FLOORS))
def test_it_keeps_precision_and_recall_on_the_held_out_set(figures, category):
    precision, recall = FLOORS[category]
    assert figures[category]["precision"] >= precision, figures[category]
    assert figures[category]["recall"] >= recall, figures[category]


def test_it_finds_the_held_out_spans_not_only_the_lines(figures):
    for category in FLOORS:
        assert figures[category]["span_recall"] >= 0.95, (category, figures[category])

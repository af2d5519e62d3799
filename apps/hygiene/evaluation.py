"""Scoring the scanner against labelled memories (the format of
shared/datasets/hygiene/dev.jsonl), as that data set's README defines it.

Lines: a line is positive for a category when it has a gold label of that category,
and predicted positive when the scanner reports a finding of it. Spans: a prediction
is correct when it overlaps a gold span of its category on its line; a gold span is
found when some prediction of its category overlaps it. A ratio with nothing to count
(no predictions, or no gold positives) is reported as 1.0.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from apps.hygiene.findings import CATEGORIES, Finding
from apps.hygiene.scanner import scan


class BadData(ValueError):
    """The data file cannot be scored as it stands; the message names the line."""


@dataclass(frozen=True)
class Label:
    category: str
    type: str
    start: int
    end: int


@dataclass(frozen=True)
class Case:
    id: str
    content: str
    labels: tuple[Label, ...]
    line: int


def _label(raw: Any, content: str, where: str) -> Label:
    if not isinstance(raw, dict):
        raise BadData(f"{where}: each label must be an object")
    category, start, end = raw.get("category"), raw.get("start"), raw.get("end")
    if category not in CATEGORIES:
        raise BadData(f"{where}: unknown category {category!r} (expected one of {CATEGORIES})")
    if not (isinstance(start, int) and isinstance(end, int)) or isinstance(start, bool):
        raise BadData(f"{where}: label offsets must be integers")
    if not 0 <= start < end <= len(content):
        raise BadData(
            f"{where}: label offsets {start}-{end} do not fit the content "
            f"({len(content)} characters)"
        )
    return Label(category, str(raw.get("type", "")), start, end)


def parse_case(text: str, line: int) -> Case:
    where = f"line {line}"
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadData(f"{where}: not valid JSON ({exc.msg})") from None
    if not isinstance(raw, dict):
        raise BadData(f"{where}: expected a JSON object")
    content = raw.get("content")
    if not isinstance(content, str):
        raise BadData(f"{where}: 'content' must be a string")
    labels = raw.get("labels", [])
    if not isinstance(labels, list):
        raise BadData(f"{where}: 'labels' must be a list")
    where = f"line {line} ({raw.get('id', 'no id')})"
    return Case(
        id=str(raw.get("id", f"line-{line}")),
        content=content,
        labels=tuple(_label(label, content, where) for label in labels),
        line=line,
    )


def read_cases(path: Path) -> list[Case]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise BadData(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BadData(f"{path}: cannot be read ({exc})") from None
    cases = [parse_case(text, n) for n, text in enumerate(lines, 1) if text.strip()]
    if not cases:
        raise BadData(f"{path}: holds no cases")
    return cases


def _ratio(part: int, whole: int) -> float:
    return part / whole if whole else 1.0


@dataclass
class Tally:
    """Counts for one category."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    predicted_spans: int = 0
    correct_spans: int = 0
    gold_spans: int = 0
    found_spans: int = 0

    def add(self, gold: list[Label], predicted: list[Finding]) -> None:
        if gold and predicted:
            self.tp += 1
        elif predicted:
            self.fp += 1
        elif gold:
            self.fn += 1
        self.predicted_spans += len(predicted)
        self.correct_spans += sum(any(_overlaps(p, g) for g in gold) for p in predicted)
        self.gold_spans += len(gold)
        self.found_spans += sum(any(_overlaps(p, g) for p in predicted) for g in gold)

    def figures(self) -> dict[str, Any]:
        return {
            "precision": round(_ratio(self.tp, self.tp + self.fp), 4),
            "recall": round(_ratio(self.tp, self.tp + self.fn), 4),
            "span_precision": round(_ratio(self.correct_spans, self.predicted_spans), 4),
            "span_recall": round(_ratio(self.found_spans, self.gold_spans), 4),
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
        }


def _overlaps(finding: Finding, label: Label) -> bool:
    return finding.start < label.end and label.start < finding.end


@dataclass(frozen=True)
class Miss:
    """A line the scanner got wrong for one category, for people reading the report."""

    case: Case
    category: str
    kind: str  # "false positive" or "missed"
    spans: tuple[str, ...]


@dataclass
class Result:
    tallies: dict[str, Tally] = field(default_factory=lambda: {c: Tally() for c in CATEGORIES})
    lines: int = 0
    seconds: float = 0.0
    misses: list[Miss] = field(default_factory=list)

    def figures(self) -> dict[str, Any]:
        figures: dict[str, Any] = {c: self.tallies[c].figures() for c in CATEGORIES}
        figures["lines"] = self.lines
        figures["seconds"] = round(self.seconds, 4)
        figures["ms_per_line"] = round(1000 * self.seconds / self.lines, 4) if self.lines else 0
        return figures


def evaluate(cases: Iterable[Case], scanner: Callable[[str], list[Finding]] = scan) -> Result:
    result = Result()
    for case in cases:
        started = time.perf_counter()
        findings = scanner(case.content)
        result.seconds += time.perf_counter() - started
        result.lines += 1
        for category in CATEGORIES:
            gold = [label for label in case.labels if label.category == category]
            predicted = [f for f in findings if f.category == category]
            result.tallies[category].add(gold, predicted)
            if predicted and not gold:
                spans = tuple(f"{f.type}: {f.span(case.content)!r}" for f in predicted)
                result.misses.append(Miss(case, category, "false positive", spans))
            elif gold and not predicted:
                spans = tuple(f"{g.type}: {case.content[g.start : g.end]!r}" for g in gold)
                result.misses.append(Miss(case, category, "missed", spans))
    return result

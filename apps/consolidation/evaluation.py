"""Scoring consolidation against hand-labelled cases (the format of
shared/datasets/consolidation/dev.jsonl): pair-level precision and recall of merges
and supersessions, as that data set's README defines them."""

from __future__ import annotations

import itertools
import json
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils.dateparse import parse_datetime

from apps.audit.actors import Actor
from apps.consolidation.models import Operation, Proposal
from apps.spaces.models import Space

KINDS = ("fact", "preference", "episodic", "procedural")


def _groups(keys: list[str], merges: Iterable[list[str]]) -> dict[str, str]:
    parent = {k: k for k in keys}

    def root(x: str) -> str:
        while parent[x] != x:
            x = parent[x]
        return x

    for group in merges:
        for a, b in itertools.pairwise(group):
            parent[root(a)] = root(b)
    return {k: root(k) for k in keys}


def score_case(case: dict[str, Any], predicted: list[dict[str, Any]]) -> dict[str, int]:
    """Counts for one case; `predicted` holds ops in the `expect` format.

    A merge group predicts every pair in it; a supersede (old, new) is right when the
    expected ops imply it, merge groups counting as one memory and supersede being
    transitive (a→b and b→c imply a→c). The wrong direction is wrong.
    """
    keys = [m["key"] for m in case["memories"]]
    expected = case["expect"]
    group = _groups(keys, [e["memories"] for e in expected if e["op"] == "merge"])
    implied = {(group[e["old"]], group[e["new"]]) for e in expected if e["op"] == "supersede"}
    while True:
        more = {(a, d) for a, b in implied for c, d in implied if b == c} - implied
        if not more:
            break
        implied |= more
    predicted_group = _groups(keys, [e["memories"] for e in predicted if e["op"] == "merge"])
    supersedes = [(e["old"], e["new"]) for e in predicted if e["op"] == "supersede"]
    merge_pairs = [
        pair
        for e in predicted
        if e["op"] == "merge"
        for pair in itertools.combinations(e["memories"], 2)
    ]
    counts = {
        "m_tp": sum(group[x] == group[y] for x, y in merge_pairs),
        "s_tp": sum((group[x], group[y]) in implied for x, y in supersedes),
    }
    counts["m_fp"] = len(merge_pairs) - counts["m_tp"]
    counts["s_fp"] = len(supersedes) - counts["s_tp"]
    expected_merges = [
        pair
        for e in expected
        if e["op"] == "merge"
        for pair in itertools.combinations(e["memories"], 2)
    ]
    expected_supersedes = [(e["old"], e["new"]) for e in expected if e["op"] == "supersede"]
    counts["m_exp"] = len(expected_merges)
    counts["m_found"] = sum(predicted_group[x] == predicted_group[y] for x, y in expected_merges)
    counts["s_exp"] = len(expected_supersedes)
    counts["s_found"] = sum(
        any(group[x] == group[old] and group[y] == group[new] for x, y in supersedes)
        for old, new in expected_supersedes
    )
    return counts


def _ratio(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 1.0


@dataclass
class Tally:
    """Counts summed over cases, read out as precision and recall."""

    counts: dict[str, int] = field(default_factory=dict)
    cases: int = 0
    no_change_cases: int = 0
    no_change_clean: int = 0
    fully_right: int = 0

    def add(self, case: dict[str, Any], counts: dict[str, int]) -> None:
        for key, value in counts.items():
            self.counts[key] = self.counts.get(key, 0) + value
        self.cases += 1
        changed = counts["m_tp"] + counts["m_fp"] + counts["s_tp"] + counts["s_fp"]
        if not any(e["op"] in ("merge", "supersede") for e in case["expect"]):
            self.no_change_cases += 1
            self.no_change_clean += changed == 0
        self.fully_right += (
            counts["m_fp"] == 0
            and counts["s_fp"] == 0
            and counts["m_found"] == counts["m_exp"]
            and counts["s_found"] == counts["s_exp"]
        )

    def figures(self) -> dict[str, Any]:
        c = self.counts

        def op(prefix: str) -> dict[str, float]:
            tp, fp = c.get(f"{prefix}_tp", 0), c.get(f"{prefix}_fp", 0)
            precision = _ratio(tp, tp + fp)
            recall = _ratio(c.get(f"{prefix}_found", 0), c.get(f"{prefix}_exp", 0))
            f1 = (
                round(2 * precision * recall / (precision + recall), 4)
                if precision + recall
                else 0.0
            )
            return {"precision": precision, "recall": recall, "f1": f1}

        return {
            "merge": op("m"),
            "supersede": op("s"),
            "false_change_rate": round(1 - self.no_change_clean / self.no_change_cases, 4)
            if self.no_change_cases
            else 0.0,
            "no_change_clean": [self.no_change_clean, self.no_change_cases],
            "fully_right": [self.fully_right, self.cases],
            "cases": self.cases,
        }


class BadCases(ValueError):
    """A cases file that cannot be read: the message names the line and the problem."""


def read_cases(path: Path) -> list[dict[str, Any]]:
    """The cases of a JSONL file, checked: every memory has a key, content, a known kind
    and a time; every expected op names memories of its case."""
    if not path.is_file():
        raise BadCases(f"no cases file at {path}")
    cases = []
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                case = json.loads(line)
            except json.JSONDecodeError as exc:
                raise BadCases(f"line {number}: not JSON ({exc.msg})") from None
            cases.append(_checked(case, f"line {number}"))
    if not cases:
        raise BadCases(f"{path} holds no cases")
    return cases


def _checked(case: Any, where: str) -> dict[str, Any]:
    if not isinstance(case, dict):
        raise BadCases(f"{where}: a case is a JSON object")
    memories = case.get("memories")
    if not isinstance(memories, list) or len(memories) < 2:
        raise BadCases(f"{where}: 'memories' must list at least two memories")
    keys = set()
    for memory in memories:
        if not isinstance(memory, dict) or not isinstance(memory.get("key"), str):
            raise BadCases(f"{where}: every memory needs a 'key'")
        if not isinstance(memory.get("content"), str) or not memory["content"].strip():
            raise BadCases(f"{where}: memory {memory['key']!r} has no content")
        if memory.get("kind", "fact") not in KINDS:
            raise BadCases(
                f"{where}: memory {memory['key']!r} has an unknown kind {memory.get('kind')!r}"
                f" (one of {', '.join(KINDS)})"
            )
        when = memory.get("occurred_at")
        if when is not None and (not isinstance(when, str) or parse_datetime(when) is None):
            raise BadCases(f"{where}: memory {memory['key']!r} has a bad occurred_at {when!r}")
        if memory["key"] in keys:
            raise BadCases(f"{where}: the key {memory['key']!r} is used twice")
        keys.add(memory["key"])
    expect = case.get("expect", [])
    if not isinstance(expect, list):
        raise BadCases(f"{where}: 'expect' must be a list")
    for op in expect:
        named = (
            op.get("memories", [])
            if isinstance(op, dict) and op.get("op") in ("merge", "link")
            else [op.get("old"), op.get("new")]
            if isinstance(op, dict) and op.get("op") == "supersede"
            else None
        )
        if named is None:
            raise BadCases(f"{where}: an expected op must be merge, supersede or link")
        if not all(key in keys for key in named):
            raise BadCases(f"{where}: an expected {op['op']} names a memory the case lacks")
    return {
        **case,
        "id": str(case.get("id", where)),
        "type": str(case.get("type", "")),
        "expect": expect,
    }


ACTOR = Actor.system("eval-consolidation")


def predict(case: dict[str, Any]) -> list[dict[str, Any]]:
    """What consolidation proposes for one case: its memories go into a fresh space
    through the service layer, are embedded by the embedding job's code with the
    configured backend, and every operation runs with the shipped defaults.

    All of it happens in one transaction that is rolled back: nothing is left behind,
    and the embedding job the writes would queue on commit is never queued.
    """
    from apps.consolidation.services import consolidate
    from apps.memories import services
    from apps.retrieval.tasks import embed_all_pending

    with transaction.atomic():
        space = Space.objects.create(
            slug=f"eval-consolidation-{uuid.uuid4().hex[:12]}",
            name=f"Consolidation eval {case['id']}",
        )
        items = [
            {
                "content": memory["content"],
                "kind": memory.get("kind", "fact"),
                "subject": memory.get("subject", ""),
                **(
                    {"occurred_at": parse_datetime(memory["occurred_at"])}
                    if memory.get("occurred_at")
                    else {}
                ),
            }
            for memory in case["memories"]
        ]
        created = services.create_memories(space, ACTOR, items)
        key_of = {
            str(memory.pk): spec["key"]
            for memory, spec in zip(created, case["memories"], strict=True)
        }
        embed_all_pending(space)
        consolidate(space)
        predicted: list[dict[str, Any]] = []
        for proposal in Proposal.objects.for_space(space).filter(
            operation__in=[Operation.MERGE, Operation.SUPERSEDE]
        ):
            if proposal.operation == Operation.MERGE:
                members = [key_of[str(pk)] for pk in proposal.memory_ids]
                predicted.append({"op": "merge", "memories": sorted(members)})
            else:
                predicted.append(
                    {
                        "op": "supersede",
                        "old": key_of[proposal.change["superseded"]],
                        "new": key_of[proposal.change["by"]],
                    }
                )
        transaction.set_rollback(True)
    return predicted


@dataclass
class Evaluation:
    overall: Tally
    by_type: dict[str, Tally]
    seconds: float
    backend: str

    def figures(self) -> dict[str, Any]:
        """The command's JSON: precision and recall per op, the false-change rate, the
        number of cases and the seconds per case."""
        figures = self.overall.figures()
        return {
            "merge": {k: figures["merge"][k] for k in ("precision", "recall")},
            "supersede": {k: figures["supersede"][k] for k in ("precision", "recall")},
            "false_change_rate": figures["false_change_rate"],
            "cases": figures["cases"],
            "seconds": round(self.seconds / max(self.overall.cases, 1), 3),
        }


def evaluate(cases: list[dict[str, Any]], second_opinion: bool = False) -> Evaluation:
    """Score consolidation on `cases`; with `second_opinion` the configured chat model
    may veto candidates, otherwise no language model is asked."""
    from django.test.utils import override_settings

    from apps.retrieval.embedding import get_backend

    overall, by_type = Tally(), dict[str, Tally]()
    started = time.perf_counter()
    chat_model = settings.OPENAI_CHAT_MODEL if second_opinion else ""
    with override_settings(OPENAI_CHAT_MODEL=chat_model):
        for case in cases:
            counts = score_case(case, predict(case))
            overall.add(case, counts)
            by_type.setdefault(case["type"] or "-", Tally()).add(case, counts)
    return Evaluation(overall, by_type, time.perf_counter() - started, get_backend().name)

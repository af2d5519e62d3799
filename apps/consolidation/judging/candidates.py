"""The pairs worth judging in a space: active memories about the same subject that are
among each other's nearest in meaning, read at their current versions."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.db.models import BooleanField, ExpressionWrapper, Q

from apps.consolidation.judging.grouping import Decisions, checked, decide
from apps.consolidation.judging.verdict import Statement, Verdict, judge, relatives_named
from apps.consolidation.services.proposals import BLOCK, normalized, unit_vectors
from apps.memories.models import Kind, Memory
from apps.spaces.models import Space

# Below this similarity two statements are on different topics, whatever their words.
CANDIDATE_SIMILARITY = 0.4
# Each memory's nearest of the same subject: a subject with thousands of memories
# would otherwise pair everyone with everyone.
CANDIDATE_NEIGHBOURS = 10


@dataclass
class Judged:
    statements: dict[str, Statement]
    versions: dict[str, int]
    decisions: Decisions


def subject_key(subject: str) -> str:
    return " ".join(subject.casefold().split())


def load_statements(
    space: Space, ids: Iterable[str] | None = None
) -> tuple[dict[str, Statement], dict[str, int]]:
    """Active memories (not summaries, which follow their members) as statements, with
    their versions; the relatives each subject's memories name are known to all."""
    memories = Memory.objects.for_space(space).active().exclude(kind=Kind.SUMMARY)
    wanted = memories.filter(pk__in=list(ids)) if ids is not None else memories
    rows = list(
        wanted.values_list(
            "pk", "content", "subject", "kind", "occurred_at", "created_at", "version"
        )
    )
    subjects = {subject for _, _, subject, *_ in rows}
    relatives: dict[str, set[str]] = defaultdict(set)
    source = memories.filter(subject__in=subjects) if ids is not None else memories
    for content, subject in source.exclude(subject="").values_list("content", "subject"):
        relatives[subject_key(subject)] |= relatives_named(content, subject)
    statements = {
        str(pk): Statement(
            str(pk),
            content,
            subject,
            kind,
            occurred or created,
            created,
            frozenset(relatives[subject_key(subject)]),
        )
        for pk, content, subject, kind, occurred, created, _ in rows
    }
    return statements, {str(pk): version for pk, *_, version in rows}


def candidate_pairs(space: Space, statements: dict[str, Statement]) -> list[tuple[str, str, float]]:
    """(a, b, similarity) for the same subject's nearest neighbours; texts equal but for
    case and punctuation are a pair at 1.0, embedded or not."""
    by_subject: dict[str, list[str]] = defaultdict(list)
    for pk, statement in statements.items():
        by_subject[subject_key(statement.subject)].append(pk)
    ids, unit = unit_vectors(space, set(statements))
    row_of = {pk: i for i, pk in enumerate(ids)}
    pairs: dict[frozenset[str], tuple[str, str, float]] = {}
    # The same text is a pair whatever the embeddings say, a blank subject matching any.
    same_text: dict[str, list[str]] = defaultdict(list)
    for pk in sorted(statements):
        same_text[normalized(statements[pk].content)].append(pk)
    for twins in same_text.values():
        for i, a in enumerate(twins):
            for b in twins[i + 1 :]:
                keys = {subject_key(statements[a].subject), subject_key(statements[b].subject)}
                if len(keys) == 1 or "" in keys:
                    pairs[frozenset((a, b))] = (a, b, 1.0)
    for members in by_subject.values():
        embedded = [pk for pk in members if pk in row_of]
        if len(embedded) < 2:
            continue
        vectors = unit[[row_of[pk] for pk in embedded]]
        k = min(CANDIDATE_NEIGHBOURS, len(embedded) - 1)
        for start in range(0, len(embedded), BLOCK):
            similar = vectors[start : start + BLOCK] @ vectors.T
            block = np.arange(similar.shape[0])
            similar[block, start + block] = -1.0  # not itself
            nearest = np.argpartition(-similar, k - 1, axis=1)[:, :k]
            for row in block.tolist():
                for col in nearest[row].tolist():
                    score = float(similar[row, col])
                    pair = frozenset((embedded[start + row], embedded[col]))
                    if score >= CANDIDATE_SIMILARITY and pair not in pairs:
                        pairs[pair] = (embedded[start + row], embedded[col], score)
    return list(pairs.values())


# The last space judged: a run proposes merges, then supersessions, from one judgement
# while nothing changed in between (any write changes a version or an embedding).
_last: dict[str, Any] = {}


def _state(space: Space) -> tuple[Any, ...]:
    rows = (
        Memory.objects.for_space(space)
        .active()
        .order_by("pk")
        .values_list(
            "pk",
            "version",
            ExpressionWrapper(Q(embedding__isnull=True), output_field=BooleanField()),
        )
    )
    return (space.pk, hash(tuple(rows)))


def judge_space(space: Space, check: Callable[[Verdict], bool | None] | None = None) -> Judged:
    """Every merge and supersession the space's active memories call for."""
    key = (*_state(space), check)
    last = _last.get("entry")
    if last is not None and last[0] == key:
        judged: Judged = last[1]
        return judged
    statements, versions = load_statements(space)
    decisions = decide(statements, candidate_pairs(space, statements), check)
    judged = Judged(statements, versions, decisions)
    _last["entry"] = (key, judged)  # one assignment: a reader sees a whole entry
    return judged


@dataclass
class PairVerdicts:
    statements: dict[str, Statement]
    versions: dict[str, int]
    verdicts: dict[frozenset[str], Verdict]


def judge_pairs(
    space: Space, ids: list[str], check: Callable[[Verdict], bool | None] | None = None
) -> PairVerdicts | str:
    """The verdict on every pair of these memories at their current versions (a text
    edited since its embedding is embedded afresh, and nothing stored); the reason in
    words when one of them is no longer active."""
    from apps.consolidation.services.recheck import current_vectors

    statements, versions = load_statements(space, ids)
    gone = [pk for pk in ids if pk not in statements]
    if gone:
        return "a memory it names is no longer active"
    vectors = current_vectors(space, ids)
    verdicts: dict[frozenset[str], Verdict] = {}
    for i, a in enumerate(ids):
        for b in ids[i + 1 :]:
            if normalized(statements[a].content) == normalized(statements[b].content):
                similarity = 1.0
            else:
                similarity = float(vectors[a] @ vectors[b])
            verdict = judge(statements[a], statements[b], similarity)
            verdicts[frozenset((a, b))] = checked(verdict, check)
    return PairVerdicts(statements, versions, verdicts)

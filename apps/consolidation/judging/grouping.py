"""From pair verdicts to proposals: merge groups whose every pair says the same thing,
and for each newer statement the older one(s) it most plainly replaces."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from apps.consolidation.judging.verdict import MERGE, SUPERSEDE, Statement, Verdict, judge

# A newer statement that says it changed replaces the slot it is closest to; others
# within this much of the best are the same slot told twice (a merge group).
SUPERSEDE_MARGIN = 0.1


@dataclass
class Decisions:
    merges: list[list[Verdict]]  # per group, the verdicts of its pairs
    supersessions: list[Verdict]


def checked(verdict: Verdict, check: Callable[[Verdict], bool | None] | None) -> Verdict:
    """The verdict after a second opinion (a language model) on a proposed change: a
    veto turns it into no change, with the reason said; no answer leaves it as it is."""
    if verdict.op is None or check is None:
        return verdict
    answer = check(verdict)
    if answer is None:
        verdict.evidence["second_opinion"] = "unavailable"
        return verdict
    if answer:
        verdict.evidence["second_opinion"] = "confirmed"
        return verdict
    verdict.evidence["second_opinion"] = "vetoed"
    verdict.reason = f"a second opinion vetoed it ({verdict.reason})"
    verdict.op = None
    return verdict


def decide(
    statements: dict[str, Statement],
    pairs: Iterable[tuple[str, str, float]],
    check: Callable[[Verdict], bool | None] | None = None,
) -> Decisions:
    """Judge each candidate pair (a, b, similarity) and keep what a curator should see.

    `check`, when given, is asked about each proposed change and may veto it.
    """
    verdicts: dict[frozenset[str], Verdict] = {}
    for a, b, similarity in pairs:
        key = frozenset((a, b))
        if a != b and key not in verdicts:
            verdicts[key] = checked(judge(statements[a], statements[b], similarity), check)

    # Merge groups, best pairs first; a group grows only if every pair in it is a merge.
    group_of = {pk: frozenset((pk,)) for pk in statements}
    for verdict in sorted((v for v in verdicts.values() if v.op == MERGE), key=lambda v: -v.score):
        left, right = group_of[verdict.older.id], group_of[verdict.newer.id]
        if left == right:
            continue
        cross = [verdicts.get(frozenset((x, y))) for x in left for y in right]
        if all(v is not None and v.op == MERGE for v in cross):
            joined = left | right
            for pk in joined:
                group_of[pk] = joined
    merges = []
    for group in {g for g in group_of.values() if len(g) > 1}:
        members = sorted(group)
        merges.append(
            [verdicts[frozenset((x, y))] for i, x in enumerate(members) for y in members[i + 1 :]]
        )

    best: dict[str, float] = {}
    candidates = [v for v in verdicts.values() if v.op == SUPERSEDE]
    for verdict in candidates:
        best[verdict.newer.id] = max(best.get(verdict.newer.id, 0.0), verdict.score)
    kept = [v for v in candidates if v.score >= best[v.newer.id] - SUPERSEDE_MARGIN]
    # a→b and b→c make a→c redundant: b already replaced a.
    steps = {(v.older.id, v.newer.id) for v in kept}
    supersessions = [
        v
        for v in kept
        if not any((v.older.id, m) in steps and (m, v.newer.id) in steps for m in statements)
    ]
    supersessions.sort(key=lambda v: (v.older.id, v.newer.id))
    return Decisions(merges, supersessions)

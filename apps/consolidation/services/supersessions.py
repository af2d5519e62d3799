"""Outdated facts: a later statement about the same subject that replaces an
earlier one."""

import re
from typing import Any

import numpy as np

from apps.consolidation.models import Operation, Proposal
from apps.consolidation.services.proposals import BLOCK, propose, unit_vectors
from apps.memories.models import Kind, Memory
from apps.spaces.models import Space

SUPERSEDE_SIMILARITY = 0.7
SUPERSEDE_NEIGHBOURS = 5
# What happened stays true when something else happens later: only statements of how
# things are can be superseded, never episodes (nor summaries, which follow members).
SUPERSEDABLE_KINDS = (Kind.FACT, Kind.PREFERENCE, Kind.PROCEDURAL)


_NUMBER = re.compile(r"\b\d+(?:[.,:]\d+)*\b")
_NEGATION = re.compile(r"\b(?:not|no|never|none|nobody|nothing|n't|cannot|stopped|quit)\b|n't\b")
_NAME = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-ZÀ-Ý][\w-]+")


def differing_values(older: str, newer: str) -> dict[str, Any]:
    """What two similar statements disagree on: numbers (and dates, times), negation,
    or the names they mention. Empty when they agree on all three."""
    found: dict[str, Any] = {}
    old_numbers, new_numbers = _NUMBER.findall(older), _NUMBER.findall(newer)
    if old_numbers != new_numbers and (old_numbers or new_numbers):
        found["numbers"] = {"before": old_numbers, "after": new_numbers}
    if bool(_NEGATION.search(older.casefold())) != bool(_NEGATION.search(newer.casefold())):
        found["negation"] = {"before": bool(_NEGATION.search(older.casefold()))}
    old_names, new_names = set(_NAME.findall(older)), set(_NAME.findall(newer))
    if old_names != new_names and old_names and new_names:
        found["names"] = {
            "before": sorted(old_names - new_names),
            "after": sorted(new_names - old_names),
        }
    return found


def propose_supersessions(space: Space, low: float = SUPERSEDE_SIMILARITY) -> list[Proposal]:
    """Pairs of active statements (not episodes) about the same subject that say nearly
    the same thing (similarity at least `low`) and differ in a value, the later one (by when it
    happened, else when it was recorded) replacing the earlier."""
    rows = {
        str(pk): (subject, content, version, occurred or created)
        for pk, subject, content, version, occurred, created in Memory.objects.for_space(space)
        .active()
        .filter(kind__in=SUPERSEDABLE_KINDS)
        .exclude(subject="")
        .values_list("pk", "subject", "content", "version", "occurred_at", "created_at")
    }
    ids, unit = unit_vectors(space, set(rows))
    made = []
    for start in range(0, len(ids), BLOCK):
        similar = unit[start : start + BLOCK] @ unit.T
        block = np.arange(similar.shape[0])
        similar[block, start + block] = -1.0  # not itself
        # Each memory's few nearest only: a dense topic would otherwise pair everyone.
        nearest = np.argpartition(
            -similar, min(SUPERSEDE_NEIGHBOURS, similar.shape[1] - 1), axis=1
        )[:, :SUPERSEDE_NEIGHBOURS]
        pairs = [
            (row, int(col))
            for row in block.tolist()
            for col in nearest[row]
            if similar[row, col] >= low
        ]
        for row, col in pairs:
            a, b = ids[start + row], ids[col]
            if rows[a][0] != rows[b][0]:
                continue  # only the same subject
            older, newer = sorted((a, b), key=lambda pk: (rows[pk][3], pk))
            values = differing_values(rows[older][1], rows[newer][1])
            if not values:
                continue
            proposal = propose(
                space,
                Operation.SUPERSEDE,
                [older, newer],
                [rows[older][2], rows[newer][2]],
                {"superseded": older, "by": newer},
                {"similarity": round(float(similar[row, col]), 4), "differs": values},
                score=round(float(similar[row, col]), 4),
            )
            if proposal:
                made.append(proposal)
    return made

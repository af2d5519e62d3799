"""Near-duplicates: memories that say the same thing, proposed as one merge."""

from dataclasses import dataclass
from typing import Any

import numpy as np

from apps.consolidation.models import Operation, Proposal
from apps.consolidation.services.proposals import BLOCK, normalized, propose, unit_vectors
from apps.consolidation.services.supersessions import differing_values
from apps.memories.models import Memory
from apps.spaces.models import Space

DUPLICATE_SIMILARITY = 0.95


@dataclass
class DuplicateGroup:
    members: list[str]
    versions: list[int]
    longest: str  # the most complete text of the group
    evidence: dict[str, Any]


def duplicate_groups(space: Space, threshold: float = DUPLICATE_SIMILARITY) -> list[DuplicateGroup]:
    """Groups of active memories that say the same thing, with their evidence."""
    active = {
        str(pk): (content, version)
        for pk, content, version in Memory.objects.for_space(space)
        .active()
        .values_list("pk", "content", "version")
    }
    parent = {pk: pk for pk in active}

    def root(pk: str) -> str:
        while parent[pk] != pk:
            parent[pk] = parent[parent[pk]]
            pk = parent[pk]
        return pk

    best: dict[frozenset[str], float] = {}
    by_text: dict[str, str] = {}
    for pk, (content, _) in active.items():
        key = normalized(content)
        if key in by_text:
            parent[root(pk)] = root(by_text[key])
            best[frozenset((pk, by_text[key]))] = 1.0
        else:
            by_text[key] = pk
    ids, unit = unit_vectors(space, set(active))
    if len(ids) > 1:
        for start in range(0, len(ids), BLOCK):
            similar = unit[start : start + BLOCK] @ unit.T
            rows, cols = np.nonzero(similar >= threshold)
            for row, col in zip(rows.tolist(), cols.tolist(), strict=True):
                a, b = start + row, col
                # Close in meaning but not in value ("on the 11th" / "on the 18th"): a
                # supersession candidate, never a merge that would lose the difference.
                if a < b and not differing_values(active[ids[a]][0], active[ids[b]][0]):
                    parent[root(ids[a])] = root(ids[b])
                    pair = frozenset((ids[a], ids[b]))
                    best[pair] = max(best.get(pair, 0.0), float(similar[row, col]))
    groups: dict[str, list[str]] = {}
    for pk in active:
        groups.setdefault(root(pk), []).append(pk)
    found = []
    for members in groups.values():
        if len(members) < 2:
            continue
        members.sort()
        pairs = {pair: s for pair, s in best.items() if pair <= set(members)}
        evidence = {
            "similarities": [
                {"a": a, "b": b, "similarity": round(s, 4)}
                for (a, b), s in ((tuple(sorted(p)), s) for p, s in pairs.items())
            ],
            "same_text": len({normalized(active[m][0]) for m in members}) == 1,
        }
        found.append(
            DuplicateGroup(
                members,
                [active[m][1] for m in members],
                max((active[m][0] for m in members), key=len),
                evidence,
            )
        )
    return found


def propose_merges(space: Space, threshold: float = DUPLICATE_SIMILARITY) -> list[Proposal]:
    made = []
    for group in duplicate_groups(space, threshold):
        similarities = [pair["similarity"] for pair in group.evidence["similarities"]] or [1.0]
        proposal = propose(
            space,
            Operation.MERGE,
            group.members,
            group.versions,
            {"content": group.longest},
            group.evidence,
            score=round(sum(similarities) / len(similarities), 4),
        )
        if proposal:
            made.append(proposal)
    return made

"""Related memories: each memory's nearest neighbours, proposed as links."""

from uuid import UUID

import numpy as np

from apps.consolidation.models import Operation, Proposal
from apps.consolidation.services.proposals import BLOCK, propose, unit_vectors
from apps.memories.models import Link, LinkType, Memory
from apps.spaces.models import Space

LINK_SIMILARITY = 0.75

LINK_NEIGHBOURS = 5


def propose_links(
    space: Space, k: int = LINK_NEIGHBOURS, threshold: float = LINK_SIMILARITY
) -> list[Proposal]:
    """For each active memory not yet considered, its `k` nearest active memories at or
    above `threshold` (A-MEM's note links), as one `related_to` proposal per memory.
    Only memories without a link proposal are looked at: new memories, incrementally."""
    versions = {
        str(pk): version
        for pk, version in Memory.objects.for_space(space).active().values_list("pk", "version")
    }
    considered = {
        str(ids[0])
        for ids in Proposal.objects.for_space(space)
        .filter(operation=Operation.LINK)
        .values_list("memory_ids", flat=True)
    }
    ids, unit = unit_vectors(space, set(versions))
    fresh = [i for i, pk in enumerate(ids) if pk not in considered]
    linked = set(
        Link.objects.for_space(space)
        .filter(type=LinkType.RELATED_TO)
        .values_list("source_id", "target_id")
    )
    made = []
    for start in range(0, len(fresh), BLOCK):
        rows = fresh[start : start + BLOCK]
        similar = unit[rows] @ unit.T
        similar[np.arange(len(rows)), rows] = -1.0  # not itself
        # The k best of each row without sorting the whole row (100k columns).
        best = np.argpartition(-similar, min(k, similar.shape[1] - 1), axis=1)[:, :k]
        for offset, row in enumerate(rows):
            nearest = best[offset][np.argsort(-similar[offset, best[offset]])]
            neighbours = [
                (ids[j], round(float(similar[offset, j]), 4))
                for j in nearest
                if similar[offset, j] >= threshold
                and (UUID(ids[row]), UUID(ids[j])) not in linked
                and (UUID(ids[j]), UUID(ids[row])) not in linked
            ]
            if not neighbours:
                continue
            proposal = propose(
                space,
                Operation.LINK,
                [ids[row]],
                [versions[ids[row]]],
                {"related_to": [pk for pk, _ in neighbours]},
                {"similarities": dict(neighbours)},
                score=max(similarity for _, similarity in neighbours),
            )
            if proposal:
                made.append(proposal)
    return made


# Whole numbers only: the digits inside a name or code ("w123", "B2") are not values.

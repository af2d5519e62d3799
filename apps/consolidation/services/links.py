"""Related memories: each memory's nearest neighbours, proposed as links, one proposal
per unordered pair."""

from collections.abc import Iterable

import numpy as np
from django.db.models import Q

from apps.consolidation.models import Operation, Proposal
from apps.consolidation.services.proposals import BLOCK, Recheck, propose, unit_vectors
from apps.consolidation.services.recheck import current_vectors, label
from apps.memories.models import Link, Memory, Status
from apps.spaces.models import Space

LINK_SIMILARITY = 0.75

LINK_NEIGHBOURS = 5

# A merge or a supersession says more about a pair than "related": while one is
# proposed (or done), a link between the two would only repeat it.
_SAYS_MORE = (Operation.MERGE, Operation.SUPERSEDE)
_SILENT = (Proposal.Status.REJECTED, Proposal.Status.RETIRED)

Pair = tuple[str, str]


def _pair(a: str, b: str) -> Pair:
    return (a, b) if a < b else (b, a)


def spoken_for(space: Space, among: Iterable[str] | None = None) -> set[Pair]:
    """Pairs that need no link proposal: linked already (any type, either direction),
    or named together by a merge or supersede proposal that still stands."""
    links = Link.objects.for_space(space)
    proposals = (
        Proposal.objects.for_space(space)
        .filter(operation__in=_SAYS_MORE)
        .exclude(status__in=_SILENT)
    )
    if among is not None:
        wanted = list(among)
        links = links.filter(Q(source_id__in=wanted) | Q(target_id__in=wanted))
        proposals = proposals.filter(memory_ids__overlap=wanted)
    pairs = {_pair(str(s), str(t)) for s, t in links.values_list("source_id", "target_id")}
    for ids in proposals.values_list("memory_ids", flat=True):
        members = sorted(str(pk) for pk in ids)
        pairs.update((a, b) for i, a in enumerate(members) for b in members[i + 1 :])
    return pairs


def propose_links(
    space: Space, k: int = LINK_NEIGHBOURS, threshold: float = LINK_SIMILARITY
) -> list[Proposal]:
    """For each active memory not yet considered, its `k` nearest active memories at or
    above `threshold` (A-MEM's note links), each pair one `related_to` proposal, whichever
    of the two found the other. Only memories in no link proposal are looked at: new
    memories, incrementally.

    The pair's memories are in id order: the first is the link's source, the second its
    target (`change["related_to"]`), which is how approving it reads a link proposal.
    """
    versions = {
        str(pk): version
        for pk, version in Memory.objects.for_space(space).active().values_list("pk", "version")
    }
    considered: set[str] = set()
    proposed: set[Pair] = set()
    for members, change in (
        Proposal.objects.for_space(space)
        .filter(operation=Operation.LINK)
        .values_list("memory_ids", "change")
    ):
        considered.update(str(pk) for pk in members)
        # Older link proposals named one source and several targets: their pairs count
        # as proposed too, whatever became of them.
        proposed.update(_pair(str(members[0]), str(t)) for t in change.get("related_to", []))
    ids, unit = unit_vectors(space, set(versions))
    fresh = [i for i, pk in enumerate(ids) if pk not in considered]
    if not fresh or len(ids) < 2:
        return []
    skip = spoken_for(space) | proposed
    made = []
    for start in range(0, len(fresh), BLOCK):
        rows = fresh[start : start + BLOCK]
        similar = unit[rows] @ unit.T
        similar[np.arange(len(rows)), rows] = -1.0  # not itself
        # The k best of each row without sorting the whole row (100k columns).
        best = np.argpartition(-similar, min(k, similar.shape[1] - 1), axis=1)[:, :k]
        for offset, row in enumerate(rows):
            for j in best[offset][np.argsort(-similar[offset, best[offset]])]:
                similarity = round(float(similar[offset, j]), 4)
                if similarity < threshold:
                    break
                pair = _pair(ids[row], ids[int(j)])
                if pair in skip:
                    continue
                skip.add(pair)  # found from the other side too: proposed once
                source, target = pair
                proposal = propose(
                    space,
                    Operation.LINK,
                    [source, target],
                    [versions[source], versions[target]],
                    {"related_to": [target], "weights": {target: similarity}},
                    {
                        "similarities": {target: similarity},
                        "threshold": threshold,
                        "found_from": ids[row],
                    },
                    score=similarity,
                )
                if proposal:
                    made.append(proposal)
    return made


def recheck(space: Space, proposal: Proposal) -> Recheck:
    """A link proposal against its memories as they are now: each target still active,
    not linked or otherwise proposed since, and still as similar as the threshold the
    proposal was made with."""
    source = str(proposal.memory_ids[0])
    targets = [str(pk) for pk in proposal.change.get("related_to", [])]
    threshold = float(proposal.evidence.get("threshold", LINK_SIMILARITY))
    rows = {
        str(pk): (status, content)
        for pk, status, content in Memory.objects.for_space(space)
        .filter(pk__in=[source, *targets])
        .values_list("pk", "status", "content")
    }

    def gone(pk: str) -> str:
        if pk not in rows:
            return f"memory {pk[:8]} no longer exists"
        status, content = rows[pk]
        return "" if status == Status.ACTIVE else f"memory {label(content)} is {status}"

    unchanged = Recheck(False, proposal.change, proposal.evidence, proposal.score, "")
    if reason := gone(source):
        unchanged.reason = reason
        return unchanged
    skip = spoken_for(space, [source])
    reasons, alive = [], []
    for target in targets:
        if reason := gone(target):
            reasons.append(reason)
        elif _pair(source, target) in skip:
            reasons.append(
                f"{label(rows[target][1])} is linked, or proposed for a merge or a"
                " supersession, since"
            )
        else:
            alive.append(target)
    vectors = current_vectors(space, [source, *alive])
    kept = {}
    for target in alive:
        similarity = round(float(vectors[source] @ vectors[target]), 4)
        if similarity >= threshold:
            kept[target] = similarity
        else:
            reasons.append(f"no longer similar ({similarity:.2f}, below {threshold:.2f})")
    if not kept:
        unchanged.reason = "; ".join(reasons) or "nothing left to link"
        return unchanged
    evidence = {"similarities": kept, "threshold": threshold}
    if reasons:
        evidence["dropped"] = reasons
    return Recheck(
        True,
        {"related_to": list(kept), "weights": kept},
        evidence,
        score=max(kept.values()),
        reason="",
    )

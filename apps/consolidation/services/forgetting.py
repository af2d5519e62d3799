"""Forgetting: memories whose retention has faded are proposed for archiving."""

from django.utils import timezone

from apps.consolidation.models import Operation, Proposal
from apps.consolidation.services.proposals import propose
from apps.memories.models import Kind, Memory, Status
from apps.spaces.models import Space

FORGET_BELOW = 0.05  # retention


def propose_forgetting(space: Space, below: float = FORGET_BELOW) -> list[Proposal]:
    now = timezone.now()
    fading = (
        Memory.objects.for_space(space)
        .active()
        .filter(pinned=False)
        .exclude(kind=Kind.SUMMARY)
        .only("pk", "version", "strength", "last_accessed_at", "created_at")
    )
    made = []
    for memory in fading.iterator(chunk_size=2000):
        kept = memory.retention(now)
        if kept >= below:
            continue
        proposal = propose(
            space,
            Operation.ARCHIVE,
            [str(memory.pk)],
            [memory.version],
            {"status": Status.ARCHIVED},
            {
                "retention": round(kept, 5),
                "strength": memory.strength,
                "last_accessed_at": (memory.last_accessed_at or memory.created_at).isoformat(),
            },
            score=round(1.0 - kept, 5),
        )
        if proposal:
            made.append(proposal)
    return made

"""Forgetting: memories whose retention has faded are proposed for archiving."""

from django.utils import timezone

from apps.consolidation.models import Operation, Proposal
from apps.consolidation.services.proposals import Recheck, propose
from apps.consolidation.services.recheck import label
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
            _evidence(memory, kept, below),
            score=round(1.0 - kept, 5),
        )
        if proposal:
            made.append(proposal)
    return made


def _evidence(memory: Memory, kept: float, below: float) -> dict[str, object]:
    return {
        "retention": round(kept, 5),
        "below": below,
        "strength": memory.strength,
        "last_accessed_at": (memory.last_accessed_at or memory.created_at).isoformat(),
    }


def recheck(space: Space, proposal: Proposal) -> Recheck:
    """Archiving against the memory as it is now: still active, not pinned since, and
    still faded below the threshold it was proposed with (a recall raises it)."""
    below = float(proposal.evidence.get("below", FORGET_BELOW))
    memory = Memory.objects.for_space(space).filter(pk=proposal.memory_ids[0]).first()
    unchanged = Recheck(False, proposal.change, proposal.evidence, proposal.score, "")
    if memory is None:
        unchanged.reason = f"memory {str(proposal.memory_ids[0])[:8]} no longer exists"
    elif memory.status != Status.ACTIVE:
        unchanged.reason = f"memory {label(memory.content)} is {memory.status} already"
    elif memory.pinned:
        unchanged.reason = f"memory {label(memory.content)} is pinned"
    elif memory.kind == Kind.SUMMARY:
        unchanged.reason = f"memory {label(memory.content)} is a summary now"
    elif (kept := memory.retention(timezone.now())) >= below:
        unchanged.reason = f"its retention is back to {kept:.2f} (recalled since)"
    else:
        return Recheck(
            True,
            {"status": Status.ARCHIVED},
            _evidence(memory, kept, below),
            score=round(1.0 - kept, 5),
            reason="",
        )
    return unchanged

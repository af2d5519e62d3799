from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from apps.consolidation.models import Proposal
from apps.memories.signals import memory_purging


@receiver(memory_purging, dispatch_uid="consolidation.forget_purged_proposals")
def forget_purged_proposals(sender: Any, space: Any, memory: Any, **kwargs: Any) -> None:
    """Proposals about a purged memory carry its text (a merge's content, a summary)."""
    Proposal.objects.for_space(space).filter(memory_ids__contains=[memory.pk]).delete()

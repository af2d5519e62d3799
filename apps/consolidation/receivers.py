from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from apps.consolidation.services import forget_proposals_about
from apps.memories.signals import memory_purging


@receiver(memory_purging, dispatch_uid="consolidation.forget_purged_proposals")
def forget_purged_proposals(sender: Any, space: Any, memory: Any, **kwargs: Any) -> None:
    forget_proposals_about(space, memory.pk)

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from apps.consolidation.services import forget_proposals_about, scrub_proposals
from apps.memories.signals import memory_purging, text_redacting


@receiver(memory_purging, dispatch_uid="consolidation.forget_purged_proposals")
def forget_purged_proposals(sender: Any, space: Any, memory: Any, **kwargs: Any) -> None:
    forget_proposals_about(space, memory.pk)


@receiver(text_redacting, dispatch_uid="consolidation.scrub_redacted_proposals")
def scrub_redacted_proposals(
    sender: Any, space: Any, replacements: dict[str, str], **kwargs: Any
) -> None:
    scrub_proposals(space, replacements)

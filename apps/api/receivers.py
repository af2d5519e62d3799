from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from apps.api.idempotency import forget_responses_showing, scrub_responses
from apps.memories.signals import memory_purging, text_redacting


@receiver(memory_purging, dispatch_uid="api.forget_purged_responses")
def forget_purged_responses(sender: Any, space: Any, memory: Any, **kwargs: Any) -> None:
    episodes = memory.source_episodes.values_list("pk", flat=True)
    forget_responses_showing(space, [memory.pk, *episodes])


@receiver(text_redacting, dispatch_uid="api.scrub_redacted_responses")
def scrub_redacted_responses(
    sender: Any, space: Any, replacements: dict[str, str], **kwargs: Any
) -> None:
    scrub_responses(space, replacements)

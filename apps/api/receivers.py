from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from apps.api.idempotency import forget_responses_showing
from apps.memories.signals import memory_purging


@receiver(memory_purging, dispatch_uid="api.forget_purged_responses")
def forget_purged_responses(sender: Any, space: Any, memory: Any, **kwargs: Any) -> None:
    episodes = memory.source_episodes.values_list("pk", flat=True)
    forget_responses_showing(space, [memory.pk, *episodes])

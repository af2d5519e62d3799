from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from apps.api.models import IdempotentRequest
from apps.memories.signals import memory_purging


@receiver(memory_purging, dispatch_uid="api.forget_purged_responses")
def forget_purged_responses(sender: Any, space: Any, memory: Any, **kwargs: Any) -> None:
    """A stored answer that shows the memory holds its text: a retry of that request
    runs again instead of replaying it."""
    IdempotentRequest.objects.filter(space=space, response_body__icontains=str(memory.pk)).delete()

"""Reads that leave a trace: the access log and the strength a recall adds."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from django.db import transaction

from apps.audit.actors import Actor
from apps.audit.services import record_events
from apps.memories.models import (
    Memory,
)
from apps.memories.services.records import (
    MemoryId,
)
from apps.spaces.models import Space


@transaction.atomic
def record_recall(
    space: Space,
    actor: Actor,
    memory_ids: Sequence[MemoryId],
    *,
    at: datetime,
    query: str,
    mode: str,
) -> int:
    """Note that these memories were returned by a search: the access log and the
    MemoryBank strength (S grows by one per recall). Reads write no version."""
    from django.db.models import F
    from django.db.models.functions import Greatest

    ids = [str(i) for i in memory_ids]
    updated = (
        Memory.objects.for_space(space)
        .filter(pk__in=ids)
        .update(
            access_count=F("access_count") + 1,
            strength=F("strength") + 1,
            last_accessed_at=Greatest(F("last_accessed_at"), at),
        )
    )
    record_events(
        space,
        actor,
        "memory.recall",
        [
            ("memory", memory_id, {"query": query[:500], "mode": mode, "rank": rank})
            for rank, memory_id in enumerate(ids, start=1)
        ],
        at=at,
    )
    return updated

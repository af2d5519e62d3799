"""What every change shares: locking the rows, checking the version, and writing the
version row and audit event that go with each change."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from apps.audit.actors import Actor
from apps.audit.models import AuditEvent
from apps.audit.services import new_event
from apps.core.bulk import insert_together
from apps.memories.models import Episode, Memory, MemoryVersion
from apps.memories.services.errors import InvalidMemory, MemoryNotFound, VersionConflict
from apps.spaces.models import Space

MemoryId = uuid.UUID | str


def jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def change_summary(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """Which fields changed, with values for scalars. Never the content itself:
    audit events outlive a purge, so they must not keep what was purged."""
    changed: dict[str, Any] = {}
    for name, old in before.items():
        new = after[name]
        if old == new:
            continue
        if name == "content":
            changed[name] = {"from_chars": len(old), "to_chars": len(new)}
        elif name == "metadata":
            keys = set(old) | set(new)
            changed[name] = {"keys": sorted(k for k in keys if old.get(k) != new.get(k))}
        else:
            changed[name] = {"from": jsonable(old), "to": jsonable(new)}
    return changed


def lock_memory(space: Space, memory_id: MemoryId) -> Memory:
    try:
        return Memory.objects.for_space(space).select_for_update().get(pk=memory_id)
    except (Memory.DoesNotExist, ValidationError, ValueError):
        raise MemoryNotFound(
            f"memory {memory_id} not found", details={"id": str(memory_id)}
        ) from None


def lock_memories(space: Space, memory_ids: Sequence[MemoryId]) -> list[Memory]:
    unique_ids = list(dict.fromkeys(str(i) for i in memory_ids))
    try:
        # Lock in id order so two merges over overlapping sets cannot deadlock.
        found = {
            str(m.pk): m
            for m in Memory.objects.for_space(space)
            .select_for_update()
            .filter(pk__in=unique_ids)
            .order_by("pk")
        }
    except (ValidationError, ValueError):
        found = {}
    missing = [i for i in unique_ids if i not in found]
    if missing:
        raise MemoryNotFound(f"memories not found: {', '.join(missing)}", details={"ids": missing})
    return [found[i] for i in unique_ids]


def lock_link_endpoints(space: Space, memory_ids: Sequence[MemoryId]) -> list[Memory]:
    """The memories a link joins, held only against deletion (FOR KEY SHARE) until
    the transaction ends: a link changes neither row, so it must not wait for an
    edit or for the embedding worker, which hold their rows for longer."""
    unique_ids = list(dict.fromkeys(str(i) for i in memory_ids))
    try:
        uuids = [uuid.UUID(i) for i in unique_ids]
    except ValueError:
        uuids = []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id FROM memories_memory WHERE space_id = %s AND id = ANY(%s) "
            "ORDER BY id FOR KEY SHARE",
            [space.pk, uuids],
        )
        found = {str(pk) for (pk,) in cursor.fetchall()}
    missing = [i for i in unique_ids if i not in found]
    if missing:
        raise MemoryNotFound(f"memories not found: {', '.join(missing)}", details={"ids": missing})
    return [Memory(pk=uuid.UUID(i), space=space) for i in unique_ids]


def check_version(memory: Memory, expected_version: int | None) -> None:
    if expected_version is not None and memory.version != expected_version:
        raise VersionConflict(memory, expected_version)


def version_row(memory: Memory, actor: Actor, action: str, reason: str) -> MemoryVersion:
    return MemoryVersion(
        space_id=memory.space_id,
        memory=memory,
        version=memory.version,
        action=action,
        reason=reason,
        **actor.as_fields(),
        **memory.snapshot(),
    )


def memory_event(
    memory: Memory, actor: Actor, action: str, reason: str, summary: dict[str, Any]
) -> AuditEvent:
    return new_event(
        memory.space_id,
        actor,
        f"memory.{action}",
        target_type="memory",
        target_id=memory.pk,
        reason=reason,
        summary={"version": memory.version, **summary},
    )


def save_new_version(
    memory: Memory,
    actor: Actor,
    action: str,
    reason: str,
    before: dict[str, Any],
    summary: dict[str, Any] | None = None,
) -> Memory:
    memory.version += 1
    memory.updated_at = timezone.now()
    memory.save()
    changed = change_summary(before, memory.snapshot())
    insert_together(
        [
            version_row(memory, actor, action, reason),
            memory_event(memory, actor, action, reason, {"changed": changed, **(summary or {})}),
        ]
    )
    return memory


def episodes_in_space(space: Space, episode_ids: Iterable[object]) -> list[Episode]:
    ids = list(dict.fromkeys(str(i) for i in episode_ids))
    if not ids:
        return []
    try:
        episodes = list(Episode.objects.for_space(space).filter(pk__in=ids))
    except (ValidationError, ValueError):
        episodes = []
    missing = sorted(set(ids) - {str(e.pk) for e in episodes})
    if missing:
        raise InvalidMemory(
            "source episodes not found in this space", details={"source_episodes": missing}
        )
    return episodes


def embed_after_commit(space_id: int, pending: int = 1) -> None:
    """Writes never wait for the model: embedding of the `pending` memories this change
    left without a vector is queued once it is committed.

    robust=True: a broker that is down must not fail a write that already committed;
    the periodic sweep embeds whatever a lost message left behind.
    """
    from apps.retrieval.tasks import schedule_embedding

    transaction.on_commit(lambda: schedule_embedding(space_id, pending), robust=True)

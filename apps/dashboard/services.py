"""Bulk actions of the memory browser, and their undo.

Each memory is changed through the domain layer (a version and an audit event
each); a memory the action does not apply to (already archived, say) is skipped
and reported, without stopping the others. What an undo needs is returned as a
plain dict the view keeps in the session.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

from apps.audit.actors import Actor
from apps.memories import services
from apps.memories.models import STATUS_TRANSITIONS, Memory, Status
from apps.spaces.models import Space

# The most memories one bulk action touches; past this, narrow the filter.
BULK_LIMIT = 1000

# How to take back a status change, by the status the memory had before.
_BACK_TO: dict[str, Callable[..., Memory]] = {
    Status.ACTIVE: services.restore_memory,
    Status.ARCHIVED: services.archive_memory,
    Status.DELETED: services.delete_memory,
}


@dataclass
class BulkOutcome:
    action: str
    changed: int = 0
    skipped: list[dict[str, str]] = field(default_factory=list)
    undo: dict[str, Any] | None = None


def apply_bulk(
    space: Space, actor: Actor, action: str, memory_ids: Sequence[str], tag: str = ""
) -> BulkOutcome:
    outcome = BulkOutcome(action)
    if action == "reembed":
        outcome.changed = services.request_reembedding(space, actor, memory_ids)
        return outcome
    undo_items: list[dict[str, Any]] = []
    memories = (
        Memory.objects.for_space(space)
        .filter(pk__in=list(memory_ids))
        .only("pk", "status", "tags", "version")
    )
    with transaction.atomic():
        for memory in memories:
            try:
                with transaction.atomic():
                    changed = _apply_one(space, actor, action, memory, tag)
            except services.MemoryServiceError as exc:
                outcome.skipped.append({"id": str(memory.pk), "reason": exc.message})
                continue
            if changed is None:
                continue  # nothing to do (the tag was already there)
            outcome.changed += 1
            undo_items.append(
                {"id": str(memory.pk), "version": changed.version, "status": memory.status}
            )
    if undo_items:
        outcome.undo = {"action": action, "tag": tag, "items": undo_items}
    return outcome


def _apply_one(space: Space, actor: Actor, action: str, memory: Memory, tag: str) -> Memory | None:
    reason = f"bulk {action}"
    if action in STATUS_TRANSITIONS:
        return services.change_status(space, actor, memory.pk, action, reason=reason)
    if action == "tag":
        if tag in memory.tags:
            return None
        tags = [*memory.tags, tag]
    else:
        if tag not in memory.tags:
            return None
        tags = [t for t in memory.tags if t != tag]
    return services.update_memory(
        space, actor, memory.pk, expected_version=memory.version, reason=reason, tags=tags
    )


def undo_bulk(space: Space, actor: Actor, record: dict[str, Any]) -> BulkOutcome:
    """Take back a bulk action for each memory nobody has changed since."""
    action, tag = record["action"], record.get("tag", "")
    outcome = BulkOutcome(f"undo {action}")
    with transaction.atomic():
        for item in record["items"]:
            try:
                with transaction.atomic():
                    _undo_one(space, actor, action, tag, item)
            except services.MemoryServiceError as exc:
                outcome.skipped.append({"id": item["id"], "reason": exc.message})
                continue
            outcome.changed += 1
    return outcome


def _undo_one(space: Space, actor: Actor, action: str, tag: str, item: dict[str, Any]) -> None:
    reason = f"undo bulk {action}"
    expected = item["version"]  # a later change by anyone wins: undo skips that memory
    if action in STATUS_TRANSITIONS:
        back = _BACK_TO.get(item["status"])
        if back is None:
            raise services.InvalidTransition(f"a memory cannot be made {item['status']} again")
        back(space, actor, item["id"], reason=reason, expected_version=expected)
        return
    memory = Memory.objects.for_space(space).only("tags").filter(pk=item["id"]).first()
    if memory is None:
        raise services.MemoryNotFound("the memory is gone")
    tags = [t for t in memory.tags if t != tag] if action == "tag" else [*memory.tags, tag]
    services.update_memory(
        space, actor, item["id"], expected_version=expected, reason=reason, tags=tags
    )

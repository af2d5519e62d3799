"""Bulk actions of the memory browser, and their undo.

Each memory is changed through the domain layer (a version and an audit event
each); a memory the action does not apply to (already archived, say) is skipped
and reported, without stopping the others. One more audit event records the bulk
action as a whole, with what an undo needs (each memory's version and status
after it), so the action can be undone later from the audit log, not only from
the message shown right after it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.db.models.functions import Left

from apps.audit.actors import Actor
from apps.audit.models import AuditEvent
from apps.audit.services import record_event
from apps.memories import services
from apps.memories.models import STATUS_TRANSITIONS, Memory, MemoryVersion, Status
from apps.spaces.models import Space

# The most memories one bulk action touches; past this, narrow the filter.
BULK_LIMIT = 1000
# The audit events of a bulk action as a whole, and of its undo (whose target is the
# bulk action's event, so "was it undone?" is an indexed lookup by target).
BULK_EVENT = "memory.bulk"
BULK_UNDO_EVENT = "memory.bulk_undo"
BULK_UNDO_TARGET = "audit"
# How many of the memories changed since a bulk action an undo names one by one.
NAMED_CHANGES = 3

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
    event: AuditEvent | None = None  # the bulk action's own event, when it can be undone
    changed_since: list[str] = field(default_factory=list)  # an undo's skipped, described


class NothingToUndo(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


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
            outcome.event = record_event(
                space,
                actor,
                BULK_EVENT,
                target_type="space",
                target_id=space.pk,
                reason=f"bulk {action}",
                summary={**outcome.undo, "count": len(undo_items)},
            )
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


def undo_bulk_event(space: Space, actor: Actor, event_id: int) -> BulkOutcome:
    """Undo the bulk action its audit event records, once: for each memory nobody
    changed since; the others are described in `changed_since`."""
    events = AuditEvent.objects.for_space(space)
    with transaction.atomic():
        # The lock makes a second, concurrent undo wait, then find the first one's event.
        event = events.select_for_update().filter(pk=event_id, action=BULK_EVENT).first()
        if event is None:
            raise NothingToUndo("There is nothing to undo any more.")
        done = (
            events.filter(
                action=BULK_UNDO_EVENT, target_type=BULK_UNDO_TARGET, target_id=str(event.pk)
            )
            .only("actor_label", "created_at")
            .first()
        )
        if done is not None:
            when = done.created_at.strftime("%Y-%m-%d %H:%M")
            raise NothingToUndo(
                f"There is nothing to undo any more: {done.actor_label} undid this bulk "
                f"{event.summary.get('action', 'action')} on {when}."
            )
        outcome = undo_bulk(space, actor, event.summary)
        record_event(
            space,
            actor,
            BULK_UNDO_EVENT,
            target_type=BULK_UNDO_TARGET,
            target_id=event.pk,
            reason=f"undo bulk {event.summary.get('action', '')}".strip(),
            summary={
                "action": event.summary.get("action", ""),
                "count": outcome.changed,
                "skipped": len(outcome.skipped),
            },
        )
    outcome.changed_since = changed_since(space, [item["id"] for item in outcome.skipped])
    return outcome


def changed_since(space: Space, memory_ids: Sequence[str]) -> list[str]:
    """What became of the first few of these memories: their words, their current
    version and the change that made it, or that they are gone. Two queries."""
    named = list(memory_ids[:NAMED_CHANGES])
    heads = {
        str(pk): head
        for pk, head in Memory.objects.for_space(space)
        .filter(pk__in=named)
        .annotate(head=Left("content", 60))
        .values_list("pk", "head")
    }
    latest = {
        str(v.memory_id): v
        for v in MemoryVersion.objects.for_space(space)
        .filter(memory_id__in=named)
        .order_by("memory_id", "-version")
        .distinct("memory_id")
        .only("memory_id", "version", "action", "actor_label")
    }
    described = []
    for memory_id in named:
        head, version = heads.get(memory_id), latest.get(memory_id)
        if head is None or version is None:
            described.append(f"memory {memory_id[:8]} is gone")
            continue
        words = head if len(head) < 60 else head[:59] + "…"
        described.append(
            f"“{words}” is now version {version.version} "
            f"({version.get_action_display().lower()} by {version.actor_label})"
        )
    return described


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

"""Changes that relate memories: supersede, replace, merge, summarize, and their undo."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from django.db import transaction
from django.utils import timezone

from apps.audit.actors import Actor
from apps.memories.models import (
    Kind,
    Link,
    LinkType,
    Memory,
    MemoryVersion,
    Status,
)
from apps.memories.services.create import new_memory
from apps.memories.services.errors import (
    InvalidMemory,
    InvalidTransition,
)
from apps.memories.services.links import add_link, unlink
from apps.memories.services.records import (
    MemoryId,
    check_version,
    lock_memories,
    lock_memory,
    save_new_version,
)
from apps.memories.services.rules import check_validity
from apps.spaces.models import Space

Action = MemoryVersion.Action
# A memory's place in time: changed together or not at all.
LIFECYCLE_FIELDS = ("status", "valid_from", "valid_to")


@transaction.atomic
def supersede_memory(
    space: Space,
    actor: Actor,
    old_id: MemoryId,
    new_id: MemoryId,
    *,
    reason: str = "",
    expected_version: int | None = None,
) -> Memory:
    """Mark `old` as replaced by `new`: it stops being valid when `new` starts."""
    if str(old_id) == str(new_id):
        raise InvalidMemory("a memory cannot supersede itself", details={"id": str(old_id)})
    old, new = lock_memories(space, [old_id, new_id])
    check_version(old, expected_version)
    if old.status not in (Status.ACTIVE, Status.ARCHIVED):
        raise InvalidTransition(f"cannot supersede a memory that is {old.status}")
    if new.status != Status.ACTIVE:
        raise InvalidTransition(f"the superseding memory is {new.status}, not active")
    before = old.snapshot()
    old.status = Status.SUPERSEDED
    ends = new.valid_from or new.occurred_at or timezone.now()
    if old.valid_to is None or old.valid_to > ends:
        old.valid_to = ends
    check_validity(old)
    save_new_version(old, actor, Action.SUPERSEDE, reason, before)
    add_link(space, actor, new, old, LinkType.SUPERSEDES)
    return old


@transaction.atomic
def replace_memory(
    space: Space,
    actor: Actor,
    old_id: MemoryId,
    *,
    reason: str = "",
    expected_version: int | None = None,
    **fields: Any,
) -> tuple[Memory, Memory]:
    """Store a corrected memory and supersede the old one with it, in one step.

    Kind, subject, agent, session and tags carry over unless given. Returns (old, new).
    """
    old = lock_memory(space, old_id)
    check_version(old, expected_version)
    inherited = {name: getattr(old, name) for name in ("kind", "subject", "agent", "session")}
    new = new_memory(
        space,
        actor,
        {**inherited, "tags": list(old.tags), **fields},
        [],
        Action.CREATE,
        reason,
        {"replaces": str(old.pk)},
    )
    old = supersede_memory(space, actor, old.pk, new.pk, reason=reason)
    return old, new


@transaction.atomic
def merge_memories(
    space: Space,
    actor: Actor,
    memory_ids: Sequence[MemoryId],
    *,
    reason: str = "",
    **overrides: Any,
) -> Memory:
    """Merge N memories into a new one `derived_from` each; the originals become superseded.

    Without `content` in `overrides` the most complete text (the longest) is kept.
    """
    if len({str(i) for i in memory_ids}) < 2:
        raise InvalidMemory(
            "a merge needs at least two distinct memories", details={"ids": "too few"}
        )
    originals = lock_memories(space, memory_ids)
    for memory in originals:
        if memory.status not in (Status.ACTIVE, Status.ARCHIVED):
            raise InvalidTransition(
                f"memory {memory.pk} is {memory.status} and cannot be merged",
                details={"id": str(memory.pk), "status": memory.status},
            )
    kinds = {m.kind for m in originals}
    subjects = {m.subject for m in originals}
    occurred = [m.occurred_at for m in originals if m.occurred_at]
    fields: dict[str, Any] = {
        "content": max((m.content for m in originals), key=len),
        "kind": kinds.pop() if len(kinds) == 1 else Kind.FACT,
        "subject": subjects.pop() if len(subjects) == 1 else "",
        "tags": [t for m in originals for t in m.tags],
        "importance": max(m.importance for m in originals),
        "confidence": max(m.confidence for m in originals),
        "pinned": any(m.pinned for m in originals),
        "occurred_at": min(occurred) if occurred else None,
        "metadata": {"merged_from": [str(m.pk) for m in originals]},
        **overrides,
    }
    episode_ids = [e.pk for m in originals for e in m.source_episodes.all().only("pk")]
    merged = new_memory(
        space,
        actor,
        fields,
        episode_ids,
        Action.MERGE,
        reason,
        {"merged_from": [str(m.pk) for m in originals]},
    )
    for memory in originals:
        before = memory.snapshot()
        memory.status = Status.SUPERSEDED
        save_new_version(memory, actor, Action.MERGE, reason, before)
        add_link(space, actor, merged, memory, LinkType.DERIVED_FROM)
    return merged


@transaction.atomic
def summarize_memories(
    space: Space,
    actor: Actor,
    member_ids: Sequence[MemoryId],
    *,
    content: str,
    level: int = 1,
    reason: str = "",
) -> Memory:
    """A summary memory `derived_from` each member; the members stay as they are.
    A summary of summaries has the next `level` (a hierarchy over topics)."""
    members = lock_memories(space, member_ids)
    subjects = {m.subject for m in members}
    summary = new_memory(
        space,
        actor,
        {
            "content": content,
            "kind": Kind.SUMMARY,
            "subject": subjects.pop() if len(subjects) == 1 else "",
            "metadata": {"summary_of": [str(m.pk) for m in members], "level": level},
        },
        (),
        Action.CREATE,
        reason,
        {"summary_of": [str(m.pk) for m in members]},
    )
    for member in members:
        add_link(space, actor, summary, member, LinkType.DERIVED_FROM)
    return summary


def version_before(memory: Memory, action: str) -> MemoryVersion | None:
    """The version a memory had just before its latest change by `action` (None when
    no such change, or it was the first version)."""
    latest = memory.versions.filter(action=action).order_by("-version").first()
    if latest is None:
        return None
    return memory.versions.filter(version__lt=latest.version).order_by("-version").first()


def restore_lifecycle(memory: Memory, version: MemoryVersion) -> None:
    """Status and validity as `version` had them, together: a status without the
    validity that goes with it (superseded but valid for ever) is a contradiction."""
    for name in LIFECYCLE_FIELDS:
        setattr(memory, name, getattr(version, name))


def merged_into(space: Space, memory: Memory) -> Memory | None:
    """The merge result that replaced `memory`, while that merge stands (not deleted)."""
    link = (
        Link.objects.for_space(space)
        .filter(target=memory, type=LinkType.DERIVED_FROM, source__metadata__has_key="merged_from")
        .exclude(source__status=Status.DELETED)
        .select_related("source")
        .first()
    )
    return link.source if link else None


def end_supersessions(space: Space, actor: Actor, memory: Memory) -> list[str]:
    """Remove the `supersedes` links pointing at `memory` (each with its audit event);
    returns the ids of the memories that superseded it."""
    links = list(
        Link.objects.for_space(space)
        .filter(target=memory, type=LinkType.SUPERSEDES)
        .values_list("pk", "source_id")
    )
    for link_id, _source in links:
        unlink(space, actor, link_id)
    return [str(source) for _, source in links]


@transaction.atomic
def unsupersede_memory(
    space: Space,
    actor: Actor,
    old_id: MemoryId,
    new_id: MemoryId,
    *,
    reason: str = "supersession undone",
    expected_version: int | None = None,
) -> Memory:
    """Undo `new` superseding `old`: `old` gets back the status and validity it had
    just before it was superseded (a new version, history kept) and the `supersedes`
    link ends."""
    old = lock_memory(space, old_id)
    check_version(old, expected_version)
    if old.status != Status.SUPERSEDED:
        raise InvalidTransition(
            f"memory {old.pk} is {old.status}, not superseded",
            details={"id": str(old.pk), "status": old.status},
        )
    link = (
        Link.objects.for_space(space)
        .filter(source_id=uuid.UUID(str(new_id)), target=old, type=LinkType.SUPERSEDES)
        .first()
    )
    previous = version_before(old, Action.SUPERSEDE)
    if link is None or previous is None:
        raise InvalidTransition(
            f"memory {old.pk} is not superseded by memory {new_id}",
            details={"id": str(old.pk), "by": str(new_id)},
        )
    before = old.snapshot()
    restore_lifecycle(old, previous)
    check_validity(old)
    save_new_version(old, actor, Action.RESTORE, reason, before)
    unlink(space, actor, link.pk)
    return old


@transaction.atomic
def unmerge_memory(
    space: Space, actor: Actor, merged_id: MemoryId, *, reason: str = "merge undone"
) -> list[Memory]:
    """Undo a merge: each memory it was merged from gets back the status and validity
    it had just before (new versions, history kept) and the merged memory is deleted
    (softly; its `derived_from` links stay as its history). Returns the originals.
    Originals changed since the merge (no longer superseded) are left alone."""
    merged = lock_memory(space, merged_id)
    sources = list(
        Link.objects.for_space(space)
        .filter(source_id=merged.pk, type=LinkType.DERIVED_FROM)
        .values_list("target_id", flat=True)
    )
    if not merged.metadata.get("merged_from") or not sources:
        raise InvalidTransition(
            f"memory {merged.pk} is not the result of a merge", details={"id": str(merged.pk)}
        )
    restored = []
    for original in lock_memories(space, sources):
        if original.status != Status.SUPERSEDED:
            continue
        before = original.snapshot()
        previous = version_before(original, Action.MERGE)
        if previous is None:
            original.status = Status.ACTIVE
        else:
            restore_lifecycle(original, previous)
        check_validity(original)
        restored.append(save_new_version(original, actor, Action.RESTORE, reason, before))
    if merged.status != Status.DELETED:
        before = merged.snapshot()
        merged.status = Status.DELETED
        save_new_version(merged, actor, Action.DELETE, reason, before)
    return restored

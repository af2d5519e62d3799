"""One memory's life: edits, status changes, revert, and purge."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction

from apps.audit.actors import Actor
from apps.audit.services import record_event
from apps.hygiene.policy import flagged_categories, policy_of, replace_memory_flags, screen
from apps.hygiene.scanner import scan
from apps.memories.models import (
    STATUS_TRANSITIONS,
    Episode,
    Kind,
    Link,
    LinkType,
    Memory,
    MemoryVersion,
    Status,
    content_hash,
)
from apps.memories.services.embeddings import drop_vectors
from apps.memories.services.errors import (
    InvalidMemory,
    InvalidTransition,
    MemoryNotFound,
)
from apps.memories.services.lineage import (
    LIFECYCLE_FIELDS,
    end_supersessions,
    merged_into,
)
from apps.memories.services.purge import scrub_everywhere
from apps.memories.services.records import (
    MemoryId,
    check_version,
    embed_after_commit,
    lock_memory,
    save_new_version,
)
from apps.memories.services.rules import (
    check_redacted_content,
    check_validity,
    validate_fields,
)
from apps.spaces.models import Space

Action = MemoryVersion.Action


@transaction.atomic
def update_memory(
    space: Space,
    actor: Actor,
    memory_id: MemoryId,
    *,
    expected_version: int | None,
    reason: str = "",
    **changes: Any,
) -> Memory:
    """Apply `changes` if the memory is still at `expected_version` (None: don't check).

    A change that alters nothing writes no version and no event.
    """
    changes = validate_fields(changes)
    memory = lock_memory(space, memory_id)
    check_version(memory, expected_version)
    if memory.status == Status.DELETED:
        raise InvalidTransition("a deleted memory cannot be edited; restore it first")
    before = memory.snapshot()
    for name, value in changes.items():
        setattr(memory, name, value)
    if memory.snapshot() == before:
        return memory
    check_validity(memory)
    screened = None
    if memory.content != before["content"]:
        screened = screen(policy_of(space), memory.content)
        check_redacted_content(screened.text)
        memory.content = screened.text
        memory.content_hash = content_hash(memory.content)
        if memory.content_hash != content_hash(str(before["content"])):
            # The old vector describes the old text; the embedding job fills it in.
            drop_vectors(memory)
            embed_after_commit(space.pk)
    if memory.snapshot() == before:
        return memory  # the edit only added what the policy redacts again
    summary = screened.audit_summary() if screened else {}
    save_new_version(memory, actor, Action.UPDATE, reason, before, summary)
    if screened is not None:
        replace_memory_flags(space, memory, screened.flagged)
    return memory


@transaction.atomic
def change_status(
    space: Space,
    actor: Actor,
    memory_id: MemoryId,
    action: str,
    *,
    reason: str = "",
    expected_version: int | None = None,
) -> Memory:
    """Take one of the lifecycle actions of STATUS_TRANSITIONS (archive, restore, delete)."""
    if action not in STATUS_TRANSITIONS:
        raise InvalidTransition(
            f"{action!r} is not a lifecycle action",
            details={"action": action, "allowed": list(STATUS_TRANSITIONS)},
        )
    to, allowed_from = STATUS_TRANSITIONS[action]
    memory = lock_memory(space, memory_id)
    check_version(memory, expected_version)
    if memory.status not in allowed_from:
        raise InvalidTransition(
            f"cannot {action} a memory that is {memory.status}",
            details={"status": memory.status, "allowed_from": sorted(allowed_from)},
        )
    before = memory.snapshot()
    memory.status = to
    return save_new_version(memory, actor, action, reason, before)


@transaction.atomic
def archive_memory(space: Space, actor: Actor, memory_id: MemoryId, **options: Any) -> Memory:
    return change_status(space, actor, memory_id, Action.ARCHIVE, **options)


@transaction.atomic
def restore_memory(space: Space, actor: Actor, memory_id: MemoryId, **options: Any) -> Memory:
    return change_status(space, actor, memory_id, Action.RESTORE, **options)


@transaction.atomic
def delete_memory(space: Space, actor: Actor, memory_id: MemoryId, **options: Any) -> Memory:
    return change_status(space, actor, memory_id, Action.DELETE, **options)


@transaction.atomic
def purge_memory(space: Space, actor: Actor, memory_id: MemoryId, *, reason: str) -> None:
    """Hard delete: afterwards the memory's text is in no table. Gone with it: its
    versions, links, mentions and embedding; the episodes it was drawn from (raw input
    holding the same words); summaries made from it (extractive: they quote it); and
    every copy other rows hold (scrub_everywhere).

    What remains is the trail without the words, and a `memory.purge` event saying
    what was purged, by whom and why.
    """
    if not reason or not reason.strip():
        raise InvalidMemory("purging needs a reason", details={"reason": "required"})
    memory = lock_memory(space, memory_id)
    summaries = list(
        Link.objects.for_space(space)
        .filter(target=memory, type=LinkType.DERIVED_FROM, source__kind=Kind.SUMMARY)
        .values_list("source_id", flat=True)
    )
    episodes = list(memory.source_episodes.values_list("pk", flat=True))
    summary = {
        "purged_version": memory.version,
        "kind": memory.kind,
        "status": memory.status,
        "versions_deleted": memory.versions.count(),
        "episodes_deleted": len(episodes),
        "summaries_purged": [str(pk) for pk in summaries],
        **scrub_everywhere(space, memory),
    }
    memory_pk = memory.pk
    memory.delete()
    Episode.objects.for_space(space).filter(pk__in=episodes).delete()
    record_event(
        space,
        actor,
        "memory.purge",
        target_type="memory",
        target_id=memory_pk,
        reason=reason.strip(),
        summary=summary,
    )
    for summary_id in summaries:
        if Memory.objects.for_space(space).filter(pk=summary_id).exists():
            purge_memory(space, actor, summary_id, reason=f"summary of purged memory {memory_pk}")


@dataclass(frozen=True)
class Reverted:
    """A revert's outcome: the memory, and whether its status and validity came back
    with its text (`lifecycle_restored`), said in words in `outcome`."""

    memory: Memory
    to_version: int
    changed: bool
    lifecycle_restored: bool
    outcome: str


def _lifecycle_kept_because(space: Space, memory: Memory, wanted: str) -> str | None:
    """Why a revert may not take the memory from its status to `wanted` (None: it may).

    Status and validity go back together or not at all. They go back when the status
    is the same, or when it undoes a supersession (the memory that replaced it then
    stops replacing it). Every other change of status has its own action, and a
    memory merged into another comes back by undoing the merge, not by a revert,
    which would leave the merged copy saying the same thing.
    """
    current = memory.status
    if wanted == current:
        return None
    if current == Status.SUPERSEDED and wanted in (Status.ACTIVE, Status.ARCHIVED):
        merged = merged_into(space, memory)
        if merged is None:
            return None
        return f"it was merged into memory {merged.pk}: undo the merge to bring it back"
    if current == Status.DELETED:
        return "it is deleted: restore it first"
    if wanted == Status.DELETED:
        return "deleting has its own action"
    if wanted == Status.SUPERSEDED:
        return "superseding needs the memory that replaces it"
    return f"{'archiving' if wanted == Status.ARCHIVED else 'restoring'} has its own action"


@transaction.atomic
def revert_to_version(
    space: Space,
    actor: Actor,
    memory_id: MemoryId,
    *,
    to_version: int,
    expected_version: int | None = None,
    reason: str = "",
) -> Reverted:
    """Write a new version whose fields equal those of `to_version`; history is kept.

    The text and the other fields always come back. Status and validity come back
    together or not at all (see `_lifecycle_kept_because`); reverting a superseded
    memory to a version before the supersession also ends the `supersedes` link.
    """
    memory = lock_memory(space, memory_id)
    check_version(memory, expected_version)
    old = memory.versions.filter(version=to_version).first()
    if old is None:
        raise MemoryNotFound(
            f"memory {memory.pk} has no version {to_version}", details={"version": to_version}
        )
    before = memory.snapshot()
    kept_because = _lifecycle_kept_because(space, memory, old.status)
    for name, value in old.snapshot().items():
        if name not in LIFECYCLE_FIELDS or kept_because is None:
            setattr(memory, name, value)
    ends_supersession = before["status"] == Status.SUPERSEDED and memory.status != Status.SUPERSEDED
    if kept_because is not None:
        outcome = (
            f"restored text only; status kept {memory.status} (and its validity) "
            f"because {kept_because}"
        )
    elif memory.status != before["status"]:
        outcome = f"restored text, status {memory.status} and validity"
    else:
        outcome = f"restored text and validity; status stays {memory.status}"
    if memory.snapshot() == before:
        return Reverted(memory, to_version, False, kept_because is None, outcome)
    findings = None
    if memory.content != before["content"]:
        memory.content_hash = content_hash(memory.content)
        drop_vectors(memory)
        embed_after_commit(space.pk)
        # A revert brings back what was stored before: it is flagged, never refused
        # or rewritten (history is not changed; redaction has its own service).
        categories = flagged_categories(policy_of(space))
        findings = [f for f in scan(memory.content) if f.category in categories]
    check_validity(memory)
    save_new_version(
        memory, actor, Action.REVERT, reason or f"revert to version {to_version}", before
    )
    if findings is not None:
        replace_memory_flags(space, memory, findings)
    if ends_supersession:
        by = end_supersessions(space, actor, memory)
        if by:
            outcome += f"; no longer superseded by {', '.join(by)}"
    return Reverted(memory, to_version, True, kept_because is None, outcome)

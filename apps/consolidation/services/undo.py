"""Undoing an applied proposal: the memories go back to how they were before it, each
change through the domain layer (a version and an audit event), and the proposal
becomes `undone`, ready to be applied again.

What undo means per operation:
- merge: the originals get back their status and validity; the merged memory is
  deleted (softly: it and its `derived_from` links stay as history).
- supersede: the old memory gets back its status and validity; the `supersedes`
  link ends.
- summary: the summary is archived. Its `derived_from` links stay: they say where
  the archived text came from, and an archived memory is out of search anyway.
- link: the links the apply created are removed (not ones that existed before).
- archive: the memory is restored.
- entity: `apps.consolidation.entities.undo_proposal`.

An undo never overwrites a later change: when a memory the apply rewrote is at
another version now, nothing is undone and the refusal (409) lists what changed.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any
from uuid import UUID

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from apps.audit.actors import Actor
from apps.audit.services import record_event
from apps.consolidation import entities
from apps.consolidation.models import Operation, Proposal
from apps.consolidation.services.decisions import changed_by, versions_of
from apps.consolidation.services.proposals import ProposalError
from apps.memories import services as memories
from apps.memories.models import Link, Memory, MemoryVersion
from apps.spaces.models import Space


class UndoConflict(ProposalError):
    """The memories changed since the apply; `details` says which and how."""

    def __init__(self, message: str, details: dict[str, Any]) -> None:
        super().__init__(message, status=409)
        self.details = details


def undo(proposal: Proposal, actor: Actor) -> Proposal:
    """Take back an applied proposal, all of it or nothing."""
    with transaction.atomic():
        locked = (
            Proposal.objects.for_space(proposal.space_id).select_for_update().get(pk=proposal.pk)
        )
        if locked.status != Proposal.Status.APPLIED:
            raise ProposalError(
                f"only an applied proposal can be undone; this one is {locked.status}"
            )
        space = locked.space
        changes = changes_since_apply(space, locked)
        if changes:
            raise UndoConflict(
                "the memories changed since this was applied; nothing was undone",
                {"id": locked.pk, "changed": changes},
            )
        try:
            done = _take_back(space, locked, actor)
        except memories.MemoryServiceError as refused:
            # Raised inside the transaction: whatever was taken back so far is rolled back.
            raise ProposalError(f"cannot undo: {refused.message}") from refused
        now = timezone.now()
        locked.status = Proposal.Status.UNDONE
        locked.status_reason = f"undone by {actor.label} at {now:%Y-%m-%d %H:%M} UTC"
        locked.decided_at = now
        locked.decided_by = actor.label
        # The memories as they are now: applying it again checks against these.
        current = versions_of(space, [str(pk) for pk in locked.memory_ids])
        locked.memory_versions = [
            current.get(str(pk), version)
            for pk, version in zip(locked.memory_ids, locked.memory_versions, strict=True)
        ]
        locked.result = {**locked.result, "undone": done}
        locked.save(
            update_fields=[
                "status",
                "status_reason",
                "decided_at",
                "decided_by",
                "memory_versions",
                "result",
            ]
        )
        record_event(
            space,
            actor,
            "proposal.undo",
            target_type="proposal",
            target_id=locked.pk,
            summary={"operation": locked.operation, **done},
        )
        return locked


def changes_since_apply(space: Space, proposal: Proposal) -> list[dict[str, Any]]:
    """Each memory the apply rewrote that is at another version now: its id, the
    version the apply left, the version now, and the changes in between (from its
    version rows; field names only, never the text)."""
    left = proposal.result.get("versions_after")
    if left is None:
        left = _versions_written_by(space, proposal)
    now = versions_of(space, list(left))
    changed = []
    for pk, version in left.items():
        if now.get(pk) == version:
            continue
        changed.append(
            {
                "id": pk,
                "version_at_apply": version,
                "version_now": now.get(pk),
                # Purged: no versions are left to say what changed.
                "purged": pk not in now,
                "changes": _versions_between(space, pk, version) if pk in now else [],
            }
        )
    return changed


def _versions_written_by(space: Space, proposal: Proposal) -> dict[str, int | None]:
    """For a proposal applied before `versions_after` was recorded: the versions its
    apply wrote, found by the reason it gave them (None where it wrote none)."""
    memory_ids = changed_by(proposal)
    written = dict(
        MemoryVersion.objects.for_space(space)
        .filter(memory_id__in=memory_ids, reason=f"consolidation proposal {proposal.pk}")
        .values("memory_id")
        .annotate(latest=Max("version"))
        .values_list("memory_id", "latest")
    )
    return {pk: written.get(UUID(pk)) for pk in memory_ids}


def _versions_between(space: Space, memory_id: str, since: int | None) -> list[dict[str, Any]]:
    rows = list(
        MemoryVersion.objects.for_space(space)
        .filter(memory_id=memory_id, version__gte=since or 1)
        .order_by("version")
    )
    described = []
    for earlier, later in pairwise(rows):
        before, after = earlier.snapshot(), later.snapshot()
        described.append(
            {
                "version": later.version,
                "action": later.action,
                "by": later.actor_label,
                "at": later.created_at.isoformat(),
                "fields": sorted(name for name in after if after[name] != before[name]),
            }
        )
    return described


def _take_back(space: Space, proposal: Proposal, actor: Actor) -> dict[str, Any]:
    reason = f"undo of consolidation proposal {proposal.pk}"
    result = proposal.result
    if proposal.operation == Operation.MERGE:
        restored = memories.unmerge_memory(space, actor, result["merged"], reason=reason)
        return {"restored": [str(m.pk) for m in restored], "deleted": result["merged"]}
    if proposal.operation == Operation.SUPERSEDE:
        memories.unsupersede_memory(space, actor, result["superseded"], result["by"], reason=reason)
        return {"restored": [result["superseded"]]}
    if proposal.operation == Operation.SUMMARY:
        memories.archive_memory(space, actor, result["summary"], reason=reason)
        return {"archived": [result["summary"]]}
    if proposal.operation == Operation.LINK:
        # A link removed since is already gone: the others still come out.
        still_there = list(
            Link.objects.for_space(space)
            .filter(pk__in=result.get("links", []))
            .values_list("pk", flat=True)
        )
        for link_id in still_there:
            memories.unlink(space, actor, link_id)
        return {"unlinked": still_there}
    if proposal.operation == Operation.ARCHIVE:
        memories.restore_memory(space, actor, result["archived"], reason=reason)
        return {"restored": [result["archived"]]}
    if proposal.operation == Operation.ENTITY:
        return dict(entities.undo_proposal(proposal, actor))
    raise ProposalError(f"{proposal.operation} cannot be undone")


def proposals_changing(space: Space, memory: Memory) -> list[Proposal]:
    """The applied proposals whose undo would rewrite `memory`: those naming it, and
    the merge or summary that produced it."""
    memory_id = str(memory.pk)
    applied = Proposal.objects.for_space(space).filter(status=Proposal.Status.APPLIED)
    # A summary's members are not changed by it, nor by its undo.
    naming = applied.filter(memory_ids__contains=[memory.pk]).exclude(operation=Operation.SUMMARY)
    produced = applied.filter(result__merged=memory_id) | applied.filter(result__summary=memory_id)
    return list((naming | produced).distinct().order_by("-decided_at"))

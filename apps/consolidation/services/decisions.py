"""Deciding proposals: apply (through the domain layer) or reject, and forgetting
the proposals about a purged memory."""

from collections.abc import Mapping

from django.db import transaction
from django.utils import timezone

from apps.audit.actors import Actor
from apps.audit.models import AuditEvent
from apps.audit.redaction import holding_any, redact_events, scrubbed
from apps.audit.services import record_event
from apps.consolidation import entities
from apps.consolidation.models import Operation, Proposal
from apps.consolidation.services.proposals import ProposalError
from apps.consolidation.services.recheck import recheck_proposal, staleness
from apps.memories import services as memories
from apps.memories.models import Link, LinkType, Memory
from apps.spaces.models import Space


def _still_as_proposed(space: Space, proposal: Proposal) -> bool:
    current = dict(
        Memory.objects.for_space(space)
        .filter(pk__in=proposal.memory_ids)
        .values_list("pk", "version")
    )
    expected = dict(zip(proposal.memory_ids, proposal.memory_versions, strict=True))
    return len(current) == len(expected) and all(
        current.get(pk) == version for pk, version in expected.items()
    )


# What may be applied: a proposal waiting for a decision, or one applied and then
# undone (applying it again redoes the change on the memories as they are now).
APPLICABLE = (Proposal.Status.PENDING, Proposal.Status.UNDONE)


def apply(proposal: Proposal, actor: Actor, content: str | None = None) -> Proposal:
    """Carry out a pending or undone proposal (with `content` edited by the approver,
    for a merge).

    A proposal whose memories changed since is marked stale, and nothing is applied.
    """
    with transaction.atomic():
        locked = (
            Proposal.objects.for_space(proposal.space_id).select_for_update().get(pk=proposal.pk)
        )
        if locked.status not in APPLICABLE:
            raise ProposalError(f"this proposal is already {locked.status}")
        if _still_as_proposed(locked.space, locked):
            return _carry_out(locked, actor, content)
        locked.status = Proposal.Status.STALE
        locked.status_reason = staleness(locked.space, locked)
        locked.decided_at = timezone.now()
        locked.save(update_fields=["status", "status_reason", "decided_at"])
    # Judged again at once, so the curator sees it back with fresh evidence or retired
    # with the reason, rather than a dead card; raised once that is stored.
    rechecked = recheck_proposal(proposal)
    raise ProposalError(
        "the memories changed since this was proposed; nothing was applied. "
        + (rechecked.status_reason or "It is marked stale.")
    )


def changed_by(proposal: Proposal) -> list[str]:
    """The memories an applied proposal rewrote, which its undo rewrites back: the
    ones whose later edits an undo must not silently overwrite. A link or an entity
    changes no memory's version."""
    result = proposal.result
    if proposal.operation == Operation.MERGE:
        return [*(str(pk) for pk in proposal.memory_ids), result["merged"]]
    if proposal.operation == Operation.SUMMARY:
        return [result["summary"]]
    if proposal.operation == Operation.SUPERSEDE:
        return [result["superseded"]]
    if proposal.operation == Operation.ARCHIVE:
        return [result["archived"]]
    return []


def versions_of(space: Space, memory_ids: list[str]) -> dict[str, int]:
    return {
        str(pk): version
        for pk, version in Memory.objects.for_space(space)
        .filter(pk__in=memory_ids)
        .values_list("pk", "version")
    }


def _carry_out(locked: Proposal, actor: Actor, content: str | None) -> Proposal:
    space = locked.space
    reason = f"consolidation proposal {locked.pk}"
    if locked.operation == Operation.MERGE:
        merged = memories.merge_memories(
            space,
            actor,
            locked.memory_ids,
            reason=reason,
            content=content if content is not None else locked.change["content"],
        )
        locked.result = {"merged": str(merged.pk)}
    elif locked.operation == Operation.SUMMARY:
        summary = memories.summarize_memories(
            space,
            actor,
            locked.memory_ids,
            content=content if content is not None else locked.change["content"],
            level=int(locked.change.get("level", 1)),
            reason=reason,
        )
        locked.result = {"summary": str(summary.pk)}
    elif locked.operation == Operation.SUPERSEDE:
        memories.supersede_memory(
            space, actor, locked.change["superseded"], locked.change["by"], reason=reason
        )
        locked.result = {"superseded": locked.change["superseded"], "by": locked.change["by"]}
    elif locked.operation == Operation.LINK:
        source = locked.memory_ids[0]
        weights = locked.change.get("weights") or locked.evidence.get("similarities", {})
        targets = locked.change["related_to"]
        still_active = {
            str(pk)
            for pk in Memory.objects.for_space(space)
            .active()
            .filter(pk__in=targets)
            .values_list("pk", flat=True)
        }
        # A link someone made meanwhile is theirs: undoing this must not remove it.
        existing = set(
            Link.objects.for_space(space)
            .filter(source_id=source, type=LinkType.RELATED_TO)
            .values_list("pk", flat=True)
        )
        created = []
        for target in targets:
            if target not in still_active:
                continue  # gone since: the other links still stand
            link = memories.link_memories(
                space, actor, source, target, LinkType.RELATED_TO, weight=weights.get(target, 1.0)
            )
            if link.pk not in existing:
                created.append(link.pk)
        locked.result = {"links": created}
    elif locked.operation == Operation.ENTITY:
        locked.result = entities.apply_proposal(locked, actor)
    else:
        memories.archive_memory(space, actor, locked.memory_ids[0], reason=reason)
        locked.result = {"archived": str(locked.memory_ids[0])}
    locked.result["versions_after"] = versions_of(space, changed_by(locked))
    locked.status = Proposal.Status.APPLIED
    locked.status_reason = ""
    locked.decided_at = timezone.now()
    locked.decided_by = actor.label
    locked.save(update_fields=["status", "status_reason", "decided_at", "decided_by", "result"])
    record_event(
        space,
        actor,
        "proposal.apply",
        target_type="proposal",
        target_id=locked.pk,
        summary={"operation": locked.operation, **locked.result},
    )
    return locked


@transaction.atomic
def reject(proposal: Proposal, actor: Actor, reason: str = "") -> Proposal:
    locked = Proposal.objects.for_space(proposal.space_id).select_for_update().get(pk=proposal.pk)
    if locked.status != Proposal.Status.PENDING:
        raise ProposalError(f"this proposal is already {locked.status}")
    locked.status = Proposal.Status.REJECTED
    locked.decided_at = timezone.now()
    locked.decided_by = actor.label
    locked.save(update_fields=["status", "decided_at", "decided_by"])
    record_event(
        locked.space,
        actor,
        "proposal.reject",
        target_type="proposal",
        target_id=locked.pk,
        reason=reason,
        summary={"operation": locked.operation},
    )
    return locked


@transaction.atomic
def forget_proposals_about(space: Space, memory_id: object) -> int:
    """Delete the proposals naming a memory being purged (a merge's content, a summary
    and the evidence quote its text), and redact their audit events (a rejection's
    reason may quote it too). Returns how many proposals went."""
    proposals = Proposal.objects.for_space(space).filter(memory_ids__contains=[memory_id])
    ids = [str(pk) for pk in proposals.values_list("pk", flat=True)]
    redact_events(
        space,
        AuditEvent.objects.for_space(space).filter(target_type="proposal", target_id__in=ids),
        keep=[*Operation.values, *Proposal.Status.values],
    )
    deleted, _ = proposals.delete()
    return deleted


@transaction.atomic
def scrub_proposals(space: Space, replacements: Mapping[str, str]) -> int:
    """Replace redacted texts in the proposals of the space (a merge's content, a
    summary, the evidence and the reasons quote memories). Their audit events are
    scrubbed with all the others. Returns how many proposals changed."""
    fields = ["change", "evidence", "result", "status_reason"]
    changed = []
    holding = holding_any(replacements, "status_reason", json_fields=fields[:3])
    for proposal in Proposal.objects.for_space(space).filter(holding):
        before = [getattr(proposal, name) for name in fields]
        for name, value in zip(fields, before, strict=True):
            setattr(proposal, name, scrubbed(value, replacements))
        if [getattr(proposal, name) for name in fields] != before:
            changed.append(proposal)
    Proposal.objects.for_space(space).bulk_update(changed, fields, batch_size=500)
    return len(changed)

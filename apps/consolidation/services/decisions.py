"""Deciding proposals: apply (through the domain layer) or reject, and forgetting
the proposals about a purged memory."""

from django.db import transaction
from django.utils import timezone

from apps.audit.actors import Actor
from apps.audit.models import AuditEvent
from apps.audit.redaction import redact_events
from apps.audit.services import record_event
from apps.consolidation import entities
from apps.consolidation.models import Operation, Proposal
from apps.consolidation.services.proposals import ProposalError
from apps.memories import services as memories
from apps.memories.models import LinkType, Memory
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


def apply(proposal: Proposal, actor: Actor, content: str | None = None) -> Proposal:
    """Carry out a pending proposal (with `content` edited by the approver, for a merge).

    A proposal whose memories changed since is marked stale, and nothing is applied.
    """
    with transaction.atomic():
        locked = (
            Proposal.objects.for_space(proposal.space_id).select_for_update().get(pk=proposal.pk)
        )
        if locked.status != Proposal.Status.PENDING:
            raise ProposalError(f"this proposal is already {locked.status}")
        if _still_as_proposed(locked.space, locked):
            return _carry_out(locked, actor, content)
        locked.status = Proposal.Status.STALE
        locked.decided_at = timezone.now()
        locked.save(update_fields=["status", "decided_at"])
    # Raised once the stale mark is stored.
    raise ProposalError("the memories changed since this was proposed; nothing was applied")


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
        created = []
        for target in targets:
            if target not in still_active:
                continue  # gone since: the other links still stand
            link = memories.link_memories(
                space, actor, source, target, LinkType.RELATED_TO, weight=weights.get(target, 1.0)
            )
            created.append(link.pk)
        locked.result = {"links": created}
    elif locked.operation == Operation.ENTITY:
        locked.result = entities.apply_proposal(locked, actor)
    else:
        memories.archive_memory(space, actor, locked.memory_ids[0], reason=reason)
        locked.result = {"archived": str(locked.memory_ids[0])}
    locked.status = Proposal.Status.APPLIED
    locked.decided_at = timezone.now()
    locked.decided_by = actor.label
    locked.save(update_fields=["status", "decided_at", "decided_by", "result"])
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

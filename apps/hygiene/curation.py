"""What a curator does with flags: dismiss them, archive the flagged memories, and
(wired by the redaction service) redact them. Every change to a memory goes through
apps.memories.services; every change to a flag writes an audit event."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from django.db import transaction
from django.utils import timezone

from apps.audit.actors import Actor
from apps.audit.services import record_events
from apps.hygiene.models import Flag
from apps.memories import services
from apps.memories.models import Status
from apps.spaces.models import Space

# Set to True by the branch that adds `redact_memory` to apps.memories.services, with
# `redact_flagged` below calling it; the Flags page offers "Redact" only then.
REDACTION_AVAILABLE = False


class RedactionUnavailable(services.MemoryServiceError):
    code = "redaction_unavailable"


@transaction.atomic
def dismiss_flags(space: Space, actor: Actor, flag_ids: Sequence[int]) -> int:
    """Dismiss the open flags among `flag_ids`: a later scan of the same span keeps
    them dismissed. Returns how many were dismissed."""
    flags = list(
        Flag.objects.for_space(space)
        .open()
        .filter(pk__in=flag_ids)
        .select_for_update()
        .only("pk", "category", "type", "memory_id", "episode_id")
    )
    if not flags:
        return 0
    Flag.objects.for_space(space).filter(pk__in=[f.pk for f in flags]).update(
        status=Flag.Status.DISMISSED, resolved_at=timezone.now(), resolved_by=actor.label
    )
    record_events(
        space,
        actor,
        "flag.dismiss",
        [
            (
                "flag",
                flag.pk,
                {
                    "category": flag.category,
                    "type": flag.type,
                    "memory": str(flag.memory_id or ""),
                    "episode": str(flag.episode_id or ""),
                },
            )
            for flag in flags
        ],
    )
    return len(flags)


def flagged_memory_ids(
    space: Space, flag_ids: Sequence[int], *, status: str | None = None
) -> list[UUID]:
    flags = Flag.objects.for_space(space).filter(pk__in=flag_ids, memory__isnull=False)
    if status is not None:
        flags = flags.filter(memory__status=status)
    return list(flags.values_list("memory_id", flat=True).distinct())


@transaction.atomic
def archive_flagged(space: Space, actor: Actor, flag_ids: Sequence[int]) -> int:
    """Archive the active memories the flags are on (their flags stay as they are);
    others are left as they are. Returns how many memories were archived."""
    archived = 0
    for memory_id in flagged_memory_ids(space, flag_ids, status=Status.ACTIVE):
        try:
            services.archive_memory(space, actor, memory_id, reason="flagged by hygiene scan")
        except services.InvalidTransition:
            continue
        archived += 1
    return archived


def redact_flagged(space: Space, actor: Actor, flag_ids: Sequence[int]) -> int:
    """Hook for the redaction service: redact the flagged spans of these flags'
    memories through apps.memories.services (a new version each) and resolve the flags."""
    raise RedactionUnavailable("Redacting stored memories is not available yet.")

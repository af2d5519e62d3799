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
from apps.hygiene.scanner import union_of_spans
from apps.memories import services
from apps.memories.models import Status
from apps.spaces.models import Space


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


@transaction.atomic
def redact_flagged(space: Space, actor: Actor, flag_ids: Sequence[int]) -> int:
    """Redact the flagged spans of these open flags' memories through the redaction
    service (a new version each, the text scrubbed from all history), which resolves
    the flags whose findings it took away. Flags computed on an older text of a memory
    are left open: their offsets no longer point at the words. Returns how many
    memories were redacted."""
    flags = list(
        Flag.objects.for_space(space)
        .open()
        .filter(pk__in=flag_ids, memory__isnull=False)
        .select_related("memory")
        .only("pk", "start", "end", "type", "content_hash", "memory__content_hash")
        .order_by("memory_id", "start")
    )
    by_memory: dict[UUID, list[Flag]] = {}
    for flag in flags:
        if flag.memory is not None and flag.content_hash == flag.memory.content_hash:
            by_memory.setdefault(flag.memory.pk, []).append(flag)
    for memory_id, memory_flags in by_memory.items():
        services.redact_memory(
            space,
            actor,
            memory_id,
            union_of_spans(memory_flags),
            reason="redacted from the Flags page",
        )
    return len(by_memory)

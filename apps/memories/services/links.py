"""Typed links between memories of one space."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection, transaction

from apps.audit.actors import Actor
from apps.audit.services import record_event, record_events
from apps.memories.models import (
    Link,
    LinkType,
    Memory,
)
from apps.memories.services.errors import (
    InvalidMemory,
    MemoryNotFound,
)
from apps.memories.services.records import (
    MemoryId,
    lock_link_endpoints,
)
from apps.spaces.models import Space


def add_link(
    space: Space,
    actor: Actor,
    source: Memory,
    target: Memory,
    link_type: str,
    weight: float = 1.0,
    metadata: dict[str, Any] | None = None,
) -> tuple[Link, bool]:
    if link_type not in LinkType.values:
        raise InvalidMemory(
            f"unknown link type {link_type!r}",
            details={"type": f"one of {', '.join(LinkType.values)}"},
        )
    if source.pk == target.pk:
        raise InvalidMemory("a memory cannot link to itself", details={"target": str(target.pk)})
    link, created = Link.objects.for_space(space).get_or_create(
        source=source,
        target=target,
        type=link_type,
        defaults={
            "space": space,
            "weight": weight,
            "created_by": actor.label,
            "metadata": metadata or {},
        },
    )
    if created:
        record_event(
            space,
            actor,
            "link.create",
            target_type="link",
            target_id=link.pk,
            summary={
                "source": str(source.pk),
                "target": str(target.pk),
                "type": link_type,
                "weight": weight,
            },
        )
    return link, created


@transaction.atomic
def link_memories(
    space: Space,
    actor: Actor,
    source_id: MemoryId,
    target_id: MemoryId,
    link_type: str,
    *,
    weight: float = 1.0,
    metadata: dict[str, Any] | None = None,
) -> Link:
    """Create a typed link; linking twice returns the existing link and records nothing."""
    if str(source_id) == str(target_id):
        raise InvalidMemory("a memory cannot link to itself", details={"target": str(target_id)})
    source, target = lock_link_endpoints(space, [source_id, target_id])
    link, _created = add_link(space, actor, source, target, link_type, weight, metadata)
    return link


@transaction.atomic
def create_links(
    space: Space,
    actor: Actor,
    edges: Sequence[tuple[MemoryId, MemoryId, str]],
    *,
    weight: float = 1.0,
) -> int:
    """Create many (source, target, type) links at once; existing ones are kept as they are.

    Returns how many were new. Every endpoint must be a memory of this space.
    """
    endpoints = {str(i) for edge in edges for i in edge[:2]}
    lock_link_endpoints(space, list(endpoints))  # raises MemoryNotFound for foreign ids
    for source, target, link_type in edges:
        if link_type not in LinkType.values or str(source) == str(target):
            raise InvalidMemory(
                "invalid link",
                details={"source": str(source), "target": str(target), "type": link_type},
            )
    # One link writer per space at a time (a short wait), so no concurrent call adds
    # the same link between this check and the insert.
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended('links', %s))", [space.pk])
    existing = set(
        Link.objects.for_space(space)
        .filter(source_id__in=endpoints, target_id__in=endpoints)
        .values_list("source_id", "target_id", "type")
    )
    wanted = dict.fromkeys(
        (uuid.UUID(str(source)), uuid.UUID(str(target)), link_type)
        for source, target, link_type in edges
    )
    new = Link.objects.for_space(space).bulk_create(
        [
            Link(
                space=space,
                source_id=source,
                target_id=target,
                type=link_type,
                weight=weight,
                created_by=actor.label,
            )
            for source, target, link_type in wanted
            if (source, target, link_type) not in existing
        ]
    )
    record_events(
        space,
        actor,
        "link.create",
        [
            (
                "link",
                link.pk,
                {
                    "source": str(link.source_id),
                    "target": str(link.target_id),
                    "type": link.type,
                    "weight": link.weight,
                },
            )
            for link in new
        ],
    )
    return len(new)


@transaction.atomic
def unlink(space: Space, actor: Actor, link_id: int | str) -> None:
    try:
        link = Link.objects.for_space(space).select_for_update().get(pk=link_id)
    except (Link.DoesNotExist, ValueError, ValidationError):
        raise MemoryNotFound(f"link {link_id} not found", details={"id": str(link_id)}) from None
    summary = {"source": str(link.source_id), "target": str(link.target_id), "type": link.type}
    link_pk = link.pk
    link.delete()
    record_event(
        space, actor, "link.delete", target_type="link", target_id=link_pk, summary=summary
    )

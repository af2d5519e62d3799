"""Time travel: what a space believed at a past moment.

Two times meet here. Valid time says when a fact held (`valid_from`, `valid_to`);
record time says when the space knew it (a memory's `created_at`, and each
version's `created_at`). A memory was believed at a moment when it was already
recorded then, and the version current then was active (or superseded, see
`believed_at`) and valid at that moment.
Each memory comes back as that version: its text, subject and validity as they
stood, not as later edits left them.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, TypedDict

from django.db.models import F, Min, Q, QuerySet

from apps.memories.models import (
    Entity,
    Link,
    LinkType,
    Memory,
    MemoryVersion,
    Mention,
    Status,
)
from apps.spaces.models import Space

BARS_SHOWN = 200


class MemoryNow(TypedDict):
    """What `believed_at` adds to each version from its memory as it is now."""

    recorded_at: datetime
    current_version: int
    current_status: str


if TYPE_CHECKING:  # django-stubs is a development dependency
    from django_stubs_ext import WithAnnotations

    Belief = WithAnnotations[MemoryVersion, MemoryNow]


def versions_current_at(space: Space | int, moment: datetime) -> QuerySet[MemoryVersion]:
    """Each memory's version as it stood at `moment`: the latest one recorded by then,
    for the memories recorded by then.

    An import keeps a memory's `created_at` but may stamp a history without versions
    at the time of the import; such a memory counts from its `created_at`, as its
    first version.
    """
    latest = (
        MemoryVersion.objects.for_space(space)
        .filter(memory__created_at__lte=moment)
        .filter(Q(created_at__lte=moment) | Q(version=1))
        .order_by("memory_id", "-version")
        .distinct("memory_id")
        .values("pk")
    )
    return MemoryVersion.objects.for_space(space).filter(pk__in=latest)


def believed_at(
    space: Space | int,
    moment: datetime,
    subject: str = "",
    entity: Entity | None = None,
) -> QuerySet[Belief]:
    """The memories believed at `moment`, each as its version current then, in one query.

    Believed: the version current then was active and valid at `moment`. A superseded
    version still counts while valid: superseding ends a memory's validity where its
    replacement's begins, which may lie after the moment. A memory merged into another
    is superseded with no end to its validity; the merged copy stands for it.

    `subject` matches the subject as it was then, in part and in any case ("Maya" finds
    "Maya Okafor"); `entity` narrows to the memories that mention it.

    Each row carries `recorded_at`, `current_version` and `current_status` from the
    memory as it is now.
    """
    versions = versions_current_at(space, moment).filter(
        Q(status=Status.ACTIVE) | Q(status=Status.SUPERSEDED, valid_to__isnull=False),
        Q(valid_from__isnull=True) | Q(valid_from__lte=moment),
        Q(valid_to__isnull=True) | Q(valid_to__gt=moment),
    )
    if subject:
        versions = versions.filter(subject__icontains=subject)
    if entity is not None:
        mentioning = Mention.objects.for_space(space).filter(entity=entity).values("memory_id")
        versions = versions.filter(memory_id__in=mentioning)
    return versions.annotate(
        recorded_at=F("memory__created_at"),
        current_version=F("memory__version"),
        current_status=F("memory__status"),
    ).order_by("subject", F("valid_from").asc(nulls_first=True), "memory__created_at", "pk")


def held_at(
    space: Space | int,
    moment: datetime,
    subject: str = "",
    entity: Entity | None = None,
) -> QuerySet[Memory]:
    """What held at `moment` as the space knows it now, however late it was recorded:
    valid time only, current text and validity. Beside `believed_at` it answers
    "what do we know now about then", e.g. for history imported after the fact.

    Rows carry the fields `believed_at` rows do, so one template lists either.
    """
    memories = Memory.objects.for_space(space).filter(
        Q(status=Status.ACTIVE) | Q(status=Status.SUPERSEDED, valid_to__isnull=False),
        Q(valid_from__lte=moment) | Q(valid_from__isnull=True, created_at__lte=moment),
        Q(valid_to__isnull=True) | Q(valid_to__gt=moment),
    )
    if subject:
        memories = memories.filter(subject__icontains=subject)
    if entity is not None:
        mentioning = Mention.objects.for_space(space).filter(entity=entity).values("memory_id")
        memories = memories.filter(pk__in=mentioning)
    return (
        memories.defer("embedding", "search_vector")
        .annotate(
            memory_id=F("pk"),
            recorded_at=F("created_at"),
            current_version=F("version"),
            current_status=F("status"),
        )
        .order_by("subject", F("valid_from").asc(nulls_first=True), "created_at", "pk")
    )


def first_moment(space: Space | int) -> datetime | None:
    """Where the space's history begins: its earliest record or validity start."""
    found = Memory.objects.for_space(space).aggregate(
        recorded=Min("created_at"), valid=Min("valid_from")
    )
    known = [moment for moment in (found["recorded"], found["valid"]) if moment is not None]
    return min(known) if known else None


@dataclass(frozen=True)
class Bar:
    """One memory's validity as known now: from `start` (valid_from, else when it was
    recorded) to `end` (valid_to; None: still valid)."""

    memory_id: uuid.UUID
    content: str
    status: str
    start: datetime
    end: datetime | None
    recorded_at: datetime


@dataclass(frozen=True)
class Facts:
    """A subject's or an entity's memories as validity bars, and which replaced which:
    `supersessions` holds (old, new) pairs among the bars."""

    bars: list[Bar]
    supersessions: list[tuple[uuid.UUID, uuid.UUID]]
    cut: bool


def facts_of(
    space: Space | int, subject: str = "", entity: Entity | None = None, limit: int = BARS_SHOWN
) -> Facts:
    """The memories of a subject or entity (current subject, any status but deleted),
    earliest first, as validity bars with their supersessions, in two queries."""
    memories = Memory.objects.for_space(space).exclude(status=Status.DELETED)
    if subject:
        memories = memories.filter(subject__icontains=subject)
    if entity is not None:
        mentioning = Mention.objects.for_space(space).filter(entity=entity).values("memory_id")
        memories = memories.filter(pk__in=mentioning)
    rows = list(
        memories.order_by(F("valid_from").asc(nulls_last=True), "created_at", "pk").values(
            "pk", "content", "status", "valid_from", "valid_to", "created_at"
        )[: limit + 1]
    )
    bars = [
        Bar(
            memory_id=row["pk"],
            content=row["content"],
            status=row["status"],
            start=row["valid_from"] or row["created_at"],
            end=row["valid_to"],
            recorded_at=row["created_at"],
        )
        for row in rows[:limit]
    ]
    bars.sort(key=lambda bar: (bar.start, bar.recorded_at))
    shown = [bar.memory_id for bar in bars]
    links = (
        Link.objects.for_space(space)
        .filter(type=LinkType.SUPERSEDES, source_id__in=shown, target_id__in=shown)
        .order_by("created_at", "pk")
        .values_list("target_id", "source_id")
    )
    return Facts(bars, list(links), cut=len(rows) > limit)

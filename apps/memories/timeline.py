"""Memories over time: counts per time bucket when a range holds many, the memories
themselves (with their validity intervals and edits) when it holds few.

A memory's moment is when it happened (occurred_at), or when it was recorded when
nobody said. Buckets are calendar units in the display time zone, so a day is a day
on the wall clock, 23 or 25 hours long across a daylight-saving change.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Count, DateTimeField, F, Max, Min, Q, QuerySet
from django.db.models.functions import Coalesce, Left, Trunc

from apps.memories.models import Memory, MemoryVersion

DETAIL_LIMIT = 2000  # memories in a range drawn one by one; more are counted per bucket
LIST_ROWS = 200
EDIT_MARKS = 2000
# (unit, spans up to): the finest unit that keeps a range to a few hundred buckets.
UNITS = (
    ("hour", timedelta(days=3)),
    ("day", timedelta(days=240)),
    ("week", timedelta(days=5 * 365)),
    ("month", None),
)


def moment() -> Coalesce:
    return Coalesce(F("occurred_at"), F("created_at"), output_field=DateTimeField())


def with_moment(memories: QuerySet[Memory]) -> QuerySet[Memory]:
    if "moment" in memories.query.annotations:
        return memories
    return memories.annotate(moment=moment())


def in_range(
    memories: QuerySet[Memory], start: datetime | None, end: datetime | None
) -> QuerySet[Memory]:
    memories = with_moment(memories)
    if start is not None:
        memories = memories.filter(Q(moment__gte=start))
    if end is not None:
        memories = memories.filter(Q(moment__lt=end))
    return memories


def span(memories: QuerySet[Memory]) -> tuple[datetime | None, datetime | None]:
    found = with_moment(memories).aggregate(first=Min("moment"), last=Max("moment"))
    return found["first"], found["last"]


def unit_for(start: datetime, end: datetime) -> str:
    for unit, limit in UNITS:
        if limit is None or end - start <= limit:
            return unit
    return "month"


@dataclass
class Bucket:
    start: datetime
    category: str
    count: int


def buckets(memories: QuerySet[Memory], unit: str, category: str) -> list[Bucket]:
    """Counts per (calendar `unit` in the display time zone, `category` field value)."""
    zone = zoneinfo.ZoneInfo(settings.TIME_ZONE)
    rows = (
        with_moment(memories)
        .annotate(bucket=Trunc("moment", unit, tzinfo=zone))
        .values("bucket", category)
        .annotate(count=Count("pk"))
        .order_by("bucket", category)
    )
    return [Bucket(row["bucket"], row[category], row["count"]) for row in rows]


def next_bucket(start: datetime, unit: str) -> datetime:
    """The start of the bucket after the one starting at `start` (an aware datetime in
    the display zone): calendar arithmetic, so a day across a DST change stays a day."""
    local = start.astimezone(zoneinfo.ZoneInfo(settings.TIME_ZONE)).replace(tzinfo=None)
    if unit == "hour":
        return start + timedelta(hours=1)
    if unit == "day":
        following = local + timedelta(days=1)
    elif unit == "week":
        following = local + timedelta(weeks=1)
    else:
        following = (local.replace(day=1) + timedelta(days=32)).replace(day=1)
    return following.replace(tzinfo=zoneinfo.ZoneInfo(settings.TIME_ZONE))


def details(memories: QuerySet[Memory], limit: int = DETAIL_LIMIT) -> list[dict[str, Any]]:
    """The first `limit` memories of a range, oldest first, without their large columns."""
    return list(
        with_moment(memories)
        .annotate(snippet=Left("content", 160))
        .order_by("moment", "pk")
        .values(
            "pk",
            "moment",
            "snippet",
            "kind",
            "status",
            "subject",
            "session",
            "version",
            "valid_from",
            "valid_to",
        )[:limit]
    )


def edits(
    memories: QuerySet[Memory], space_id: int, start: datetime, end: datetime
) -> list[dict[str, Any]]:
    """Versions after the first of these memories made from `start` to `end` (the
    chart's range: a later edit would stretch its axis): when each was made, and how."""
    versions = (
        MemoryVersion.objects.for_space(space_id)
        .using(memories.db)
        .filter(
            memory__in=memories.values("pk"),
            version__gt=1,
            created_at__gte=start,
            created_at__lte=end,
        )
        .order_by("created_at")
        .values("memory_id", "version", "action", "created_at", "actor_label")
    )
    return [dict(row) for row in versions[:EDIT_MARKS]]

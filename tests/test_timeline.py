"""Timeline buckets: calendar units in the display time zone, across a DST change."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from apps.memories import services, timeline
from apps.memories.models import Memory

BERLIN = ZoneInfo("Europe/Berlin")


def utc(year, month, day, hour=0, minute=0):
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


@pytest.fixture
def around_the_spring_change(space, actor, settings):
    """Berlin moves its clocks from 02:00 to 03:00 on 2026-03-29 (01:00 UTC)."""
    settings.TIME_ZONE = "Europe/Berlin"
    moments = [
        utc(2026, 3, 28, 22, 30),  # 23:30 on the 28th, local
        utc(2026, 3, 28, 23, 30),  # 00:30 on the 29th (CET)
        utc(2026, 3, 29, 0, 30),  # 01:30 on the 29th (CET)
        utc(2026, 3, 29, 1, 30),  # 03:30 on the 29th (CEST)
        utc(2026, 3, 29, 21, 30),  # 23:30 on the 29th (CEST)
        utc(2026, 3, 29, 22, 30),  # 00:30 on the 30th
    ]
    services.create_memories(
        space, actor, [{"content": f"m{i}", "occurred_at": m} for i, m in enumerate(moments)]
    )
    return Memory.objects.for_space(space)


def test_days_are_local_days_across_a_daylight_saving_change(around_the_spring_change):
    days = timeline.buckets(around_the_spring_change, "day", "kind")
    got = [(b.start.astimezone(BERLIN).date().isoformat(), b.count) for b in days]
    assert got == [("2026-03-28", 1), ("2026-03-29", 4), ("2026-03-30", 1)]
    # Each bucket starts at local midnight, whatever the UTC offset that day.
    assert [b.start.astimezone(BERLIN).hour for b in days] == [0, 0, 0]
    the_short_day = days[1].start
    assert timeline.next_bucket(the_short_day, "day") == days[2].start
    elapsed = days[2].start.astimezone(UTC) - the_short_day.astimezone(UTC)
    assert elapsed.total_seconds() == 23 * 3600  # the day the clocks went forward


def test_hours_never_merge_across_the_change(around_the_spring_change):
    hours = timeline.buckets(around_the_spring_change, "hour", "kind")
    assert [b.count for b in hours] == [1, 1, 1, 1, 1, 1]
    assert len({b.start for b in hours}) == 6


def test_the_unit_follows_the_span():
    start = utc(2026, 1, 1)
    assert timeline.unit_for(start, utc(2026, 1, 2)) == "hour"
    assert timeline.unit_for(start, utc(2026, 3, 1)) == "day"
    assert timeline.unit_for(start, utc(2028, 1, 1)) == "week"
    assert timeline.unit_for(start, utc(2036, 1, 1)) == "month"
    assert timeline.next_bucket(utc(2026, 1, 1), "month") == utc(2026, 2, 1)
    assert timeline.next_bucket(utc(2026, 12, 1), "month") == utc(2027, 1, 1)


def test_a_memory_without_a_date_counts_when_it_was_recorded(space, actor):
    services.create_memory(space, actor, content="undated")
    first, last = timeline.span(Memory.objects.for_space(space))
    assert first is not None and first == last

"""The timeline in a real browser: see memories over time, zoom into a range, open one."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from apps.audit.actors import Actor
from apps.memories import services
from tests.browser.console import at_both_widths, console_errors

pytestmark = pytest.mark.slow

ACTOR = Actor.system("seed")
DAY = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)


def test_zoom_into_a_range_and_open_a_memory(logged_in, live_server, curator_space, shot):
    page = logged_in
    first, _later = services.create_memories(
        curator_space,
        ACTOR,
        [
            {"content": "Maya signed up for the marathon.", "occurred_at": DAY},
            {"content": "Maya ran the marathon.", "occurred_at": DAY + timedelta(days=30)},
        ],
    )
    page.goto(f"{live_server.url}/s/lab/")
    page.get_by_role("navigation", name="Space").get_by_role("link", name="Timeline").click()
    expect(page.locator("[data-plotly] .main-svg").first).to_be_visible()
    expect(page.locator("#timeline-panel")).to_contain_text("2 memories from")
    shot(page, "timeline")

    # What plotly reports after a drag across the first two weeks.
    page.evaluate(
        "() => document.querySelector('[data-plotly]').emit('plotly_relayout',"
        " {'xaxis.range[0]': '2026-05-01 00:00:00.5', 'xaxis.range[1]': '2026-05-15 00:00'})"
    )
    panel = page.locator("#timeline-panel")
    expect(panel).to_contain_text("1 memory from")
    expect(panel).to_contain_text("Show the whole range")
    expect(page).to_have_url(re.compile(r"/s/lab/timeline/\?start=2026-05-01T00%3A00%3A00&end="))
    expect(page.locator("[data-plotly] .main-svg").first).to_be_visible()

    expect(panel).not_to_contain_text("Maya ran the marathon.")  # outside the range
    panel.get_by_role("link", name="Maya signed up for the marathon.").click()
    expect(page).to_have_url(f"{live_server.url}/s/lab/memories/{first.pk}/")


def test_date_fields_move_the_range_and_follow_a_drag(logged_in, live_server, curator_space, shot):
    page = logged_in
    errors = console_errors(page)
    services.create_memories(
        curator_space,
        ACTOR,
        [
            {"content": "Maya signed up for the marathon.", "occurred_at": DAY},
            {"content": "Maya trained in the hills.", "occurred_at": DAY + timedelta(days=12)},
            {"content": "Maya ran the marathon.", "occurred_at": DAY + timedelta(days=30)},
        ],
    )
    page.goto(f"{live_server.url}/s/lab/timeline/")
    panel = page.locator("#timeline-panel")
    expect(panel).to_contain_text("3 memories from")

    # Without a pointer: type the range into the fields and send it.
    page.get_by_label("From", exact=True).fill("2026-05-10T00:00:00")
    page.get_by_label("To", exact=True).fill("2026-05-20T00:00:00")
    page.get_by_label("To", exact=True).press("Enter")
    expect(panel).to_contain_text("1 memory from")
    expect(panel).to_contain_text("Maya trained in the hills.")
    expect(panel).not_to_contain_text("Maya ran the marathon.")
    expect(page).to_have_url(re.compile(r"start=2026-05-10T00%3A00(%3A00)?&end=2026-05-20T00%3A00"))
    expect(page.locator("[data-plotly] .main-svg").first).to_be_visible()

    # A drag across the chart: the fields show the range it chose.
    page.evaluate(
        "() => document.querySelector('[data-plotly]').emit('plotly_relayout',"
        " {'xaxis.range[0]': '2026-05-01 00:00', 'xaxis.range[1]': '2026-05-17 12:00'})"
    )
    expect(panel).to_contain_text("2 memories from")
    expect(page.get_by_label("From", exact=True)).to_have_value(
        re.compile(r"^2026-05-01T00:00(:00)?$")
    )
    expect(page.get_by_label("To", exact=True)).to_have_value(
        re.compile(r"^2026-05-17T12:00(:00)?$")
    )
    expect(page.locator("[data-plotly] .main-svg").first).to_be_visible()
    at_both_widths(page, shot, "timeline-range")

    # Back to everything: the fields empty again.
    panel.get_by_role("link", name="Show the whole range").click()
    expect(panel).to_contain_text("3 memories from")
    expect(page.get_by_label("From", exact=True)).to_have_value("")
    assert errors == []

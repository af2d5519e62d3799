"""A curator at work in a real browser: log in, search, filter, bulk-archive and undo."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from apps.audit.actors import Actor
from apps.memories import services
from apps.memories.models import Memory

pytestmark = pytest.mark.slow

ACTOR = Actor.system("seed")


def seed(space):
    services.create_memory(
        space, ACTOR, content="Maya is training for the Lisbon marathon.", subject="Maya"
    )
    services.create_memory(
        space,
        ACTOR,
        content="Maya prefers green tea in the morning.",
        subject="Maya",
        kind="preference",
    )
    for i in range(3):
        services.create_memory(
            space, ACTOR, content=f"Tomás note number {i} about cycling.", subject="Tomás"
        )


def test_log_in_search_and_filter(logged_in, live_server, curator_space, shot, hashing_backend):
    page = logged_in
    seed(curator_space)
    shot(page, "home")
    page.get_by_label("Space").select_option("lab")  # the switcher
    expect(page).to_have_url(f"{live_server.url}/s/lab/")  # the space's home
    page.get_by_role("navigation", name="Space").get_by_role("link", name="Memories").click()
    expect(page).to_have_url(f"{live_server.url}/s/lab/memories/")
    expect(page.get_by_role("table", name="Memories")).to_contain_text("Lisbon marathon")
    shot(page, "browser")

    page.get_by_role("searchbox", name="Search").fill("marathon")
    page.get_by_label("Mode").select_option("text")
    page.get_by_role("button", name="Search").click()
    expect(page).to_have_url(re.compile(r"q=marathon"))
    rows = page.get_by_role("table", name="Memories").locator("tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first.locator("mark")).to_have_text("marathon")
    shot(page, "browser-search")

    page.goto(f"{live_server.url}/s/lab/memories/")
    page.get_by_text("Filters").click()
    page.get_by_label("Subject").fill("Tomás")
    page.get_by_role("searchbox", name="Search").press("Enter")
    expect(page).to_have_url(re.compile(r"subject=Tom"))
    expect(page.get_by_role("table", name="Memories").locator("tbody tr")).to_have_count(3)
    shot(page, "browser-filtered")


def test_bulk_archive_three_memories_and_undo(logged_in, live_server, curator_space, shot):
    page = logged_in
    seed(curator_space)
    page.goto(f"{live_server.url}/s/lab/memories/?subject=Tom%C3%A1s")
    boxes = page.get_by_label("Select memory")
    expect(boxes).to_have_count(3)
    boxes.nth(0).click()
    boxes.nth(2).click(modifiers=["Shift"])  # a range: all three
    expect(page.locator("#selected-count")).to_have_text("3 selected")
    page.get_by_label("Action", exact=True).select_option("archive")
    page.get_by_role("button", name="Apply…").click()
    dialog = page.get_by_role("alertdialog")
    expect(dialog).to_contain_text("Archive 3 memories?")
    shot(page, "bulk-confirm")
    dialog.get_by_role("button", name="Archive 3").click()

    expect(page.get_by_role("status")).to_contain_text("Archive: 3 of 3 memories.")
    shot(page, "bulk-done")
    statuses = set(
        Memory.objects.for_space(curator_space)
        .filter(subject="Tomás")
        .values_list("status", flat=True)
    )
    assert statuses == {"archived"}

    page.get_by_role("button", name="Undo").click()
    expect(page.get_by_role("status")).to_contain_text("Undone for 3 memories.")
    statuses = set(
        Memory.objects.for_space(curator_space)
        .filter(subject="Tomás")
        .values_list("status", flat=True)
    )
    assert statuses == {"active"}

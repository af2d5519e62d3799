"""After Save, Revert or a status change on a long memory page, the page stays where
the curator was and the result is in view (it used to land on the Purge box at the
bottom); a diff opens in view; a curator creates a memory from the memory list."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect

from apps.audit.actors import Actor
from apps.memories import services
from apps.memories.models import Memory
from tests.browser.conftest import SCREENSHOTS

pytestmark = pytest.mark.slow

ACTOR = Actor.system("seed")
PHONE = {"width": 390, "height": 844}


def long_history(space: Any) -> Memory:
    """A memory whose page is long: many versions, links and reads below the form."""
    memory = services.create_memory(
        space, ACTOR, content="Maya Okafor trains for the Lisbon marathon.", subject="Maya Okafor"
    )
    for version in range(1, 25):
        services.update_memory(
            space,
            ACTOR,
            memory.pk,
            expected_version=version,
            content=f"Maya Okafor trains for the Lisbon marathon, week {version}.",
            reason=f"week {version} of training",
        )
    for n in range(6):
        other = services.create_memory(space, ACTOR, content=f"Maya ran {10 + n} km on day {n}.")
        services.link_memories(space, ACTOR, memory.pk, other.pk, "related_to")
    return Memory.objects.for_space(space).get(pk=memory.pk)


def in_view(page: Page, element: Locator) -> bool:
    """Whether the element lies wholly within the window's height as it is now."""
    box = element.bounding_box()
    height = page.evaluate("window.innerHeight")
    return box is not None and box["y"] >= 0 and box["y"] + box["height"] <= height


def visible_at_all(page: Page, element: Locator) -> bool:
    box = element.bounding_box()
    height = page.evaluate("window.innerHeight")
    return box is not None and box["y"] < height and box["y"] + box["height"] > 0


def settled(page: Page) -> None:
    """Wait for htmx to finish the swap: it scrolls to the anchor as it settles."""
    page.wait_for_function("!document.querySelector('.htmx-settling, .htmx-swapping')")


def viewport_shot(page: Page, name: str) -> None:
    """What the curator sees, not the whole page: the point of these tests."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


def save_an_edit(page: Page, content: str) -> None:
    page.locator("#edit summary").click()
    edit = page.get_by_role("region", name="Edit")
    edit.get_by_label("Content").fill(content)
    save = edit.get_by_role("button", name="Save", exact=True)
    save.scroll_into_view_if_needed()
    page.evaluate("window.sameDocument = true")
    save.click()


@pytest.mark.parametrize("size", ["wide", "phone"])
def test_save_status_and_revert_keep_the_result_in_view(
    logged_in, live_server, curator_space, size
):
    page = logged_in
    if size == "phone":
        page.set_viewport_size(PHONE)
    memory = long_history(curator_space)
    page.goto(f"{live_server.url}/s/lab/memories/{memory.pk}/")
    purge = page.locator("#purge")
    assert page.evaluate("document.documentElement.scrollHeight > 2 * window.innerHeight")

    save_an_edit(page, "Maya Okafor trains for the Porto marathon.")

    saved = page.locator("#edit").get_by_role("status")
    expect(saved).to_have_text("Saved version 26.")
    page.wait_for_function("location.hash === '#edit'")
    settled(page)
    assert in_view(page, saved), "the success message is out of view"
    assert not visible_at_all(page, purge), "the page jumped to the Purge box"
    assert page.evaluate("window.sameDocument") is True, "the page reloaded"
    stored = Memory.objects.for_space(curator_space).get(pk=memory.pk)
    assert (stored.version, stored.content) == (26, "Maya Okafor trains for the Porto marathon.")
    viewport_shot(page, f"save-in-view-{size}")

    page.get_by_role("region", name="Status").get_by_role("button", name="Archive").click()
    archived = page.locator("#status").get_by_role("status")
    expect(archived).to_have_text("Archived: now version 27.")
    settled(page)
    assert in_view(page, archived), "the status message is out of view"
    assert not visible_at_all(page, purge)
    viewport_shot(page, f"status-in-view-{size}")

    page.get_by_role("button", name="Revert to v25").click()
    reverted = page.locator("#versions").get_by_role("status")
    expect(reverted).to_contain_text("Reverted to version 25: saved as version 28.")
    settled(page)
    assert in_view(page, reverted.locator("li").first), "the revert message is out of view"
    assert not visible_at_all(page, purge)
    viewport_shot(page, f"revert-in-view-{size}")


def test_a_diff_opens_in_view(logged_in, live_server, curator_space):
    page = logged_in
    memory = long_history(curator_space)
    page.goto(f"{live_server.url}/s/lab/memories/{memory.pk}/")

    page.get_by_role("link", name="Diff with previous (version 2)").click()

    diff = page.locator("#version-diff")
    expect(diff).to_contain_text("Version 1 → version 2")
    page.wait_for_function(
        "document.getElementById('version-diff').getBoundingClientRect().top < innerHeight / 2"
    )
    assert visible_at_all(page, diff.get_by_role("heading", name="Version 1 → version 2"))
    viewport_shot(page, "diff-in-view")


@pytest.mark.parametrize("size", ["wide", "phone"])
def test_create_a_memory_from_the_memory_list(logged_in, live_server, curator_space, shot, size):
    page = logged_in
    if size == "phone":
        page.set_viewport_size(PHONE)
    services.create_memory(curator_space, ACTOR, content="Maya likes tea.", subject="Maya Okafor")
    page.goto(f"{live_server.url}/s/lab/memories/")

    page.get_by_role("link", name="New memory").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("New memory")
    page.get_by_role("button", name="Create memory").click()  # empty: the browser refuses
    assert Memory.objects.for_space(curator_space).count() == 1
    page.get_by_label("Content").fill("Maya Okafor moved to Porto in May.")
    page.get_by_label("Subject").fill("Maya Okafor")
    page.get_by_label("Kind").select_option("episodic")
    page.get_by_label("Tags").fill("moves, porto")
    page.get_by_label("Occurred at").fill("2026-05-03T10:00")
    shot(page, f"memory-new-{size}")
    page.get_by_role("button", name="Create memory").click()

    expect(page.locator(".memory-content")).to_have_text("Maya Okafor moved to Porto in May.")
    expect(page.get_by_role("status")).to_contain_text("Memory created (version 1).")
    created = Memory.objects.for_space(curator_space).get(content__startswith="Maya Okafor moved")
    assert (created.subject, created.kind, created.tags) == (
        "Maya Okafor",
        "episodic",
        ["moves", "porto"],
    )
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    shot(page, f"memory-created-{size}")

    page.goto(f"{live_server.url}/s/lab/memories/?subject=maya")
    rows = page.get_by_role("table", name="Memories").locator("tbody tr")
    expect(rows).to_have_count(2)
    shot(page, f"browser-subject-maya-{size}")


@pytest.mark.parametrize("size", ["wide", "phone"])
def test_undo_a_bulk_action_from_the_audit_log(logged_in, live_server, curator_space, shot, size):
    page = logged_in
    if size == "phone":
        page.set_viewport_size(PHONE)
    picked = [
        services.create_memory(curator_space, ACTOR, content=f"Maya ran {km} km.", subject="Maya")
        for km in (5, 10)
    ]
    page.goto(f"{live_server.url}/s/lab/memories/")
    page.get_by_role("checkbox", name="Select shown").check()
    page.get_by_role("button", name="Apply…").click()
    page.get_by_role("button", name="Archive 2").click()
    expect(page.get_by_role("status")).to_contain_text("Archive: 2 of 2 memories.")
    page.goto(f"{live_server.url}/s/lab/memories/{picked[0].pk}/")  # the message is gone

    page.goto(f"{live_server.url}/s/lab/audit/")
    entry = page.locator("tr", has_text="bulk archive of 2 memories")
    expect(page.locator("tr", has_text="memory.read")).to_have_count(0)  # my own page views
    # Each memory's own archive event names it by its words.
    archived = page.locator("tr", has_text="memory.archive")
    expect(archived.get_by_role("link", name="“Maya ran 5 km.”")).to_have_count(1)
    shot(page, f"audit-bulk-undo-{size}")
    entry.get_by_role("button", name="Undo this bulk archive").click()

    expect(page.get_by_role("status")).to_have_text("Undone for 2 memories.")
    expect(page).to_have_url(f"{live_server.url}/s/lab/audit/")
    statuses = set(Memory.objects.for_space(curator_space).values_list("status", flat=True))
    assert statuses == {"active"}
    expect(page.locator("tr", has_text="undid a bulk archive for 2 memories")).to_have_count(1)
    expect(page.get_by_role("button", name="Undo this bulk archive")).to_have_count(0)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    shot(page, f"audit-bulk-undone-{size}")

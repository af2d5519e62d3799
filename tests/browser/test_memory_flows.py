"""A curator corrects one memory in a real browser: open it, edit it, see the new
version, diff two versions, revert, and follow its provenance to the source message.
None of it reloads the page."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from apps.audit.actors import Actor
from apps.memories import services
from apps.memories.models import Memory

pytestmark = pytest.mark.slow

ACTOR = Actor.system("seed")
LISBON = "Maya is training for the Lisbon marathon."
PORTO = "Maya is training for the Porto marathon."


def seed_with_provenance(space):
    start = timezone.now() - timedelta(days=2)
    signed_up, _reply = services.record_episodes(
        space,
        ACTOR,
        [
            {
                "session": "run-club",
                "speaker": "Maya",
                "content": "I signed up for the Lisbon marathon!",
                "occurred_at": start,
            },
            {
                "session": "run-club",
                "speaker": "Coach",
                "content": "Great, training starts on Monday.",
                "occurred_at": start + timedelta(minutes=1),
            },
        ],
    )
    return services.create_memory(
        space, ACTOR, content=LISBON, subject="Maya", source_episodes=[signed_up.pk]
    )


def test_open_edit_diff_revert_and_follow_provenance(logged_in, live_server, curator_space, shot):
    page = logged_in
    memory = seed_with_provenance(curator_space)
    page.goto(f"{live_server.url}/s/lab/memories/")
    page.get_by_role("table", name="Memories").get_by_role("link", name=LISBON).click()
    detail = f"{live_server.url}/s/lab/memories/{memory.pk}/"
    expect(page).to_have_url(detail)
    expect(page.locator(".memory-content")).to_have_text(LISBON)
    shot(page, "memory-detail")
    # Set on this document: a full page load would lose it.
    page.evaluate("window.sameDocument = true")

    page.get_by_text("Edit", exact=True).click()
    edit = page.get_by_role("region", name="Edit")
    edit.get_by_label("Content").fill(PORTO)
    edit.get_by_label("Reason").fill("the race moved")
    edit.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("Saved version 2.")
    expect(page.locator(".memory-content")).to_have_text(PORTO)
    versions = page.get_by_role("table", name="Versions, newest first").locator("tbody tr")
    expect(versions).to_have_count(2)
    expect(versions.first).to_contain_text("the race moved")
    stored = Memory.objects.for_space(curator_space).get(pk=memory.pk)
    assert (stored.version, stored.content) == (2, PORTO)
    shot(page, "memory-edited")

    page.get_by_role("link", name="Diff with previous (version 2)").click()
    diff = page.locator("#version-diff")
    expect(diff).to_contain_text("Version 1 → version 2")
    expect(diff.locator("del")).to_have_text(re.compile("Lisbon"))
    expect(diff.locator("ins")).to_have_text(re.compile("Porto"))
    shot(page, "memory-diff")

    page.get_by_role("button", name="Revert to v1").click()
    expect(page.get_by_role("status")).to_contain_text("Reverted to version 1: saved as version 3.")
    expect(page.locator(".memory-content")).to_have_text(LISBON)
    expect(versions).to_have_count(3)
    stored.refresh_from_db()
    assert (stored.version, stored.content) == (3, LISBON)
    assert page.evaluate("window.sameDocument") is True, "the page reloaded"
    shot(page, "memory-reverted")

    provenance = page.locator("#provenance")
    expect(provenance.locator("li.source")).to_contain_text("I signed up for the Lisbon marathon!")
    expect(provenance).to_contain_text("Great, training starts on Monday.")  # its context
    provenance.locator("li.source a").first.click()
    expect(page).to_have_url(re.compile(r"/s/lab/sessions/run-club/#e-"))
    expect(page.get_by_role("heading", name=re.compile("run-club"))).to_be_visible()
    expect(page.get_by_text("I signed up for the Lisbon marathon!")).to_be_visible()
    shot(page, "session-transcript")


def test_every_page_is_one_click_away_and_pictured(logged_in, live_server, curator_space, shot):
    page = logged_in
    memory = seed_with_provenance(curator_space)
    services.update_memory(
        curator_space, ACTOR, memory.pk, expected_version=1, content=PORTO, reason="moved"
    )
    page.goto(f"{live_server.url}/s/lab/")
    for nav, heading, name in (
        ("Sessions", "Conversation sessions", "sessions"),
        ("Audit log", "Audit log", "audit"),
        ("Jobs", "Jobs", "jobs"),
        ("Tokens", "Agent tokens", "tokens"),
    ):
        page.get_by_role("navigation").get_by_role("link", name=nav, exact=True).click()
        expect(page.get_by_role("heading", level=1)).to_have_text(heading)
        shot(page, name)
    page.get_by_role("navigation").get_by_role("link", name="Audit log").click()
    edited = page.locator("tr", has_text="memory.update").first
    edited.get_by_role("link", name=re.compile("Porto marathon")).click()  # named by its words
    expect(page).to_have_url(f"{live_server.url}/s/lab/memories/{memory.pk}/")

    missing = page.goto(f"{live_server.url}/s/lab/memories/00000000-0000-0000-0000-000000000000/")
    assert missing is not None and missing.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("Nothing here")
    shot(page, "not-found")

    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Log in")
    shot(page, "login")

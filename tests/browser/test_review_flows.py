"""The review queue in a real browser: edit a proposed merge's text and approve it."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from apps.audit.actors import Actor
from apps.consolidation import services as consolidation
from apps.memories import services
from apps.memories.models import Memory
from apps.retrieval.tasks import embed_all_pending
from tests.browser.conftest import assert_in_one_row

pytestmark = pytest.mark.slow

ACTOR = Actor.system("seed")


def test_edit_and_approve_a_merge(logged_in, live_server, curator_space, shot, hashing_backend):
    page = logged_in
    services.create_memories(
        curator_space,
        ACTOR,
        [{"content": "Maya likes green tea."}, {"content": "maya likes GREEN tea"}],
    )
    embed_all_pending(curator_space)
    (proposal,) = consolidation.propose_merges(curator_space)
    page.goto(f"{live_server.url}/s/lab/")
    page.get_by_role("navigation", name="Space").get_by_role("link", name="Review").click()
    card = page.get_by_role("article", name="Merge near-duplicates")
    expect(card).to_contain_text("2 memories say the same thing")
    shot(page, "review")
    assert_in_one_row(
        page.get_by_role("button", name="Consolidate now"),
        page.get_by_label("Approve every pending"),
        page.get_by_label("with a score of at least"),
        page.get_by_role("button", name="Approve…"),
    )
    card.get_by_role("textbox", name="Merged text").fill("Maya drinks green tea every morning.")
    card.get_by_role("button", name="Approve").click()
    expect(page.locator(f"#proposal-{proposal.pk}")).to_contain_text("Applied by user:curator")
    merged = Memory.objects.for_space(curator_space).get(
        content="Maya drinks green tea every morning."
    )
    assert merged.status == "active"
    page.get_by_role("link", name="The merged memory").click()
    expect(page).to_have_url(f"{live_server.url}/s/lab/memories/{merged.pk}/")

"""Entities in a real browser: from the navigation to an entity, then to a memory."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from apps.audit.actors import Actor
from apps.consolidation import entities
from apps.memories import services
from tests.browser.conftest import assert_in_one_row

pytestmark = pytest.mark.slow

ACTOR = Actor.system("seed")


def test_find_an_entity_and_open_a_memory_that_mentions_it(
    logged_in, live_server, curator_space, shot
):
    page = logged_in
    office, _ = services.create_memories(
        curator_space,
        ACTOR,
        [
            {"content": "We met Tomás at the Lisbon office."},
            {"content": "Planning the #offsite agenda for June."},
        ],
    )
    entities.extract(curator_space, ACTOR)
    page.goto(f"{live_server.url}/s/lab/")
    page.get_by_role("navigation", name="Space").get_by_role("link", name="Entities").click()
    table = page.get_by_role("table", name="Entities")
    expect(table).to_contain_text("Lisbon")
    assert_in_one_row(
        page.get_by_label("Name"),
        page.get_by_label("Kind"),
        page.get_by_role("button", name="Find"),
    )
    page.get_by_label("Name").fill("lisb")
    page.get_by_role("button", name="Find").click()
    expect(table).not_to_contain_text("offsite")
    shot(page, "entities")

    table.get_by_role("link", name="Lisbon").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Lisbon")
    expect(page.locator("main")).to_contain_text("Mentioned in 1 memory")
    shot(page, "entity")
    page.get_by_role("link", name="We met Tomás at the Lisbon office.").click()
    expect(page).to_have_url(f"{live_server.url}/s/lab/memories/{office.pk}/")

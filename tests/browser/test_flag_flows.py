"""The Flags page in a real browser: counts, a filter, dismissing a flag, and the
flagged span marked on the memory's page."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from apps.audit.actors import Actor
from apps.hygiene.models import Flag
from apps.memories import services
from tests.browser.console import console_errors
from tests.hygiene.test_policy import WITH_EMAIL, WITH_INJECTION

pytestmark = pytest.mark.slow


def test_a_curator_filters_and_dismisses_flags(logged_in, live_server, curator_space, shot):
    page = logged_in
    errors = console_errors(page)
    actor = Actor.system("test")
    services.create_memory(curator_space, actor, content=WITH_EMAIL, subject="invoice")
    noted = services.create_memory(curator_space, actor, content=WITH_INJECTION, subject="note")

    page.goto(f"{live_server.url}/s/lab/flags/")
    expect(page.get_by_role("heading", name="Open flags: 2")).to_be_visible()
    shot(page, "flags")

    page.get_by_label("Category").select_option("pii")
    page.get_by_role("button", name="Filter").click()
    table = page.get_by_role("table", name="Flags")
    expect(table).to_contain_text("email")
    expect(table).not_to_contain_text("override")

    page.get_by_label("Select flag").first.check()
    page.get_by_role("button", name="Dismiss").click()
    expect(page.get_by_text("Dismissed 1 flag.")).to_be_visible()
    expect(page.get_by_role("heading", name="Open flags: 1")).to_be_visible()
    assert Flag.objects.for_space(curator_space).filter(status="dismissed").count() == 1

    page.goto(f"{live_server.url}/s/lab/memories/{noted.pk}/")
    expect(page.locator("mark.flag-injection")).to_contain_text("ignore all previous instructions")
    shot(page, "flagged-memory")
    assert errors == []

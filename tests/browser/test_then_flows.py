"""Time travel in a real browser: what was believed about Maya before her move was
recorded and after it; the slider moves the moment and the URL keeps it."""

from __future__ import annotations

import re
from urllib.parse import urlencode

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from apps.audit.actors import Actor
from apps.memories import services

pytestmark = pytest.mark.slow

ACTOR = Actor.system("seed")


def test_time_travel_before_and_after_a_supersession(logged_in, live_server, curator_space, shot):
    page = logged_in
    old = services.create_memory(
        curator_space, ACTOR, content="Maya lives in Lisbon.", subject="Maya Okafor"
    )
    services.create_memory(
        curator_space, ACTOR, content="Maya runs marathons.", subject="Maya Okafor"
    )
    before = timezone.now()
    services.replace_memory(curator_space, ACTOR, old.pk, content="Maya lives in Porto.")

    # From the memory page's subject to what is believed now.
    page.goto(f"{live_server.url}/s/lab/memories/{old.pk}/")
    page.get_by_role("link", name="what was believed when").click()
    expect(page).to_have_url(re.compile(r"/s/lab/then/\?subject=Maya(\+|%20)Okafor$"))
    beliefs = page.locator(".then-beliefs")
    expect(beliefs).to_contain_text("Maya lives in Porto.")
    expect(beliefs).not_to_contain_text("Maya lives in Lisbon.")

    # Back to before the move was recorded.
    query = urlencode({"subject": "Maya", "at": before.isoformat()})
    page.goto(f"{live_server.url}/s/lab/then/?{query}")
    expect(beliefs).to_contain_text("Maya lives in Lisbon.")
    expect(beliefs).to_contain_text("Maya runs marathons.")
    expect(beliefs).not_to_contain_text("Maya lives in Porto.")
    expect(page.locator("[data-plotly] .main-svg").first).to_be_visible()
    # The supersession's arrow, and the moment's line, are drawn.
    expect(page.locator("[data-plotly] .annotation-arrow-g")).to_have_count(1)
    expect(page.locator("[data-plotly] .shapelayer path")).to_have_count(1)
    expect(page.get_by_label("Moment", exact=True)).to_have_value(
        timezone.localtime(before).replace(tzinfo=None, microsecond=0).isoformat()
    )
    shot(page, "then")

    # The slider to its end (now): the panel and the URL follow, without a reload.
    page.evaluate("() => { window.notReloaded = true; }")
    slider = page.get_by_label("Move through the space's history")
    slider.focus()
    slider.press("End")
    expect(beliefs).to_contain_text("Maya lives in Porto.")
    expect(beliefs).not_to_contain_text("Maya lives in Lisbon.")
    # The panel rewrites the address once it settles: to the slider's whole second, in
    # display time, where the address before held the test's own instant with an offset.
    expect(page).to_have_url(
        re.compile(r"/s/lab/then/\?subject=Maya&at=20\d\d-\d\d-\d\dT\d\d%3A\d\d%3A\d\d$")
    )
    assert page.evaluate("() => window.notReloaded") is True
    moved_to = page.url

    # The URL keeps the moment: opening it again shows the same.
    page.goto(moved_to)
    expect(beliefs).to_contain_text("Maya lives in Porto.")

    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_server.url}/s/lab/then/?{query}")
    expect(beliefs).to_contain_text("Maya lives in Lisbon.")
    expect(page.locator("[data-plotly] .main-svg").first).to_be_visible()
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
    shot(page, "then-390")


def test_the_date_field_works_without_the_slider(logged_in, live_server, curator_space, shot):
    page = logged_in
    services.create_memory(curator_space, ACTOR, content="Recorded today.")
    page.goto(f"{live_server.url}/s/lab/")
    page.get_by_role("navigation", name="Space").get_by_role("link", name="Time travel").click()
    expect(page.locator(".then-beliefs")).to_contain_text("Recorded today.")

    page.get_by_label("Moment", exact=True).fill("2020-01-01T12:00:00")
    page.get_by_role("button", name="Show").click()
    expect(page).to_have_url(re.compile(r"at=2020-01-01T12%3A00"))
    expect(page.locator("#then-panel")).to_contain_text("Nothing was believed then")
    shot(page, "then-empty")

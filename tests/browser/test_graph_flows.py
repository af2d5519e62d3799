"""The graph explorer in a real browser: draw a neighbourhood, recentre, open a memory."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from apps.audit.actors import Actor
from apps.memories import services
from tests.browser.console import at_both_widths, console_errors

pytestmark = pytest.mark.slow

ACTOR = Actor.system("seed")


def test_explore_recentre_and_open_a_memory(logged_in, live_server, curator_space, shot):
    page = logged_in
    a, b, c = services.create_memories(
        curator_space,
        ACTOR,
        [
            {"content": "Maya signed up for the Lisbon marathon."},
            {"content": "Maya trains four times a week."},
            {"content": "Maya used to train twice a week."},
        ],
    )
    services.link_memories(curator_space, ACTOR, a.pk, b.pk, "related_to")
    services.link_memories(curator_space, ACTOR, b.pk, c.pk, "supersedes")
    page.goto(f"{live_server.url}/s/lab/memories/{a.pk}/")
    page.get_by_role("link", name="Explore its neighbourhood in the graph").click()
    plot = page.locator("[data-plotly]")
    expect(plot.locator(".main-svg").first).to_be_visible()  # plotly drew it
    expect(page.locator("#graph-panel")).to_contain_text("3 nodes and 2 edges")
    expect(plot).to_contain_text("supersedes")  # the legend names the edge types
    shot(page, "graph")

    # A click on a node (as plotly reports it) recentres through htmx, URL and all.
    node_url = f"/s/lab/graph/?center=memory:{c.pk}&hops=2"
    page.evaluate(
        "url => document.querySelector('[data-plotly]').emit('plotly_click',"
        " {points: [{customdata: url}]})",
        node_url,
    )
    expect(page).to_have_url(f"{live_server.url}{node_url}")
    expect(page.locator("tr.current")).to_contain_text("used to train twice")
    expect(page.locator("[data-plotly] .main-svg").first).to_be_visible()

    page.get_by_role("table", name="Nodes in the graph").get_by_role(
        "link", name=re.compile("signed up")
    ).click()
    expect(page).to_have_url(f"{live_server.url}/s/lab/memories/{a.pk}/")


def test_the_centre_field_follows_the_graph_and_takes_words(
    logged_in, live_server, curator_space, shot
):
    page = logged_in
    errors = console_errors(page)
    a, b, c = services.create_memories(
        curator_space,
        ACTOR,
        [
            {"content": "Maya signed up for the Lisbon marathon."},
            {"content": "Maya trains four times a week."},
            {"content": "Maya used to train twice a week."},
        ],
    )
    services.link_memories(curator_space, ACTOR, a.pk, b.pk, "related_to")
    services.link_memories(curator_space, ACTOR, b.pk, c.pk, "supersedes")
    page.goto(f"{live_server.url}/s/lab/graph/")
    centre = page.get_by_role("searchbox", name="Centre")

    # Words, typed and sent with Enter: the best-matching memory becomes the centre.
    centre.fill("marathon")
    centre.press("Enter")
    panel = page.locator("#graph-panel")
    expect(panel).to_contain_text("“marathon” matched “Maya signed up for the Lisbon marathon.”")
    expect(page.get_by_role("searchbox", name="Centre")).to_have_value(f"memory:{a.pk}")
    expect(page.locator("[data-plotly] .main-svg").first).to_be_visible()
    expect(page).to_have_url(re.compile(r"center=marathon"))

    # "Centre here" on a row: the field shows the new centre.
    page.get_by_role("table", name="Nodes in the graph").get_by_role(
        "link", name="Centre here"
    ).click()
    expect(page.get_by_role("searchbox", name="Centre")).to_have_value(f"memory:{b.pk}")
    expect(panel).to_contain_text("Centred on Maya trains four times a week.")

    # A click on a node in the chart: the same. The swapped-in chart is drawn after
    # htmx settles, a moment after the text above is in.
    node_url = f"/s/lab/graph/?center=memory:{c.pk}&hops=1"
    page.wait_for_function("typeof document.querySelector('[data-plotly]')?.emit === 'function'")
    page.evaluate(
        "url => document.querySelector('[data-plotly]').emit('plotly_click',"
        " {points: [{customdata: url}]})",
        node_url,
    )
    expect(page).to_have_url(f"{live_server.url}{node_url}")
    expect(page.get_by_role("searchbox", name="Centre")).to_have_value(f"memory:{c.pk}")
    expect(page.locator("[data-plotly] .main-svg").first).to_be_visible()
    at_both_widths(page, shot, "graph-centred")
    assert errors == []  # not even the icon's 404

    # Words that match nothing: a message, and the starting points.
    page.get_by_role("searchbox", name="Centre").fill("zeppelin")
    page.get_by_role("button", name="Show").click()
    expect(panel.get_by_role("alert")).to_contain_text("No memory or entity in this space matches")
    expect(panel).to_contain_text("Recently changed memories")
    # The form error is a 400, which Chromium notes on the console, and nothing else.
    assert [e for e in errors if "400 (Bad Request)" not in e] == []

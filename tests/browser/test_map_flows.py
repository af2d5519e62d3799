"""The embedding map in a real browser: hover a point, select two and archive them."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from apps.audit.actors import Actor
from apps.maps.models import MapPoint
from apps.memories import services
from apps.memories.models import Memory
from tests.browser.console import at_both_widths, console_errors
from tests.dashboard.test_map_page import draw_map

pytestmark = pytest.mark.slow

ACTOR = Actor.system("seed")


def test_hover_select_and_archive_two_memories_from_the_map(
    logged_in, live_server, curator_space, shot
):
    page = logged_in
    memories = services.create_memories(
        curator_space,
        ACTOR,
        [
            {"content": text}
            for text in ("Runs on Sundays.", "Runs on Mondays.", "Cooks.", "Saves.")
        ],
    )
    draw_map(curator_space, memories, clusters=[0, 0, 1, -1])
    page.goto(f"{live_server.url}/s/lab/")
    page.get_by_role("navigation", name="Space").get_by_role("link", name="Map").click()
    plot = page.locator("[data-plotly]")
    expect(plot.locator(".main-svg").first).to_be_visible()
    expect(page.locator("#map-panel")).to_contain_text("4 memories in 2 clusters")
    # The page marks when the points are drawn (the map benchmark times it).
    page.wait_for_function("performance.getEntriesByName('chart-drawn').length === 1")

    emit = "([name, data]) => document.querySelector('[data-plotly]').emit(name, data)"
    page.evaluate(emit, ["plotly_hover", {"points": [{"customdata": 2}]}])
    expect(page.locator("#hover-card")).to_contain_text("Cooks.")
    shot(page, "map")

    # What plotly reports after a lasso around the first two points.
    page.evaluate(emit, ["plotly_selected", {"points": [{"customdata": 0}, {"customdata": 1}]}])
    selection = page.locator("#map-selection")
    expect(selection).to_contain_text("2 selected")
    expect(selection.get_by_role("list", name="Selected memories")).to_contain_text(
        "Runs on Mondays."
    )
    selection.get_by_label("Action").select_option("archive")
    selection.get_by_role("button", name="Apply…").click()
    dialog = page.get_by_role("alertdialog")
    expect(dialog).to_contain_text("Archive 2 memories?")
    shot(page, "map-selection")
    dialog.get_by_role("button", name="Archive 2").click()

    expect(page.get_by_role("status").first).to_contain_text("Archive: 2 of 2 memories.")
    expect(page).to_have_url(f"{live_server.url}/s/lab/map/?colour=cluster")
    statuses = dict(Memory.objects.for_space(curator_space).values_list("content", "status"))
    assert statuses == {
        "Runs on Sundays.": "archived",
        "Runs on Mondays.": "archived",
        "Cooks.": "active",
        "Saves.": "active",
    }

    expect(plot.locator(".main-svg").first).to_be_visible()  # redrawn after the swap
    page.evaluate(
        "() => document.querySelector('[data-plotly]').emit('plotly_click',"
        " {points: [{customdata: 3}]})"
    )
    expect(page).to_have_url(f"{live_server.url}/s/lab/memories/{memories[3].pk}/")


def test_the_colouring_survives_a_bulk_action_and_the_points_are_listed(
    logged_in, live_server, curator_space, shot
):
    page = logged_in
    errors = console_errors(page)
    memories = services.create_memories(
        curator_space,
        ACTOR,
        [
            {"content": "Runs on Sundays.", "kind": "preference"},
            {"content": "Ran a marathon in May.", "kind": "episodic"},
            {"content": "Cooks on Fridays.", "kind": "fact"},
        ],
    )
    draw_map(curator_space, memories, clusters=[-1, -1, -1])
    page.goto(f"{live_server.url}/s/lab/map/")
    plot = page.locator("[data-plotly]")
    expect(plot.locator(".main-svg").first).to_be_visible()
    # No clusters: coloured by kind, so the legend tells something apart.
    expect(page.get_by_label("Colour by")).to_have_value("kind")
    expect(plot).to_contain_text("Episodic")

    # The points as a list, for a keyboard: each opens its memory.
    page.get_by_text("List the points").click()
    points = page.get_by_role("table", name="Memories on the map")
    expect(points.get_by_role("link")).to_have_count(3)
    at_both_widths(page, shot, "map-points")

    page.get_by_label("Colour by").select_option("status")
    expect(page).to_have_url(f"{live_server.url}/s/lab/map/?colour=status")
    expect(plot.locator(".main-svg").first).to_be_visible()
    emit = "([name, data]) => document.querySelector('[data-plotly]').emit(name, data)"
    page.evaluate(emit, ["plotly_selected", {"points": [{"customdata": 0}]}])
    selection = page.locator("#map-selection")
    expect(selection).to_contain_text("1 selected")
    selection.get_by_label("Action").select_option("archive")
    selection.get_by_role("button", name="Apply…").click()
    page.get_by_role("alertdialog").get_by_role("button", name="Archive 1").click()

    # Back on the map, coloured as it was chosen, the archived point in its own colour.
    expect(page.get_by_role("status").first).to_contain_text("Archive: 1 of 1 memories.")
    expect(page).to_have_url(f"{live_server.url}/s/lab/map/?colour=status")
    expect(page.get_by_label("Colour by")).to_have_value("status")
    expect(plot.locator(".main-svg").first).to_be_visible()
    expect(plot).to_contain_text("archived")
    page.get_by_text("List the points").click()
    points.get_by_role("link", name="Cooks on Fridays.").click()
    expect(page).to_have_url(f"{live_server.url}/s/lab/memories/{memories[2].pk}/")
    assert errors == []


def test_the_page_decodes_every_point_and_a_click_on_one_opens_its_memory(
    logged_in, live_server, curator_space
):
    page = logged_in
    errors = console_errors(page)
    count = 1200
    memories = services.create_memories(
        curator_space, ACTOR, [{"content": f"Note {i}."} for i in range(count)]
    )
    projection = draw_map(curator_space, memories, clusters=[i % 3 - 1 for i in range(count)])
    # A grid, 40 points a row, so each point has room around it for a click.
    for point in MapPoint.objects.for_space(curator_space).filter(projection=projection):
        point.x, point.y = point.ordinal % 40, point.ordinal // 40
        point.save(update_fields=["x", "y"])
    services.delete_memory(curator_space, ACTOR, memories[7].pk)
    page.goto(f"{live_server.url}/s/lab/map/")
    plot = page.locator("[data-plotly]")
    expect(plot.locator(".main-svg").first).to_be_visible()

    drawn = page.evaluate(
        """() => document.querySelector('[data-plotly]').data.flatMap((trace) =>
             Array.from(trace.customdata, (ordinal, i) => [ordinal, trace.x[i], trace.y[i]]))"""
    )
    assert sorted(ordinal for ordinal, _, _ in drawn) == [o for o in range(count) if o != 7]
    for ordinal, x, y in drawn:
        assert abs(x - ordinal % 40) < 1e-3 and abs(y - ordinal // 40) < 1e-3

    # A real click where point 123 is drawn opens its memory.
    box = page.evaluate(
        """(target) => {
             const plot = document.querySelector('[data-plotly]');
             const layout = plot._fullLayout;
             const box = plot.getBoundingClientRect();
             return [box.left + layout._size.l + layout.xaxis.l2p(target[0]),
                     box.top + layout._size.t + layout.yaxis.l2p(target[1])];
           }""",
        [123 % 40, 123 // 40],
    )
    page.mouse.move(box[0], box[1])
    expect(page.locator("#hover-card")).to_contain_text("Note 123.")
    page.mouse.click(box[0], box[1])
    expect(page).to_have_url(f"{live_server.url}/s/lab/memories/{memories[123].pk}/")
    assert errors == []

"""The timeline page: memories drawn one by one or counted per bucket, validity
intervals and edits, zoomed ranges through htmx, filters, errors, isolation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from apps.memories import services
from apps.spaces.models import Role
from tests.dashboard.conftest import figure_in, member

pytestmark = pytest.mark.django_db

DAY = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)


@pytest.fixture
def story(space, actor):
    diet = services.create_memory(
        space,
        actor,
        content="Maya is vegetarian.",
        subject="Maya",
        occurred_at=DAY,
        session="s1",
    )
    services.create_memory(
        space,
        actor,
        content="Tomás opens in June.",
        subject="Tomás",
        occurred_at=DAY + timedelta(days=3),
        session="s2",
    )
    services.update_memory(
        space,
        actor,
        diet.pk,
        expected_version=1,
        valid_to=DAY + timedelta(days=10),
        reason="she eats fish again",
    )
    return diet


def figure_of(html):
    return figure_in(html, "timeline-figure")


def test_a_few_memories_are_drawn_one_by_one_with_intervals_and_edits(viewer, story):
    html = viewer.get("/s/home/timeline/").content.decode()
    names = [trace["name"] for trace in figure_of(html)["data"]]
    assert names == ["valid (Semantic fact)", "Semantic fact", "edits"]
    assert "2 memories from" in html
    assert "Maya is vegetarian." in html and "Monday, 4 May 2026" in html
    assert 'href="/s/home/sessions/s1/"' in html


def test_many_memories_are_counted_per_bucket(viewer, space, actor, monkeypatch):
    from apps.memories import timeline

    monkeypatch.setattr(timeline, "DETAIL_LIMIT", 3)
    services.create_memories(
        space,
        actor,
        [{"content": f"m{i}", "occurred_at": DAY + timedelta(days=i)} for i in range(10)],
    )
    html = viewer.get("/s/home/timeline/").content.decode()
    figure = figure_of(html)
    assert [t["type"] for t in figure["data"]] == ["bar"]
    assert sum(figure["data"][0]["y"]) == 10
    assert "counted per day" in html
    # Clicking a bar zooms into it: its customdata is that range's URL.
    assert "start=" in figure["data"][0]["customdata"][0]


def test_a_range_narrows_the_chart_and_the_list(viewer, story):
    start = (DAY + timedelta(days=1)).isoformat()
    end = (DAY + timedelta(days=5)).isoformat()
    response = viewer.get("/s/home/timeline/", {"start": start, "end": end})
    html = response.content.decode()
    assert "1 memory from" in html and "Tomás opens in June." in html
    assert "Maya is vegetarian." not in html
    assert "Show the whole range" in html


def test_zooming_through_htmx_answers_the_panel(viewer, story):
    response = viewer.get(
        "/s/home/timeline/?subject=Maya", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="timeline-panel"
    )
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="timeline-panel"') and "<html" not in body
    assert "1 memory from" in body


def test_a_backwards_range_is_a_form_error(viewer, story):
    response = viewer.get(
        "/s/home/timeline/", {"start": "2026-05-09T00:00", "end": "2026-05-01T00:00"}
    )
    assert response.status_code == 400
    assert "The end must come after the start." in response.content.decode()


def test_an_empty_space_says_so(viewer, space):
    assert "No memories match" in viewer.get("/s/home/timeline/").content.decode()


def test_outsiders_get_404(outsider_space, story):
    outsider = member(outsider_space, "olga", Role.ADMIN)
    assert outsider.get("/s/home/timeline/").status_code == 404

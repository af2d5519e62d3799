"""The timeline page: memories drawn one by one or counted per bucket, validity
intervals and edits, zoomed ranges through htmx, filters, errors, isolation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

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


def test_a_few_memories_are_drawn_one_by_one_with_their_intervals(viewer, story):
    html = viewer.get("/s/home/timeline/").content.decode()
    names = [trace["name"] for trace in figure_of(html)["data"]]
    # The edit was made today, months after these memories: it is left out.
    assert names == ["valid (Semantic fact)", "Semantic fact"]
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


def test_the_counted_range_takes_one_scan_for_its_count_and_buckets(
    viewer, space, actor, monkeypatch, django_assert_max_num_queries
):
    from apps.memories import timeline

    monkeypatch.setattr(timeline, "DETAIL_LIMIT", 3)
    services.create_memories(
        space,
        actor,
        [{"content": f"m{i}", "occurred_at": DAY + timedelta(days=i)} for i in range(10)],
    )
    # Session, user, membership, span, buckets (their sum is the count), the list,
    # the space menu.
    with django_assert_max_num_queries(7) as captured:
        html = viewer.get("/s/home/timeline/").content.decode()
    assert "10 memories" in html
    assert not any("COUNT(*)" in query["sql"] for query in captured.captured_queries)


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


def test_the_axis_spans_the_memories_not_later_edits_or_validity(viewer, story):
    figure = figure_of(viewer.get("/s/home/timeline/").content.decode())
    first, last = figure["layout"]["xaxis"]["range"]
    # From the first memory (4 May) to the last (7 May), with a little room either side;
    # neither today's edit nor the validity ending on 14 May stretches it.
    assert "2026-05-03" <= first < "2026-05-04T09:00"
    assert "2026-05-07T09:00" < last < "2026-05-08"


def test_edits_within_the_range_are_marked(viewer, space, actor):
    now = timezone.now()
    early = services.create_memory(
        space, actor, content="Maya runs.", occurred_at=now - timedelta(days=5)
    )
    services.update_memory(space, actor, early.pk, expected_version=1, content="Maya runs far.")
    services.create_memory(space, actor, content="Maya rests.")  # recorded after the edit
    names = [t["name"] for t in figure_of(viewer.get("/s/home/timeline/").content.decode())["data"]]
    assert names[-1] == "edits"


def test_date_fields_narrow_the_range_and_keep_it_in_the_url(viewer, story):
    response = viewer.get("/s/home/timeline/", {"start": "2026-05-05", "end": "2026-05-08T12:30"})
    html = response.content.decode()
    assert response.status_code == 200
    assert "1 memory from" in html and "Tomás opens in June." in html
    # The fields show the range asked for (in the display zone), ready to be changed.
    assert 'name="start" id="id_start"' in html and 'value="2026-05-05T00:00"' in html
    assert 'value="2026-05-08T12:30"' in html
    assert 'hx-push-url="true"' in html


def test_a_drawn_range_comes_back_in_the_fields_after_a_swap(viewer, story):
    response = viewer.get(
        "/s/home/timeline/?start=2026-05-06T10:00:00",
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="timeline-panel",
    )
    body = response.content.decode()
    assert 'id="timeline-form"' in body and 'value="2026-05-06T10:00"' in body
    assert "1 memory from" in body


@pytest.mark.parametrize("bad", ["yesterday", "2026-13-01", "2026-05-01T25:00", "١٢"])
def test_a_date_that_is_not_one_is_a_form_error_not_a_crash(viewer, story, bad):
    response = viewer.get("/s/home/timeline/", {"start": bad})
    html = response.content.decode()
    assert response.status_code == 400
    assert 'role="alert"' in html
    assert 'for="id_start">From</label>: Enter a valid date/time.' in html
    assert 'aria-invalid="true"' in html

"""The time-travel page: what was believed at a moment for a subject, an entity or the
space; the validity chart; the htmx panel; bad input; isolation."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.memories import services
from apps.memories.models import Entity
from apps.memories.services.entities import NamedSpan, record_mentions
from tests.dashboard.conftest import figure_in

pytestmark = pytest.mark.django_db

URL = "/s/home/then/"


def listed(response):
    """The list of what was believed (the chart names every memory of the subject)."""
    assert response.status_code == 200
    return response.text.split('class="linked then-beliefs"')[1].split("</ul>")[0]


@pytest.fixture
def move(space, actor):
    """Maya moved from Lisbon to Porto; `before` lies between the two records."""
    old = services.create_memory(
        space, actor, content="Maya lives in Lisbon.", subject="Maya Okafor"
    )
    before = timezone.now()
    _, new = services.replace_memory(space, actor, old.pk, content="Maya lives in Porto.")
    return {"old": old, "new": new, "before": before}


def test_it_lists_what_was_believed_before_and_after_a_supersession(viewer, move):
    before = viewer.get(URL, {"subject": "Maya", "at": move["before"].isoformat()})
    now = viewer.get(URL, {"subject": "Maya"})

    assert "Maya lives in Lisbon." in listed(before)
    assert "Maya lives in Porto." not in listed(before)
    assert f"/s/home/memories/{move['old'].pk}/" in before.text
    # Lisbon was version 1; it is version 2 (superseded) now.
    assert f"/s/home/memories/{move['old'].pk}/versions/?a=1&amp;b=2" in before.text
    assert "now superseded" in before.text
    assert "Maya lives in Porto." in listed(now)
    assert "Maya lives in Lisbon." not in listed(now)


def test_it_draws_the_subjects_facts_with_the_supersession_as_an_arrow(viewer, move):
    response = viewer.get(URL, {"subject": "Maya", "at": move["before"].isoformat()})

    figure = figure_in(response.text, "then-figure")
    labels = figure["layout"]["yaxis"]["ticktext"]
    assert labels == ["Maya lives in Lisbon.", "Maya lives in Porto."]
    arrows = [a for a in figure["layout"]["annotations"] if a.get("showarrow")]
    assert [(a["ay"], a["y"]) for a in arrows] == [(0, 1)]  # from Lisbon's lane to Porto's
    moment = figure["layout"]["shapes"][0]
    assert moment["x0"] == timezone.localtime(move["before"]).replace(tzinfo=None).isoformat()


def test_a_day_means_the_end_of_that_day(viewer, space, actor):
    services.create_memory(space, actor, content="Recorded today.")
    today = timezone.localdate()

    assert "Recorded today." in viewer.get(URL, {"at": today.isoformat()}).text
    yesterday = viewer.get(URL, {"at": (today - timedelta(days=1)).isoformat()})
    assert yesterday.status_code == 200
    assert "Recorded today." not in yesterday.text
    assert "Nothing was believed then" in yesterday.text


@pytest.mark.parametrize(
    "bad",
    [
        "yesterday",
        "2026-13-45",
        "2026-09-15T25:00",
        "\uff19",
        "9999-12-31",
        "0001-01-01T00:00",
        "2024-05-01T00:00:00+16:00",
        "9999-12-31T23:59:59-14:00",
    ],
)
def test_it_refuses_a_moment_it_cannot_read_with_a_form_error(viewer, move, bad):
    response = viewer.get(URL, {"subject": "Maya", "at": bad})

    assert response.status_code == 400
    assert 'role="alert"' in response.text
    assert "Moment: Enter the moment as a day" in response.text
    assert "then-beliefs" not in response.text


@pytest.mark.parametrize("far", ["9999-12-30", "0001-01-02", "2026-05-01T00:00:00+14:00"])
def test_it_takes_any_moment_it_can_hold(viewer, move, far):
    response = viewer.get(URL, {"subject": "Maya", "at": far})

    assert response.status_code == 200
    assert "Believed about “Maya”" in response.text
    assert 'role="alert"' not in response.text


def test_it_refuses_another_spaces_entity(viewer, outsider_space, actor):
    memory = services.create_memory(outsider_space, actor, content="Tomas is elsewhere.")
    record_mentions(outsider_space, actor, [NamedSpan(memory.pk, "Tomas", "person")])
    theirs = Entity.objects.for_space(outsider_space).get()

    response = viewer.get(URL, {"entity": str(theirs.pk)})

    assert response.status_code == 400
    assert "This space has no such entity." in response.text
    assert "Tomas is elsewhere." not in response.text


def test_an_unknown_subject_shows_an_empty_state(viewer, move):
    response = viewer.get(URL, {"subject": "Nobody"})

    assert response.status_code == 200
    assert "Nothing about “Nobody” was believed then." in response.text
    assert "then-figure" not in response.text


def test_it_narrows_to_an_entity(viewer, space, actor):
    about, _ = services.create_memories(
        space, actor, [{"content": "Maya met Tomas."}, {"content": "The office moved."}]
    )
    record_mentions(space, actor, [NamedSpan(about.pk, "Tomas", "person")])
    tomas = Entity.objects.for_space(space).get()

    response = viewer.get(URL, {"entity": str(tomas.pk)})

    assert response.status_code == 200
    assert "Believed about Tomas" in response.text
    assert "Maya met Tomas." in response.text and "The office moved." not in response.text


def test_htmx_gets_the_panel_alone(viewer, move):
    response = viewer.get(
        URL,
        {"subject": "Maya", "at": move["before"].isoformat()},
        headers={"HX-Request": "true", "HX-Target": "then-panel"},
    )

    assert response.status_code == 200
    assert response.text.lstrip().startswith('<div id="then-panel"')
    assert "Maya lives in Lisbon." in response.text
    assert 'data-url="/s/home/then/?subject=Maya&amp;at=' in response.text


def test_its_queries_do_not_grow_with_the_memories(viewer, space, actor):
    def queries(count):
        services.create_memories(
            space, actor, [{"content": f"fact {i}", "subject": "Maya"} for i in range(count)]
        )
        with CaptureQueriesContext(connection) as captured:
            assert viewer.get(URL, {"subject": "Maya"}).status_code == 200
        return len(captured)

    assert queries(2) == queries(30)


def test_the_memory_and_entity_pages_link_here(viewer, space, actor):
    memory = services.create_memory(space, actor, content="Maya met Tomas.", subject="Maya Okafor")
    record_mentions(space, actor, [NamedSpan(memory.pk, "Tomas", "person")])
    tomas = Entity.objects.for_space(space).get()

    assert f"{URL}?subject=Maya%20Okafor" in viewer.get(f"/s/home/memories/{memory.pk}/").text
    assert f"{URL}?entity={tomas.pk}" in viewer.get(f"/s/home/entities/{tomas.pk}/").text


def test_an_outsider_gets_404(outsider, move):
    assert outsider.get(URL, {"subject": "Maya"}).status_code == 404


def test_a_visitor_is_sent_to_log_in(client):
    response = client.get(URL)

    assert response.status_code == 302
    assert "/login/" in response["Location"]


def test_it_points_to_what_was_recorded_later_and_shows_it_on_request(viewer, space, actor):
    january = timezone.now() - timedelta(days=300)
    services.create_memory(
        space, actor, content="Maya ran her first 10 km.", subject="Maya", valid_from=january
    )
    moment = (january + timedelta(days=1)).isoformat()

    believed = viewer.get(URL, {"subject": "Maya", "at": moment})
    assert believed.status_code == 200
    assert "then-beliefs" not in believed.text
    assert "1 memory recorded later says what held then" in believed.text
    assert "view=known" in believed.text

    known = viewer.get(URL, {"subject": "Maya", "at": moment, "view": "known"})
    assert "Maya ran her first 10 km." in listed(known)
    assert "Known now to have held" in known.text

    assert viewer.get(URL, {"view": "someday"}).status_code == 400

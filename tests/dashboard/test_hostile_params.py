"""Pages (and the admin) given date-times, integers or JSON they cannot use: a form
field shows a form error, a link's own state (a cursor, an offset) starts over, and
nothing answers 500."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from apps.memories import services
from tests.dashboard.test_map_page import draw_map

pytestmark = pytest.mark.django_db

UNREPRESENTABLE_INSTANTS = [
    "2024-05-01T00:00:00+16:00",
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59-14:00",
]


def cursor_for(value: Any, key: Any) -> str:
    raw = json.dumps([value, str(key)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.fixture
def noted(space, actor):
    return services.create_memory(
        space, actor, content="Maya runs on Sundays.", occurred_at=datetime(2026, 5, 4, tzinfo=UTC)
    )


@pytest.mark.parametrize("moment", [*UNREPRESENTABLE_INSTANTS, "0001-01-01T00:00", "²"])
@pytest.mark.parametrize("name", ["start", "end"])
def test_the_timeline_shows_a_form_error_for_a_date_it_cannot_use(viewer, noted, name, moment):
    response = viewer.get("/s/home/timeline/", {name: moment})

    assert response.status_code == 400
    html = response.content.decode()
    assert 'class="error"' in html
    assert "Maya runs on Sundays." not in html


def test_the_timeline_takes_a_date_with_a_real_offset(viewer, noted):
    response = viewer.get("/s/home/timeline/", {"start": "2026-05-01T00:00:00+14:00"})

    assert response.status_code == 200
    assert "Maya runs on Sundays." in response.content.decode()


@pytest.mark.parametrize(
    "params",
    [
        {"until": "9999-12-31"},
        {"since": "0001-01-01"},
        {"since": "\uff12\uff10\uff12\uff14-05-01"},
    ],
)
def test_the_audit_log_shows_a_form_error_for_a_day_it_cannot_use(viewer, noted, params):
    response = viewer.get("/s/home/audit/", params)

    assert response.status_code == 200
    html = response.content.decode()
    assert 'class="error"' in html
    assert "memory.create</code>" not in html


@pytest.mark.parametrize("moment", UNREPRESENTABLE_INSTANTS)
def test_the_audit_log_starts_over_for_a_cursor_it_cannot_use(viewer, noted, moment):
    response = viewer.get("/s/home/audit/", {"cursor": cursor_for(moment, 1)})

    assert response.status_code == 200
    assert "memory.create</code>" in response.content.decode()


@pytest.mark.parametrize("moment", UNREPRESENTABLE_INSTANTS)
def test_the_memory_list_starts_over_for_a_cursor_it_cannot_use(viewer, noted, moment):
    response = viewer.get("/s/home/memories/", {"cursor": cursor_for(moment, noted.pk)})

    assert response.status_code == 200
    assert "Maya runs on Sundays." in response.content.decode()


@pytest.mark.parametrize("offset", ["²", "٣", "-1", "99999999999999999999999"])
def test_the_search_results_start_over_for_an_offset_they_cannot_use(
    viewer, noted, hashing_backend, offset
):
    response = viewer.get("/s/home/memories/", {"q": "Maya", "mode": "text", "offset": offset})

    assert response.status_code == 200
    assert "Sundays" in response.content.decode()


@pytest.mark.parametrize("moment", UNREPRESENTABLE_INSTANTS)
def test_a_transcript_starts_over_for_a_cursor_it_cannot_use(viewer, space, actor, moment):
    services.record_episodes(
        space, actor, [{"content": "I run on Sundays.", "session": "s1", "speaker": "maya"}]
    )

    response = viewer.get("/s/home/sessions/s1/", {"cursor": cursor_for(moment, "x")})

    assert response.status_code == 200
    assert "I run on Sundays." in response.content.decode()


def test_a_map_selection_ignores_ordinals_it_cannot_use(editor, space, noted):
    projection = draw_map(space, [noted])

    response = editor.post(
        f"/s/home/map/{projection.pk}/selection/",
        {"ordinals": "²,٣,99999999999999999999999,-1,0"},
        HTTP_HX_REQUEST="true",
    )

    assert response.status_code == 200
    assert response.context["selected_count"] == 1


@pytest.mark.parametrize("moment", UNREPRESENTABLE_INSTANTS)
def test_the_memory_editor_shows_a_form_error_for_a_date_it_cannot_store(editor, noted, moment):
    from tests.dashboard.test_memory_pages import edit_data, url

    response = editor.post(url(noted, "memory_edit"), edit_data(noted, valid_from=moment))

    assert 400 <= response.status_code < 500
    assert 'class="error"' in response.content.decode()
    noted.refresh_from_db()
    assert (noted.version, noted.valid_from) == (1, None)


@pytest.mark.parametrize(
    ("metadata", "problem"),
    [('{"note": "\\ud800"}', "surrogate"), ("[" * 5000 + "]" * 5000, "levels deep")],
)
def test_the_admin_shows_a_form_error_for_metadata_it_cannot_store(
    client, django_user_model, noted, metadata, problem
):
    root = django_user_model.objects.create_superuser("root", password="pw-root-123456")
    client.force_login(root)

    response = client.post(
        f"/admin/memories/memory/{noted.pk}/change/",
        {
            "content": "Changed.", "kind": "fact", "tags": "", "metadata": metadata,
            "importance": "0.5", "confidence": "1.0", "expected_version": "1",
        },
    )  # fmt: skip

    assert response.status_code == 200
    assert problem in response.content.decode()
    noted.refresh_from_db()
    assert (noted.content, noted.version) == ("Maya runs on Sundays.", 1)

"""A space's settings have one schema: the API and the admin refuse what it does not
allow, and a value stored before the schema cannot break the jobs that read it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.consolidation import services as consolidation
from apps.jobs.models import Job
from apps.memories import services
from apps.memories.models import Memory
from apps.spaces.models import Space
from apps.spaces.preferences import validate_space_settings
from apps.spaces.services import InvalidSpaceChange, update_space
from tests.api.conftest import error_of

GOOD = {"consolidation": {"auto_apply": ["archive"]}}
BAD = [
    ({"consolidation": {"auto_apply": 5}}, "consolidation.auto_apply"),
    ({"consolidation": {"auto_apply": "archive"}}, "consolidation.auto_apply"),
    ({"consolidation": {"auto_apply": ["archive", "explode"]}}, "consolidation.auto_apply"),
    ({"consolidation": {"auto_apply": [["archive"]]}}, "consolidation.auto_apply"),
    ({"consolidation": {"autoapply": ["archive"]}}, "consolidation.autoapply"),
    ({"consolidation": ["archive"]}, "consolidation"),
    ({"retention": 30}, "retention"),
]


@pytest.fixture
def configured(space: Space) -> Space:
    space.settings = GOOD
    space.save()
    return space


@pytest.mark.parametrize(("settings", "where"), BAD)
def test_it_refuses_settings_outside_the_schema_through_the_api(
    admin_agent, configured, settings, where
):
    response = admin_agent.patch(
        "/api/v1/spaces/home", {"name": "Renamed", "settings": settings}, format="json"
    )

    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "invalid_request"
    assert where in error["details"]["settings"]
    configured.refresh_from_db()
    assert (configured.name, configured.settings) == ("Home", GOOD)
    assert not AuditEvent.objects.for_space(configured).filter(action="space.update").exists()


def test_it_stores_settings_the_schema_allows(admin_agent, space):
    wanted = {"consolidation": {"auto_apply": ["link", "archive"]}}

    response = admin_agent.patch("/api/v1/spaces/home", {"settings": wanted}, format="json")

    assert response.status_code == 200
    assert response.json()["settings"] == wanted
    space.refresh_from_db()
    assert space.settings == wanted
    [event] = AuditEvent.objects.for_space(space).filter(action="space.update")
    assert event.summary == {
        "changed": ["settings"],
        "settings": {"consolidation.auto_apply": {"from": [], "to": ["link", "archive"]}},
    }


def test_it_refuses_settings_outside_the_schema_in_the_admin(client, django_user_model, configured):
    root = django_user_model.objects.create_superuser("root", password="pw-root-123456")
    client.force_login(root)

    response = client.post(
        f"/admin/spaces/space/{configured.pk}/change/",
        {
            "name": "Home",
            "slug": "home",
            "description": "",
            "settings": '{"consolidation": {"auto_apply": 5}}',
            "created_at_0": "2026-01-01",
            "created_at_1": "00:00:00",
            "memberships-TOTAL_FORMS": "0",
            "memberships-INITIAL_FORMS": "0",
        },
    )

    assert response.status_code == 200
    assert "consolidation.auto_apply" in response.content.decode()
    configured.refresh_from_db()
    assert configured.settings == GOOD


def test_the_model_refuses_settings_outside_the_schema(space):
    space.settings = {"consolidation": {"auto_apply": 5}}

    with pytest.raises(ValidationError) as refused:
        space.full_clean()

    assert "settings" in refused.value.message_dict


def test_it_names_every_setting_it_refuses():
    with pytest.raises(ValidationError) as refused:
        validate_space_settings({"consolidation": {"auto_apply": 5, "x": 1}, "y": {}})

    assert sorted(refused.value.message_dict) == [
        "consolidation.auto_apply",
        "consolidation.x",
        "y",
    ]


def test_consolidation_runs_on_settings_stored_before_the_schema(space, actor):
    Space.objects.filter(pk=space.pk).update(settings={"consolidation": {"auto_apply": 5}})
    space.refresh_from_db()
    fading = services.create_memory(space, actor, content="an old detail")
    Memory.objects.for_space(space).filter(pk=fading.pk).update(
        created_at=timezone.now() - timedelta(days=90)
    )

    report = consolidation.consolidate(space)

    assert report.proposed["archive"] == 1
    assert "archive" not in report.applied
    assert Memory.objects.for_space(space).get(pk=fading.pk).status == "active"


def test_the_service_refuses_what_the_schema_refuses_and_stores_nothing(space, actor):
    with pytest.raises(InvalidSpaceChange) as refused:
        update_space(space, actor, {"name": "", "settings": {"hygiene": {"secret": "explode"}}})

    assert sorted(refused.value.errors) == ["hygiene.secret", "name"]
    space.refresh_from_db()
    assert (space.name, space.settings) == ("Home", {})
    assert not AuditEvent.objects.for_space(space).filter(action="space.update").exists()
    assert not Job.objects.for_space(space).exists()


def test_the_service_leaves_the_slug_to_the_django_admin(space, actor):
    with pytest.raises(InvalidSpaceChange) as refused:
        update_space(space, actor, {"slug": "elsewhere"})

    assert refused.value.errors == {"slug": ["cannot be changed here"]}
    assert Space.objects.filter(slug="home").exists()


def test_a_value_stored_before_the_schema_does_not_block_a_rename(space, actor):
    Space.objects.filter(pk=space.pk).update(settings={"consolidation": {"auto_apply": 5}})

    done = update_space(space, actor, {"name": "Renamed"})

    assert done.space.name == "Renamed" and done.scan is None
    space.refresh_from_db()
    assert space.settings == {"consolidation": {"auto_apply": 5}}


def test_reordering_the_auto_applied_operations_moves_no_setting(space, actor):
    space.settings = {"consolidation": {"auto_apply": ["link", "archive"]}}
    space.save()

    update_space(space, actor, {"settings": {"consolidation": {"auto_apply": ["archive", "link"]}}})

    [event] = AuditEvent.objects.for_space(space).filter(action="space.update")
    assert event.summary == {"changed": ["settings"]}

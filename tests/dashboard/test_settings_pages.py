"""The space settings page: generated from the settings schema, for the space's admins
only, saving through the same service as the API (audited, a changed hygiene policy
starts a scan), and refusing bad input field by field with nothing saved."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.urls import reverse

from apps.audit.models import AuditEvent
from apps.consolidation.models import Operation
from apps.hygiene.scans import JOB_KIND
from apps.jobs.models import Job
from apps.spaces.models import Role, Space
from apps.spaces.preferences import HYGIENE_ACTIONS, HYGIENE_ACTIONS_EXPLAINED
from tests.dashboard.conftest import member, messages_of


def url_of(space: Space) -> str:
    return reverse("dashboard:settings", args=[space.slug])


def form_data(space: Space, **changes: Any) -> dict[str, Any]:
    """What the page posts when nothing is touched, with `changes` (keys with "__"
    for the option's dot: hygiene__secret)."""
    data: dict[str, Any] = {
        "name": space.name,
        "description": space.description,
        "hygiene.secret": space.setting("hygiene", "secret"),
        "hygiene.pii": space.setting("hygiene", "pii"),
        "hygiene.injection": space.setting("hygiene", "injection"),
        "consolidation.auto_apply": space.setting("consolidation", "auto_apply"),
    }
    data.update({key.replace("__", "."): value for key, value in changes.items()})
    return {key: value for key, value in data.items() if value is not None}


def scans_of(space: Space) -> int:
    return Job.objects.for_space(space).filter(kind=JOB_KIND).count()


def updates_of(space: Space) -> list[AuditEvent]:
    return list(AuditEvent.objects.for_space(space).filter(action="space.update"))


def test_it_lays_out_every_option_of_the_schema(admin, space):
    response = admin.get(url_of(space))

    assert response.status_code == 200
    html = response.content.decode()
    for category in ("secret", "pii", "injection"):
        for action in HYGIENE_ACTIONS:
            assert f'name="hygiene.{category}" value="{action}"' in html
    for explanation in HYGIENE_ACTIONS_EXPLAINED.values():
        assert explanation in html
    for value, label in Operation.choices:
        assert f'type="checkbox" name="consolidation.auto_apply" value="{value}"' in html
        assert label in html
    # The space's current (default) policy is the checked one.
    checked = re.findall(
        r'<input type="radio" name="(hygiene\.\w+)" value="(\w+)"[^>]* checked', html
    )
    assert checked == [
        ("hygiene.secret", "redact"),
        ("hygiene.pii", "flag"),
        ("hygiene.injection", "flag"),
    ]
    assert 'value="Home"' in html


def test_it_saves_a_policy_change_audits_it_and_starts_a_scan(admin, space):
    response = admin.post(url_of(space), form_data(space, hygiene__secret="reject"))

    assert response.status_code == 302
    assert response["Location"] == url_of(space)
    space.refresh_from_db()
    assert space.setting("hygiene", "secret") == "reject"
    assert space.setting("hygiene", "pii") == "flag"
    [event] = updates_of(space)
    assert event.actor_label == "user:ada"
    assert event.summary == {
        "changed": ["settings"],
        "settings": {"hygiene.secret": {"from": "redact", "to": "reject"}},
    }
    [job] = Job.objects.for_space(space).filter(kind=JOB_KIND)
    assert job.params["reason"] == "policy change"
    [message] = messages_of(response)
    assert message == f"Saved; a hygiene scan started (job #{job.pk})."
    page = admin.get(url_of(space)).content.decode()
    assert reverse("dashboard:job", args=[space.slug, job.pk]) in page


def test_a_consolidation_only_change_starts_no_scan(admin, space):
    response = admin.post(
        url_of(space), form_data(space, consolidation__auto_apply=["link", "archive"])
    )

    assert response.status_code == 302
    space.refresh_from_db()
    assert sorted(space.setting("consolidation", "auto_apply")) == ["archive", "link"]
    assert scans_of(space) == 0
    [event] = updates_of(space)
    assert event.summary["settings"] == {
        "consolidation.auto_apply": {"from": [], "to": ["link", "archive"]}
    }
    assert messages_of(response) == ["Saved."]


def test_it_clears_every_auto_applied_operation(admin, space):
    space.settings = {"consolidation": {"auto_apply": ["archive"]}}
    space.save()

    response = admin.post(url_of(space), form_data(space, consolidation__auto_apply=None))

    assert response.status_code == 302
    space.refresh_from_db()
    assert space.setting("consolidation", "auto_apply") == []


def test_it_renames_the_space_and_describes_it(admin, space):
    response = admin.post(
        url_of(space), form_data(space, name="  Household ", description="Our agents' memory")
    )

    assert response.status_code == 302
    space.refresh_from_db()
    assert (space.name, space.description, space.settings) == (
        "Household",
        "Our agents' memory",
        {},
    )
    [event] = updates_of(space)
    assert event.summary == {"changed": ["description", "name"]}
    assert scans_of(space) == 0


def test_it_writes_nothing_when_nothing_changed(admin, space):
    response = admin.post(url_of(space), form_data(space))

    assert response.status_code == 302
    assert messages_of(response) == ["Nothing changed."]
    assert updates_of(space) == []
    space.refresh_from_db()
    assert space.settings == {}


@pytest.mark.parametrize(
    ("changes", "field", "error"),
    [
        ({"name": ""}, "name", "This field is required."),
        ({"name": "x" * 201}, "name", "at most 200 characters"),
        ({"hygiene__secret": "explode"}, "hygiene.secret", "Select a valid choice"),
        ({"hygiene__pii": None}, "hygiene.pii", "This field is required."),
        (
            {"consolidation__auto_apply": ["archive", "explode"]},
            "consolidation.auto_apply",
            "Select a valid choice",
        ),
    ],
)
def test_it_refuses_bad_input_by_field_and_saves_nothing(admin, space, changes, field, error):
    response = admin.post(url_of(space), form_data(space, hygiene__injection="reject", **changes))

    assert response.status_code == 400
    form = response.context["form"]
    assert list(form.errors) == [field]
    assert error in " ".join(form.errors[field])
    assert error.split(".")[0] in response.content.decode()
    space.refresh_from_db()
    assert (space.name, space.settings) == ("Home", {})
    assert updates_of(space) == []
    assert scans_of(space) == 0


def test_it_refuses_a_policy_the_schema_refuses_even_past_the_form(admin, space):
    """The form's choices come from the schema; the composed settings are validated
    once more by validate_space_settings (a stored section outside the schema)."""
    Space.objects.filter(pk=space.pk).update(settings={"retention": 30})
    space.refresh_from_db()

    response = admin.post(url_of(space), form_data(space, hygiene__secret="reject"))

    assert response.status_code == 400
    assert "unknown section" in " ".join(response.context["form"].non_field_errors())
    space.refresh_from_db()
    assert space.settings == {"retention": 30}
    assert scans_of(space) == 0


@pytest.mark.parametrize("role", [Role.VIEWER, Role.EDITOR])
def test_a_reader_or_editor_may_not_see_or_change_the_settings(space, role):
    client = member(space, "reader", role)

    assert client.get(url_of(space)).status_code == 403
    response = client.post(url_of(space), form_data(space, hygiene__secret="allow"))

    assert response.status_code == 403
    space.refresh_from_db()
    assert space.settings == {}
    assert updates_of(space) == []
    assert (
        "/settings/"
        not in client.get(reverse("dashboard:flags", args=[space.slug])).content.decode()
    )


def test_an_outsider_finds_no_such_space(outsider, space, outsider_space):
    assert outsider.get(url_of(space)).status_code == 404
    response = outsider.post(url_of(space), form_data(space, hygiene__secret="allow"))

    assert response.status_code == 404
    space.refresh_from_db()
    assert space.settings == {}
    assert updates_of(space) == [] and updates_of(outsider_space) == []


def test_signed_out_it_asks_to_sign_in(client, space):
    response = client.get(url_of(space))

    assert response.status_code == 302
    assert "/login" in response["Location"]


def test_the_navigation_and_the_flags_page_link_to_it_for_admins(admin, space):
    flags_page = admin.get(reverse("dashboard:flags", args=[space.slug])).content.decode()

    assert flags_page.count(f'href="{url_of(space)}"') == 2  # the navigation and "change"
    assert "secret → <strong>redact</strong>" in flags_page


def test_it_reads_the_page_in_few_queries(admin, space, django_assert_max_num_queries):
    admin.get(url_of(space))  # sessions and caches warm

    with django_assert_max_num_queries(6):
        response = admin.get(url_of(space))

    assert response.status_code == 200

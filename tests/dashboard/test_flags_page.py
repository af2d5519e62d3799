"""The Flags page: counts, filters, bulk actions, Scan now, who may see and act."""

from __future__ import annotations

import pytest
from django.urls import reverse

from apps.audit.models import AuditEvent
from apps.hygiene.models import Flag
from apps.hygiene.scans import JOB_KIND
from apps.jobs.models import Job
from apps.memories import services
from apps.memories.models import Memory, MemoryVersion
from tests.conftest import fresh
from tests.hygiene.test_policy import WITH_EMAIL, WITH_INJECTION, WITH_KEY


@pytest.fixture
def flagged(space, actor):
    """Two memories with open flags: personal data in one, injection in the other."""
    return [
        services.create_memory(space, actor, content=WITH_EMAIL, subject="invoice"),
        services.create_memory(space, actor, content=WITH_INJECTION, subject="note"),
    ]


def test_it_counts_open_flags_by_category_and_type(viewer, space, flagged):
    response = viewer.get(reverse("dashboard:flags", args=[space.slug]))

    assert response.status_code == 200
    assert response.context["open_total"] == 2
    assert [(c["category"], c["type"], c["n"]) for c in response.context["counts"]] == [
        ("injection", "override", 1),
        ("pii", "email", 1),
    ]
    html = response.content.decode()
    assert "ana.ruiz@fastpost.de" not in html  # the page names findings, not their text


def test_it_filters_by_category_type_and_status(viewer, space, flagged):
    url = reverse("dashboard:flags", args=[space.slug])
    assert [f.type for f in viewer.get(url, {"category": "pii"}).context["rows"]] == ["email"]
    assert [f.type for f in viewer.get(url, {"type": "override"}).context["rows"]] == ["override"]
    assert viewer.get(url, {"status": "dismissed"}).context["rows"] == []
    assert len(viewer.get(url, {"status": "any"}).context["rows"]) == 2
    # A value the page does not know is ignored, not an error.
    assert len(viewer.get(url, {"category": "<b>", "status": "x"}).context["rows"]) == 2


def test_it_shows_a_space_to_its_members_only(outsider, space, flagged):
    assert outsider.get(reverse("dashboard:flags", args=[space.slug])).status_code == 404
    flag = Flag.objects.for_space(space).earliest("pk")
    response = outsider.post(
        reverse("dashboard:flags_act", args=[space.slug]), {"action": "dismiss", "flag": [flag.pk]}
    )
    assert response.status_code == 404
    assert Flag.objects.for_space(space).open().count() == 2


def test_a_viewer_may_not_act(viewer, space, flagged):
    flag = Flag.objects.for_space(space).earliest("pk")
    response = viewer.post(
        reverse("dashboard:flags_act", args=[space.slug]), {"action": "dismiss", "flag": [flag.pk]}
    )
    assert response.status_code == 403
    assert viewer.post(reverse("dashboard:flags_scan", args=[space.slug])).status_code == 403


def test_it_dismisses_selected_flags_with_an_event_and_keeps_the_filters(editor, space, flagged):
    email = Flag.objects.for_space(space).get(type="email")

    response = editor.post(
        reverse("dashboard:flags_act", args=[space.slug]),
        {"action": "dismiss", "flag": [email.pk], "query": "category=pii&status=open"},
    )

    assert response.status_code == 302
    assert response["Location"] == "/s/home/flags/?category=pii&status=open"
    email.refresh_from_db()
    assert email.status == "dismissed" and email.resolved_by == "user:alice"
    assert email.resolved_at is not None
    event = AuditEvent.objects.for_space(space).get(action="flag.dismiss")
    assert event.summary["type"] == "email" and "ana.ruiz" not in str(event.summary)
    assert Flag.objects.for_space(space).open().count() == 1


def test_it_archives_the_flagged_memories_through_the_services(editor, space, flagged):
    ids = list(Flag.objects.for_space(space).values_list("pk", flat=True))

    response = editor.post(
        reverse("dashboard:flags_act", args=[space.slug]), {"action": "archive", "flag": ids}
    )

    assert response.status_code == 302
    assert [fresh(m).status for m in flagged] == ["archived", "archived"]
    assert MemoryVersion.objects.for_space(space).filter(action="archive").count() == 2
    # Archiving again leaves the already archived memories alone.
    editor.post(
        reverse("dashboard:flags_act", args=[space.slug]), {"action": "archive", "flag": ids}
    )
    assert MemoryVersion.objects.for_space(space).filter(action="archive").count() == 2


def test_it_refuses_an_unknown_action_or_no_selection(editor, space, flagged):
    url = reverse("dashboard:flags_act", args=[space.slug])
    flag = Flag.objects.for_space(space).earliest("pk")
    assert editor.post(url, {"action": "burn", "flag": [flag.pk]}).status_code == 302
    assert editor.post(url, {"action": "dismiss"}).status_code == 302
    assert Flag.objects.for_space(space).open().count() == 2


def test_it_redacts_the_flagged_span_and_resolves_the_flag(editor, space, flagged):
    flag = Flag.objects.for_space(space).get(category="pii")
    assert (
        "Redact</button>"
        in editor.get(reverse("dashboard:flags", args=[space.slug])).content.decode()
    )
    response = editor.post(
        reverse("dashboard:flags_act", args=[space.slug]), {"action": "redact", "flag": [flag.pk]}
    )
    assert response.status_code == 302
    redacted, untouched = fresh(flagged[0]), fresh(flagged[1])
    assert "ana.ruiz@fastpost.de" not in redacted.content
    assert "[REDACTED:email]" in redacted.content and redacted.version == 2
    assert untouched.version == 1
    assert Flag.objects.for_space(space).get(pk=flag.pk).status == Flag.Status.RESOLVED
    assert (
        not MemoryVersion.objects.for_space(space)
        .filter(memory_id=redacted.pk, content__contains="ana.ruiz@fastpost.de")
        .exists()
    )


def test_it_cannot_touch_flags_of_another_space(editor, space, outsider_space, actor):
    other = services.create_memory(outsider_space, actor, content=WITH_EMAIL)
    flag = Flag.objects.for_space(outsider_space).get()
    editor.post(
        reverse("dashboard:flags_act", args=[space.slug]), {"action": "dismiss", "flag": [flag.pk]}
    )
    editor.post(
        reverse("dashboard:flags_act", args=[space.slug]), {"action": "archive", "flag": [flag.pk]}
    )
    flag.refresh_from_db()
    assert flag.status == "open" and fresh(other).status == "active"


def test_scan_now_queues_a_scan_job(editor, space, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        response = editor.post(reverse("dashboard:flags_scan", args=[space.slug]))
    assert response.status_code == 302
    assert Job.objects.for_space(space).filter(kind=JOB_KIND).count() == 1
    assert len(callbacks) == 1


def test_the_page_reads_a_fixed_number_of_queries(
    viewer, space, actor, django_assert_max_num_queries
):
    services.create_memories(space, actor, [{"content": WITH_EMAIL}] * 30)
    services.record_episodes(space, actor, [{"content": WITH_INJECTION}] * 10)
    with django_assert_max_num_queries(8):
        response = viewer.get(reverse("dashboard:flags", args=[space.slug]), {"status": "any"})
    assert len(response.context["rows"]) == 40


def test_the_space_nav_links_the_flags_page(viewer, space):
    html = viewer.get(reverse("dashboard:home", args=[space.slug])).content.decode()
    assert 'href="/s/home/flags/"' in html


def test_an_episode_flag_links_to_its_episode(viewer, space, actor):
    [episode] = services.record_episodes(space, actor, [{"content": WITH_INJECTION}])
    html = viewer.get(reverse("dashboard:flags", args=[space.slug])).content.decode()
    assert reverse("dashboard:episode", args=[space.slug, episode.pk]) in html
    assert not Memory.objects.for_space(space).exists()
    assert WITH_KEY not in html

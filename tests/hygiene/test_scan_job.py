"""The scan job: flags stored memories and episodes by the current policy and scanner,
never rewrites them, runs again without duplicates, and is started by a policy
change, the admin and beat."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from apps.audit.models import AuditEvent
from apps.hygiene import scans
from apps.hygiene.models import Flag
from apps.hygiene.scanner import SCANNER_VERSION
from apps.hygiene.tasks import scan_space, scan_unscanned_spaces
from apps.jobs.models import Job
from apps.memories import services
from apps.memories.models import Episode, Memory
from apps.spaces.models import Space
from tests.api.conftest import ADMIN
from tests.hygiene.test_policy import KEY, WITH_EMAIL, WITH_INJECTION, WITH_KEY, set_policy
from tests.test_pipeline import wait_until


def stored_unscreened(space: Space, actor, *texts: str) -> list[Memory]:
    """Memories written while the policy allowed everything."""
    set_policy(space, secret="allow", pii="allow", injection="allow")
    memories = [services.create_memory(space, actor, content=text) for text in texts]
    services.record_episodes(space, actor, [{"content": text} for text in texts])
    return memories


def run_scan(space: Space) -> Job:
    job = Job.objects.create(kind=scans.JOB_KIND, space=space)
    scan_space(job.pk)
    job.refresh_from_db()
    return job


def test_it_flags_stored_content_without_rewriting_it(space, actor):
    [memory, _] = stored_unscreened(space, actor, WITH_KEY, WITH_EMAIL)
    set_policy(space, secret="redact", pii="flag", injection="flag")

    job = run_scan(space)

    assert job.status == "succeeded" and (job.done, job.total) == (4, 4)
    assert job.counts == {"scanned": 4, "flagged": 4, "unflagged": 0}
    flags = Flag.objects.for_space(space)
    assert sorted(flags.values_list("category", flat=True)) == ["pii", "pii", "secret", "secret"]
    assert flags.filter(episode__isnull=False).count() == 2
    assert set(flags.values_list("scanner_version", flat=True)) == {SCANNER_VERSION}
    memory.refresh_from_db()
    assert memory.content == WITH_KEY and memory.version == 1
    assert Episode.objects.for_space(space).filter(content__contains=KEY).exists()


def test_a_rerun_adds_nothing_and_keeps_dismissals(space, actor):
    stored_unscreened(space, actor, WITH_EMAIL, WITH_INJECTION)
    set_policy(space, pii="flag", injection="flag")
    run_scan(space)
    Flag.objects.for_space(space).filter(type="email").update(status=Flag.Status.DISMISSED)

    job = run_scan(space)

    assert job.counts["flagged"] == 0 and job.counts["unflagged"] == 0
    assert Flag.objects.for_space(space).count() == 4
    assert Flag.objects.for_space(space).filter(status="dismissed").count() == 2


def test_allowing_a_category_takes_its_open_flags_away_on_the_next_scan(space, actor):
    stored_unscreened(space, actor, WITH_INJECTION)
    set_policy(space, injection="flag")
    run_scan(space)
    set_policy(space, injection="allow")

    job = run_scan(space)

    assert job.counts["unflagged"] == 2
    assert not Flag.objects.for_space(space).exists()


def test_a_scan_touches_no_other_space(space, outsider_space, actor):
    stored_unscreened(outsider_space, actor, WITH_EMAIL)
    run_scan(space)
    assert not Flag.objects.for_space(outsider_space).exists()


def test_a_policy_change_over_the_api_queues_one_scan(
    agent_for, space, django_capture_on_commit_callbacks
):
    admin = agent_for(space, ADMIN)
    with django_capture_on_commit_callbacks() as callbacks:
        response = admin.patch(
            f"/api/v1/spaces/{space.slug}",
            {"settings": {"hygiene": {"pii": "reject"}}},
            format="json",
        )
    assert response.status_code == 200, response.content
    [job] = Job.objects.for_space(space).filter(kind=scans.JOB_KIND)
    assert job.params == {"scanner_version": SCANNER_VERSION, "reason": "policy change"}
    assert len(callbacks) == 1

    admin.patch(f"/api/v1/spaces/{space.slug}", {"description": "same policy"}, format="json")
    assert Job.objects.for_space(space).filter(kind=scans.JOB_KIND).count() == 1


def test_a_policy_change_in_the_admin_queues_a_scan(space, django_user_model):
    staff = django_user_model.objects.create_superuser("root", password="pw-long-enough-1")
    client = Client()
    client.force_login(staff)
    url = reverse("admin:spaces_space_change", args=[space.pk])
    response = client.post(
        url,
        {
            "name": space.name,
            "slug": space.slug,
            "description": "",
            "settings": '{"hygiene": {"injection": "reject"}}',
            "created_at_0": "2026-01-01",
            "created_at_1": "00:00:00",
            "memberships-TOTAL_FORMS": "0",
            "memberships-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    assert Job.objects.for_space(space).filter(kind=scans.JOB_KIND).count() == 1
    [event] = AuditEvent.objects.for_space(space).filter(action="space.update")
    assert event.actor_label == "user:root"
    assert event.summary == {
        "changed": ["settings"],
        "settings": {"hygiene.injection": {"from": "flag", "to": "reject"}},
    }


def test_beat_queues_a_scan_only_where_this_scanner_has_not_scanned(space, outsider_space, actor):
    stored_unscreened(space, actor, WITH_EMAIL)
    Job.objects.create(
        kind=scans.JOB_KIND,
        space=space,
        status="succeeded",
        params={"scanner_version": "0"},
    )

    started = scan_unscanned_spaces()

    [job] = Job.objects.for_space(space).filter(kind=scans.JOB_KIND, status="queued")
    assert started == [job.pk]  # the outsider space holds nothing to scan
    job.status = "succeeded"
    job.save()
    assert scan_unscanned_spaces() == []


@pytest.mark.slow
def test_the_worker_runs_a_scan(transactional_db, celery_worker_process, actor):
    space = Space.objects.create(slug="scanned", name="Scanned")
    stored_unscreened(space, actor, WITH_EMAIL, "Nothing to see.")
    set_policy(space, pii="flag")

    job = scans.start_scan(space, "test")

    wait_until(lambda: Job.objects.get(pk=job.pk).status in ("succeeded", "failed"), timeout=120)
    job.refresh_from_db()
    assert job.status == "succeeded", job.error
    assert (job.done, job.total) == (4, 4)
    assert Flag.objects.for_space(space).filter(category="pii").count() == 2

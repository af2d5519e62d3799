"""The space settings page in a real browser: an admin finds it in the navigation,
makes the secret policy "reject", follows the scan it started, and the next memory
holding a secret is refused by the dashboard's new-memory form."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from apps.audit.models import AuditEvent
from apps.hygiene.scans import JOB_KIND
from apps.jobs.models import Job
from apps.memories.models import Memory
from tests.hygiene.test_policy import WITH_KEY

pytestmark = pytest.mark.slow


def test_an_admin_rejects_secrets_and_the_next_one_is_refused(
    logged_in, live_server, curator_space, shot
):
    page = logged_in
    page.goto(f"{live_server.url}/s/lab/")
    page.get_by_role("navigation").get_by_role("link", name="Settings", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Space settings")
    secrets = page.get_by_role("group", name="Secrets (keys, tokens, passwords)")
    expect(secrets.get_by_role("radio", name="redact")).to_be_checked()
    shot(page, "space-settings")

    secrets.get_by_role("radio", name="reject").check()
    page.get_by_role("button", name="Save").click()

    expect(page.get_by_role("status")).to_contain_text("Saved; a hygiene scan started")
    expect(secrets.get_by_role("radio", name="reject")).to_be_checked()
    curator_space.refresh_from_db()
    assert curator_space.setting("hygiene", "secret") == "reject"
    assert AuditEvent.objects.for_space(curator_space).filter(action="space.update").count() == 1
    job = Job.objects.for_space(curator_space).get(kind=JOB_KIND)
    page.get_by_role("link", name="Follow the job").click()
    expect(page).to_have_url(f"{live_server.url}/s/lab/jobs/{job.pk}/")

    page.goto(f"{live_server.url}/s/lab/memories/new/")
    page.get_by_label("Content").fill(WITH_KEY)
    page.get_by_role("button", name="Create memory").click()

    expect(page.get_by_text("hygiene policy refuses this content")).to_be_visible()
    assert not Memory.objects.for_space(curator_space).exists()
    shot(page, "memory-new-refused-secret")

"""The jobs pages in a real browser: counters read as sentences, times as words with
the exact time on hover, and nothing on the console (not even the icon)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from apps.jobs.models import Job
from tests.browser.console import at_both_widths, console_errors

pytestmark = pytest.mark.slow


def test_job_counters_and_times_read_as_words(logged_in, live_server, curator_space, shot):
    page = logged_in
    errors = console_errors(page)
    started = timezone.now() - timedelta(days=95)
    job = Job.objects.create(
        kind="consolidate",
        space=curator_space,
        status=Job.Status.SUCCEEDED,
        total=6,
        done=6,
        started_at=started,
        finished_at=started + timedelta(minutes=6),
        counts={
            "rechecked": 2,
            "recheck_retired": 2,
            "entities_proposed": 5,
            "entities_applied": 4,
        },
    )
    Job.objects.create(
        kind="project",
        space=curator_space,
        status=Job.Status.SUCCEEDED,
        started_at=timezone.now() - timedelta(minutes=6),
        finished_at=timezone.now() - timedelta(minutes=5),
        counts={"points": 240, "clusters": 7},
    )
    page.goto(f"{live_server.url}/s/lab/jobs/")
    recent = page.get_by_role("table", name="Recent jobs")
    expect(recent).to_contain_text("4 entities applied by policy")
    expect(recent).to_contain_text("2 re-checked proposals retired")
    expect(recent).to_contain_text("240 memories placed on the map")
    expect(recent).to_contain_text("6 minutes ago")
    expect(recent).to_contain_text("3 months ago")
    expect(recent).not_to_contain_text("entities_applied")
    finished = recent.locator("time", has_text="3 months ago").first
    assert finished.get_attribute("title") == f"{timezone.localtime(started):%Y-%m-%d %H:%M:%S} UTC"
    at_both_widths(page, shot, "jobs-words")

    page.get_by_role("link", name=f"consolidate #{job.pk}").click()
    expect(page.get_by_role("table", name="This job")).to_contain_text("5 entities proposed")
    at_both_widths(page, shot, "job-words")
    assert errors == []

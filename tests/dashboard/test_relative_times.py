"""Relative times say their unit in words, one wording on every page, and carry the
exact time: "3 months ago" with a <time datetime title>, never "3mo" or "6m"."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.dashboard.templatetags.dashboard import age, ago
from apps.jobs.models import Job

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("elapsed", "words"),
    [
        (timedelta(seconds=20), "less than a minute"),
        (timedelta(minutes=1), "1 minute"),
        (timedelta(minutes=6), "6 minutes"),
        (timedelta(hours=2, minutes=59), "2 hours"),
        (timedelta(days=1), "1 day"),
        (timedelta(days=13), "1 week"),
        (timedelta(days=95), "3 months"),
        (timedelta(days=800), "2 years"),
    ],
)
def test_an_age_names_its_unit_in_words(elapsed, words):
    assert age(timezone.now() - elapsed) == words


def test_an_unknown_moment_is_a_dash():
    assert age(None) == "—"
    assert "—" in ago(None)


def test_ago_wraps_the_words_in_a_time_element_with_the_exact_time():
    moment = timezone.now() - timedelta(days=95)
    html = ago(moment)
    assert html.startswith(f'<time datetime="{moment.isoformat()}"')
    assert f'title="{timezone.localtime(moment):%Y-%m-%d %H:%M:%S}' in html
    assert html.endswith(">3 months ago</time>")


def test_a_moment_ahead_reads_as_in():
    assert ">in 2 days</time>" in ago(timezone.now() + timedelta(days=2, minutes=1))


def test_the_jobs_page_uses_the_words(viewer, space):
    started = timezone.now() - timedelta(minutes=6)
    Job.objects.create(
        kind="reembed",
        space=space,
        status=Job.Status.SUCCEEDED,
        started_at=started,
        finished_at=started + timedelta(minutes=1),
    )
    html = viewer.get("/s/home/jobs/").content.decode()
    assert ">6 minutes ago</time>" in html and ">5 minutes ago</time>" in html
    assert re.search(r"\d(m|mo|h|d|y) ago", html) is None

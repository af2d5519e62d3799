"""The retrieval health panel in a real browser: the figures, and a measurement started
with Measure now and finished by a real worker."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from playwright.sync_api import expect

from apps.audit.actors import Actor
from apps.jobs.models import Job
from apps.memories import services
from apps.retrieval import subject_indexes, vector_indexes
from apps.retrieval.health import JOB_KIND
from apps.retrieval.models import HealthSnapshot, Recall
from tests.browser.console import console_errors
from tests.conftest import worker_env
from tests.test_pipeline import wait_until
from tests.worker_process import start_worker_process, stop_worker_process

pytestmark = pytest.mark.slow


def test_a_curator_measures_recall_now(
    logged_in, live_server, curator_space, hashing_backend, embed_now, shot
):
    page = logged_in
    errors = console_errors(page)
    actor = Actor.system("test")
    services.create_memories(
        curator_space, actor, [{"content": f"note {i} on the harbor"} for i in range(25)]
    )
    embed_now(curator_space)
    now = timezone.now()
    for days, recall in ((14, 0.97), (7, 0.93)):
        HealthSnapshot(
            space=curator_space, recall=recall, from_memories=200, embedded=25,
            measured_at=now - timedelta(days=days),
        ).save()  # fmt: skip
    for ms in (4.0, 6.0, 9.0, 30.0):
        Recall(space=curator_space, actor_type="system", actor_label="agent", mode="hybrid",
               memory_ids=[], duration_ms=ms, created_at=now).save()  # fmt: skip

    page.goto(f"{live_server.url}/s/lab/")
    page.get_by_role("link", name="Vector recall@10 of 0.93").click()
    expect(page.get_by_role("heading", name="Retrieval health")).to_be_visible()
    expect(page.get_by_role("table", name="Recall@10 over time")).to_contain_text("0.970")
    shot(page, "health")

    process, _ = start_worker_process(worker_env(MEMORYWEB_EMBEDDING_BACKEND="hashing"))
    try:
        page.get_by_role("button", name="Measure now").click()
        expect(page.get_by_text("Recall measurement queued as job")).to_be_visible()
        job = Job.objects.for_space(curator_space).get(kind=JOB_KIND)
        wait_until(lambda: Job.objects.get(pk=job.pk).status in ("succeeded", "failed"), 120)
    finally:
        stop_worker_process(process)

    page.reload()
    expect(page.locator('[data-figure="recall"] strong')).to_have_text("1.000")
    expect(page.get_by_text("Over 25 queries")).to_be_visible()
    shot(page, "health-measured")
    assert errors == []


def test_the_panel_names_the_subject_an_index_serves(
    logged_in, live_server, curator_space, hashing_backend, embed_now, shot
):
    page = logged_in
    actor = Actor.system("test")
    services.create_memories(
        curator_space,
        actor,
        [{"content": f"harbor note {i}", "subject": "harbor master"} for i in range(6)],
    )
    embed_now(curator_space)
    built = [
        vector_indexes.index_name(curator_space.pk),
        vector_indexes.words_index_name(curator_space.pk),
        subject_indexes.vectors_index_name(curator_space.pk, "harbor master"),
        subject_indexes.words_index_name(curator_space.pk, "harbor master"),
    ]
    try:
        vector_indexes.build_index(curator_space.pk)
        subject_indexes.build_indexes(curator_space.pk, "harbor master")
        page.goto(f"{live_server.url}/s/lab/health/")
        graphs = page.locator('[data-figure="index"]')
        expect(graphs).to_have_count(2)
        expect(graphs.nth(1)).to_contain_text("of this space's memories about harbor master")
        expect(page.locator('[data-figure="words-index"]').nth(1)).to_contain_text("harbor master")
        shot(page, "health-subject-indexes")
    finally:
        # Emptying the tables between transactional tests leaves indexes standing.
        with connection.cursor() as cursor:
            for name in built:
                cursor.execute(f"DROP INDEX IF EXISTS {name}")
        vector_indexes.forget()
        subject_indexes.forget()

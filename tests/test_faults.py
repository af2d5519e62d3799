"""Faults, with the real servers: a worker killed mid-batch, the broker down while
agents write, the database restarted under a running web server, and two editors
saving the same memory at once. Nothing acknowledged is lost, nothing done twice."""

from __future__ import annotations

import os
import signal
import threading
from typing import Any

import httpx
import pytest
from django.db import connection
from rest_framework.test import APIClient

from apps.audit.actors import Actor
from apps.audit.models import AuditEvent
from apps.consolidation.models import Proposal
from apps.consolidation.services import start_consolidation
from apps.jobs.models import Job
from apps.memories import services
from apps.memories.models import Memory, MemoryVersion
from apps.retrieval import tasks
from apps.spaces.models import ApiToken, Scope
from memoryweb import embedded
from tests.conftest import start_gunicorn, stop_gunicorn, worker_env
from tests.test_pipeline import wait_until
from tests.worker_process import start_worker_process, stop_worker_process

pytestmark = [pytest.mark.slow, pytest.mark.services]
ACTOR = Actor.system("fault-test")
WRITE: list[str] = [Scope.MEMORIES_READ, Scope.MEMORIES_WRITE]


def embedded_ids(space: Any) -> list[str]:
    """Every memory id each stored batch names, repeats kept."""
    return [
        memory_id
        for summary in AuditEvent.objects.for_space(space)
        .filter(action="memory.embed")
        .values_list("summary", flat=True)
        for memory_id in summary["memories"]
    ]


def pending(space: Any) -> int:
    return Memory.objects.for_space(space).filter(embedding__isnull=True).count()


def test_a_worker_killed_mid_batch_is_redelivered_and_embeds_each_memory_once(
    space, transactional_db
):
    # Small batches of the real model: the kill lands between stored batches. A short
    # visibility timeout makes the broker hand the unacknowledged task out again soon.
    env = worker_env(MEMORYWEB_EMBEDDING_BATCH_SIZE="8", MEMORYWEB_BROKER_VISIBILITY_TIMEOUT="4")
    rows = [{"content": f"Fault-test memory number {n} about topic {n % 7}."} for n in range(240)]
    first, _ = start_worker_process(env, quiet=True)
    try:
        services.create_memories(space, ACTOR, rows)  # commits, then queues embed_space
        wait_until(lambda: 0 < pending(space) < len(rows), timeout=120)
    finally:
        os.kill(first.pid, signal.SIGKILL)
        first.wait(timeout=30)
    left = pending(space)
    assert 0 < left < len(rows), "the worker was not killed mid-way"
    tasks._redis().delete(tasks._SCHEDULE_KEY.format(space_id=space.pk))

    second, _ = start_worker_process(env, quiet=True)
    try:
        # No new message is sent: only the redelivered one can finish the work.
        wait_until(lambda: pending(space) == 0, timeout=180)
    finally:
        stop_worker_process(second)

    ids = embedded_ids(space)
    assert sorted(ids) == sorted(
        {str(pk) for pk in Memory.objects.for_space(space).values_list("pk", flat=True)}
    )
    assert len(ids) == len(set(ids)) == len(rows)  # each embedded exactly once
    versions = MemoryVersion.objects.for_space(space).values_list("memory_id", "version")
    assert len(versions) == len(rows) and {v for _, v in versions} == {1}


@pytest.fixture
def test_profile() -> embedded.Profile:
    return embedded.get_profile("test")


def test_agents_keep_writing_while_the_broker_is_down(space, transactional_db, test_profile):
    _, raw = ApiToken.issue(space=space, name="agent", scopes=WRITE)
    writer = APIClient()
    writer.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    embedded.valkey_down(test_profile)
    try:
        created = [
            writer.post(
                "/api/v1/memories", {"content": f"Written with no broker, {n}."}, format="json"
            )
            for n in range(5)
        ]
        assert [response.status_code for response in created] == [201] * 5
        assert pending(space) == 5  # committed; their embedding message could not be sent
    finally:
        embedded.valkey_up(test_profile)
    tasks._redis().delete(tasks._SCHEDULE_KEY.format(space_id=space.pk))

    worker, _ = start_worker_process(worker_env(), quiet=True)
    try:
        tasks.sweep_pending_embeddings.delay()  # what beat runs every minute
        wait_until(lambda: pending(space) == 0, timeout=120)
    finally:
        stop_worker_process(worker)
    stored = set(Memory.objects.for_space(space).values_list("content", flat=True))
    assert stored == {f"Written with no broker, {n}." for n in range(5)}


@pytest.fixture
def web_server(transactional_db: Any) -> Any:
    process, base = start_gunicorn(
        worker_env(DATABASE_CONNECT_TIMEOUT="2"), "--workers", "1", "--threads", "2"
    )
    try:
        yield base, process
    finally:
        stop_gunicorn(process)


def test_requests_fail_cleanly_while_the_database_restarts_and_then_succeed(
    space, web_server, test_profile
):
    base, process = web_server
    _, raw = ApiToken.issue(space=space, name="agent", scopes=WRITE)
    headers = {"Authorization": f"Bearer {raw}"}
    memory = services.create_memory(space, ACTOR, content="Stored before the restart.")
    before = httpx.get(f"{base}/api/v1/memories/{memory.pk}", headers=headers, timeout=10)
    assert before.status_code == 200

    connection.close()  # this test's own connection would die with the server
    embedded.postgres_down(test_profile)
    try:
        during = httpx.get(f"{base}/api/v1/memories/{memory.pk}", headers=headers, timeout=20)
        write = httpx.post(
            f"{base}/api/v1/memories",
            json={"content": "Sent while down."},
            headers=headers,
            timeout=20,
        )
        page = httpx.get(f"{base}/login/", timeout=20)
    finally:
        embedded.postgres_up(test_profile)

    assert during.status_code == 503 and write.status_code == 503
    assert during.json()["error"]["code"] == "database_unavailable"
    assert during.headers["retry-after"] == "5"
    assert page.status_code in (200, 503)  # the sign-in form needs no database
    after = httpx.get(f"{base}/api/v1/memories/{memory.pk}", headers=headers, timeout=20)
    assert after.status_code == 200 and after.json()["content"] == "Stored before the restart."
    created = httpx.post(
        f"{base}/api/v1/memories", json={"content": "Sent after."}, headers=headers, timeout=20
    )
    assert created.status_code == 201
    assert process.poll() is None  # the same web process throughout
    contents = set(Memory.objects.for_space(space).values_list("content", flat=True))
    assert contents == {"Stored before the restart.", "Sent after."}  # nothing half-written


def test_two_editors_saving_at_once_one_wins_and_the_other_gets_a_conflict(space, transactional_db):
    memory = services.create_memory(space, ACTOR, content="The meeting is on Monday.")
    start = threading.Barrier(2)
    outcomes: dict[str, str] = {}

    def save(editor: str, text: str) -> None:
        start.wait()
        try:
            services.update_memory(
                space, Actor.system(editor), memory.pk, expected_version=1, content=text
            )
            outcomes[editor] = "saved"
        except services.VersionConflict:
            outcomes[editor] = "conflict"
        finally:
            connection.close()

    threads = [
        threading.Thread(target=save, args=("ana", "The meeting is on Tuesday.")),
        threading.Thread(target=save, args=("ben", "The meeting is on Friday.")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(outcomes.values()) == ["conflict", "saved"]
    winner = next(editor for editor, outcome in outcomes.items() if outcome == "saved")
    stored = Memory.objects.for_space(space).get(pk=memory.pk)
    expected = {"ana": "The meeting is on Tuesday.", "ben": "The meeting is on Friday."}[winner]
    assert (stored.version, stored.content) == (2, expected)
    history = MemoryVersion.objects.for_space(space).filter(memory=memory).order_by("version")
    assert [v.content for v in history] == ["The meeting is on Monday.", expected]


def test_a_consolidation_job_killed_half_way_resumes_without_duplicates(
    space, transactional_db, hashing_backend, embed_now
):
    rows = [
        {"content": f"Note {n}: the Lisbon office plans item {n} with Tomás."} for n in range(3000)
    ]
    rows += [
        {"content": f"Note {n}: the Lisbon office plans item {n} with Tomás!"} for n in range(40)
    ]
    services.create_memories(space, ACTOR, rows)
    embed_now(space)
    env = worker_env(MEMORYWEB_EMBEDDING_BACKEND="hashing", MEMORYWEB_BROKER_VISIBILITY_TIMEOUT="4")
    first, _ = start_worker_process(env, quiet=True)
    try:
        job = start_consolidation(space, only=["merge", "link", "entities"])
        wait_until(lambda: Job.objects.get(pk=job.pk).done >= 1, timeout=120)
    finally:
        os.kill(first.pid, signal.SIGKILL)
        first.wait(timeout=30)
    job.refresh_from_db()
    assert job.status == "running" and job.done < job.total, "not killed half-way"

    second, _ = start_worker_process(env, quiet=True)
    try:
        wait_until(lambda: Job.objects.get(pk=job.pk).status != "running", timeout=180)
    finally:
        stop_worker_process(second)
    job.refresh_from_db()
    assert (job.status, job.done, job.total) == ("succeeded", 3, 3)
    merges = Proposal.objects.for_space(space).filter(operation="merge")
    assert merges.count() == job.counts["merge_proposed"] == 40  # each pair proposed once
    # One proposal per entity (Lisbon, Tomás), each naming every memory once.
    named = Proposal.objects.for_space(space).filter(operation="entity")
    assert named.count() == job.counts["entities_proposed"] == 2
    assert all(len(set(p.memory_ids)) == len(p.memory_ids) == len(rows) for p in named)

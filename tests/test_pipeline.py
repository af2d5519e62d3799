"""The real pipeline: service layer -> broker -> Celery worker -> embeddings -> search.

These tests commit their rows (transactional_db) so the worker process sees them,
and use the real MiniLM model.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from apps.audit.actors import Actor
from apps.audit.models import AuditEvent
from apps.jobs.models import Job
from apps.memories import services
from apps.memories.models import Memory, MemoryVersion
from apps.retrieval import tasks
from apps.retrieval.search import search
from apps.spaces.models import Space
from memoryweb.celery import app as celery_app
from tests.conftest import worker_env
from tests.worker_process import start_worker_process, stop_worker_process

pytestmark = [pytest.mark.slow, pytest.mark.services]

ACTOR = Actor.system("pipeline-test")


def wait_until(condition: Callable[[], bool], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"condition not met within {timeout}s")


def fresh(space: Space, memory: Memory) -> Memory:
    return Memory.objects.for_space(space).get(pk=memory.pk)


def queued_embedding_messages() -> int:
    """Messages waiting in the broker's embedding queue."""
    queue = celery_app.amqp.queues["embedding"]
    with celery_app.connection_for_read() as connection:
        # Declared as a worker declares it (a passive declare fails on an empty Redis
        # queue). The answer carries the count; kombu's stubs type it as a str.
        declared: Any = queue.bind(connection.default_channel).queue_declare()
        return int(declared.message_count)


def lose_queued_messages(space: Space) -> None:
    """What a broker restarted without persistence does: the queued messages are gone,
    and so is the key that holds back a second embedding message for the space."""
    celery_app.control.purge()
    client = tasks._redis()
    if client is not None:
        client.delete(tasks._SCHEDULE_KEY.format(space_id=space.pk))


@pytest.fixture
def space(transactional_db):
    return Space.objects.create(slug="pipeline", name="Pipeline")


@pytest.fixture
def start_worker(space: Space) -> Iterator[Callable[[], None]]:
    """Start a real worker when the test says so. Until then nothing takes messages
    from the broker, which starts empty: the test can count what its writes queued.
    """
    lose_queued_messages(space)  # left by earlier tests (or runs) that had no worker
    workers: list[subprocess.Popen[bytes]] = []

    def start() -> None:
        process, _hostname = start_worker_process(worker_env())
        workers.append(process)

    yield start
    for process in workers:
        stop_worker_process(process)


def test_a_new_memory_becomes_searchable_once_the_worker_embeds_it(space, celery_worker_process):
    memory = services.create_memory(space, ACTOR, content="Maya's left knee hurts after long runs.")
    assert memory.embedding is None  # the write did not wait for the model

    wait_until(lambda: fresh(space, memory).embedding is not None)

    stored = fresh(space, memory)
    assert stored.embedding_model == "all-MiniLM-L6-v2"
    result = search(space, "knee injury from running", mode="vector", k=1, record_access=False)
    assert [hit.memory.pk for hit in result.hits] == [memory.pk]
    assert AuditEvent.objects.for_space(space).filter(action="memory.embed").exists()


def test_many_writes_in_a_short_time_become_one_batch(space, celery_worker_process):
    for i in range(20):
        services.create_memory(space, ACTOR, content=f"Fact number {i} about the garden.")
    wait_until(lambda: not Memory.objects.for_space(space).filter(embedding=None).exists())
    batches = AuditEvent.objects.for_space(space).filter(action="memory.embed")
    assert sum(e.summary["count"] for e in batches) == 20
    assert batches.count() <= 3


def test_editing_content_re_embeds_but_editing_tags_does_not(space, start_worker):
    memory = services.create_memory(space, ACTOR, content="Tomás opens Brasa in October.")
    assert queued_embedding_messages() == 1  # a write that needs a vector queues its job
    lose_queued_messages(space)
    tasks.embed_space(space.pk)  # that job's work, done here, so no worker runs yet
    first_vector = list(fresh(space, memory).embedding)
    embeds_before = AuditEvent.objects.for_space(space).filter(action="memory.embed").count()

    services.update_memory(space, ACTOR, memory.pk, expected_version=1, tags=["restaurant"])

    # The edit has committed: a message it sent would still be in the queue, and a
    # vector it cleared would leave the memory pending for the sweep.
    assert queued_embedding_messages() == 0
    assert list(fresh(space, memory).embedding) == first_vector
    assert AuditEvent.objects.for_space(space).filter(action="memory.embed").count() == (
        embeds_before
    )

    services.update_memory(
        space,
        ACTOR,
        memory.pk,
        expected_version=2,
        content="Tomás opens Brasa in November, after the inspection.",
    )
    assert fresh(space, memory).embedding is None
    assert queued_embedding_messages() == 1
    start_worker()
    wait_until(lambda: fresh(space, memory).embedding is not None)
    assert list(fresh(space, memory).embedding) != first_vector
    assert MemoryVersion.objects.for_space(space).filter(memory=memory).count() == 3


def test_the_sweep_embeds_what_a_lost_message_left_behind(space, start_worker):
    memory = services.create_memory(space, ACTOR, content="A memory whose message was lost.")
    assert queued_embedding_messages() == 1
    lose_queued_messages(space)
    assert queued_embedding_messages() == 0

    assert tasks.sweep_pending_embeddings() == [space.pk]  # what beat runs every minute

    assert queued_embedding_messages() == 1
    start_worker()
    wait_until(lambda: fresh(space, memory).embedding is not None)


def test_reads_record_access_without_writing_a_version(space, celery_worker_process):
    memory = services.create_memory(space, ACTOR, content="Inês runs front of house at Brasa.")
    wait_until(lambda: fresh(space, memory).embedding is not None)

    result = search(space, "who runs front of house", k=1, actor=Actor.system("reader"))
    assert result.hits[0].memory.pk == memory.pk

    wait_until(lambda: fresh(space, memory).access_count == 1)
    stored = fresh(space, memory)
    assert stored.strength == 2.0
    assert stored.last_accessed_at is not None
    assert stored.version == 1
    recall = AuditEvent.objects.for_space(space).get(action="memory.recall")
    assert recall.target_id == str(memory.pk)
    assert recall.actor_label == "system:reader"
    assert recall.summary["query"] == "who runs front of house"


def test_reembed_replaces_vectors_of_another_model_and_records_progress(
    space, celery_worker_process
):
    services.create_memories(
        space, ACTOR, [{"content": f"Note {i} on sourdough."} for i in range(5)]
    )
    wait_until(lambda: not Memory.objects.for_space(space).filter(embedding=None).exists())
    Memory.objects.for_space(space).update(embedding_model="old-model")

    job = tasks.start_reembed(space)

    wait_until(lambda: Job.objects.get(pk=job.pk).status == Job.Status.SUCCEEDED)
    job.refresh_from_db()
    assert (job.total, job.done, job.counts) == (5, 5, {"embedded": 5})
    assert set(Memory.objects.for_space(space).values_list("embedding_model", flat=True)) == {
        "all-MiniLM-L6-v2"
    }


def test_the_reembed_command_queues_a_job_for_a_space(space):
    from io import StringIO

    from django.core.management import CommandError, call_command

    out = StringIO()
    call_command("reembed", "--space", "pipeline", stdout=out)
    job = Job.objects.get()
    assert (job.kind, job.space_id, job.status) == ("reembed", space.pk, Job.Status.QUEUED)
    assert f"job {job.pk}" in out.getvalue()
    with pytest.raises(CommandError, match="no space"):
        call_command("reembed", "--space", "nowhere")


def test_pipelined_lanes_embed_each_memory_exactly_once(space, hashing_backend, settings):
    from apps.audit.context import request_id_var

    settings.EMBEDDING_BATCH_SIZE = 16
    memories = services.create_memories(
        space, ACTOR, [{"content": f"Row {i} of many."} for i in range(200)]
    )
    request_id_var.set("pipelined-test")

    embedded = tasks.embed_all_pending_pipelined(space, lanes=3)

    assert embedded == 200
    assert not Memory.objects.for_space(space).filter(embedding=None).exists()
    events = AuditEvent.objects.for_space(space).filter(action="memory.embed")
    stored = [memory_id for event in events for memory_id in event.summary["memories"]]
    assert sorted(stored) == sorted(str(m.pk) for m in memories)
    assert events.count() >= 200 // 16
    assert set(events.values_list("request_id", flat=True)) == {"pipelined-test"}


def test_it_starts_the_helper_lanes_while_the_first_full_batch_embeds(
    space, hashing_backend, settings, monkeypatch
):
    import threading

    settings.EMBEDDING_BATCH_SIZE = 16
    services.create_memories(space, ACTOR, [{"content": f"Row {i}."} for i in range(64)])
    # The first two batches can only pass together: a helper that started after the
    # first batch was embedded would leave it waiting here until the barrier breaks.
    first_two_batches = threading.Barrier(2, timeout=10)
    batches_seen = []
    embed = hashing_backend.embed

    def embed_alongside_another_lane(texts):
        batches_seen.append(len(texts))
        if len(batches_seen) <= 2:
            first_two_batches.wait()
        return embed(texts)

    monkeypatch.setattr(hashing_backend, "embed", embed_alongside_another_lane)

    assert tasks.embed_all_pending_pipelined(space, lanes=2) == 64
    assert batches_seen == [16, 16, 16, 16]
    assert not Memory.objects.for_space(space).filter(embedding=None).exists()


def test_a_backlog_smaller_than_a_batch_is_embedded_without_lanes(
    space, hashing_backend, settings, monkeypatch
):
    settings.EMBEDDING_BATCH_SIZE = 16
    services.create_memories(space, ACTOR, [{"content": f"Row {i}."} for i in range(10)])

    def no_lanes(*_args, **_kwargs):
        raise AssertionError("lanes (each a new database connection) for a small backlog")

    monkeypatch.setattr(tasks, "ThreadPoolExecutor", no_lanes)

    assert tasks.embed_all_pending_pipelined(space) == 10
    assert not Memory.objects.for_space(space).filter(embedding=None).exists()

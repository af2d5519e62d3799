"""When a write queues its embedding task: after the debounce, or at once for a full
batch. Read from the real broker's queue (no worker consumes it in these tests)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from apps.memories import services
from apps.retrieval import tasks

QUEUE = settings.CELERY_TASK_ROUTES["apps.retrieval.tasks.embed_space"]["queue"]


@pytest.fixture
def broker(space):
    client = tasks._redis()
    if client is None:
        pytest.skip("reads the queue of a Redis-compatible broker")
    client.delete(QUEUE, tasks._SCHEDULE_KEY.format(space_id=space.pk))
    yield client
    client.delete(QUEUE, tasks._SCHEDULE_KEY.format(space_id=space.pk))


def queued_for(client, space) -> list[dict]:
    headers = [json.loads(raw)["headers"] for raw in client.lrange(QUEUE, 0, -1)]
    return [
        h
        for h in headers
        if h["task"].endswith(".embed_space") and h["argsrepr"] == f"({space.pk},)"
    ]


def test_it_debounces_a_single_write(space, actor, broker, django_capture_on_commit_callbacks):
    before = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        services.create_memory(space, actor, content="One fact.")

    (task,) = queued_for(broker, space)
    wait = datetime.fromisoformat(task["eta"]) - before
    assert timedelta(seconds=tasks.EMBED_DEBOUNCE_SECONDS) <= wait < timedelta(seconds=5)


def test_it_queues_a_full_batch_at_once(space, actor, broker, django_capture_on_commit_callbacks):
    items = [{"content": f"Fact {i}."} for i in range(settings.EMBEDDING_BATCH_SIZE)]
    with django_capture_on_commit_callbacks(execute=True):
        services.create_memories(space, actor, items)

    (task,) = queued_for(broker, space)
    assert task["eta"] is None


def test_it_debounces_a_batch_smaller_than_a_full_one(
    space, actor, broker, django_capture_on_commit_callbacks
):
    items = [{"content": f"Fact {i}."} for i in range(settings.EMBEDDING_BATCH_SIZE - 1)]
    with django_capture_on_commit_callbacks(execute=True):
        services.create_memories(space, actor, items)

    (task,) = queued_for(broker, space)
    assert task["eta"] is not None


def test_it_queues_one_task_for_writes_within_the_window(
    space, actor, broker, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        for i in range(5):
            services.create_memory(space, actor, content=f"Fact {i}.")

    assert len(queued_for(broker, space)) == 1

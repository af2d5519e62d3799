"""The Celery worker's processes: one database connection kept across tasks (and replaced
when it breaks), and the embedding model loaded as a process starts, not on its first job.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from apps.audit.actors import Actor
from apps.maps.services import WARMED_UP
from apps.memories import services
from apps.memories.models import Memory
from apps.retrieval import tasks
from apps.retrieval.embedding import MiniLMBackend, ready_message
from tests.conftest import worker_env
from tests.test_pipeline import wait_until
from tests.worker_process import start_worker_process, stop_worker_process

pytestmark = [pytest.mark.slow, pytest.mark.services]

ACTOR = Actor.system("test")


def other_backends() -> set[int]:
    """The client connections to the test database other than this test's own."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
        )
        return {pid for (pid,) in cursor.fetchall()}


def recall(memory: Memory, times: int) -> None:
    """Queue one access-log task and wait until the worker has run it."""
    tasks.record_recall.delay(
        memory.space_id,
        [str(memory.pk)],
        timezone.now().isoformat(),
        "what does Alice drink?",
        "hybrid",
        ACTOR.to_payload(),
    )
    wait_until(
        lambda: Memory.objects.for_space(memory.space_id).get(pk=memory.pk).access_count == times,
        timeout=60,
    )


@pytest.fixture
def recalled_once(transactional_db: Any, space: Any) -> Iterator[Memory]:
    """A memory whose recall a real worker has recorded once (it has connected)."""
    memory = services.create_memory(space, ACTOR, content="Alice drinks green tea.")
    worker, _ = start_worker_process(worker_env(), quiet=True)
    try:
        recall(memory, times=1)
        yield memory
    finally:
        stop_worker_process(worker)


def test_it_runs_task_after_task_on_one_database_connection(recalled_once: Memory) -> None:
    after_first = other_backends()
    for times in range(2, 6):
        recall(recalled_once, times)
    # Celery's default closes the connection after every task: no backend would
    # remain, and each task would have started a new one.
    assert after_first, "the worker kept no connection after its task"
    assert other_backends() == after_first


def test_it_replaces_a_connection_that_the_database_dropped(recalled_once: Memory) -> None:
    dropped = other_backends()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM unnest(%s::int[]) AS pid", [list(dropped)]
        )
    wait_until(lambda: not other_backends() & dropped, timeout=10)

    recall(recalled_once, times=2)  # would fail on the dead connection

    assert other_backends() - dropped


def logs_at_start(tmp_path: Path, queue: str, line: str, **env: str) -> None:
    """Start a worker taking `queue` and wait until its log shows `line`. No task is
    sent: only the worker's start can have written it."""
    log_path = tmp_path / "worker.log"
    with log_path.open("wb") as log:
        worker, _ = start_worker_process(
            worker_env(**env), options=[f"--queues={queue}", "--loglevel=info"], log=log
        )
    try:
        wait_until(lambda: line in log_path.read_text(), timeout=300)
    finally:
        stop_worker_process(worker)


def test_an_embedding_worker_loads_the_model_before_its_first_job(
    transactional_db: Any, tmp_path: Path
) -> None:
    logs_at_start(
        tmp_path,
        "embedding",
        ready_message(MiniLMBackend.name),
        MEMORYWEB_EMBEDDING_WARM_UP="true",
    )


def test_a_projection_worker_compiles_umap_before_its_first_job(
    transactional_db: Any, tmp_path: Path
) -> None:
    logs_at_start(tmp_path, "projection", WARMED_UP, MEMORYWEB_PROJECTION_WARM_UP="true")

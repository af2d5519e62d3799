from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.servers.basehttp import ThreadedWSGIServer

from apps.audit.actors import Actor
from apps.audit.models import AuditEvent
from apps.consolidation.models import Proposal
from apps.consolidation.services.proposals import propose
from apps.memories import services
from apps.memories.models import Memory, MemoryVersion
from apps.spaces.models import Membership, Role, Space
from tests.worker_process import start_worker_process, stop_worker_process

# The test server's listen queue: socketserver's default of 5 resets connections when
# a test sends 40 requests at once (tests/test_login_limit.py); a served stack has
# gunicorn's backlog of 2048.
ThreadedWSGIServer.request_queue_size = 128


@pytest.fixture
def space(db: Any) -> Space:
    return Space.objects.create(slug="home", name="Home")


@pytest.fixture
def secrets_allowed(space: Space) -> None:
    """The space's hygiene policy lets everything through, so a test can plant a secret
    (to redact it, say) where the default policy would have redacted it on write."""
    space.settings = {
        **space.settings,
        "hygiene": {"secret": "allow", "pii": "allow", "injection": "allow"},
    }
    space.save(update_fields=["settings"])


@pytest.fixture
def outsider_space(db: Any) -> Space:
    return Space.objects.create(slug="outsider", name="Outsider")


@pytest.fixture
def alice(db: Any, space: Space) -> Any:
    user = get_user_model().objects.create_user("alice", password="correct horse battery")
    Membership.objects.create(space=space, user=user, role=Role.EDITOR)
    return user


@pytest.fixture
def actor(alice: Any) -> Actor:
    return Actor.for_user(alice)


@pytest.fixture
def make_memory(space: Space, actor: Actor) -> Callable[..., Memory]:
    def make(content: str = "Alice likes green tea.", **fields: Any) -> Memory:
        target = fields.pop("space", space)
        return services.create_memory(target, actor, content=content, **fields)

    return make


def versions_of(memory: Memory) -> list[tuple[int, str]]:
    return list(
        MemoryVersion.objects.for_space(memory.space_id)
        .filter(memory_id=memory.pk)
        .order_by("version")
        .values_list("version", "action")
    )


def fresh(memory: Memory) -> Memory:
    """The memory as stored now."""
    return Memory.objects.for_space(memory.space_id).get(pk=memory.pk)


def events_for(space: Space, target_id: object = None, target_type: str = "") -> list[str]:
    """The audit actions in `space`, oldest first; with `target_type`, about one kind
    of object only (a link and a proposal may share an id)."""
    events = AuditEvent.objects.for_space(space).order_by("id")
    if target_id is not None:
        events = events.filter(target_id=str(target_id))
    if target_type:
        events = events.filter(target_type=target_type)
    return list(events.values_list("action", flat=True))


def proposal_of(
    space: Space,
    operation: str,
    memories: list[Memory],
    change: dict[str, Any],
    evidence: dict[str, Any] | None = None,
    score: float = 0.9,
) -> Proposal:
    """A pending proposal of `operation` over `memories`, at the versions they have."""
    made = propose(
        space,
        operation,
        [str(m.pk) for m in memories],
        [m.version for m in memories],
        change,
        evidence or {},
        score=score,
    )
    assert made is not None
    return made


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def child_database_url() -> str:
    """The test database as a URL, for servers the tests start in other processes."""
    from django.conf import settings

    db = settings.DATABASES["default"]
    return f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def worker_env(**overrides: str) -> dict[str, str]:
    """The environment of a worker process on the test database and broker.

    The model loads on a worker's first embedding job and UMAP compiles in its first
    projection, not at its start: most test workers do neither (tests/test_worker.py
    tests the warm-ups)."""
    import os

    from django.conf import settings

    return {
        **os.environ,
        "MEMORYWEB_PROFILE": "test",
        "DATABASE_URL": child_database_url(),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "MEMORYWEB_EMBEDDING_WARM_UP": "false",
        "MEMORYWEB_PROJECTION_WARM_UP": "false",
        **overrides,
    }


GUNICORN = str(Path(sys.executable).parent / "gunicorn")


def start_gunicorn(
    env: dict[str, str], *options: str, log: Any = subprocess.DEVNULL
) -> tuple[subprocess.Popen[bytes], str]:
    """gunicorn serving the app on a free port; returns once /api/v1/health answers.
    `log` (a file) receives its output."""
    import httpx
    from django.conf import settings

    port = free_port()
    process = subprocess.Popen(
        [GUNICORN, "memoryweb.wsgi", "--bind", f"127.0.0.1:{port}", *options],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=log,
        stderr=log,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(f"{base}/api/v1/health", timeout=2)
            return process, base
        except httpx.TransportError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError(f"gunicorn did not start (exit {process.poll()})") from None
            time.sleep(0.3)


def stop_gunicorn(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    process.wait(timeout=30)


@pytest.fixture
def celery_worker_process(transactional_db: Any) -> Any:
    """A real Celery worker in its own process, on the test broker and test database.

    Tests that use it must commit their rows (transactional_db) for the worker to see them.
    """
    process, hostname = start_worker_process(worker_env())
    try:
        yield hostname
    finally:
        stop_worker_process(process)


@pytest.fixture
def hashing_backend(settings: Any) -> Any:
    """Use the deterministic hashing embedder: for tests that do not test meaning."""
    from apps.retrieval.embedding import get_backend

    settings.EMBEDDING_BACKEND = "hashing"
    get_backend.cache_clear()
    yield get_backend()
    get_backend.cache_clear()


@pytest.fixture
def embed_now() -> Callable[[Space], int]:
    """Run the embedding job's code in this process (the worker path is tested apart)."""
    from apps.retrieval.tasks import embed_all_pending

    return embed_all_pending


@pytest.fixture(autouse=True)
def _fresh_cache() -> Any:
    """Rate-limit windows live in Valkey and would outlive a test (and a test run)."""
    from django.core.cache import cache

    cache.clear()
    yield


def edit_data(memory: Memory, **changes: str) -> dict[str, str]:
    """The dashboard's edit form as the page renders it for `memory`, with `changes`."""
    data = {
        "content": memory.content,
        "subject": memory.subject,
        "tags": ", ".join(memory.tags),
        "kind": memory.kind,
        "importance": str(memory.importance),
        "confidence": str(memory.confidence),
        "valid_from": "",
        "valid_to": "",
        "reason": "",
        "version": str(memory.version),
    }
    if memory.pinned:
        data["pinned"] = "on"
    data.update(changes)
    return data

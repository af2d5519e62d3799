"""Celery jobs that keep embeddings current. Each takes ids, not objects, and is
idempotent: running it twice, or after a worker died half-way, embeds each memory once.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from typing import Any

from celery import shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.models import QuerySet

from apps.audit.actors import Actor
from apps.audit.context import request_id_var
from apps.jobs.models import Job
from apps.memories import services
from apps.memories.models import Memory
from apps.retrieval import graph, subject_indexes, vector_indexes
from apps.retrieval.embedding import EmbeddingBackend, EmbeddingError, get_backend
from apps.spaces.models import Space

logger = logging.getLogger(__name__)

# Writes within this window become one batch. It shapes only the first batch of a
# burst: while the worker embeds, later writes pile up and are taken in full batches
# anyway, so a longer window would only delay when the first memories are findable.
EMBED_DEBOUNCE_SECONDS = 0.2
_SCHEDULE_KEY = "memoryweb:embed-scheduled:{space_id}"
_GRAPH_KEY = "memoryweb:graph-scheduled:{space_id}"
# Threads a task embeds a backlog in: one per core of the 2-core machines this was
# measured on (see embed_all_pending_pipelined); a third made no difference.
EMBEDDING_LANES = 2
# A task that waits out the database or the embedding endpoint being away.
retrying_task = shared_task(
    autoretry_for=(EmbeddingError, OperationalError, InterfaceError),
    retry_backoff=2,
    retry_backoff_max=300,
    max_retries=10,
)


@functools.cache
def _redis() -> Any:
    if not settings.CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
        return None
    import redis

    return redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_timeout=2)


def _first_to_queue(key: str) -> bool:
    """Whether to queue a space's job: no other caller has since it last started (it
    deletes the key then, so work committed during a run queues another run). Without
    Redis every caller queues; the jobs are idempotent."""
    client = _redis()
    return client is None or bool(client.set(key, 1, nx=True, ex=60))


def _started(key: str) -> None:
    client = _redis()
    if client is not None:
        client.delete(key)


def schedule_embedding(space_id: int, pending: int = 1) -> None:
    """Queue embedding of a space's pending memories, once per debounce window.

    Many writes in a short time share one task (_first_to_queue). A write of `pending`
    memories that fills a batch on its own has nothing to wait for.
    """
    if not _first_to_queue(_SCHEDULE_KEY.format(space_id=space_id)):
        return
    full_batch = pending >= settings.EMBEDDING_BATCH_SIZE
    embed_space.apply_async(args=(space_id,), countdown=0 if full_batch else EMBED_DEBOUNCE_SECONDS)


def _embed_locked_batch(
    space: Space,
    candidates: QuerySet[Memory],
    backend: EmbeddingBackend,
    batch_size: int,
    on_taken: Callable[[int], None] | None = None,
) -> tuple[int, int]:
    """Embed up to `batch_size` of `candidates`; returns (taken, stored).

    Rows are locked with SKIP LOCKED while the model runs, so two workers never embed
    the same memory; a worker killed here releases its locks and the rows stay as they were.
    `on_taken` hears how many rows were taken before the model runs on them.
    """
    backend.prepare()  # a model loads before any row is held, not while it is
    with transaction.atomic():
        # FOR NO KEY UPDATE: only the vector changes, so links to these rows (which
        # hold them FOR KEY SHARE) are not kept waiting while the model runs.
        batch = list(
            candidates.select_for_update(skip_locked=True, no_key=True, of=("self",)).only(
                "pk", "content", "content_hash"
            )[:batch_size]
        )
        if not batch:
            return 0, 0
        if on_taken is not None:
            on_taken(len(batch))
        contexts = (
            services.in_context(space, [m.pk for m in batch])
            if settings.SEARCH_IN_CONTEXT_WEIGHT
            else []
        )
        # One call of the model for both: its per-call cost is paid once.
        vectors = backend.embed([m.content for m in batch] + [c.text for c in contexts])
        stored = services.store_embeddings(
            space,
            [(m.pk, m.content_hash) for m in batch],
            vectors[: len(batch)],
            backend.name,
            contexts=list(zip(contexts, vectors[len(batch) :], strict=True)),
        )
    return len(batch), stored


def embed_pending_batch(
    space: Space,
    backend: EmbeddingBackend,
    batch_size: int,
    on_taken: Callable[[int], None] | None = None,
) -> int:
    """Embed up to `batch_size` memories of the space that have no vector yet."""
    pending = Memory.objects.for_space(space).pending_embedding().order_by("created_at", "pk")
    taken, _stored = _embed_locked_batch(space, pending, backend, batch_size, on_taken)
    return taken


def embed_all_pending(space: Space, on_taken: Callable[[int], None] | None = None) -> int:
    """Embed every pending memory of the space, batch after batch, in this thread."""
    backend = get_backend()
    batch_size = settings.EMBEDDING_BATCH_SIZE
    total = 0
    while count := embed_pending_batch(space, backend, batch_size, on_taken):
        total += count
    return total


def embed_all_pending_pipelined(space: Space, lanes: int = EMBEDDING_LANES) -> int:
    """The same work in `lanes` threads, this one and helpers each with a database
    connection of its own.

    Each lane runs the model on a batch of its own, so with one torch thread per lane
    (MEMORYWEB_EMBEDDING_THREADS=1, as the Procfile and compose file set) every core
    embeds: on two cores that does 20-40% more sentences a second than one batch at a
    time on both, whose threads wait for each other at every layer. While one lane
    stores its vectors (PostgreSQL's time, mostly the HNSW insert), the other embeds.
    SKIP LOCKED keeps the lanes' batches apart. Only for committed rows: each helper has
    its own connection.

    The helpers start only for a backlog: the moment this thread takes a full batch,
    so they embed alongside that batch rather than after it. While agents write at a
    steady pace no batch fills, and a helper's connection is a new PostgreSQL backend.
    """
    # Each helper runs in a copy of this context, so its audit events keep the request id.
    contexts = [contextvars.copy_context() for _ in range(lanes - 1)]
    batch_size = settings.EMBEDDING_BATCH_SIZE
    with contextlib.ExitStack() as stack:
        helpers: list[Future[int]] = []

        def helper() -> int:
            try:
                return embed_all_pending(space)
            finally:
                connection.close()

        def start_helpers_for_a_backlog(taken: int) -> None:
            if taken == batch_size and contexts and not helpers:
                pool = stack.enter_context(ThreadPoolExecutor(max_workers=len(contexts)))
                helpers.extend(pool.submit(context.run, helper) for context in contexts)

        total = embed_all_pending(space, on_taken=start_helpers_for_a_backlog)
        return total + sum(future.result() for future in helpers)


@retrying_task
def embed_space(space_id: int) -> int:
    _started(_SCHEDULE_KEY.format(space_id=space_id))
    space = Space.objects.filter(pk=space_id).first()
    if space is None:
        return 0
    request_id_var.set(f"embed-space-{space_id}")
    embedded = embed_all_pending_pipelined(space)
    if embedded:
        vector_indexes.request_index_if_grown(space_id)
    return embedded


@shared_task
def sweep_pending_embeddings() -> list[int]:
    """Queue embedding for every space with pending memories (lost messages, restarts)."""
    space_ids = list(
        Space.objects.filter(memories__embedding__isnull=True)
        .values_list("pk", flat=True)
        .distinct()
    )
    for space_id in space_ids:
        embed_space.delay(space_id)
    return space_ids


# ------------------------------------------------------------------ re-embedding


def start_reembed(space: Space | None) -> Job:
    """Create a re-embedding job (one space, or all when None) and queue it."""
    job = Job.objects.create(kind="reembed", space=space, params={"model": get_backend().name})
    transaction.on_commit(lambda: reembed.delay(job.pk))
    return job


def _stale(space: Space, model: str) -> QuerySet[Memory]:
    return Memory.objects.for_space(space).exclude(embedding_model=model)


@retrying_task
def reembed(job_id: int) -> None:
    """Re-embed memories made by another model (or none). Safe to re-run: it selects
    what is still stale, so a redelivered job continues where the last one stopped."""
    job = Job.objects.filter(pk=job_id).first()
    if job is None or job.status in (Job.Status.SUCCEEDED, Job.Status.FAILED):
        return
    backend = get_backend()
    spaces = [job.space] if job.space else list(Space.objects.order_by("pk"))
    if job.status == Job.Status.QUEUED:
        job.start(total=sum(_stale(space, backend.name).count() for space in spaces))
    request_id_var.set(f"reembed-{job_id}")
    try:
        for space in spaces:
            stale = _stale(space, backend.name).order_by("pk")
            while True:
                taken, stored = _embed_locked_batch(
                    space, stale, backend, settings.EMBEDDING_BATCH_SIZE
                )
                if not taken:
                    break
                job.advance(taken, embedded=stored)
    except (EmbeddingError, OperationalError, InterfaceError):
        raise  # retried with backoff; progress so far is kept
    except Exception as exc:
        job.fail(f"{type(exc).__name__}: {exc}")
        raise
    job.finish()


# ------------------------------------------------------------------ access log


@shared_task(ignore_result=True)
def record_recall(
    space_id: int,
    memory_ids: list[str],
    at: str,
    query: str,
    mode: str,
    actor: dict,
    recall_id: str | None = None,
) -> int:
    space = Space.objects.filter(pk=space_id).first()
    if space is None:
        return 0
    return services.record_recall(
        space,
        Actor.from_payload(actor),
        memory_ids,
        at=datetime.fromisoformat(at),
        query=query,
        mode=mode,
        recall_id=recall_id,
    )


@retrying_task
def refresh_lexicon_task(space_id: int) -> int:
    """Recount a space's word frequencies (BM25's idf). Idempotent: a rerun recounts."""
    from apps.retrieval.lexical import refresh_lexicon

    if not Space.objects.filter(pk=space_id).exists():
        return 0
    return refresh_lexicon(space_id)


# ------------------------------------------------------------------ vector indexes


def schedule_graph(space_id: int) -> None:
    """Queue the graph job for a space whose stored vectors wait for it, once until
    the job starts (_first_to_queue)."""
    if _first_to_queue(_GRAPH_KEY.format(space_id=space_id)):
        add_to_graph.delay(space_id)


@retrying_task
def add_to_graph(space_id: int) -> int:
    """Add a large space's pending vectors to its HNSW graph (apps/retrieval/graph.py).
    Idempotent: rows already added, or of a deleted space, are not pending."""
    _started(_GRAPH_KEY.format(space_id=space_id))
    return graph.add_pending(space_id)


@shared_task
def sweep_graph_pending() -> list[int]:
    """Queue the graph job for every space with pending vectors (a lost message)."""
    space_ids = graph.spaces_with_pending()
    for space_id in space_ids:
        add_to_graph.delay(space_id)
    return space_ids


@retrying_task
def build_vector_index(space_id: int) -> bool:
    """Give a space that has grown large its own HNSW and words indexes. Idempotent: a
    space that has them already, or is gone, is left alone."""
    if not Space.objects.filter(pk=space_id).exists():
        return False
    return vector_indexes.build_index(space_id)


@retrying_task
def build_subject_indexes(space_id: int, subject: str) -> bool:
    """Give one of a very large space's largest subjects its own indexes
    (apps/retrieval/subject_indexes.py). Idempotent, as build_vector_index."""
    if not Space.objects.filter(pk=space_id).exists():
        return False
    return subject_indexes.build_indexes(space_id, subject)


@shared_task
def sync_vector_indexes() -> dict[str, Any]:
    """Hourly: queue the indexes that large spaces, and very large spaces' largest
    subjects, lack (a space grown, a build request lost with the broker, a threshold
    lowered) and drop the indexes of deleted spaces."""
    dropped = vector_indexes.drop_orphaned_indexes()
    dropped += subject_indexes.drop_orphaned_indexes()
    missing = vector_indexes.spaces_needing_an_index()
    for space_id in missing:
        build_vector_index.delay(space_id)
    subjects = subject_indexes.subjects_needing_indexes()
    for space_id, subject in subjects:
        build_subject_indexes.delay(space_id, subject)
    return {
        "queued": missing,
        "queued_subjects": [[space_id, subject] for space_id, subject in subjects],
        "dropped": sorted(set(dropped)),
    }


# ------------------------------------------------------------------ retrieval health


@shared_task(
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=2,
    retry_backoff_max=300,
    max_retries=5,
)
def measure_health(job_id: int) -> float | None:
    """Measure one space's recall@10 (apps/retrieval/health.py) as a job. A redelivered
    job measures again from the start: each run only adds a snapshot."""
    from apps.retrieval import health

    job = Job.objects.filter(pk=job_id).select_related("space").first()
    if job is None or job.space is None or job.status in (Job.Status.SUCCEEDED, Job.Status.FAILED):
        return None
    request_id_var.set(f"retrieval-health-{job_id}")
    try:
        snapshot = health.measure(job.space, job)
    except (OperationalError, InterfaceError):
        raise
    except Exception as exc:
        job.fail(f"{type(exc).__name__}: {exc}")
        raise
    # The job's counters are counts; the recall is on the snapshot, which names the job.
    job.counts = {"sampled": snapshot.sample_size}
    job.save(update_fields=["counts"])
    job.finish()
    return snapshot.recall


@shared_task
def measure_all_spaces() -> list[int]:
    """Beat's weekly run: a recall measurement for each space with embedded memories."""
    from apps.retrieval import health

    spaces = Space.objects.filter(memories__embedding__isnull=False).distinct().order_by("pk")
    return [health.start_measurement(space, "weekly").pk for space in spaces]

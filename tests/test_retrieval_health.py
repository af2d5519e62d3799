"""The retrieval health figures: recall@10 measured against exact, by a job, kept as
snapshots; vectors missing or pending; the model mix; sizes; latency; the API."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

import numpy as np
import pytest
from django.db import connection
from django.utils import timezone

from apps.jobs.models import Job
from apps.memories import services
from apps.memories.models import Memory
from apps.retrieval import health, vector_indexes
from apps.retrieval.models import HealthSnapshot, Recall
from apps.retrieval.scope import SqlScope
from apps.retrieval.search import search
from apps.retrieval.tasks import measure_all_spaces
from apps.spaces.models import Space
from tests.conftest import worker_env
from tests.test_pipeline import wait_until
from tests.worker_process import start_worker_process, stop_worker_process

WORDS = [
    "apple",
    "river",
    "stone",
    "cloud",
    "violin",
    "garden",
    "copper",
    "lantern",
    "meadow",
    "harbor",
]


def fill(space: Space, actor: Any, count: int) -> list[Memory]:
    return [
        services.create_memory(
            space, actor, content=f"{WORDS[i % 10]} {WORDS[(i * 7) % 10]} note {i}"
        )
        for i in range(count)
    ]


def exact_neighbours(space: Space, query: np.ndarray, k: int = 10) -> list[float]:
    """The k smallest cosine distances from `query` to the space's active vectors, in
    numpy: an answer the database did not compute."""
    stored = Memory.objects.for_space(space).active().embedded()
    rows = np.array([np.asarray(v) for v in stored.values_list("embedding", flat=True)])
    rows = rows / np.linalg.norm(rows, axis=1, keepdims=True)
    distances = 1 - rows @ (query / np.linalg.norm(query))
    return sorted(distances.tolist())[:k]


def test_it_counts_the_share_of_the_exact_neighbours_found():
    exact = [0.1, 0.2, 0.3, 0.4]
    assert health.recall_at_k([0.1, 0.2, 0.3, 0.4], exact) == 1.0
    assert health.recall_at_k([0.1, 0.2, 0.5, 0.6], exact) == 0.5
    # A tie with the exact k-th is as right as the memory the exact scan returned.
    assert health.recall_at_k([0.1, 0.2, 0.3, 0.4 + 1e-9], exact) == 1.0
    assert health.recall_at_k([0.7], exact) == 0.0
    assert health.recall_at_k([], []) is None


def test_it_measures_a_recall_of_one_where_the_search_agrees_with_exact(
    space, actor, hashing_backend, embed_now, settings
):
    fill(space, actor, 40)
    embed_now(space)
    vector_indexes.build_index(space.pk)  # searched through an index, not exactly

    snapshot = health.measure(space)

    assert snapshot.recall == 1.0
    assert (snapshot.from_queries, snapshot.from_memories) == (0, 40)
    assert snapshot.embedded == 40
    assert not snapshot.exact
    assert HealthSnapshot.objects.for_space(space).get() == snapshot


def test_it_measures_a_search_that_misses_neighbours(
    space, actor, hashing_backend, embed_now, settings
):
    fill(space, actor, 60)
    embed_now(space)
    vector_indexes.build_index(space.pk)
    with connection.cursor() as cursor:
        # An index scan that stops after one candidate, and a planner made to use it.
        cursor.execute("SET hnsw.iterative_scan = off")
        cursor.execute("SET hnsw.ef_search = 1")
        cursor.execute("SET enable_seqscan = off")
        cursor.execute("SET enable_sort = off")
        scope = SqlScope.of(Memory.objects.for_space(space).active())
        statement, params = health._nearest(scope, str([0.1] * 384), exact=False)
        cursor.execute("EXPLAIN " + statement, params)
        plan = " ".join(row[0] for row in cursor.fetchall())
    try:
        if vector_indexes.index_name(space.pk) not in plan:
            pytest.skip(f"the planner does not use the HNSW index here: {plan}")
        snapshot = health.measure(space, size=20)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET ALL")

    # One row found of the ten nearest: at most a tenth of them.
    assert snapshot.recall is not None and snapshot.recall <= 0.1 + 1e-9
    assert snapshot.sample_size == 20


def test_it_samples_recent_queries_first_then_memories(
    space, actor, hashing_backend, embed_now, settings
):
    fill(space, actor, 30)
    embed_now(space)
    vector_indexes.build_index(space.pk)
    for words in ("apple river", "copper lantern", "apple river"):
        search(space, words, mode="vector", actor=actor)

    vectors, from_queries = health.sample_queries(space, size=10)

    assert from_queries == 2  # the repeated query counts once
    assert len(vectors) == 10
    snapshot = health.measure(space, size=10)
    assert (snapshot.from_queries, snapshot.from_memories) == (2, 8)
    assert snapshot.recall == 1.0
    # The ground truth a recorded query is compared with is its nearest ten, as numpy
    # finds them.
    query = np.asarray(Recall.objects.for_space(space).latest("created_at").query_vector)
    scope = SqlScope.of(Memory.objects.for_space(space).active())
    with connection.cursor() as cursor:
        cursor.execute(*health._nearest(scope, str(query.tolist()), exact=True))
        truth = [float(d) for (d,) in cursor.fetchall()]
    assert truth == pytest.approx(exact_neighbours(space, query), abs=1e-5)


def test_it_keeps_a_few_weeks_of_snapshots(space, actor, hashing_backend, embed_now):
    fill(space, actor, 12)
    embed_now(space)
    old = HealthSnapshot(space=space, measured_at=timezone.now() - timedelta(weeks=9), recall=0.5)
    recent = HealthSnapshot(space=space, measured_at=timezone.now() - timedelta(weeks=2), recall=1)
    old.save()
    recent.save()

    snapshot = health.measure(space)

    kept = set(HealthSnapshot.objects.for_space(space).values_list("pk", flat=True))
    assert kept == {recent.pk, snapshot.pk}
    assert snapshot.exact  # a small space is searched exactly
    assert snapshot.recall == 1.0


def test_it_records_how_long_a_search_took(space, actor, hashing_backend, embed_now):
    fill(space, actor, 5)
    embed_now(space)

    result = search(space, "apple", actor=actor)

    assert result.recall_id is not None
    recall = Recall.objects.for_space(space).get(pk=result.recall_id)
    assert recall.duration_ms == pytest.approx(result.embed_ms + result.db_ms)
    assert recall.duration_ms is not None and recall.duration_ms > 0


def test_it_reads_latency_percentiles_of_the_last_week(space, outsider_space, actor):
    now = timezone.now()
    for ms in range(1, 101):
        Recall(space=space, actor_type="user", actor_label="a", mode="vector", memory_ids=[],
               duration_ms=float(ms), created_at=now - timedelta(hours=ms)).save()  # fmt: skip
    Recall(space=space, actor_type="user", actor_label="a", mode="vector", memory_ids=[],
           duration_ms=5000.0, created_at=now - timedelta(days=8)).save()  # fmt: skip
    Recall(space=outsider_space, actor_type="user", actor_label="a", mode="vector",
           memory_ids=[], duration_ms=9000.0, created_at=now).save()  # fmt: skip

    figures = health.health_of(space, now)

    expected = np.percentile(np.arange(1, 101), [50, 95, 99])  # linear, as percentile_cont
    assert figures.searches == 100
    assert [figures.latency_ms[p] for p in ("p50", "p95", "p99")] == [
        round(float(v), 1) for v in expected
    ]


def test_it_counts_missing_pending_and_other_models(space, actor, hashing_backend, embed_now):
    memories = fill(space, actor, 8)
    embed_now(space)
    ids = [m.pk for m in memories]
    scoped = Memory.objects.for_space(space)
    scoped.filter(pk__in=ids[:2]).update(embedding_model="old-model")
    scoped.filter(pk__in=ids[2:3]).update(embedding=None, embedding_model="")
    scoped.filter(pk__in=ids[3:5]).update(
        embedding=None, embedding_model="", updated_at=timezone.now() - timedelta(hours=1)
    )

    figures = health.health_of(space)

    assert (figures.active, figures.embedded, figures.pending, figures.missing) == (8, 5, 1, 2)
    assert figures.models == {hashing_backend.name: 3, "old-model": 2}
    assert figures.other_models == 2
    assert figures.rows == 8


def test_it_names_the_indexes_a_space_uses(space, outsider_space):
    own = vector_indexes.index_name(space.pk)
    own_words = vector_indexes.words_index_name(space.pk)
    vector_indexes.build_index(space.pk)
    vector_indexes.build_index(outsider_space.pk)
    third = health._sizes(Space.objects.create(slug="third", name="T"))

    sizes = health._sizes(space)

    assert [(i.name, i.own) for i in sizes.indexes] == [(own, True)]
    assert [(i.name, i.own) for i in sizes.words_indexes] == [(own_words, True)]
    # Another space's partial indexes are none of its business; the shared words index
    # is, and the tags' GIN index is no words index.
    assert [(i.name, i.own) for i in third.words_indexes] == [("memory_search_vector", False)]
    assert all(not i.own for i in third.indexes)
    assert sizes.table_bytes > 0


def test_it_says_whether_what_a_space_searches_fits_in_the_buffers(
    space, outsider_space, actor, hashing_backend, embed_now
):
    fill(space, actor, 6)
    fill(outsider_space, actor, 2)
    embed_now(space)
    vector_indexes.build_index(space.pk)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_size_bytes(current_setting('shared_buffers'))")
        (buffers,) = cursor.fetchone()

    figures = health.health_of(space)

    assert figures.buffer_bytes == buffers
    # Its share of the table's rows, and its own indexes whole.
    own = sum(i.bytes for i in [*figures.indexes, *figures.words_indexes])
    assert [i.own for i in [*figures.indexes, *figures.words_indexes]] == [True, True]
    assert 0 < figures.table_share_bytes < figures.table_bytes
    assert figures.searched_bytes == figures.table_share_bytes + own
    assert figures.fits_in_buffers
    assert figures.as_json()["sizes"]["fits_in_buffers"] is True
    tight = dataclasses.replace(figures, buffer_bytes=figures.searched_bytes - 1)
    assert not tight.fits_in_buffers


def test_it_starts_one_measurement_per_space_with_vectors(
    space, outsider_space, actor, hashing_backend, embed_now
):
    fill(space, actor, 3)
    embed_now(space)

    started = measure_all_spaces()

    [job] = Job.objects.for_space(space).filter(kind=health.JOB_KIND)
    assert started == [job.pk]  # the outsider space holds no vectors
    assert measure_all_spaces() == [job.pk]  # a queued measurement is reused


@pytest.mark.slow
def test_the_worker_measures_recall(transactional_db, settings, hashing_backend, embed_now):
    space = Space.objects.create(slug="measured", name="Measured")
    from apps.audit.actors import Actor

    fill(space, Actor.system("test"), 30)
    embed_now(space)
    vector_indexes.build_index(space.pk)
    process, _ = start_worker_process(worker_env(MEMORYWEB_EMBEDDING_BACKEND="hashing"))
    try:
        job = health.start_measurement(space, "test")
        wait_until(lambda: Job.objects.get(pk=job.pk).status in ("succeeded", "failed"), 120)
    finally:
        stop_worker_process(process)
        # Emptying the tables between transactional tests leaves indexes standing.
        with connection.cursor() as cursor:
            cursor.execute(f"DROP INDEX IF EXISTS {vector_indexes.index_name(space.pk)}")

    job.refresh_from_db()
    assert job.status == "succeeded", job.error
    assert (job.done, job.total) == (30, 30)
    assert job.counts == {"sampled": 30}
    snapshot = HealthSnapshot.objects.for_space(space).get()
    assert snapshot.job_id == job.pk
    assert snapshot.recall == 1.0
    assert not snapshot.exact


def test_it_is_started_weekly_by_beat(settings):
    from memoryweb.celery import app

    entry = settings.CELERY_BEAT_SCHEDULE["retrieval-health"]
    assert entry["task"] in app.tasks
    assert entry["schedule"] == 7 * 86_400
    assert settings.CELERY_TASK_ROUTES["apps.retrieval.tasks.measure_health"]

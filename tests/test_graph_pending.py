"""A large space's new vectors wait outside its HNSW graph until the graph job adds
them, and every vector search finds them meanwhile (apps/retrieval/graph.py)."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from apps.audit.actors import Actor
from apps.dashboard.views.memory import _similar
from apps.memories import services
from apps.memories.models import Memory
from apps.retrieval import graph, health, tasks, vector_indexes
from apps.retrieval.search import search
from apps.spaces.models import Space
from memoryweb.celery import app as celery_app
from tests.conftest import worker_env
from tests.test_exact_search import assert_exact, fill, nearest_statement_plan, prefer_the_index
from tests.test_pipeline import wait_until
from tests.worker_process import start_worker_process, stop_worker_process

QUERY = "zorb quill vantage marrow"


@pytest.fixture
def indexed_space(space, actor, hashing_backend, embed_now):
    fill(space, actor, 80, seed=3)
    embed_now(space)
    assert vector_indexes.build_index(space.pk)
    return space


def pending_ids(space: Space) -> set[Any]:
    return set(
        Memory.objects.for_space(space).filter(graph_pending=True).values_list("pk", flat=True)
    )


def vectors(space: Space) -> dict[Any, list[float]]:
    rows = Memory.objects.for_space(space).embedded().values_list("pk", "embedding")
    return {pk: list(vector) for pk, vector in rows if vector is not None}


def test_it_stores_a_large_space_s_vectors_outside_its_graph(
    indexed_space, outsider_space, actor, embed_now
):
    new = services.create_memories(indexed_space, actor, [{"content": QUERY}, {"content": "ok"}])
    fill(outsider_space, actor, 5, seed=4)

    embed_now(indexed_space)
    embed_now(outsider_space)

    assert pending_ids(indexed_space) == {memory.pk for memory in new}
    assert Memory.objects.for_space(indexed_space).pending_embedding().count() == 0
    # A small space is searched exactly: nothing of it waits for a graph.
    assert not pending_ids(outsider_space)
    assert graph.spaces_with_pending() == [indexed_space.pk]


def test_a_search_finds_them_before_the_graph_job_ran(
    indexed_space, actor, hashing_backend, embed_now
):
    (new,) = services.create_memories(indexed_space, actor, [{"content": QUERY}])
    embed_now(indexed_space)
    prefer_the_index()

    plan = nearest_statement_plan(indexed_space, QUERY, mode="vector")
    result = search(indexed_space, QUERY, mode="vector", k=10, record_access=False)

    # The graph is walked for the others, and the waiting rows read through their index.
    assert vector_indexes.index_name(indexed_space.pk) in plan
    assert "memory_graph_pending" in plan
    assert result.hits[0].memory.pk == new.pk
    assert_exact(result, indexed_space, hashing_backend.embed([QUERY])[0], 10)
    hybrid = search(indexed_space, QUERY, k=10, record_access=False)
    assert hybrid.hits[0].memory.pk == new.pk


def test_the_graph_job_adds_them_and_the_walk_finds_them_there(
    indexed_space, actor, hashing_backend, embed_now
):
    new = services.create_memories(
        indexed_space, actor, [{"content": QUERY}] + [{"content": f"note {i}"} for i in range(4)]
    )
    embed_now(indexed_space)
    stored = vectors(indexed_space)

    assert graph.add_pending(indexed_space.pk, batch=2) == 5  # three batches
    assert not pending_ids(indexed_space)
    assert graph.add_pending(indexed_space.pk) == 0
    # The vectors themselves are untouched.
    assert vectors(indexed_space) == stored
    prefer_the_index()
    result = search(indexed_space, QUERY, mode="vector", k=10, record_access=False)
    assert result.hits[0].memory.pk == new[0].pk
    assert_exact(result, indexed_space, hashing_backend.embed([QUERY])[0], 10)


def test_the_walk_alone_does_not_find_them_until_they_are_added(indexed_space, actor, embed_now):
    # What the graph's predicate leaves out, the exact read of the waiting rows must
    # bring: without it the new memory is not among the nearest at all.
    (new,) = services.create_memories(indexed_space, actor, [{"content": QUERY}])
    embed_now(indexed_space)
    text = str(list(Memory.objects.for_space(indexed_space).get(pk=new.pk).embedding))
    scope = health.SqlScope.of(Memory.objects.for_space(indexed_space))
    walked = (
        f"SELECT id FROM memories_memory WHERE {scope.condition}"
        f" AND {vector_indexes.GRAPH_PREDICATE}"
        f" ORDER BY embedding <=> %s::{health.storage.sql_type()} LIMIT 10"
    )
    with connection.cursor() as cursor:
        cursor.execute(walked, [*scope.params, text])
        assert new.pk not in {pk for (pk,) in cursor.fetchall()}
        graph.add_pending(indexed_space.pk)
        cursor.execute(walked, [*scope.params, text])
        assert new.pk in {pk for (pk,) in cursor.fetchall()}


def test_recall_is_measured_with_the_waiting_rows(indexed_space, actor, embed_now):
    # Twelve waiting memories nearer the recorded query than anything in the graph:
    # the exact ten are all waiting ones, which the walk alone does not hold.
    texts = [f"{QUERY} {i}" for i in range(12)]
    services.create_memories(indexed_space, actor, [{"content": text} for text in texts])
    embed_now(indexed_space)
    assert len(pending_ids(indexed_space)) == 12
    search(indexed_space, QUERY, mode="vector", actor=actor)

    snapshot = health.measure(indexed_space, size=1)

    assert snapshot.from_queries == 1
    assert snapshot.recall == 1.0
    assert not snapshot.exact


def test_an_edited_memory_waits_again_after_its_new_vector(indexed_space, actor, embed_now):
    (memory,) = services.create_memories(indexed_space, actor, [{"content": QUERY}])
    embed_now(indexed_space)
    graph.add_pending(indexed_space.pk)
    services.update_memory(
        indexed_space, actor, memory.pk, expected_version=None, content="A new text altogether."
    )
    assert Memory.objects.for_space(indexed_space).get(pk=memory.pk).embedding is None

    embed_now(indexed_space)

    assert pending_ids(indexed_space) == {memory.pk}


@pytest.mark.slow
@pytest.mark.services
def test_a_worker_stores_the_vectors_then_its_graph_job_adds_them(
    transactional_db: Any, space: Space, hashing_backend: Any, embed_now: Any
) -> None:
    actor = Actor.system("test")
    fill(space, actor, 60, seed=7)
    embed_now(space)
    vector_indexes.build_index(space.pk)
    for key in (tasks._GRAPH_KEY, tasks._SCHEDULE_KEY):
        tasks._redis().delete(key.format(space_id=space.pk))
    # The worker takes embedding jobs only, until told to take the rest.
    env = worker_env(MEMORYWEB_EMBEDDING_BACKEND="hashing")
    worker, hostname = start_worker_process(env, quiet=True, options=["-Q", "embedding"])
    memories = Memory.objects.for_space(space)
    try:
        fill(space, actor, 30, seed=9)
        wait_until(lambda: memories.embedded().count() == 90, timeout=60)
        assert memories.filter(graph_pending=True).count() == 30
        celery_app.control.add_consumer("celery", destination=[hostname], reply=True)
        wait_until(lambda: not memories.filter(graph_pending=True).exists(), timeout=60)
        assert memories.embedded().count() == 90
    finally:
        stop_worker_process(worker)
        # Emptying the tables between transactional tests leaves indexes standing.
        with connection.cursor() as cursor:
            cursor.execute(f"DROP INDEX IF EXISTS {vector_indexes.index_name(space.pk)}")
            cursor.execute(f"DROP INDEX IF EXISTS {vector_indexes.words_index_name(space.pk)}")


def test_the_sweep_queues_the_graph_job_for_spaces_with_waiting_vectors(
    indexed_space, actor, embed_now, monkeypatch
):
    services.create_memories(indexed_space, actor, [{"content": QUERY}])
    embed_now(indexed_space)
    queued: list[int] = []
    monkeypatch.setattr(tasks.add_to_graph, "delay", queued.append)

    assert tasks.sweep_graph_pending() == [indexed_space.pk]
    assert queued == [indexed_space.pk]


@pytest.mark.django_db(transaction=True)
def test_the_migration_builds_existing_graphs_again_without_the_waiting_rows(space: Space) -> None:
    before, after = (
        ("memories", "0010_words_index_per_large_space"),
        ("memories", "0011_graph_pending"),
    )
    name = vector_indexes.index_name(space.pk)

    def definition() -> str:
        with connection.cursor() as cursor:
            cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = %s", [name])
            return str(cursor.fetchone()[0])

    def migrate(target: tuple[str, str]) -> None:
        MigrationExecutor(connection).migrate([target])

    try:
        migrate(before)
        with connection.cursor() as cursor:
            cursor.execute(
                f"CREATE INDEX {name} ON memories_memory USING hnsw"
                f" (embedding {health.storage.cosine_opclass()}) WHERE space_id = {space.pk}"
            )
        migrate(after)
        assert definition().endswith(f"WHERE ((space_id = {space.pk}) AND (NOT graph_pending))")
        migrate(before)
        assert definition().endswith(f"WHERE (space_id = {space.pk})")
    finally:
        migrate(after)
        with connection.cursor() as cursor:
            cursor.execute(f"DROP INDEX IF EXISTS {name}")


def test_a_memory_s_similar_list_holds_the_waiting_memories(indexed_space, actor, embed_now):
    first, second = services.create_memories(
        indexed_space, actor, [{"content": QUERY}, {"content": f"{QUERY} again"}]
    )
    embed_now(indexed_space)
    prefer_the_index()

    similar = _similar(Memory.objects.for_space(indexed_space).get(pk=first.pk))

    assert len(similar) == 5
    assert similar[0][0].pk == second.pk

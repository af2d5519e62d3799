"""Large spaces get an HNSW index and a words (GIN) index of their own rows; small
spaces have none and are searched exactly (apps/retrieval/vector_indexes.py)."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.audit.actors import Actor
from apps.memories import services
from apps.memories.models import GIN_PENDING_LIST_KB, Memory
from apps.retrieval import storage, vector_indexes
from apps.retrieval.search import search
from apps.spaces.models import Space
from apps.spaces.services import purge_space
from tests.conftest import worker_env
from tests.test_exact_search import assert_exact, fill, nearest_statement_plan, prefer_the_index
from tests.test_pipeline import wait_until
from tests.worker_process import start_worker_process, stop_worker_process

ACTOR = Actor.system("test")


def index_definitions(*spaces: Space, words: bool = False) -> dict[str, str]:
    """The HNSW (or words) indexes of the memories table, of these spaces only (others
    may be left by a test run that was killed)."""
    name = vector_indexes.words_index_name if words else vector_indexes.index_name
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'memories_memory'"
            " AND indexname = ANY(%s)",
            [[name(space.pk) for space in spaces]],
        )
        return dict(cursor.fetchall())


def index_options(name: str) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT reloptions FROM pg_class WHERE relname = %s", [name])
        return list(cursor.fetchone()[0] or [])


@pytest.fixture
def large_space(space, actor, hashing_backend, embed_now):
    fill(space, actor, 80, seed=3)
    embed_now(space)
    return space


def test_it_builds_an_index_over_the_space_alone(large_space, outsider_space):
    assert vector_indexes.searches_exactly(large_space.pk)
    assert vector_indexes.build_index(large_space.pk)
    definition = index_definitions(large_space)[vector_indexes.index_name(large_space.pk)]
    assert f"USING hnsw (embedding {storage.cosine_opclass()})" in definition
    # Vectors waiting for the graph job are left out (apps/retrieval/graph.py).
    assert f"WHERE ((space_id = {large_space.pk}) AND (NOT graph_pending))" in definition
    words = index_definitions(large_space, words=True)[
        vector_indexes.words_index_name(large_space.pk)
    ]
    assert "USING gin (search_vector)" in words
    assert f"WHERE (space_id = {large_space.pk})" in words
    assert not vector_indexes.searches_exactly(large_space.pk)
    assert vector_indexes.searches_exactly(outsider_space.pk)
    # Built once: a second request finds it and leaves it be.
    assert not vector_indexes.build_index(large_space.pk)
    assert list(index_definitions(large_space, outsider_space)) == [
        vector_indexes.index_name(large_space.pk)
    ]
    assert not index_definitions(outsider_space, words=True)


def test_every_gin_index_keeps_a_short_pending_list(large_space):
    vector_indexes.build_index(large_space.pk)
    limit = f"gin_pending_list_limit={GIN_PENDING_LIST_KB}"
    for name in (
        "memory_search_vector",
        "memory_tags",
        vector_indexes.words_index_name(large_space.pk),
    ):
        assert limit in index_options(name), name


def text_statement_plan(space: Space, query: str) -> str:
    with CaptureQueriesContext(connection) as queries:
        search(space, query, mode="text", k=5, record_access=False)
    (statement,) = [q["sql"] for q in queries.captured_queries if "step0 AS" in q["sql"]]
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {statement}")
        return "\n".join(row[0] for row in cursor.fetchall())


def test_a_text_search_reads_its_own_words_index_and_ranks_as_before(
    large_space, outsider_space, actor
):
    query = "zyzzyva quokka"
    services.create_memories(
        large_space, actor, [{"content": f"note {i}: a zyzzyva and a quokka"} for i in range(3)]
    )
    fill(large_space, actor, 1500, seed=10)
    # The outsider holds the query word for word, and more often.
    services.create_memories(outsider_space, actor, [{"content": query} for _ in range(30)])
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE memories_memory")
    before = search(large_space, query, mode="text", k=5, record_access=False)
    # Fewer than ROW_SCAN_MAX rows and no index of its own: its rows are read.
    assert "Bitmap Index Scan" not in text_statement_plan(large_space, query)
    vector_indexes.build_index(large_space.pk)
    plan = text_statement_plan(large_space, query)
    assert f"Bitmap Index Scan on {vector_indexes.words_index_name(large_space.pk)}" in plan
    assert "memory_search_vector" not in plan
    after = search(large_space, query, mode="text", k=5, record_access=False)
    assert len(after.hits) == 3
    assert {hit.memory.space_id for hit in after.hits} == {large_space.pk}
    assert [(h.memory.pk, h.score) for h in after.hits] == [
        (h.memory.pk, h.score) for h in before.hits
    ]


def test_a_search_walks_its_own_index_and_ranks_as_an_exact_scan(
    large_space, outsider_space, actor, hashing_backend, embed_now
):
    query = "kaa loe mii nuu"
    # The outsider holds the query word for word, and has an index of its own.
    services.create_memories(outsider_space, actor, [{"content": query} for _ in range(10)])
    fill(outsider_space, actor, 60, seed=4)
    embed_now(outsider_space)
    vector_indexes.build_index(outsider_space.pk)
    vector_indexes.build_index(large_space.pk)
    prefer_the_index()
    plan = nearest_statement_plan(large_space, query, mode="vector")
    assert vector_indexes.index_name(large_space.pk) in plan
    assert vector_indexes.index_name(outsider_space.pk) not in plan
    result = search(large_space, query, mode="vector", k=10, record_access=False)
    assert {hit.memory.space_id for hit in result.hits} == {large_space.pk}
    assert_exact(result, large_space, hashing_backend.embed([query])[0], 10)


def test_it_lists_the_spaces_that_reached_the_threshold(large_space, outsider_space, settings):
    fill(outsider_space, ACTOR, 5, seed=5)  # not embedded: it does not count
    settings.EXACT_SEARCH_BELOW = 81
    assert vector_indexes.spaces_needing_an_index() == []
    settings.EXACT_SEARCH_BELOW = 80
    assert vector_indexes.spaces_needing_an_index() == [large_space.pk]
    vector_indexes.build_index(large_space.pk)
    assert vector_indexes.spaces_needing_an_index() == []


def test_a_space_with_a_vector_index_alone_gets_its_words_index(large_space, settings):
    """What a space indexed before words indexes existed looks like."""
    settings.EXACT_SEARCH_BELOW = 80
    vector_indexes.build_index(large_space.pk)
    words = vector_indexes.words_index_name(large_space.pk)
    with connection.cursor() as cursor:
        cursor.execute(f"DROP INDEX {words}")
        cursor.execute("SELECT %s::regclass::oid", [vector_indexes.index_name(large_space.pk)])
        graph = cursor.fetchone()[0]
    assert vector_indexes.spaces_needing_an_index() == [large_space.pk]
    assert vector_indexes.build_index(large_space.pk)
    assert index_definitions(large_space, words=True)
    with connection.cursor() as cursor:
        cursor.execute("SELECT %s::regclass::oid", [vector_indexes.index_name(large_space.pk)])
        assert cursor.fetchone()[0] == graph  # the graph was left as it was
    assert vector_indexes.spaces_needing_an_index() == []


def test_a_search_asks_the_catalogue_once_a_minute_and_counts_nothing(large_space):
    from django.test.utils import CaptureQueriesContext

    vector_indexes.forget()
    with CaptureQueriesContext(connection) as first:
        search(large_space, "kaa loe", mode="vector", record_access=False)
    catalogue = [q["sql"] for q in first.captured_queries if "pg_index" in q["sql"]]
    assert len(catalogue) == 1
    assert not [q for q in first.captured_queries if "COUNT(*)" in q["sql"].upper()]
    with CaptureQueriesContext(connection) as second:
        search(large_space, "mii nuu", mode="vector", record_access=False)
    assert not [q for q in second.captured_queries if "pg_index" in q["sql"]]


def test_it_builds_again_over_an_invalid_index(large_space, settings):
    name = vector_indexes.index_name(large_space.pk)
    vector_indexes.build_index(large_space.pk)
    # What a CONCURRENTLY build that died half-way leaves behind.
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE pg_index SET indisvalid = false WHERE indexrelid = %s::regclass", [name]
        )
    vector_indexes.forget()
    assert vector_indexes.searches_exactly(large_space.pk)
    settings.EXACT_SEARCH_BELOW = 80
    assert vector_indexes.spaces_needing_an_index() == [large_space.pk]
    assert vector_indexes.build_index(large_space.pk)
    with connection.cursor() as cursor:
        cursor.execute("SELECT indisvalid FROM pg_index WHERE indexrelid = %s::regclass", [name])
        assert cursor.fetchone() == (True,)
    assert not vector_indexes.searches_exactly(large_space.pk)


def test_it_drops_the_index_of_a_deleted_space(large_space, outsider_space, embed_now):
    fill(outsider_space, ACTOR, 10, seed=6)
    embed_now(outsider_space)
    vector_indexes.build_index(large_space.pk)
    vector_indexes.build_index(outsider_space.pk)
    gone = large_space.pk
    purge_space(large_space, ACTOR, reason="test")
    assert gone in vector_indexes.drop_orphaned_indexes()
    assert not index_definitions(Space(pk=gone))
    assert not index_definitions(Space(pk=gone), words=True)
    assert index_definitions(outsider_space)
    assert index_definitions(outsider_space, words=True)
    assert vector_indexes.drop_orphaned_indexes() == []


@pytest.mark.slow
@pytest.mark.services
def test_a_worker_indexes_a_space_once_it_grows_past_the_threshold(
    transactional_db: Any, space: Space, outsider_space: Space
) -> None:
    env = worker_env(MEMORYWEB_EMBEDDING_BACKEND="hashing", MEMORYWEB_EXACT_SEARCH_BELOW="50")
    worker, _ = start_worker_process(env, quiet=True, timeout=180)
    name = vector_indexes.index_name(space.pk)
    try:
        fill(space, ACTOR, 30, seed=7)
        fill(outsider_space, ACTOR, 30, seed=8)
        embedded = Memory.objects.for_space(space).embedded()
        wait_until(lambda: embedded.count() == 30, timeout=60)
        assert not index_definitions(space)  # 30 is under the threshold
        fill(space, ACTOR, 30, seed=9)
        wait_until(lambda: bool(index_definitions(space)), timeout=60)
        assert index_definitions(space, words=True)
        assert not index_definitions(outsider_space)
        vector_indexes.forget()
        assert not vector_indexes.searches_exactly(space.pk)
        assert vector_indexes.searches_exactly(outsider_space.pk)
    finally:
        stop_worker_process(worker)
        # Emptying the tables between transactional tests leaves indexes standing.
        with connection.cursor() as cursor:
            cursor.execute(f"DROP INDEX IF EXISTS {name}")
            cursor.execute(f"DROP INDEX IF EXISTS {vector_indexes.words_index_name(space.pk)}")

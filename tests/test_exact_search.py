"""Small spaces are searched exactly, on purpose: their own rows, read and sorted; only a
space with an HNSW index of its own walks a graph (apps/retrieval/vector_indexes.py)."""

from __future__ import annotations

import random

import numpy as np
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.memories import services
from apps.memories.models import Memory
from apps.retrieval import lexical, vector_indexes
from apps.retrieval import search as search_module
from apps.retrieval.search import Filters, search, searches_exactly

WORDS = [f"{a}{b}" for a in ("ka", "lo", "mi", "nu", "pe", "ro", "su", "ti") for b in "aeiou"]


def fill(space, actor, count: int, seed: int) -> None:
    pick = random.Random(seed)
    services.create_memories(
        space,
        actor,
        [{"content": f"note {seed}-{i}: " + " ".join(pick.sample(WORDS, 6))} for i in range(count)],
    )


@pytest.fixture
def small_space(space, actor, hashing_backend, embed_now):
    fill(space, actor, 60, seed=1)
    embed_now(space)
    return space


def prefer_the_index() -> None:
    """Make the planner choose the HNSW index whenever it can, as it does on a large
    table; the choice between exact and index must not rest on its estimates."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_sort = off")


def nearest_statement_plan(space, query: str, explain: str = "EXPLAIN", **kwargs) -> str:
    """EXPLAIN (or `explain`, e.g. EXPLAIN ANALYZE) of the candidate statement a search
    of `space` runs."""
    with CaptureQueriesContext(connection) as queries:
        search(space, query, record_access=False, **kwargs)
    (statement,) = [q["sql"] for q in queries.captured_queries if "nearest AS" in q["sql"]]
    with connection.cursor() as cursor:
        cursor.execute(f"{explain} {statement}")
        return "\n".join(row[0] for row in cursor.fetchall())


def exact_ranking(space, vector: list[float], k: int) -> list[tuple[object, float]]:
    """The k nearest memories of the space as (id, cosine similarity), computed in
    Python on the stored vectors."""
    return exact_ranking_of(Memory.objects.for_space(space), vector, k)


def exact_ranking_of(memories, vector: list[float], k: int) -> list[tuple[object, float]]:
    rows = list(memories.embedded().values_list("pk", "embedding"))
    matrix = np.array([embedding for _, embedding in rows], dtype=np.float64)
    query = np.asarray(vector, dtype=np.float64)
    similarity = matrix @ query / (np.linalg.norm(matrix, axis=1) * np.linalg.norm(query))
    order = np.argsort(-similarity, kind="stable")[:k]
    return [(rows[i][0], float(similarity[i])) for i in order]


def assert_exact(result, space, vector: list[float], k: int) -> None:
    """The hits are the k nearest: the same similarities, best first, as an exact scan
    (memories at the same distance may come in either order)."""
    expected = exact_ranking(space, vector, k)
    found = [hit.similarity for hit in result.hits]
    assert found == pytest.approx([similarity for _, similarity in expected], abs=1e-5)
    boundary = expected[-1][1]
    above = {pk for pk, similarity in expected if similarity > boundary + 1e-5}
    assert above <= {hit.memory.pk for hit in result.hits}


@pytest.mark.parametrize("mode", ["vector", "hybrid"])
def test_it_searches_a_small_space_without_the_hnsw_index(small_space, mode):
    prefer_the_index()
    plan = nearest_statement_plan(small_space, "kaa loe mii", mode=mode)
    nearest = plan.split("CTE step")[0]
    assert "hnsw" not in plan.lower()
    assert "Sort" in nearest
    assert "space_id = " in nearest


def test_it_walks_the_hnsw_index_once_the_space_has_its_own(small_space):
    assert searches_exactly(small_space.pk)
    vector_indexes.build_index(small_space.pk)
    assert not searches_exactly(small_space.pk)
    prefer_the_index()
    plan = nearest_statement_plan(small_space, "kaa loe mii", mode="vector")
    assert vector_indexes.index_name(small_space.pk) in plan


@pytest.mark.parametrize("query", ["kaa loe mii", "rou sui tio kae", "note 1-7"])
def test_it_ranks_a_small_space_as_an_exact_scan_does(small_space, hashing_backend, query):
    prefer_the_index()
    result = search(small_space, query, mode="vector", k=10, record_access=False)
    vector = hashing_backend.embed([query])[0]
    assert_exact(result, small_space, vector, 10)


def test_it_never_answers_with_an_outsiders_nearer_memories(
    small_space, outsider_space, actor, hashing_backend, embed_now
):
    query = "kaa loe mii nuu pea roi"
    # The outsider holds the query itself, word for word: the nearest vectors in the table.
    services.create_memories(outsider_space, actor, [{"content": query} for _ in range(20)])
    fill(outsider_space, actor, 40, seed=2)
    embed_now(outsider_space)
    vector = hashing_backend.embed([query])[0]
    assert exact_ranking(outsider_space, vector, 1)
    prefer_the_index()
    for mode in ("vector", "hybrid"):
        for filters in (Filters(), Filters(statuses=["active"])):
            result = search(
                small_space, query, mode=mode, k=10, filters=filters, record_access=False
            )
            assert len(result.hits) == 10
            assert {hit.memory.space_id for hit in result.hits} == {small_space.pk}
    vector_result = search(small_space, query, mode="vector", k=10, record_access=False)
    assert_exact(vector_result, small_space, vector, 10)


def analysed_statement_plan(space, query: str, **kwargs) -> str:
    return nearest_statement_plan(space, query, explain="EXPLAIN ANALYZE", **kwargs)


def ran(plan: str, node: str) -> bool:
    """Whether the first plan node naming `node` ran."""
    line = next(line for line in plan.splitlines() if node in line and "->" in line)
    return "never executed" not in line


@pytest.fixture
def indexed_space(small_space, actor, embed_now, settings):
    """A space with its own HNSW index, eight of whose memories share a subject; as
    large, for the filtered search, as a space whose graph outgrows memory."""
    settings.VERY_LARGE_SPACE = 1
    services.create_memories(
        small_space,
        actor,
        [{"content": f"harbour note {i}: kaa loe", "subject": "harbour"} for i in range(8)],
    )
    embed_now(small_space)
    vector_indexes.build_index(small_space.pk)
    return small_space


def test_a_filter_leaving_few_rows_of_an_indexed_space_is_searched_exactly(
    indexed_space, hashing_backend
):
    prefer_the_index()
    filters = Filters(subject="harbour")
    plan = analysed_statement_plan(indexed_space, "kaa loe mii", mode="vector", filters=filters)
    assert ran(plan, "Sort") and not ran(plan, vector_indexes.index_name(indexed_space.pk))

    result = search(
        indexed_space, "kaa loe mii", mode="vector", k=5, filters=filters, record_access=False
    )
    vector = hashing_backend.embed(["kaa loe mii"])[0]
    harbour = Memory.objects.for_space(indexed_space).filter(subject="harbour")
    expected = exact_ranking_of(harbour, vector, 5)
    assert [hit.similarity for hit in result.hits] == pytest.approx(
        [similarity for _, similarity in expected], abs=1e-5
    )


def test_more_filtered_rows_than_expected_fall_back_to_the_graph(indexed_space, monkeypatch):
    # As when the planner underestimates a filter: the count says otherwise.
    monkeypatch.setattr(search_module, "FILTERED_EXACT_MAX", 3)
    monkeypatch.setattr(search_module, "_filtered_rows_estimate", lambda space, scoped: 1)
    prefer_the_index()
    filters = Filters(subject="harbour")
    plan = analysed_statement_plan(indexed_space, "kaa loe mii", mode="vector", filters=filters)
    # The exact read counted past the limit: the graph's walk answers.
    assert ran(plan, vector_indexes.index_name(indexed_space.pk))
    result = search(
        indexed_space, "kaa loe mii", mode="vector", k=5, filters=filters, record_access=False
    )
    assert len(result.hits) == 5
    assert {hit.memory.subject for hit in result.hits} == {"harbour"}


def test_a_filtered_search_of_a_smaller_indexed_space_walks_the_graph(indexed_space, settings):
    settings.VERY_LARGE_SPACE = 1000
    filters = Filters(subject="harbour")
    plan = nearest_statement_plan(indexed_space, "kaa loe mii", mode="vector", filters=filters)
    assert "filtered" not in plan.split("CTE step")[0]


def test_an_unfiltered_search_of_an_indexed_space_walks_the_graph_alone(indexed_space):
    plan = nearest_statement_plan(indexed_space, "kaa loe mii", mode="vector")
    assert "exact_list" not in plan
    assert vector_indexes.index_name(indexed_space.pk) in plan


def test_a_hybrid_search_of_few_filtered_rows_reads_them_once(
    indexed_space, hashing_backend, monkeypatch
):
    # One candidate and no row budget: no harbour memory holds the rarest word, "mii",
    # so the text side widens, reading the filtered rows.
    monkeypatch.setattr(lexical, "MATCH_ROW_BUDGET", 0)
    query = "kaa loe mii"
    vector = hashing_backend.embed([query])[0]
    harbour = Filters(subject="harbour").apply(Memory.objects.for_space(indexed_space))
    with CaptureQueriesContext(connection) as queries:
        nearest, text = search_module._candidate_lists(
            harbour, indexed_space, query, vector, 1, narrowed=True
        )
    (statement,) = [q["sql"] for q in queries.captured_queries if "nearest AS" in q["sql"]]
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN ANALYZE {statement}")
        plan = "\n".join(row[0] for row in cursor.fetchall())
    # The nearest list sorts the rows BM25 read, with their distances: the table is
    # read for them once, not once more for the vectors.
    filtered = plan.split("CTE filtered")[1].split("CTE nearest")[0]
    assert "CTE Scan on scanned" in filtered
    assert "memories_memory" not in filtered
    assert ran(plan, "CTE Scan on scanned")

    (best,) = exact_ranking_of(harbour, vector, 1)
    assert [pk for pk, _ in nearest] == [best[0]]
    assert nearest[0][1] == pytest.approx(best[1], abs=1e-5)
    ids = set(harbour.values_list("pk", flat=True))
    assert text and {pk for pk, _ in text} <= ids

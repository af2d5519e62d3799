"""MEMORYWEB_VECTOR_STORAGE: memory embeddings stored as `vector` or `halfvec`, the
column converted in place by `manage.py vector_storage`, a mismatch refused loudly."""

from __future__ import annotations

from io import StringIO

import numpy as np
import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.db import DataError, connection, connections
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.maps.services import load_vectors
from apps.memories.models import Memory
from apps.retrieval import storage, vector_indexes
from apps.retrieval.search import search
from tests.test_exact_search import fill, nearest_statement_plan, prefer_the_index
from tests.test_settings import settings_error


def hnsw_definitions() -> dict[str, str]:
    return {index.name: index.definition for index in storage.hnsw_indexes(connection)}


def settle_constraints() -> None:
    """Check the test transaction's deferred foreign keys now: PostgreSQL alters no
    table with checks pending (the command runs in a transaction of its own)."""
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def convert(settings, to: str) -> str:
    settings.VECTOR_STORAGE = to
    settle_constraints()
    out = StringIO()
    call_command("vector_storage", stdout=out)
    return out.getvalue()


def add_space_index(space) -> str:
    """The space's own partial HNSW index, as the index job builds it for a large space."""
    assert vector_indexes.build_index(space.pk)
    return vector_indexes.index_name(space.pk)


@pytest.fixture
def embedded_space(space, actor, hashing_backend, embed_now, settings):
    """40 memories embedded in `vector` storage."""
    convert(settings, "vector")
    fill(space, actor, 40, seed=3)
    embed_now(space)
    return space


def test_it_converts_the_column_and_every_hnsw_index_both_ways(
    embedded_space, outsider_space, actor, embed_now, settings
):
    partial = add_space_index(embedded_space)
    fill(outsider_space, actor, 10, seed=4)
    embed_now(outsider_space)
    add_space_index(outsider_space)
    before = Memory.objects.for_space(embedded_space).embedded().count()

    said = convert(settings, "halfvec")

    assert "from vector to halfvec (50 embedded memories)" in said and partial in said
    assert storage.stored_type(connection) == "halfvec"
    definitions = hnsw_definitions()
    assert partial in definitions and len(definitions) >= 2
    assert all("halfvec_cosine_ops" in d for d in definitions.values())
    assert (
        f"WHERE ((space_id = {embedded_space.pk}) AND (NOT graph_pending))" in definitions[partial]
    )
    assert Memory.objects.for_space(embedded_space).embedded().count() == before

    said = convert(settings, "vector")

    assert "from halfvec to vector" in said
    assert storage.stored_type(connection) == "vector"
    assert all("vector_cosine_ops" in d for d in hnsw_definitions().values())
    assert partial in hnsw_definitions()


def test_it_does_nothing_when_the_column_already_matches(embedded_space, settings):
    convert(settings, "halfvec")
    with connection.cursor() as cursor:
        cursor.execute("SELECT 'memories_memory'::regclass::oid, max(indexrelid) FROM pg_index")
        before = cursor.fetchone()

    said = convert(settings, "halfvec")

    assert "is already halfvec: nothing to do" in said
    with connection.cursor() as cursor:
        cursor.execute("SELECT 'memories_memory'::regclass::oid, max(indexrelid) FROM pg_index")
        assert cursor.fetchone() == before


def test_it_leaves_nothing_half_converted_when_a_vector_does_not_fit(embedded_space, settings):
    memory = Memory.objects.for_space(embedded_space).embedded().first()
    assert memory is not None
    # halfvec holds at most 65504: this vector cannot be converted.
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE memories_memory SET embedding = %s::vector WHERE id = %s",
            ["[" + ",".join(["70000"] + ["0"] * 383) + "]", memory.pk],
        )
    definitions = hnsw_definitions()

    with pytest.raises(DataError):
        convert(settings, "halfvec")

    assert storage.stored_type(connection) == "vector"
    assert hnsw_definitions() == definitions
    assert Memory.objects.for_space(embedded_space).embedded().count() == 40


@pytest.mark.parametrize("mode", ["vector", "hybrid"])
def test_it_finds_the_same_memories_after_conversion(embedded_space, settings, mode):
    def ranked() -> list[tuple[object, float | None]]:
        hits = search(embedded_space, "kaa loe mii nuu pee", mode=mode, k=5).hits
        return [(hit.memory.pk, hit.similarity) for hit in hits]

    first = ranked()
    convert(settings, "halfvec")
    exact = ranked()
    settings.EXACT_SEARCH_BELOW = 0  # through the HNSW index this time
    walked = ranked()

    assert len(first) == 5 and all(sim is not None for _, sim in first)
    boundary = min(float(sim or 0) for _, sim in first)
    clearly_in = {pk for pk, sim in first if float(sim or 0) > boundary + 3e-3}
    for after in (exact, walked):
        if mode == "hybrid":
            # Fused ranks: a near-tie that swaps in the vector list moves a rank.
            assert len({pk for pk, _ in after} & {pk for pk, _ in first}) >= 4
            continue
        # 2-byte floats move a similarity by about 1e-3: ties at the cut may swap, no more.
        assert sorted(float(sim or 0) for _, sim in after) == pytest.approx(
            sorted(float(sim or 0) for _, sim in first), abs=3e-3
        )
        assert clearly_in <= {pk for pk, _ in after}


def test_it_walks_the_halfvec_index_for_a_large_space(embedded_space, settings):
    convert(settings, "halfvec")
    add_space_index(embedded_space)
    prefer_the_index()

    with CaptureQueriesContext(connection) as queries:
        plan = nearest_statement_plan(embedded_space, "kaa loe mii", mode="vector")

    assert vector_indexes.index_name(embedded_space.pk) in plan
    # The query vector is sent as the column's type, not left to an implicit cast.
    statement = next(q["sql"] for q in queries.captured_queries if "nearest AS" in q["sql"])
    assert "::halfvec" in statement and "::vector" not in statement


def test_it_lists_similar_memories_from_halfvec_storage(
    alice, space, actor, make_memory, hashing_backend, embed_now, settings
):
    memory = make_memory("Alice likes green tea in the morning.")
    close = make_memory("Alice likes green tea in the evening.")
    make_memory("Bob repairs bicycles.")
    embed_now(space)
    convert(settings, "halfvec")

    editor = Client()
    editor.force_login(alice)
    html = editor.get(reverse("dashboard:memory", args=[space.slug, memory.pk])).content.decode()

    similar = html[html.index('id="similar"') : html.index('id="access"')]
    assert str(close.pk) in similar and str(memory.pk) not in similar


def test_it_stores_and_reads_vectors_in_halfvec(space, actor, hashing_backend, embed_now, settings):
    convert(settings, "halfvec")  # an empty table: the state migrate would leave
    fill(space, actor, 10, seed=4)

    assert embed_now(space) == 10

    rows = {
        str(pk): np.asarray(vector, dtype=np.float32)
        for pk, vector in Memory.objects.for_space(space).embedded().values_list("pk", "embedding")
    }
    ids, matrix = load_vectors(space)
    assert len(rows) == 10 and matrix.shape == (10, 384) and matrix.dtype == np.float32
    for pk, vector in zip(ids, matrix, strict=True):
        assert np.allclose(vector, rows[pk], atol=1e-6)
        assert np.linalg.norm(vector) == pytest.approx(1.0, abs=1e-2)


def test_it_reports_a_table_of_the_other_type(embedded_space, settings):
    convert(settings, "halfvec")
    settings.VECTOR_STORAGE = "vector"
    storage.forget_verified()

    (error,) = storage.check_vector_storage(databases=["default"])
    with pytest.raises(ImproperlyConfigured, match=r"manage\.py vector_storage"):
        storage.verify(connection)

    assert error.id == "retrieval.E001"
    assert "holds halfvec embeddings" in error.msg and "manage.py vector_storage" in error.msg
    settings.VECTOR_STORAGE = "halfvec"
    assert storage.check_vector_storage(databases=["default"]) == []


def test_it_converts_an_empty_table_to_the_setting_after_migrate(db, settings):
    convert(settings, "vector")
    settings.VECTOR_STORAGE = "halfvec"
    assert storage.check_vector_storage(databases=["default"]) == []

    storage.follow_setting(sender=None)

    assert storage.stored_type(connection) == "halfvec"
    assert all("halfvec_cosine_ops" in d for d in hnsw_definitions().values())


def test_it_leaves_a_table_with_vectors_to_the_command(embedded_space, settings):
    settings.VECTOR_STORAGE = "halfvec"

    settle_constraints()
    storage.follow_setting(sender=None)

    assert storage.stored_type(connection) == "vector"
    assert storage.check_vector_storage(databases=["default"])


@pytest.mark.django_db(transaction=True)
def test_a_new_connection_to_a_mismatched_database_fails(space, actor, hashing_backend, settings):
    from apps.retrieval.tasks import embed_all_pending

    default = settings.VECTOR_STORAGE
    fill(space, actor, 3, seed=5)
    embed_all_pending(space)
    convert(settings, "halfvec")
    settings.VECTOR_STORAGE = "vector"
    storage.forget_verified()
    other = connections.create_connection("default")
    try:
        with pytest.raises(ImproperlyConfigured, match=r"manage\.py vector_storage"):
            other.ensure_connection()
        assert other.connection is None  # closed: the next query fails again
        with pytest.raises(ImproperlyConfigured):
            other.ensure_connection()
    finally:
        other.close()
        settings.VECTOR_STORAGE = default  # the later tests' storage
        storage.convert()
        storage.forget_verified()
    assert storage.stored_type(connection) == default


def test_it_refuses_an_unknown_storage():
    assert "MEMORYWEB_VECTOR_STORAGE must be one of vector, halfvec" in settings_error(
        MEMORYWEB_VECTOR_STORAGE="float8"
    )

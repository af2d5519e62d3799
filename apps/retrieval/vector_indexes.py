"""Each large space's own indexes, an HNSW graph of its vectors and a GIN index of its
words; small spaces have none.

One HNSW graph shared by every space served none of them well. A small space's rows
are few and far between in it: walking the graph for them was slower than reading
them, and missed many (recall@10 0.47 for spaces of 20-500 memories among 375k rows).
A large space's walk passed over everyone else's rows (vector p95 12 ms for 100k
memories beside 275k others, 3.3 ms alone). And every stored vector, in any space, paid
an insert into the one big graph.

So a space with fewer than settings.EXACT_SEARCH_BELOW embedded memories is searched
exactly (its rows, read through the space index, sorted by distance), and a space that
reaches it gets a partial index over its own rows, `WHERE space_id = <id>`. Searches
name their space as a literal (Django binds parameters on the client), so the planner
matches the partial index to them. A vector stored in a small space touches no graph;
in a large one, only its own.

The words index is for the same reason. The shared full-text index holds every
tenant's postings, so for a large space's BM25 step the planner ANDed the words'
bitmap (about 1,300 rows) with a bitmap of the whole space from the space_id index:
4-6 ms of a 6-9 ms step for a space of 100k beside 275k other rows. Its own index
holds only its rows, and the step took 1 ms. The shared index stays for the spaces
whose own is not built yet.

Past a few hundred large spaces the planner's work of matching the partial indexes
grows; docs/scaling.md says when to partition by space instead.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connections
from django.db.backends.utils import CursorWrapper

from apps.core.replicas import PRIMARY
from apps.core.ttl import TtlCache
from apps.memories.models import GIN_PENDING_LIST_KB, Memory
from apps.retrieval import storage

logger = logging.getLogger(__name__)

TABLE = Memory._meta.db_table
INDEX_PREFIX = "memory_embedding_s"
WORDS_INDEX_PREFIX = "memory_words_s"
# The graph's shape, as the shared index had it (pgvector's defaults).
HNSW_M = 16
HNSW_EF_CONSTRUCTION = 64
# A graph built in memory is several times faster to build than one that spills; 100k
# vectors of 384 dimensions need about 250 MB.
BUILD_MEMORY = "1GB"
REQUEST_DEBOUNCE_SECONDS = 600
# What every graph's partial index adds to its predicate, and every walk of one to its
# condition: the rows whose vectors wait for the graph job (apps/retrieval/graph.py).
GRAPH_PREDICATE = "NOT graph_pending"
# database alias -> the spaces with a valid vector index, and with a valid words index,
# of their own
_indexed: TtlCache[str, tuple[frozenset[int], frozenset[int]]] = TtlCache(60, max_entries=16)


def index_name(space_id: int) -> str:
    return f"{INDEX_PREFIX}{int(space_id)}"


def words_index_name(space_id: int) -> str:
    return f"{WORDS_INDEX_PREFIX}{int(space_id)}"


def indexed_spaces(using: str = PRIMARY) -> frozenset[int]:
    """The spaces with a valid vector index of their own, as this process saw them at
    most a minute ago: one catalogue query a minute, whatever the number of searches."""
    return _indexed.get(using, lambda: _valid_indexes(using))[0]


def searches_exactly(space_id: int, using: str = PRIMARY) -> bool:
    """Whether a vector search of the space reads all its vectors rather than walking
    an HNSW graph: whenever it has no index of its own (a small space, or a large one
    whose index is still being built)."""
    return space_id not in indexed_spaces(using)


def has_words_index(space_id: int, using: str = PRIMARY) -> bool:
    """Whether the space has a valid words index of its own (as seen a minute ago):
    then its text search asks that index however few its rows."""
    return space_id in _indexed.get(using, lambda: _valid_indexes(using))[1]


def _valid_indexes(using: str) -> tuple[frozenset[int], frozenset[int]]:
    vectors, words = _own_indexes(using)
    return (
        frozenset(space_id for space_id, index in vectors.items() if index.valid),
        frozenset(space_id for space_id, index in words.items() if index.valid),
    )


def _own_indexes(using: str) -> tuple[dict[int, storage.TableIndex], dict[int, storage.TableIndex]]:
    """Space id -> its own vector index, and its own words index, valid or not."""
    vectors: dict[int, storage.TableIndex] = {}
    words: dict[int, storage.TableIndex] = {}
    for index in storage.table_indexes(connections[using], "hnsw", "gin"):
        if index.method == "hnsw" and index.name.startswith(INDEX_PREFIX):
            vectors[int(index.name.removeprefix(INDEX_PREFIX))] = index
        elif index.method == "gin" and index.name.startswith(WORDS_INDEX_PREFIX):
            words[int(index.name.removeprefix(WORDS_INDEX_PREFIX))] = index
    return vectors, words


def build_index(space_id: int, using: str = PRIMARY) -> bool:
    """Give the space its own indexes unless it has them; returns whether one was built.

    Built CONCURRENTLY, so writes to every space go on meanwhile, except inside a
    transaction (a migration), which cannot hold such a build. A build that died left
    an invalid index behind; it is dropped and built again. Two builders of the same
    space do not race: the second returns at once."""

    def wanted() -> list[Wanted]:
        vectors, words = _own_indexes(using)
        return [
            (vectors.get(space_id), index_name(space_id), vectors_method()),
            (words.get(space_id), words_index_name(space_id), words_method()),
        ]

    predicate = f"space_id = {int(space_id)}"
    built = build_missing(f"space {int(space_id)}", wanted, predicate, [], using)
    if built:
        logger.info("built the indexes of space %s", space_id)
    return built


def vectors_method() -> str:
    return (
        f"hnsw (embedding {storage.cosine_opclass()})"
        f" WITH (m = {HNSW_M}, ef_construction = {HNSW_EF_CONSTRUCTION})"
    )


def words_method() -> str:
    return f"gin (search_vector) WITH (gin_pending_list_limit = {GIN_PENDING_LIST_KB})"


# An index to have: the one of that name in the catalogue (None if there is none), its
# name, and its access method with options.
Wanted = tuple[storage.TableIndex | None, str, str]


def build_missing(
    lock: str,
    wanted: Callable[[], list[Wanted]],
    predicate: str,
    predicate_params: list[Any],
    using: str,
) -> bool:
    """Build each of `wanted()` that is missing or invalid, as a partial index `WHERE
    predicate`, under an advisory lock named `lock`; returns whether one was built
    (False at once if another builder holds the lock). `wanted` reads the catalogue
    under the lock: read before it, a builder that just finished would be missed."""
    connection = connections[using]
    in_transaction = connection.in_atomic_block
    with connection.cursor() as cursor:
        if in_transaction:
            cursor.execute(f"SELECT pg_try_advisory_xact_lock({_LOCK})", [lock])
        else:
            cursor.execute(f"SELECT pg_try_advisory_lock({_LOCK})", [lock])
        if not cursor.fetchone()[0]:
            return False
        try:
            built = _build(cursor, wanted(), predicate, predicate_params, in_transaction)
        finally:
            if not in_transaction:
                cursor.execute("RESET maintenance_work_mem")
                cursor.execute(f"SELECT pg_advisory_unlock({_LOCK})", [lock])
    _indexed.forget()
    return built


_LOCK = "hashtextextended('vector-index:' || %s, 0)"


def _build(
    cursor: CursorWrapper,
    wanted: list[Wanted],
    predicate: str,
    predicate_params: list[Any],
    in_transaction: bool,
) -> bool:
    concurrently = "" if in_transaction else "CONCURRENTLY"
    missing = [
        (existing, name, method)
        for existing, name, method in wanted
        if not existing or not existing.valid
    ]
    if not missing:
        return False
    if in_transaction:
        # Postgres refuses to index a table with deferred checks still to run on it.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    cursor.execute(
        "SELECT set_config('maintenance_work_mem', %s, %s)", [BUILD_MEMORY, in_transaction]
    )
    for existing, name, method in missing:
        if existing is not None:
            logger.warning("dropping the invalid index %s left by a failed build", name)
            cursor.execute(f"DROP INDEX {concurrently} IF EXISTS {name}")
        # The predicate's values are written into the statement as literals (Django
        # binds on the client), as searches write theirs: the planner matches them.
        # A graph leaves out the vectors waiting for the graph job (graph.py).
        where = f"{predicate} AND {GRAPH_PREDICATE}" if method.startswith("hnsw") else predicate
        cursor.execute(
            f"CREATE INDEX {concurrently} {name} ON {TABLE} USING {method} WHERE {where}",
            predicate_params,
        )
    return True


def spaces_needing_an_index(using: str = PRIMARY) -> list[int]:
    """Spaces with at least EXACT_SEARCH_BELOW embedded memories that lack a valid
    index of their own (either one)."""
    with connections[using].cursor() as cursor:
        cursor.execute(
            f"SELECT space_id FROM {TABLE} WHERE embedding IS NOT NULL"
            " GROUP BY space_id HAVING count(*) >= %s ORDER BY space_id",
            [_threshold()],
        )
        large = [space_id for (space_id,) in cursor.fetchall()]
    vectors, words = _valid_indexes(using)
    built = vectors & words
    return [space_id for space_id in large if space_id not in built]


def drop_orphaned_indexes(using: str = PRIMARY) -> list[int]:
    """Drop the indexes of spaces that no longer exist; returns their ids."""
    vectors, words = _own_indexes(using)
    return drop_indexes_of_deleted_spaces([*vectors.items(), *words.items()], using)


def drop_indexes_of_deleted_spaces(
    indexes: list[tuple[int, storage.TableIndex]], using: str
) -> list[int]:
    """Drop those of these (space id, index) whose space is gone; returns their ids."""
    connection = connections[using]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id FROM spaces_space WHERE id = ANY(%s)",
            [sorted({space_id for space_id, _ in indexes})],
        )
        existing = {space_id for (space_id,) in cursor.fetchall()}
        concurrently = "" if connection.in_atomic_block else "CONCURRENTLY"
        for space_id, index in indexes:
            if space_id not in existing:
                cursor.execute(f"DROP INDEX {concurrently} IF EXISTS {index.name}")
    _indexed.forget()
    return sorted({space_id for space_id, _ in indexes} - existing)


def request_index_if_grown(space_id: int) -> bool:
    """After vectors were stored: queue the build of the space's index if it has just
    reached the threshold (once per debounce window, however many batches notice).
    Costs one count capped at the threshold, and only for a space without an index."""
    if space_id in indexed_spaces():
        return False
    threshold = _threshold()
    if Memory.objects.for_space(space_id).embedded()[:threshold].count() < threshold:
        return False
    if not cache.add(f"vector-index:{space_id}", 1, timeout=REQUEST_DEBOUNCE_SECONDS):
        return False
    from apps.retrieval.tasks import build_vector_index

    build_vector_index.delay(space_id)
    return True


def forget() -> None:
    """Read the catalogue again on the next search (after building or dropping)."""
    _indexed.forget()


def _threshold() -> int:
    return max(1, settings.EXACT_SEARCH_BELOW)

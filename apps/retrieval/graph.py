"""A large space's new vectors join its HNSW graph in a job, not while they are stored.

Storing a batch of vectors is the embedding job's database work. In a space searched
exactly (apps/retrieval/vector_indexes.py) it cost 0.18 ms a memory; in a space with a
graph of its own, 1.02 ms, nearly all of it pgvector's insert into the graph (one
search of the graph per vector, then the neighbours' lists rewritten). So a vector
stored in such a space is marked `graph_pending`, which its graph's partial index
leaves out, and the graph job clears the mark in batches: that update is what inserts
it into the graph. Until then every vector search of the space reads the pending rows
exactly beside its walk of the graph (search.nearest_sql), through a partial index of
only them, so a memory is findable the moment its vector is stored. Vector databases
do the same with a segment searched by brute force (Milvus' growing segments, Weaviate's
asynchronous indexing).

What it costs: the graph insert is not saved, it moves off the ingest path to a job
that runs beside it, and the job's update rewrites the row once more (a second entry in
each of the table's indexes). What it buys: the embedding job stores a large space's
vectors as fast as a small space's, and its lanes spend the cores on the model.
"""

from __future__ import annotations

from django.db import connection, transaction

from apps.memories.models import Memory
from apps.retrieval import vector_indexes
from apps.spaces.models import Space

TABLE = Memory._meta.db_table
# Rows the job adds in one transaction: its row locks and its share of a vacuum are
# small, and a search's exact read of the pending rows stays short meanwhile.
BATCH = 500


def defers_insert(space_id: int) -> bool:
    """Whether vectors stored in the space wait for the graph job: whenever it has a
    graph of its own (as this process saw the catalogue at most a minute ago). A space
    whose graph appeared since is caught by the graph's predicate: its vectors go in
    with the store, as before."""
    return not vector_indexes.searches_exactly(space_id)


def add_pending(space_id: int, batch: int = BATCH) -> int:
    """Add the space's pending vectors to its graph, batch after batch, each batch in a
    transaction of its own; returns how many. Rows another job holds are skipped (that
    job adds them), so two jobs never wait for each other."""
    added = 0
    while True:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                f"""
                UPDATE {TABLE} SET graph_pending = false
                WHERE id IN (
                    SELECT id FROM {TABLE} WHERE space_id = %s AND graph_pending
                    LIMIT %s FOR NO KEY UPDATE SKIP LOCKED
                )
                """,
                [space_id, batch],
            )
            count = cursor.rowcount
        added += count
        if count < batch:
            return added


def spaces_with_pending() -> list[int]:
    """Spaces with vectors waiting for their graph (through the partial index)."""
    return list(
        Space.objects.filter(memories__graph_pending=True)
        .order_by("pk")
        .values_list("pk", flat=True)
        .distinct()
    )

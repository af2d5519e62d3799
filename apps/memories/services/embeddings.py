"""A memory's vector: derived data, stored and dropped without a version."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.db import transaction
from django.db.models import Q

from apps.audit.actors import Actor
from apps.audit.services import record_event, record_events
from apps.core.pgvector import binary_vector_cursor
from apps.memories.models import Link, LinkType, Memory, MemoryInContext
from apps.memories.services.records import (
    MemoryId,
    embed_after_commit,
)
from apps.retrieval import graph
from apps.spaces.models import Space


@dataclass(frozen=True)
class InContext:
    """A conversation memory read after the memory before it: the pair's text, and the
    two contents' hashes it was read at."""

    memory_id: MemoryId
    content_hash: str
    previous_id: MemoryId
    previous_hash: str
    text: str


def in_context(space: Space, memory_ids: Sequence[MemoryId]) -> list[InContext]:
    """What to read in context, for a batch of memories being embedded:
    those of them that follow another memory, and the embedded memories that follow
    them (their context changed with them; the pending ones get theirs in their own
    batch). One memory with two predecessors is read after one of them."""
    if not memory_ids:
        return []
    ids = list(memory_ids)
    links = (
        Link.objects.for_space(space)
        .filter(type=LinkType.NEXT_IN_TIME)
        .filter(
            Q(target_id__any_of=ids) | Q(source_id__any_of=ids, target__embedding__isnull=False)
        )
        .order_by("target_id", "-created_at")
        .values_list(
            "target_id",
            "target__content_hash",
            "target__content",
            "source_id",
            "source__content_hash",
            "source__content",
        )
    )
    found: dict[MemoryId, InContext] = {}
    for memory_id, memory_hash, content, previous_id, previous_hash, previous in links:
        found.setdefault(
            memory_id,
            InContext(memory_id, memory_hash, previous_id, previous_hash, f"{previous}\n{content}"),
        )
    return list(found.values())


@transaction.atomic
def store_embeddings(
    space: Space,
    rows: Sequence[tuple[MemoryId, str]],
    vectors: Sequence[Sequence[float]],
    model: str,
    contexts: Sequence[tuple[InContext, Sequence[float]]] = (),
) -> int:
    """Store vectors computed for (memory id, content hash) pairs; returns how many were kept.

    A vector is dropped when the memory's content changed since it was read (its hash
    no longer matches), so a slow batch can never attach an old text's vector; so is a
    reading in context when either of its two texts changed. The embedding is derived
    data: no version is written, one audit event per batch. In a space with a graph of
    its own the vectors wait for the graph job (apps/retrieval/graph.py), queued once
    they are committed.
    """
    if len(rows) != len(vectors):
        raise ValueError(f"{len(rows)} memories but {len(vectors)} vectors")
    if not rows and not contexts:
        return 0
    # One array each: the database, not numpy, says which vector has the wrong size.
    arrays = [np.asarray(vector, dtype=np.float32) for vector in vectors]
    defers_graph = graph.defers_insert(space.pk)
    with binary_vector_cursor() as cursor:
        cursor.execute(
            """
            UPDATE memories_memory AS m
            SET embedding = v.embedding, embedding_model = %s, graph_pending = %s
            FROM unnest(%s::uuid[], %s::text[], %b::vector[]) AS v(id, content_hash, embedding)
            WHERE m.id = v.id AND m.content_hash = v.content_hash AND m.space_id = %s
            RETURNING m.id::text
            """,
            [
                model,
                defers_graph,
                [str(memory_id) for memory_id, _ in rows],
                [expected_hash for _, expected_hash in rows],
                arrays,
                space.pk,
            ],
        )
        stored = [memory_id for (memory_id,) in cursor.fetchall()]
        read_in_context = _store_in_context(cursor, space, contexts, model)
    if stored and defers_graph:
        from apps.retrieval.tasks import schedule_graph

        transaction.on_commit(lambda: schedule_graph(space.pk))
    if stored or read_in_context:
        summary = {"model": model, "count": len(stored), "memories": stored}
        if read_in_context:
            summary["in_context"] = read_in_context
        record_event(
            space,
            Actor.system("embedding"),
            "memory.embed",
            target_type="space",
            target_id=space.pk,
            summary=summary,
        )
    return len(stored)


def _store_in_context(
    cursor: Any, space: Space, contexts: Sequence[tuple[InContext, Sequence[float]]], model: str
) -> int:
    """Upsert the memories read in context whose two texts are still those embedded."""
    if not contexts:
        return 0
    cursor.execute(
        """
        INSERT INTO memories_memoryincontext
            (memory_id, previous_id, space_id, embedding, embedding_model, words)
        SELECT m.id, p.id, m.space_id, v.embedding::halfvec, %s,
               p.search_vector || m.search_vector
        FROM unnest(%s::uuid[], %s::text[], %s::uuid[], %s::text[], %b::vector[])
            AS v(id, content_hash, previous_id, previous_hash, embedding)
        JOIN memories_memory AS m ON m.id = v.id AND m.content_hash = v.content_hash
        JOIN memories_memory AS p ON p.id = v.previous_id AND p.content_hash = v.previous_hash
        WHERE m.space_id = %s AND p.space_id = %s
        ON CONFLICT (memory_id) DO UPDATE SET
            previous_id = excluded.previous_id,
            embedding = excluded.embedding,
            embedding_model = excluded.embedding_model,
            words = excluded.words
        """,
        [
            model,
            [str(c.memory_id) for c, _ in contexts],
            [c.content_hash for c, _ in contexts],
            [str(c.previous_id) for c, _ in contexts],
            [c.previous_hash for c, _ in contexts],
            [np.asarray(vector, dtype=np.float32) for _, vector in contexts],
            space.pk,
            space.pk,
        ],
    )
    return int(cursor.rowcount)


def drop_vectors(memory: Memory) -> None:
    """The memory's text changed: its vector, and its reading in context and that of
    the memory after it, describe the old text. The embedding job computes all three
    again (in_context); until then search uses what is left."""
    memory.embedding = None
    memory.embedding_model = ""
    _drop_in_context(memory.space_id, [memory.pk])


def _drop_in_context(space_id: int, memory_ids: Sequence[MemoryId]) -> None:
    MemoryInContext.objects.for_space(space_id).filter(
        Q(memory_id__any_of=memory_ids) | Q(previous_id__any_of=memory_ids)
    ).delete()


@transaction.atomic
def request_reembedding(space: Space, actor: Actor, memory_ids: Sequence[MemoryId]) -> int:
    """Drop these memories' vectors so the embedding job computes them again.

    The vector is derived data, so no version is written; the audit trail says who
    asked. Returns how many memories will be re-embedded.
    """
    ids = [str(i) for i in memory_ids]
    memories = Memory.objects.for_space(space).filter(pk__in=ids)
    found = [str(pk) for pk in memories.values_list("pk", flat=True)]
    memories.update(embedding=None, embedding_model="")
    _drop_in_context(space.pk, found)
    record_events(space, actor, "memory.reembed", [("memory", pk, {}) for pk in found])
    if found:
        embed_after_commit(space.pk, len(found))
    return len(found)

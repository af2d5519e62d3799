"""A memory's vector: derived data, stored and dropped without a version."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from django.db import transaction

from apps.audit.actors import Actor
from apps.audit.services import record_event, record_events
from apps.core.pgvector import binary_vector_cursor
from apps.memories.models import (
    Memory,
)
from apps.memories.services.records import (
    MemoryId,
    embed_after_commit,
)
from apps.spaces.models import Space


@transaction.atomic
def store_embeddings(
    space: Space,
    rows: Sequence[tuple[MemoryId, str]],
    vectors: Sequence[Sequence[float]],
    model: str,
) -> int:
    """Store vectors computed for (memory id, content hash) pairs; returns how many were kept.

    A vector is dropped when the memory's content changed since it was read (its hash
    no longer matches), so a slow batch can never attach an old text's vector. The
    embedding is derived data: no version is written, one audit event per batch.
    """
    if len(rows) != len(vectors):
        raise ValueError(f"{len(rows)} memories but {len(vectors)} vectors")
    if not rows:
        return 0
    # One array each: the database, not numpy, says which vector has the wrong size.
    arrays = [np.asarray(vector, dtype=np.float32) for vector in vectors]
    with binary_vector_cursor() as cursor:
        cursor.execute(
            """
            UPDATE memories_memory AS m
            SET embedding = v.embedding, embedding_model = %s
            FROM unnest(%s::uuid[], %s::text[], %b::vector[]) AS v(id, content_hash, embedding)
            WHERE m.id = v.id AND m.content_hash = v.content_hash AND m.space_id = %s
            RETURNING m.id::text
            """,
            [
                model,
                [str(memory_id) for memory_id, _ in rows],
                [expected_hash for _, expected_hash in rows],
                arrays,
                space.pk,
            ],
        )
        stored = [memory_id for (memory_id,) in cursor.fetchall()]
    if stored:
        record_event(
            space,
            Actor.system("embedding"),
            "memory.embed",
            target_type="space",
            target_id=space.pk,
            summary={"model": model, "count": len(stored), "memories": stored},
        )
    return len(stored)


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
    record_events(space, actor, "memory.reembed", [("memory", pk, {}) for pk in found])
    if found:
        embed_after_commit(space.pk, len(found))
    return len(found)

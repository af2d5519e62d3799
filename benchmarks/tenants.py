"""Many tenants in one table: one large space next to many small ones (and a few of
middle size), searched as the service searches them, with recall against an exact scan.

    .venv/bin/python benchmarks/tenants.py [--big 100000] [--small-spaces 1000]
        [--medium 2000 5000 10000] [--queries 200] [--rebuild]

Small spaces hold 20 to 500 memories each (sizes drawn with a fixed seed); all spaces
share the memories table. Spaces under settings.EXACT_SEARCH_BELOW are searched
exactly; larger ones get an HNSW index of their own, built here (and timed) where
missing, as the index job would (apps/retrieval/vector_indexes.py). Vectors are
synthetic and clustered as in search_latency.py, from the same 300 topics in every
space, so other tenants' memories lie close to any query. For each group the database
time of a vector and of a hybrid search (k=10) is reported, and recall@10 of the vector
search against an exact scan of the same space; spaces with an index are also measured
searched exactly, for comparison.

The small spaces are kept (slugs bench-tenants-small-<i>) so later runs reuse them, and
a run with more of them builds only the new ones; --rebuild makes them anew. The large
and middle-size spaces are search_latency.py's (bench-search-<size>), built by it when
missing. The machine may be shared: the load average is printed with the CPU.
"""

from __future__ import annotations

import argparse
import os
import random
import time
import zlib
from collections.abc import Callable
from typing import Any

import numpy as np
from common import machine, summary
from django.conf import settings
from django.db import connection
from django.db.models import Count, Q
from django.test.utils import CaptureQueriesContext
from pgvector import Vector
from search_latency import (
    CENTROIDS,
    DIM,
    TOPICS,
    VOCABULARY,
    WORD_WEIGHTS,
    QueryVectors,
)
from search_latency import build as search_benchmark_space

from apps.audit.actors import Actor
from apps.memories import services
from apps.memories.models import Memory
from apps.retrieval import search as search_module
from apps.retrieval import storage, vector_indexes
from apps.retrieval.lexical import refresh_lexicon
from apps.retrieval.search import search
from apps.spaces.models import Space
from apps.spaces.services import purge_space

ACTOR = Actor.system("benchmark")
PREFIX = "bench-tenants-"


def vector_for(rng: np.random.Generator, topic: int) -> list[float]:
    v = CENTROIDS[topic] + 0.8 * rng.normal(size=DIM)
    return (v / np.linalg.norm(v)).tolist()


def sentence_for(rng: np.random.Generator, topic: int) -> str:
    words = rng.choice(VOCABULARY, size=12, p=WORD_WEIGHTS)
    return f"topic{topic} " + " ".join(words)


def small_sizes(count: int) -> list[int]:
    # The i-th small space has the same size in every run, whatever the count.
    sizes = random.Random(25)
    return [sizes.randint(20, 500) for _ in range(count)]


def wanted_spaces(args: argparse.Namespace) -> dict[str, int]:
    return {f"{PREFIX}small-{i}": size for i, size in enumerate(small_sizes(args.small_spaces))}


def fill(space: Space, size: int, rng: np.random.Generator) -> None:
    chunk = 2000
    for offset in range(0, size, chunk):
        topics = [int(t) for t in rng.integers(0, TOPICS, size=min(chunk, size - offset))]
        memories = services.create_memories(
            space, ACTOR, [{"content": sentence_for(rng, t)} for t in topics]
        )
        services.store_embeddings(
            space,
            [(m.pk, m.content_hash) for m in memories],
            [vector_for(rng, t) for t in topics],
            "synthetic",
        )


def build(wanted: dict[str, int], rebuild: bool) -> dict[str, Space]:
    """The spaces by slug, each with its size of embedded memories; only the missing or
    wrong ones are made (anew)."""
    counted = {
        space.slug: space
        for space in Space.objects.filter(slug__startswith=PREFIX).annotate(
            embedded=Count("memories", filter=Q(memories__embedding__isnull=False))
        )
    }
    spaces: dict[str, Space] = {}
    started = time.perf_counter()
    made = 0
    for number, (slug, size) in enumerate(wanted.items()):
        space = counted.get(slug)
        if space and not rebuild and space.embedded == size:  # type: ignore[attr-defined]
            spaces[slug] = space
            continue
        if space:
            purge_space(space, ACTOR, reason="rebuilding the tenants benchmark")
        space = Space.objects.create(slug=slug, name=f"Tenants benchmark ({size})")
        # Seeded by the slug: a space has the same content whichever run builds it.
        fill(space, size, np.random.default_rng(zlib.crc32(slug.encode())))
        spaces[slug] = space
        made += size
        if number % 100 == 0:
            print(f"  built {slug} ({made} memories, {time.perf_counter() - started:.0f}s)")
    if made:
        print(f"built {made} memories in {time.perf_counter() - started:.0f}s", flush=True)
    return spaces


def exact_nearest(space: Space, vector: list[float], k: int) -> list[str]:
    """The k nearest active memories of the space, from every one of its vectors."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT id::text FROM memories_memory
            WHERE space_id = %s AND status = 'active' AND embedding IS NOT NULL
            ORDER BY (embedding <=> {storage.query_param()}) + 0 LIMIT %s
            """,
            [space.pk, Vector(vector).to_text(), k],
        )
        return [pk for (pk,) in cursor.fetchall()]


def uses_hnsw(space: Space, fake: QueryVectors, rng: np.random.Generator) -> bool:
    """Whether the plan of a hybrid search of the space walks the HNSW index."""
    fake.next = vector_for(rng, 0)
    with CaptureQueriesContext(connection) as queries:
        search(space, sentence_for(rng, 0), mode="hybrid", record_access=False)
    (statement,) = [q["sql"] for q in queries.captured_queries if "nearest AS" in q["sql"]]
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + statement)
        return any(vector_indexes.INDEX_PREFIX in line for (line,) in cursor.fetchall())


def measure(
    label: str,
    spaces: list[Space],
    queries: int,
    fake: QueryVectors,
    rng: np.random.Generator,
    modes: tuple[str, ...] = ("vector", "hybrid"),
) -> None:
    """Searches spread over `spaces`, after one warm-up search of each space (the
    per-process caches of a server that has served it before), which also says how
    many of the spaces' plans walk the HNSW index."""
    plan = [
        (spaces[int(rng.integers(0, len(spaces)))], int(rng.integers(0, TOPICS)))
        for _ in range(queries)
    ]
    searched = {space.pk: space for space, _ in plan}.values()
    walking = sum(uses_hnsw(space, fake, rng) for space in searched)
    for mode in modes:
        db_ms: list[float] = []
        recalls: list[float] = []
        for space, topic in plan:
            fake.next = vector_for(rng, topic)
            result = search(space, sentence_for(rng, topic), mode=mode, k=10, record_access=False)
            db_ms.append(result.db_ms)
            if mode == "vector":
                exact = exact_nearest(space, fake.next, 10)
                found = {str(hit.memory.pk) for hit in result.hits}
                recalls.append(len(found & set(exact)) / len(exact))
        recall = f"  recall@10 {np.mean(recalls):.3f} (min {min(recalls):.1f})" if recalls else ""
        print(f"{label:40} {mode:6}  database {summary(db_ms)}{recall}", flush=True)
    print(f"{label:40} an HNSW index in the plans of {walking} of {len(searched)} spaces")


def searching_exactly(run: Callable[..., None], *args: Any) -> None:
    """Run with every space searched exactly, its own index or not: the comparison."""
    saved = search_module.searches_exactly
    search_module.searches_exactly = lambda space_id, using="default": True
    try:
        run(*args)
    finally:
        search_module.searches_exactly = saved


def build_missing_indexes() -> None:
    """What the index job does once a space reaches the threshold, timed."""
    for space_id in vector_indexes.spaces_needing_an_index():
        size = Memory.objects.for_space(space_id).count()
        started = time.perf_counter()
        vector_indexes.build_index(space_id)
        print(f"built the index of a space of {size} in {time.perf_counter() - started:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--big", type=int, default=100_000)
    parser.add_argument("--small-spaces", type=int, default=1000)
    parser.add_argument("--medium", nargs="*", type=int, default=[2000, 5000, 10_000])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args()

    print(f"machine: {machine()}; load average {os.getloadavg()[0]:.1f} at start")
    # The large and middle-size spaces are search_latency's (same topics and words).
    big = search_benchmark_space(args.big)
    medium = {size: search_benchmark_space(size) for size in args.medium}
    spaces = build(wanted_spaces(args), args.rebuild)
    # What the worker does once a space has grown: count its words for BM25; and what
    # autovacuum does soon after a bulk load: settle the table's statistics.
    refresh_lexicon(big.pk)
    build_missing_indexes()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE) memories_memory")
        cursor.execute("SELECT count(*), count(DISTINCT space_id) FROM memories_memory")
        rows, tenants = cursor.fetchone()
    threshold = settings.EXACT_SEARCH_BELOW
    print(f"table: {rows} memories in {tenants} spaces; exact search below {threshold}")

    fake = QueryVectors()
    search_module.get_backend = lambda: fake  # type: ignore[assignment]
    rng = np.random.default_rng(2)
    small = list(spaces.values())
    sizes = small_sizes(args.small_spaces)
    small_label = f"{len(small)} small spaces ({min(sizes)}-{max(sizes)})"
    measure(f"{small_label}, as searched", small, args.queries, fake, rng)
    for size in args.medium:
        space = medium[size]
        how = "exact" if vector_indexes.searches_exactly(space.pk) else "own index"
        measure(f"space of {size}, as searched ({how})", [space], args.queries, fake, rng)
        if how != "exact":
            searching_exactly(measure, f"space of {size}, exact", [space], args.queries, fake, rng)
    measure(f"space of {args.big}, as searched", [big], args.queries, fake, rng)
    print(f"load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()

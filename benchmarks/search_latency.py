"""Search latency per mode at 10k and 100k memories in one space, with and without a
selective filter (1% of rows), reporting query-embedding time and database time apart.

    .venv/bin/python benchmarks/search_latency.py [--sizes 10000 100000] [--queries 200]

Content is synthetic: sentences drawn from 300 topics with a Zipf-distributed vocabulary;
vectors are dense and clustered (topic centroid plus noise, normalised), like real
sentence embeddings, but cheap to make. Query embedding is timed with the real MiniLM
model. The benchmark spaces are kept (slug bench-search-<size>) so later runs reuse them;
--rebuild makes them anew.
"""

from __future__ import annotations

import argparse
import random
import time

import numpy as np
from common import machine, summary
from django.conf import settings
from django.db import connection

from apps.audit.actors import Actor
from apps.memories import services
from apps.memories.models import Memory
from apps.retrieval import search as search_module
from apps.retrieval import vector_indexes
from apps.retrieval.embedding import MiniLMBackend
from apps.retrieval.lexical import refresh_lexicon
from apps.retrieval.search import Filters, search
from apps.spaces.models import Space
from apps.spaces.services import purge_space

TOPICS = 300
DIM = 384
ACTOR = Actor.system("benchmark")
rng = np.random.default_rng(7)
CENTROIDS = rng.normal(size=(TOPICS, DIM))
VOCABULARY = [f"w{i}" for i in range(5000)]
WORD_WEIGHTS = np.array([1 / (i + 1) for i in range(len(VOCABULARY))])
WORD_WEIGHTS /= WORD_WEIGHTS.sum()


def vector_for(topic: int) -> list[float]:
    v = CENTROIDS[topic] + 0.8 * rng.normal(size=DIM)
    return (v / np.linalg.norm(v)).tolist()


def sentence_for(topic: int) -> str:
    words = rng.choice(VOCABULARY, size=12, p=WORD_WEIGHTS)
    return f"topic{topic} " + " ".join(words)


def build(size: int) -> Space:
    slug = f"bench-search-{size}"
    space = Space.objects.filter(slug=slug).first()
    if space and Memory.objects.for_space(space).embedded().count() == size:
        return with_its_index(space, size)
    if space:
        purge_space(space, ACTOR, reason="rebuilding the benchmark space")
    space = Space.objects.create(slug=slug, name=f"Search benchmark ({size})")
    started = time.perf_counter()
    chunk = 2000
    for offset in range(0, size, chunk):
        topics = [int(t) for t in rng.integers(0, TOPICS, size=min(chunk, size - offset))]
        memories = services.create_memories(
            space,
            ACTOR,
            [
                {
                    "content": sentence_for(t),
                    "subject": "rare" if (offset + i) % 100 == 0 else "common",
                }
                for i, t in enumerate(topics)
            ],
        )
        services.store_embeddings(
            space,
            [(m.pk, m.content_hash) for m in memories],
            [vector_for(t) for t in topics],
            "synthetic",
        )
        print(
            f"  built {offset + len(topics)}/{size} ({time.perf_counter() - started:.0f}s)",
            flush=True,
        )
    return with_its_index(space, size)


def with_its_index(space: Space, size: int) -> Space:
    """What the index job does for a space this large (apps/retrieval/vector_indexes)."""
    if size >= settings.EXACT_SEARCH_BELOW:
        started = time.perf_counter()
        if vector_indexes.build_index(space.pk):
            print(f"  built its HNSW index in {time.perf_counter() - started:.0f}s", flush=True)
    return space


class QueryVectors:
    """Stands in for the model on the database side: returns the query's topic vector."""

    name = "synthetic"
    dimensions = DIM

    def __init__(self) -> None:
        self.next: list[float] = []

    def embed(self, texts: list[str]) -> list[list[float]]:
        return [self.next for _ in texts]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", nargs="+", type=int, default=[10_000, 100_000])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args()

    model = MiniLMBackend()
    model.embed(["warm up"])
    embed_ms = []
    for i in range(args.queries):
        began = time.perf_counter()
        model.embed([f"what did Maya say about the marathon plan number {i}?"])
        embed_ms.append((time.perf_counter() - began) * 1000)
    print(f"machine: {machine()}")
    print(f"query embedding (MiniLM, one query):  {summary(embed_ms)}")

    fake = QueryVectors()
    search_module.get_backend = lambda: fake  # type: ignore[assignment]
    for size in args.sizes:
        if args.rebuild:
            old = Space.objects.filter(slug=f"bench-search-{size}").first()
            if old:
                purge_space(old, ACTOR, reason="rebuild")
        space = build(size)
        # What the worker does once a space has grown: count its words for BM25; and
        # what autovacuum does soon after a bulk load: settle the table's statistics.
        refresh_lexicon(space.pk)
        with connection.cursor() as cursor:
            cursor.execute("VACUUM (ANALYZE) memories_memory")
        for mode in ("vector", "text", "hybrid"):
            for label, filters in (
                ("no filter", Filters()),
                ("1% filter", Filters(subject="rare")),
            ):
                db_ms, counts = [], []
                # A warm-up of the same size: word statistics are cached per process,
                # and a server that has been running a while has most of them.
                for i in range(2 * args.queries):
                    topic = random.randrange(TOPICS)
                    fake.next = vector_for(topic)
                    result = search(
                        space,
                        sentence_for(topic),
                        mode=mode,
                        k=10,
                        filters=filters,
                        record_access=False,
                    )
                    if i >= args.queries:
                        db_ms.append(result.db_ms)
                        counts.append(len(result.hits))
                print(
                    f"{size:>7} {mode:6} {label:9}  database {summary(db_ms)}  "
                    f"min hits {min(counts)}",
                    flush=True,
                )


if __name__ == "__main__":
    main()

"""A million memories in one space: import, the space's HNSW index, search latency and
recall, and what it all weighs on disk.

    MEMORYWEB_VAR_DIR=... .venv/bin/python benchmarks/million.py [--count 1000000]
        [--database memoryweb_million] [--global-index drop] [--rebuild]

The space (slug bench-million) is kept, so a later run only measures the searches;
--rebuild imports it anew. Memories are written as an import of new rows writes them,
through the domain layer's COPY path (`create_memories`: rows, versions and audit
events), and their vectors as the embedding job stores them (`store_embeddings`). The
content and vectors are search_latency.py's: 300 topics, Zipf vocabulary, clustered
384-d vectors, one memory in a hundred with subject "rare" (the 1% filter).

Before the searches, the table and its indexes are read into shared buffers, as a
server that has been serving the space holds them (the run says whether they fit).

The space's index is a partial HNSW index (`WHERE space_id = <id>`), as every large
space gets one; its subject "rare" gets a graph and a words index of its own, as the
hourly index job gives a very large space's largest subjects (subject_indexes.py).
Each stored vector is also an insert into every other HNSW index of the table; a
million of them into the global index of the shared dev database would take hours and
slow everyone's searches, so --database names a scratch database on the same server
(created and migrated when missing), where --global-index drop removes the global
index, as the per-space layout does. The shared database is never altered.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from memoryweb.embedded import DATABASE_NAME, get_profile

# The database is chosen before Django is set up (common.py sets it up on import).
early = argparse.ArgumentParser(add_help=False)
early.add_argument("--database", default=DATABASE_NAME)
DATABASE = early.parse_known_args()[0].database
if DATABASE != DATABASE_NAME:
    PROFILE_URL = get_profile().database_url()
    os.environ["DATABASE_URL"] = PROFILE_URL.rsplit("/", 1)[0] + "/" + DATABASE
    # The embedding tasks that writes queue name the scratch database's spaces: keep
    # them off the shared queue, whose workers read the shared database.
    os.environ["CELERY_BROKER_URL"] = get_profile().broker_url().rsplit("/", 1)[0] + "/15"

import numpy as np  # noqa: E402
import psycopg  # noqa: E402
from common import machine, percentile, summary  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from search_latency import (  # noqa: E402
    ACTOR,
    CENTROIDS,
    DIM,
    TOPICS,
    VOCABULARY,
    WORD_WEIGHTS,
    QueryVectors,
    rng,
    sentence_for,
    vector_for,
)

from apps.memories import services  # noqa: E402
from apps.memories.models import Memory  # noqa: E402
from apps.memories.transfer.export import export_space  # noqa: E402
from apps.memories.transfer.importer import import_lines  # noqa: E402
from apps.retrieval import search as search_module  # noqa: E402
from apps.retrieval import storage, subject_indexes, vector_indexes  # noqa: E402
from apps.retrieval.lexical import refresh_lexicon  # noqa: E402
from apps.retrieval.scope import SqlScope  # noqa: E402
from apps.retrieval.search import Filters, nearest_sql, search  # noqa: E402
from apps.spaces.models import Space  # noqa: E402
from apps.spaces.services import purge_space  # noqa: E402

SLUG = "bench-million"
GLOBAL_INDEX = "memory_embedding_hnsw"
CHUNK = 5000
# pgvector's defaults, as the per-space indexes are built.
HNSW_OPTIONS = "m = 16, ef_construction = 64"
# A query vector in a plan: 384 numbers nobody reads.
VECTOR = re.compile(r"'\[[-0-9.e,]+\]'::(halfvec|vector)")
SHORT = r"'[...]'::\1"
TARGETS_MS = {("hybrid", "no filter"): 20.0, ("hybrid", "1% filter"): 25.0}


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f}"


def phase(name: str) -> float:
    print(f"-- {name}: {load()}", flush=True)
    return time.perf_counter()


def done(name: str, started: float) -> float:
    seconds = time.perf_counter() - started
    print(f"-- {name} done in {seconds:.1f} s: {load()}", flush=True)
    return seconds


def ensure_database() -> None:
    """Create and migrate the scratch database when it does not exist yet."""
    if DATABASE == DATABASE_NAME:
        return
    with psycopg.connect(PROFILE_URL, autocommit=True) as admin:
        found = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE]).fetchone()
        if found is None:
            print(f"creating the scratch database {DATABASE}", flush=True)
            admin.execute(f'CREATE DATABASE "{DATABASE}"')
    call_command("migrate", verbosity=0)


def drop_global_index() -> None:
    if DATABASE == DATABASE_NAME:
        sys.exit("--global-index drop needs --database: the shared database keeps its index")
    with connection.cursor() as cursor:
        cursor.execute(f"DROP INDEX IF EXISTS {GLOBAL_INDEX}")


def hnsw_indexes() -> list[str]:
    return [index.name for index in storage.hnsw_indexes(connection)]


def chunks(count: int) -> Iterator[tuple[list[dict[str, Any]], np.ndarray]]:
    """search_latency.py's content and vectors, drawn a chunk at a time."""
    for offset in range(0, count, CHUNK):
        size = min(CHUNK, count - offset)
        topics = rng.integers(0, TOPICS, size=size)
        words = rng.choice(VOCABULARY, size=(size, 12), p=WORD_WEIGHTS)
        vectors = CENTROIDS[topics] + 0.8 * rng.normal(size=(size, DIM))
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        items = [
            {
                "content": f"topic{topic} " + " ".join(row),
                "subject": "rare" if (offset + i) % 100 == 0 else "common",
            }
            for i, (topic, row) in enumerate(zip(topics, words, strict=True))
        ]
        yield items, vectors.astype(np.float32)


def build(count: int, rebuild: bool) -> Space:
    space = Space.objects.filter(slug=SLUG).first()
    if space and not rebuild and Memory.objects.for_space(space).embedded().count() == count:
        print(f"reusing {SLUG} ({count} embedded memories)")
        return space
    if space:
        started = phase(f"purging the old {SLUG}")
        stale = vector_indexes.index_name(space.pk)  # purging unsets the space's pk
        purge_space(space, ACTOR, reason="rebuilding the benchmark space")
        with connection.cursor() as cursor:
            cursor.execute(f"DROP INDEX IF EXISTS {stale}")
        done("purge", started)
    space = Space.objects.create(slug=SLUG, name=f"Million benchmark ({count})")
    writing = embedding = 0.0
    started = phase(f"importing {count} memories")
    for items, vectors in chunks(count):
        began = time.perf_counter()
        memories = services.create_memories(space, ACTOR, items)
        written = time.perf_counter()
        services.store_embeddings(
            space, [(m.pk, m.content_hash) for m in memories], list(vectors), "synthetic"
        )
        writing += written - began
        embedding += time.perf_counter() - written
    total = done("import", started)
    print(
        f"import: {count} memories in {total:.0f} s ({count / total:,.0f} memories/s); "
        f"create_memories {writing:.0f} s ({count / writing:,.0f}/s), "
        f"store_embeddings {embedding:.0f} s ({count / embedding:,.0f}/s), "
        f"the rest is making the content",
        flush=True,
    )
    return space


def build_index(space: Space, rebuild: bool, memory: str, workers: int) -> None:
    name = vector_indexes.index_name(space.pk)
    if not rebuild and name in hnsw_indexes():
        print(f"reusing the index {name}")
        return
    with connection.cursor() as cursor:
        cursor.execute(f"DROP INDEX IF EXISTS {name}")
        cursor.execute("SELECT set_config('maintenance_work_mem', %s, false)", [memory])
        cursor.execute(
            "SELECT set_config('max_parallel_maintenance_workers', %s, false)", [str(workers)]
        )
        cursor.execute("SHOW maintenance_work_mem")
        shown_memory = cursor.fetchone()[0]
        cursor.execute("SHOW max_parallel_maintenance_workers")
        shown_workers = cursor.fetchone()[0]
        print(
            f"building {name} with maintenance_work_mem={shown_memory}, "
            f"max_parallel_maintenance_workers={shown_workers}",
            flush=True,
        )
        started = phase("HNSW build")
        cursor.execute(
            f"CREATE INDEX {name} ON memories_memory USING hnsw "
            f"(embedding {storage.cosine_opclass()}) WITH ({HNSW_OPTIONS})"
            f" WHERE space_id = {space.pk}"
        )
        done("HNSW build", started)
        cursor.execute("RESET maintenance_work_mem")
        cursor.execute("RESET max_parallel_maintenance_workers")


def build_subject_indexes(space: Space) -> None:
    """The indexes of the space's largest subjects, as the hourly index job builds them
    (apps/retrieval/subject_indexes.py): here the 1% filter's subject."""
    for space_id, subject in subject_indexes.subjects_needing_indexes():
        if space_id != space.pk:
            continue
        started = phase(f"indexes of subject {subject!r}")
        subject_indexes.build_indexes(space_id, subject)
        done(f"indexes of subject {subject!r}", started)


def settle(space: Space) -> None:
    # What autovacuum and the worker do soon after a bulk load.
    started = phase("VACUUM (ANALYZE)")
    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE) memories_memory")
    done("VACUUM (ANALYZE)", started)
    started = phase("lexicon refresh")
    refresh_lexicon(space.pk)
    done("lexicon refresh", started)


def warm() -> None:
    """Read the table and its indexes into shared buffers, where a server that has
    been serving the space holds them (and autoprewarm puts them back after a restart,
    memoryweb/embedded.py); say whether they fit. Searches of pages outside them wait
    on the kernel: with 1 GB of buffers, hybrid p95 was 19.5-22.9 ms."""
    started = phase("pg_prewarm of the table and its indexes")
    with connection.cursor() as cursor:
        cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_prewarm")
        cursor.execute(
            """
            SELECT coalesce(sum(pg_prewarm(c.oid)), 0) * current_setting('block_size')::int
            FROM pg_class c
            WHERE c.oid = 'memories_memory'::regclass
               OR c.oid IN (
                   SELECT indexrelid FROM pg_index WHERE indrelid = 'memories_memory'::regclass
               )
            """
        )
        (read,) = cursor.fetchone()
        cursor.execute("SELECT pg_size_bytes(current_setting('shared_buffers'))")
        (buffers,) = cursor.fetchone()
    mib = 1024 * 1024
    fits = "fit in" if read <= buffers else "do NOT fit in"
    print(
        f"table and indexes: {read / mib:,.0f} MiB; "
        f"they {fits} shared_buffers ({buffers / mib:,.0f} MiB)"
    )
    done("pg_prewarm", started)


def measure(space: Space, count: int, queries: int) -> None:
    fake = QueryVectors()
    search_module.get_backend = lambda: fake  # type: ignore[assignment]
    started = phase("searches")
    for mode in ("vector", "text", "hybrid"):
        for label, filters in (("no filter", Filters()), ("1% filter", Filters(subject="rare"))):
            db_ms, counts = [], []
            slowest: tuple[float, str] = (0.0, "")
            for i in range(2 * queries):
                topic = int(rng.integers(TOPICS))
                fake.next = vector_for(topic)
                with CaptureQueriesContext(connection) as captured:
                    result = search(
                        space,
                        sentence_for(topic),
                        mode=mode,
                        k=10,
                        filters=filters,
                        record_access=False,
                    )
                if i >= queries:
                    db_ms.append(result.db_ms)
                    counts.append(len(result.hits))
                    if result.db_ms > slowest[0]:
                        statement = max(
                            (q["sql"] for q in captured.captured_queries), key=len, default=""
                        )
                        slowest = (result.db_ms, statement)
            target = TARGETS_MS.get((mode, label))
            verdict = ""
            if target is not None:
                p95 = percentile(db_ms, 0.95)
                verdict = f"  target {target:.0f} ms: " + (
                    "met" if p95 < target else f"missed by {p95 - target:.1f} ms"
                )
            print(
                f"{count:>8} {mode:6} {label:9}  database {summary(db_ms)}  "
                f"min hits {min(counts)}{verdict}",
                flush=True,
            )
            if mode == "hybrid":
                explain(slowest[1])
    done("searches", started)


def explain(statement: str) -> None:
    """The plan of the slowest query's main statement, run again (now cached)."""
    if not statement.startswith("WITH"):
        return
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + statement)
        plan = "\n".join(f"    {VECTOR.sub(SHORT, line)}" for (line,) in cursor.fetchall())
    print(f"  plan of the slowest one's candidate statement:\n{plan}", flush=True)


def recall(space: Space, samples: int) -> None:
    """recall@10 of the nearest list against an exact scan, as search reads it: of the
    space's graph, and of the 1% filter's (its subject's own graph, if it has one)."""
    for label, filters in (("no filter", {}), ("1% filter", {"subject": "rare"})):
        started = phase(f"recall@10 on {samples} queries, {label}")
        found = 0
        scope = SqlScope.of(Memory.objects.for_space(space).filter(**filters))
        for _ in range(samples):
            vector = "[" + ",".join(map(str, vector_for(int(rng.integers(TOPICS))))) + "]"
            with connection.cursor() as cursor:
                cursor.execute(*nearest_sql(scope, vector, 10, exactly=False))
                approximate = {pk for pk, _ in cursor.fetchall()}
                cursor.execute(*nearest_sql(scope, vector, 10, exactly=True))
                exact = {pk for pk, _ in cursor.fetchall()}
            found += len(approximate & exact)
        share = found / (10 * samples)
        print(f"recall@10 (HNSW vs exact, {samples} queries, {label}): {share:.3f}")
        with connection.cursor() as cursor:
            statement, params = nearest_sql(scope, vector, 10, exactly=False)
            cursor.execute("EXPLAIN (COSTS OFF) " + statement, params)
            plan = " / ".join(VECTOR.sub(SHORT, line.strip()) for (line,) in cursor.fetchall())
        print(f"  the approximate list's plan: {plan}")
        done("recall", started)


def sizes(space: Space, count: int) -> None:
    mib = 1024 * 1024
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT pg_relation_size(c.oid), pg_total_relation_size(c.oid),
                   coalesce(pg_total_relation_size(nullif(c.reltoastrelid, 0)), 0),
                   pg_indexes_size(c.oid)
            FROM pg_class c WHERE c.relname = 'memories_memory'
            """
        )
        heap, total, toast, indexes = cursor.fetchone()
        cursor.execute("SELECT count(*) FROM memories_memory")
        (rows,) = cursor.fetchone()
        cursor.execute(
            """
            SELECT i.indexname, pg_relation_size(quote_ident(i.indexname)::regclass)
            FROM pg_indexes i WHERE i.tablename = 'memories_memory' ORDER BY 2 DESC
            """
        )
        each = cursor.fetchall()
    print(f"memories_memory ({rows} rows in the database, {count} in {SLUG}):")
    print(
        f"  heap {heap / mib:,.0f} MiB, TOAST {toast / mib:,.0f} MiB, "
        f"indexes {indexes / mib:,.0f} MiB, total {total / mib:,.0f} MiB"
    )
    for name, size in each:
        mark = ""
        if name == vector_indexes.index_name(space.pk):
            mark = "  <- the space's HNSW index"
        elif subject_indexes.belongs_to(name, space.pk):
            mark = "  <- a subject's own index"
        print(f"  {name:40} {size / mib:8,.0f} MiB{mark}")


def import_feature(count: int) -> None:
    """The import feature's own rate, for comparison: `count` memories exported from a
    scratch space and imported into another (`import_lines`, as POST /import does)."""
    source = Space.objects.create(slug=f"{SLUG}-export", name="Million benchmark: export")
    target = Space.objects.create(slug=f"{SLUG}-import", name="Million benchmark: import")
    try:
        for items, _ in chunks(count):
            services.create_memories(source, ACTOR, items)
        lines = [json.dumps(record) for record in export_space(source)]
        started = phase(f"import_lines of {count} exported memories")
        report = import_lines(target, ACTOR, lines)
        seconds = done("import_lines", started)
        print(
            f"import feature: {report.imported['memory']} memories in {seconds:.1f} s "
            f"({report.imported['memory'] / seconds:,.0f} memories/s), "
            f"{len(report.errors)} errors",
            flush=True,
        )
    finally:
        for space in (source, target):
            purge_space(space, ACTOR, reason="benchmark scratch space")


def main() -> None:
    parser = argparse.ArgumentParser(parents=[early])
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--recall-samples", type=int, default=20)
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--global-index", choices=("keep", "drop"), default="keep")
    parser.add_argument("--maintenance-work-mem", default="4GB")
    parser.add_argument("--maintenance-workers", type=int, default=1)
    parser.add_argument("--import-sample", type=int, default=0)
    args = parser.parse_args()

    print(f"machine: {machine()}; {load()}")
    ensure_database()
    if args.global_index == "drop":
        drop_global_index()
    if args.import_sample:
        import_feature(args.import_sample)
    print(f"database {DATABASE}; HNSW indexes: {hnsw_indexes()}")
    space = build(args.count, args.rebuild)
    build_index(space, args.rebuild, args.maintenance_work_mem, args.maintenance_workers)
    build_subject_indexes(space)
    settle(space)
    warm()
    measure(space, args.count, args.queries)
    recall(space, args.recall_samples)
    sizes(space, args.count)
    print(f"end: {load()}")


if __name__ == "__main__":
    main()

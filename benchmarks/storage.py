"""Vector storage: `vector` against `halfvec` on the same vectors, in the same run.

    .venv/bin/python benchmarks/storage.py [--size 20000] [--queries 200] [--keep]

Both storages get their own copy of the same synthetic vectors (search_latency.py's
clustered generator), in two tables of this script's own (bench_halfvec_vector and
bench_halfvec_halfvec, dropped at the end unless --keep), each with an HNSW index built
as the app builds its indexes (cosine, m=16, ef_construction=64). Reported per storage:
table and index size, index build time, the database time of the nearest-neighbour
statement (k=10, ef_search as configured; queries of both storages interleaved, so both
see the same load), and recall@10 against an exact float32 scan in numpy. The memories
table is not touched. The machine may be shared: CPU and load average are printed at
the start and the end.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
from common import machine, percentile, summary
from django.db import connection
from pgvector import Vector
from search_latency import TOPICS, vector_for

from apps.core.pgvector import binary_vector_cursor

STORAGES = ("vector", "halfvec")
DIM = 384


def table(storage: str) -> str:
    return f"bench_halfvec_{storage}"


def load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def build(size: int, rng: np.random.Generator) -> np.ndarray:
    """Both tables with the same `size` vectors; returns them as a float32 matrix."""
    topics = rng.integers(0, TOPICS, size=size)
    vectors = np.array([vector_for(int(t)) for t in topics], dtype=np.float32)
    with connection.cursor() as cursor:
        for storage in STORAGES:
            cursor.execute(f"DROP TABLE IF EXISTS {table(storage)}")
            cursor.execute(
                f"CREATE TABLE {table(storage)} (id integer PRIMARY KEY,"
                f" embedding {storage}({DIM}) NOT NULL)"
            )
    with (
        binary_vector_cursor() as raw,
        raw.copy(f"COPY {table('vector')} (id, embedding) FROM STDIN (FORMAT BINARY)") as copy,
    ):
        copy.set_types(["int4", "vector"])
        for i, vector in enumerate(vectors):
            copy.write_row((i, vector))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table('halfvec')} SELECT id, embedding::halfvec({DIM})"
            f" FROM {table('vector')}"
        )
    return vectors


def index(storage: str) -> float:
    began = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("SET maintenance_work_mem = '256MB'")
        cursor.execute(
            f"CREATE INDEX {table(storage)}_hnsw ON {table(storage)} USING hnsw"
            f" (embedding {storage}_cosine_ops) WITH (m = 16, ef_construction = 64)"
        )
        cursor.execute(f"VACUUM ANALYZE {table(storage)}")
    return time.perf_counter() - began


def sizes(storage: str) -> tuple[float, float]:
    """(table, index) in MB."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_table_size(%s::regclass), pg_relation_size(%s::regclass)",
            [table(storage), f"{table(storage)}_hnsw"],
        )
        row = cursor.fetchone()
    assert row is not None
    return row[0] / 2**20, row[1] / 2**20


def nearest(storage: str, query: list[float], k: int) -> tuple[float, list[int]]:
    """(milliseconds, ids) of the statement the search service runs for its vector side."""
    with connection.cursor() as cursor:
        began = time.perf_counter()
        cursor.execute(
            f"SELECT id FROM {table(storage)} ORDER BY embedding <=> %s::{storage} LIMIT %s",
            [Vector(query).to_text(), k],
        )
        ids = [row[0] for row in cursor.fetchall()]
        return (time.perf_counter() - began) * 1000, ids


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=20_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    print(f"machine: {machine()}; {load()}", flush=True)
    rng = np.random.default_rng(11)
    began = time.perf_counter()
    vectors = build(args.size, rng)
    print(f"loaded {args.size} vectors into both tables in {time.perf_counter() - began:.0f} s")
    built = {storage: index(storage) for storage in STORAGES}
    queries = [vector_for(int(t)) for t in rng.integers(0, TOPICS, size=args.queries)]
    exact = [np.argsort(-(vectors @ np.asarray(q, dtype=np.float32)))[:10] for q in queries]
    timings: dict[str, list[float]] = {storage: [] for storage in STORAGES}
    recall: dict[str, list[float]] = {storage: [] for storage in STORAGES}
    for rounds in range(2):  # the first round warms the caches and is not counted
        for query, truth in zip(queries, exact, strict=True):
            for storage in STORAGES:
                ms, ids = nearest(storage, query, 10)
                if rounds:
                    timings[storage].append(ms)
                    recall[storage].append(len(set(ids) & set(truth.tolist())) / 10)
    print(f"{args.size} vectors, {args.queries} queries (k=10); {load()}")
    print("storage  table MB  index MB  build s  nearest p50/p95 ms  recall@10")
    for storage in STORAGES:
        table_mb, index_mb = sizes(storage)
        spent = timings[storage]
        print(
            f"{storage:8} {table_mb:8.1f}  {index_mb:8.1f}  {built[storage]:7.1f}"
            f"  {percentile(spent, 0.5):7.2f} / {percentile(spent, 0.95):6.2f}"
            f"  {np.mean(recall[storage]):9.3f}   ({summary(spent)})"
        )
    if not args.keep:
        with connection.cursor() as cursor:
            for storage in STORAGES:
                cursor.execute(f"DROP TABLE {table(storage)}")
    print(f"machine: {machine()}; {load()}", flush=True)


if __name__ == "__main__":
    main()

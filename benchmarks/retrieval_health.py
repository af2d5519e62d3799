"""What the weekly retrieval health measurement finds and costs: recall@10 of each named
space's vector search against an exact scan (apps/retrieval/health.py), over the same
sample the job takes, and how long it took. Nothing is written: the spaces may be
other people's.

    .venv/bin/python benchmarks/retrieval_health.py bench-search-100000 bench-search-10000
        [--queries 200] [--index] [--memories-only]

With --index, every space is measured through the HNSW index as the search used it
before small spaces were searched exactly (settings.EXACT_SEARCH_BELOW set to 0).
The machine may be shared: the load average is printed with the CPU.
"""

from __future__ import annotations

import argparse
import os
import time

from common import machine
from django.conf import settings

from apps.retrieval import health
from apps.spaces.models import Space


def load() -> str:
    return "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("slugs", nargs="+")
    parser.add_argument("--queries", type=int, default=health.SAMPLE_SIZE)
    parser.add_argument("--index", action="store_true")
    parser.add_argument(
        "--memories-only", action="store_true", help="sample stored memories, not recorded queries"
    )
    args = parser.parse_args()
    if args.index:
        settings.EXACT_SEARCH_BELOW = 0
    print(machine())
    print(f"start: {load()}")
    for slug in args.slugs:
        space = Space.objects.get(slug=slug)
        started = time.perf_counter()
        snapshot = health.measure_recall(space, size=args.queries, recorded=not args.memories_only)
        seconds = time.perf_counter() - started
        recall = "—" if snapshot.recall is None else f"{snapshot.recall:.4f}"
        print(
            f"{slug:<28} {snapshot.embedded:>7} embedded  "
            f"{'exact' if snapshot.exact else 'index':<5}  recall@10 {recall}  "
            f"over {snapshot.sample_size} queries ({snapshot.from_queries} recorded)  "
            f"{seconds:6.1f} s ({1000 * seconds / max(1, snapshot.sample_size):.0f} ms/query)"
        )
    print(f"end: {load()}")


if __name__ == "__main__":
    main()

"""Ingest throughput, end to end: memories created through the service layer one by
one (as agents write them) or in batches, until a real Celery worker has embedded all
of them, compared with the raw speed of the model measured in the same run.

Each round ingests twice, under the default hygiene policy (every text scanned,
secrets redacted, findings flagged) and with the policy set to allow everything (no
scan), in alternating order, so the cost of hygiene on write is measured in the same
run. The memories are the hygiene benchmark's realistic mix (a tenth of them hold
contact details, credentials or planted instructions), each made unique.

    .venv/bin/python benchmarks/ingest.py [--count 1000] [--batch 100] [--rounds 3]

Uses the running embedded services of the profile (make services-up) and a scratch
space that is purged afterwards.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import secrets
import statistics
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import torch
from common import database_cpu_seconds, machine, percentile
from django.conf import settings
from hygiene_scan import memories as realistic_memories

from apps.audit.actors import Actor
from apps.audit.models import AuditEvent
from apps.hygiene.findings import CATEGORIES
from apps.memories import services
from apps.memories.models import Memory
from apps.retrieval import graph, vector_indexes
from apps.retrieval.embedding import MiniLMBackend
from apps.retrieval.tasks import EMBEDDING_LANES
from apps.spaces.models import Space
from apps.spaces.services import purge_space
from memoryweb.celery import app as celery_app
from tests.worker_process import start_worker_process, stop_worker_process

# The worker runs as the Procfile starts it: one torch thread per lane.
# It takes every queue: compiling UMAP for maps it never draws would take the cores.
WORKER_ENV = {
    **os.environ,
    "MEMORYWEB_EMBEDDING_THREADS": "1",
    "MEMORYWEB_PROJECTION_WARM_UP": "false",
}
BATCH = settings.EMBEDDING_BATCH_SIZE
EMBEDDING_QUEUE = settings.CELERY_TASK_ROUTES["apps.retrieval.tasks.embed_space"]["queue"]
DEFAULT_QUEUE = settings.CELERY_TASK_DEFAULT_QUEUE

ALLOW_ALL = {"hygiene": dict.fromkeys(CATEGORIES, "allow")}


def sentences(count: int, start: int = 0) -> list[str]:
    mix = realistic_memories(count, seed=start)
    return [f"Note {start + i}: {text}" for i, text in enumerate(mix)]


def fresh_sentences(count: int) -> Iterator[list[str]]:
    """Sets of sentences that no earlier round or run has stored.

    pgvector files a vector identical to one already in the HNSW graph under that
    element (up to ten rows share one) instead of inserting it, and a purged memory's
    element stays in the graph until VACUUM. Storing the same sentences again would
    time that shortcut, about a third of the real insert, not the insert ingest pays.
    """
    start = secrets.randbelow(10**6) * count
    while True:
        yield sentences(count, start)
        start += count


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument(
        "--batch",
        type=int,
        default=1,
        help="memories per service call (1: one create_memory call each)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="end-to-end runs, each between two timings of the raw model",
    )
    args = parser.parse_args()
    if args.rounds < 1 or args.count < 1 or args.batch < 1:
        parser.error("--count, --batch and --rounds must be at least 1")
    text_sets = fresh_sentences(args.count)
    texts = next(text_sets)

    model = MiniLMBackend()
    model.embed(texts[:BATCH])  # load and warm up
    actor = Actor.system("benchmark")
    # This machine's speed drifts within minutes, so each end-to-end run is set against
    # the raw model timed just before and just after it, taking the faster: a slow
    # moment in a raw timing must not flatter the share.
    rounds: dict[str, list[Round]] = {"default policy": [], "allow all": []}
    raw_after = raw_rate(model, texts)
    for round_number in range(args.rounds):
        # Alternate which policy goes first: the machine's speed drifts.
        order = list(rounds) if round_number % 2 == 0 else list(reversed(rounds))
        for policy in order:
            texts = next(text_sets)
            raw_before = raw_after
            space_settings = ALLOW_ALL if policy == "allow all" else {}
            with warm_worker(actor, space_settings) as (space, _hostname):
                started, started_at = time.perf_counter(), time.time()
                write_times = write_all(space, actor, texts, args.batch)
                writes_done = time.perf_counter() - started
                wait_embedded(space)
                ingest_rate = args.count / (time.perf_counter() - started)
                first_vector_after, steady_rate = batch_timing(space, started_at)
            raw_after = raw_rate(model, texts)
            rounds[policy].append(
                Round(
                    ingest_rate,
                    max(raw_before, raw_after, key=lambda raw: raw.rate),
                    write_times,
                    writes_done,
                    first_vector_after,
                    steady_rate,
                )
            )

    # Where the time goes: as many writes while the worker takes no embedding jobs,
    # storing their vectors (computed here first), then the worker embedding and
    # storing as many new ones, each part with the cores to itself.
    with warm_worker(actor) as (space, hostname):
        # Nor graph jobs (the default queue): the graph job is timed on its own below.
        for queue in (EMBEDDING_QUEUE, DEFAULT_QUEUE):
            celery_app.control.cancel_consumer(queue, destination=[hostname], reply=True)
        # Both policies twice, in the order ABBA, against the machine's drift.
        # CPU time too: on a shared machine the wall time of a write also counts other
        # processes' turns on the cores, its CPU time does not.
        write_seconds: dict[str, list[float]] = {"default policy": [], "allow all": []}
        write_cpu: dict[str, list[float]] = {"default policy": [], "allow all": []}
        write_database: dict[str, list[float]] = {"default policy": [], "allow all": []}
        for policy in ["default policy", "allow all", "allow all", "default policy"]:
            space.settings = ALLOW_ALL if policy == "allow all" else {}
            space.save(update_fields=["settings"])
            started, cpu_started = time.perf_counter(), time.process_time()
            database_started = database_cpu_seconds()
            write_all(space, actor, next(text_sets), args.batch)
            write_seconds[policy].append(time.perf_counter() - started)
            write_cpu[policy].append(time.process_time() - cpu_started)
            write_database[policy].append(database_cpu_since(database_started))
        writes_alone = statistics.mean(write_seconds["default policy"])
        writes_allowed = statistics.mean(write_seconds["allow all"])
        hygiene_cpu_ms = (
            1000
            * (
                statistics.mean(write_cpu["default policy"])
                - statistics.mean(write_cpu["allow all"])
            )
            / args.count
        )
        database_started = database_cpu_seconds()
        store_alone = store_all(space, model) / 4
        store_database = database_cpu_since(database_started) / 4
        # The scratch space is small, so it has no HNSW index (vectors are searched
        # exactly): storing a vector there touches no graph. A large space has its own
        # graph: a stored vector waits outside it, and the graph job inserts it
        # (apps/retrieval/graph.py). Both timed after giving the scratch space the index
        # the job would give it at the threshold.
        vector_indexes.build_index(space.pk)
        indexed_size = Memory.objects.for_space(space).embedded().count()
        # Three times each part, everything allowed: single timings on this machine
        # drift by a fifth from one minute to the next.
        indexed: dict[str, list[float]] = {"write": [], "store": [], "graph": []}
        indexed_database: dict[str, list[float]] = {"write": [], "store": [], "graph": []}
        space.settings = ALLOW_ALL
        space.save(update_fields=["settings"])
        for _ in range(3):
            started, database_started = time.perf_counter(), database_cpu_seconds()
            write_all(space, actor, next(text_sets), args.batch)
            indexed["write"].append(time.perf_counter() - started)
            indexed_database["write"].append(database_cpu_since(database_started))
            database_started = database_cpu_seconds()
            indexed["store"].append(store_all(space, model))
            indexed_database["store"].append(database_cpu_since(database_started))
            started, database_started = time.perf_counter(), database_cpu_seconds()
            added = graph.add_pending(space.pk)
            indexed["graph"].append(time.perf_counter() - started)
            indexed_database["graph"].append(database_cpu_since(database_started))
            assert added == args.count, f"the graph job added {added} of {args.count} vectors"
        write_all(space, actor, next(text_sets), args.batch)
        started, started_at = time.perf_counter(), time.time()
        for queue in (DEFAULT_QUEUE, EMBEDDING_QUEUE):
            celery_app.control.add_consumer(queue, destination=[hostname], reply=True)
        wait_embedded(space)
        worker_alone = time.perf_counter() - started
        worker_start, worker_steady = batch_timing(space, started_at)
    raw_last = raw_rate(model, texts)

    print(f"machine: {machine()}")
    print(f"ingest end to end, {args.count} memories, {args.batch} per service call:")
    for policy, runs in rounds.items():
        print(f"  {policy}:")
        for number, run in enumerate(runs, 1):
            print(f"    round {number}: {run}")
        print(
            f"  {policy}: median share of raw model speed "
            f"{statistics.median(r.share for r in runs):.0f}% of the faster timing "
            f"({statistics.median(r.share_of_all_cores for r in runs):.0f}% of one batch at "
            f"a time on all cores); median ingest "
            f"{statistics.median(r.ingest_rate for r in runs):.1f} memories/s"
        )
    with_policy = statistics.median(r.ingest_rate for r in rounds["default policy"])
    without = statistics.median(r.ingest_rate for r in rounds["allow all"])
    print(
        f"hygiene on write: the default policy ingests {with_policy:.1f} memories/s against "
        f"{without:.1f} with everything allowed: {100 * (without - with_policy) / without:+.1f}% "
        "slower (negative: faster, within the machine's drift)"
    )
    print(
        f"parts alone: writes {args.count / writes_alone:8.1f} memories/s "
        f"({1000 * writes_alone / args.count:.2f} ms each); the worker's embed and store "
        f"{args.count / worker_alone:8.1f} memories/s "
        f"({100 * args.count / worker_alone / raw_last.rate:.0f}% of the raw model's "
        f"{raw_last.rate:.1f} sentences/s just after): first vectors stored "
        f"{worker_start:.2f}s after it took the queue again, then {worker_steady:.1f} "
        f"memories/s ({100 * worker_steady / raw_last.rate:.0f}%)"
    )
    hygiene_ms = 1000 * (writes_alone - writes_allowed) / args.count
    print(
        f"database work per memory, batched, everything allowed: write"
        f" {1000 * writes_allowed / args.count:.2f} ms + storing its vector"
        f" {1000 * store_alone / args.count:.2f} ms in a space searched exactly (no HNSW"
        f" index) = {1000 * (writes_allowed + store_alone) / args.count:.2f} ms"
    )

    def per_memory(seconds: list[float]) -> str:
        each = sorted(1000 * s / args.count for s in seconds)
        return f"{statistics.median(each):.2f} ms ({', '.join(f'{ms:.2f}' for ms in each)})"

    together = [w + s for w, s in zip(indexed["write"], indexed["store"], strict=True)]
    database_together = [
        w + s for w, s in zip(indexed_database["write"], indexed_database["store"], strict=True)
    ]
    print(
        f"in a space with its own HNSW index ({indexed_size} vectors in it), everything"
        f" allowed, median of three (each): write {per_memory(indexed['write'])}, store"
        f" {per_memory(indexed['store'])}, the vector waiting outside the graph; write +"
        f" store {per_memory(together)}; then the graph job inserts it,"
        f" {per_memory(indexed['graph'])}"
    )
    # The same parts as PostgreSQL's own CPU time: the figures above also hold this
    # process's Python (half of a write) and the waits on the server.
    allowed_database = statistics.mean(write_database["allow all"])
    print(
        "PostgreSQL's CPU per memory, everything allowed: in a space searched exactly,"
        f" write {1000 * allowed_database / args.count:.2f} ms + store"
        f" {1000 * store_database / args.count:.2f} ms ="
        f" {1000 * (allowed_database + store_database) / args.count:.2f} ms; in a space"
        f" with its own HNSW index, write {per_memory(indexed_database['write'])} + store"
        f" {per_memory(indexed_database['store'])} = {per_memory(database_together)};"
        f" the graph job {per_memory(indexed_database['graph'])}"
    )
    print(
        f"hygiene on write, writes alone: {1000 * writes_alone / args.count:.2f} ms each "
        f"under the default policy, {1000 * writes_allowed / args.count:.2f} ms with "
        f"everything allowed: {hygiene_ms:+.2f} ms a memory ({hygiene_cpu_ms:+.2f} ms of the "
        "writing process's CPU time)"
    )
    # The ceiling these cores allow: every memory needs its share of the model and the
    # database work of writing it and storing its vector, all on the same cores.
    model_ms = 1000 * EMBEDDING_LANES / raw_last.lanes
    writes_ms, store_ms = 1000 * writes_alone / args.count, 1000 * store_alone / args.count
    print(
        f"cost of a memory in core-milliseconds: the model in lanes {model_ms:.2f}, the "
        f"write {writes_ms:.2f}, storing its vector {store_ms:.2f} (batches of {BATCH}, "
        f"one at a time): with nothing else on the cores, ingest could reach "
        f"{100 * model_ms / (model_ms + writes_ms + store_ms):.0f}% of the lanes"
    )
    # Ingest on these cores is bound by that cost, so the share of it the policy's
    # extra CPU takes is what hygiene slows ingest by (on a quiet machine: the other
    # parts are wall times, which other work inflates).
    print(
        f"hygiene's share of a memory's cost: {hygiene_cpu_ms:.2f} of "
        f"{model_ms + writes_ms + store_ms:.2f} core-ms, "
        f"{100 * hygiene_cpu_ms / (model_ms + writes_ms + store_ms):.1f}%"
    )


@dataclasses.dataclass
class Round:
    ingest_rate: float
    raw: Raw
    write_times: list[float]
    writes_done: float
    first_vector_after: float
    steady_rate: float

    @property
    def share(self) -> float:
        return 100 * self.ingest_rate / self.raw.rate

    @property
    def share_of_all_cores(self) -> float:
        return 100 * self.ingest_rate / self.raw.all_cores

    def __str__(self) -> str:
        return (
            f"{self.ingest_rate:6.1f} memories/s against the raw model's "
            f"{self.raw.rate:6.1f} sentences/s ({self.raw}): {self.share:3.0f}%; "
            f"service call median {statistics.median(self.write_times):.2f} ms, "
            f"p95 {percentile(self.write_times, 0.95):.2f} ms; writes committed after "
            f"{self.writes_done:.1f}s; first vectors stored {self.first_vector_after:.2f}s "
            f"after the first write, then {self.steady_rate:6.1f} memories/s "
            f"({100 * self.steady_rate / self.raw.rate:.0f}% of raw)"
        )


def batch_timing(space: Space, started_at: float) -> tuple[float, float]:
    """(seconds from the first write to the first stored batch, memories a second
    stored after it): the worker's start-up apart from its steady pace."""
    batches = list(
        AuditEvent.objects.for_space(space)
        .filter(action="memory.embed", created_at__gte=datetime.fromtimestamp(started_at, UTC))
        .order_by("created_at")
        .values_list("created_at", "summary")
    )
    first_at = batches[0][0].timestamp()
    rest = sum(summary["count"] for _, summary in batches[1:])
    span = batches[-1][0].timestamp() - first_at
    return first_at - started_at, rest / span if span else float("nan")


@dataclasses.dataclass
class Raw:
    """Sentences a second for the model alone, in the worker's batches, both ways
    it can run: one batch at a time on every core, and a batch per lane on one core each
    (as the worker runs it). The faster is the figure ingest is set against."""

    all_cores: float
    lanes: float

    @property
    def rate(self) -> float:
        return max(self.all_cores, self.lanes)

    def __str__(self) -> str:
        return (
            f"batches of {BATCH}: {self.all_cores:.1f} one at a time on all cores, "
            f"{self.lanes:.1f} in {EMBEDDING_LANES} one-core lanes"
        )


def raw_rate(model: MiniLMBackend, texts: list[str]) -> Raw:
    batches = [texts[i : i + BATCH] for i in range(0, len(texts), BATCH)]
    threads = torch.get_num_threads()
    started = time.perf_counter()
    for batch in batches:
        model.embed(batch)
    all_cores = len(texts) / (time.perf_counter() - started)
    torch.set_num_threads(1)
    try:
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=EMBEDDING_LANES) as pool:
            list(pool.map(model.embed, batches))
        lanes = len(texts) / (time.perf_counter() - started)
    finally:
        torch.set_num_threads(threads)
    return Raw(all_cores, lanes)


@contextlib.contextmanager
def warm_worker(
    actor: Actor, space_settings: dict[str, Any] | None = None
) -> Iterator[tuple[Space, str]]:
    """A real worker with its model loaded, and a scratch space purged afterwards."""
    worker, hostname = start_worker_process(env=WORKER_ENV, quiet=True)
    space = Space.objects.create(
        slug=f"bench-ingest-{uuid.uuid4().hex[:6]}", name="bench", settings=space_settings or {}
    )
    try:
        # The first memory loads the worker's model: the figures are steady-state ingest.
        services.create_memory(space, actor, content="warm-up")
        wait_embedded(space)
        yield space, hostname
    finally:
        stop_worker_process(worker)
        purge_space(space, actor, reason="benchmark finished")


def database_cpu_since(started: float | None) -> float:
    """PostgreSQL's CPU seconds since `started` (NaN when it cannot be read)."""
    now = database_cpu_seconds()
    return float("nan") if started is None or now is None else now - started


def write_all(space: Space, actor: Actor, texts: list[str], batch: int) -> list[float]:
    """Create the memories through the service layer; returns each call's ms."""
    write_times = []
    for i in range(0, len(texts), batch):
        chunk = texts[i : i + batch]
        began = time.perf_counter()
        if batch == 1:
            services.create_memory(space, actor, content=chunk[0])
        else:
            services.create_memories(space, actor, [{"content": t} for t in chunk])
        write_times.append((time.perf_counter() - began) * 1000)
    return write_times


def store_all(space: Space, model: MiniLMBackend) -> float:
    """Seconds to store the pending memories' vectors, computed beforehand, as the
    worker stores them."""
    rows = list(
        Memory.objects.for_space(space)
        .pending_embedding()
        .order_by("created_at", "pk")
        .values_list("pk", "content_hash", "content")
    )
    vectors = model.embed([content for _, _, content in rows])
    started = time.perf_counter()
    for i in range(0, len(rows), BATCH):
        batch = rows[i : i + BATCH]
        services.store_embeddings(
            space, [(pk, hash_) for pk, hash_, _ in batch], vectors[i : i + BATCH], model.name
        )
    return time.perf_counter() - started


def wait_embedded(space: Space) -> None:
    while Memory.objects.for_space(space).pending_embedding().exists():
        time.sleep(0.05)


if __name__ == "__main__":
    main()

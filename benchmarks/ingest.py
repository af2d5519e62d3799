"""Ingest throughput, end to end: memories created through the service layer one by
one (as agents write them) until a real Celery worker has embedded all of them,
compared with the raw speed of the model measured in the same run.

    .venv/bin/python benchmarks/ingest.py [--count 1000]

Uses the running embedded services of the profile (make services-up) and a scratch
space that is purged afterwards.
"""

from __future__ import annotations

import argparse
import contextlib
import time
import uuid
from collections.abc import Iterator

from common import machine
from django.conf import settings

from apps.audit.actors import Actor
from apps.core.worker_process import start_worker_process, stop_worker_process
from apps.memories import services
from apps.memories.models import Memory
from apps.retrieval.embedding import MiniLMBackend
from apps.spaces.models import Space
from apps.spaces.services import purge_space
from memoryweb.celery import app as celery_app

EMBEDDING_QUEUE = settings.CELERY_TASK_ROUTES["apps.retrieval.tasks.embed_space"]["queue"]

SUBJECTS = ["garden", "marathon", "restaurant", "cello", "sourdough", "bicycle", "novel", "trip"]


def sentences(count: int) -> list[str]:
    return [
        f"Note {i}: the {SUBJECTS[i % len(SUBJECTS)]} plan changed on day {i % 31} "
        f"because of item {i * 7 % 101}."
        for i in range(count)
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument(
        "--batch",
        type=int,
        default=1,
        help="memories per service call (1: one create_memory call each)",
    )
    args = parser.parse_args()
    texts = sentences(args.count)

    model = MiniLMBackend()
    model.embed(texts[:64])  # load and warm up
    started = time.perf_counter()
    for i in range(0, len(texts), 64):
        model.embed(texts[i : i + 64])
    raw_rate = len(texts) / (time.perf_counter() - started)

    actor = Actor.system("benchmark")
    with warm_worker(actor) as (space, _hostname):
        started = time.perf_counter()
        write_times = write_all(space, actor, texts, args.batch)
        writes_done = time.perf_counter() - started
        wait_embedded(space)
        elapsed = time.perf_counter() - started

    # Where the time goes: the same writes while the worker takes no embedding jobs,
    # then the worker embedding and storing what they left, each part with the cores
    # to itself.
    with warm_worker(actor) as (space, hostname):
        celery_app.control.cancel_consumer(EMBEDDING_QUEUE, destination=[hostname], reply=True)
        started = time.perf_counter()
        write_all(space, actor, texts, args.batch)
        writes_alone = time.perf_counter() - started
        started = time.perf_counter()
        celery_app.control.add_consumer(EMBEDDING_QUEUE, destination=[hostname], reply=True)
        wait_embedded(space)
        worker_alone = time.perf_counter() - started

    ingest_rate = args.count / elapsed
    write_times.sort()
    print(f"machine: {machine()}")
    print(f"raw model (batches of 64):      {raw_rate:8.1f} sentences/s")
    print(
        f"ingest end to end ({args.count} memories, {args.batch} per call): "
        f"{ingest_rate:8.1f} memories/s "
        f"({100 * ingest_rate / raw_rate:.0f}% of raw model speed)"
    )
    print(
        f"service-layer call: median {write_times[len(write_times) // 2]:.2f} ms, "
        f"p95 {write_times[int(0.95 * (len(write_times) - 1))]:.2f} ms; "
        f"all writes committed after {writes_done:.1f}s"
    )
    print(
        f"parts alone: writes {args.count / writes_alone:8.1f} memories/s "
        f"({1000 * writes_alone / args.count:.2f} ms each); the worker's embed and store "
        f"{args.count / worker_alone:8.1f} "
        f"memories/s ({100 * args.count / worker_alone / raw_rate:.0f}% of raw model speed)"
    )


@contextlib.contextmanager
def warm_worker(actor: Actor) -> Iterator[tuple[Space, str]]:
    """A real worker with its model loaded, and a scratch space purged afterwards."""
    worker, hostname = start_worker_process(quiet=True)
    space = Space.objects.create(slug=f"bench-ingest-{uuid.uuid4().hex[:6]}", name="bench")
    try:
        # The first memory loads the worker's model: the figures are steady-state ingest.
        services.create_memory(space, actor, content="warm-up")
        wait_embedded(space)
        yield space, hostname
    finally:
        stop_worker_process(worker)
        purge_space(space, actor, reason="benchmark finished")


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


def wait_embedded(space: Space) -> None:
    while Memory.objects.for_space(space).filter(embedding=None).exists():
        time.sleep(0.05)


if __name__ == "__main__":
    main()

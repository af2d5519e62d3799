"""gunicorn settings for serving MemoryWeb: `gunicorn -c python:memoryweb.gunicorn_conf`.

The command line still chooses the bind address, and may override what is set here
(docker/Dockerfile).
"""

import logging
import math
import os
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gunicorn.workers.gthread import ThreadWorker

logger = logging.getLogger("memoryweb.gunicorn")

CGROUP_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")


def usable_cores(cpu_max: Path = CGROUP_CPU_MAX) -> int:
    """The CPUs this process may use: its affinity mask, capped by a cgroup v2 CPU quota
    (a container's --cpus), rounded up."""
    cores = len(os.sched_getaffinity(0))
    try:
        quota, period = cpu_max.read_text().split()
        if quota != "max":
            cores = min(cores, math.ceil(int(quota) / int(period)))
    except (OSError, ValueError):
        pass  # no cgroup v2 quota to read: the affinity mask is the limit
    return max(1, cores)


def env_count(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise RuntimeError(f"{name} must be a whole number of at least 1, got {raw!r}")
    return int(raw)


# One sync worker per core. A request's work is CPU: the query's embedding, Python and
# PostgreSQL on the same machine. More processes than cores only share the cores, so
# every request in a burst takes longer (benchmarks/load.py --gunicorn-workers shows it).
workers = env_count("GUNICORN_WORKERS", usable_cores())
# One thread: a query's embedding waits for the GIL whenever another thread of its
# process runs Python (docker/README.md), so scale with processes.
threads = env_count("GUNICORN_THREADS", 1)


# `make run` restarts the workers when the project's code or templates change
# (MEMORYWEB_RELOAD, set in the Procfile). The arbiter watches, and it imports none of
# the project: gunicorn's own --reload polls every module a worker has imported, torch's
# thousands included, every second in every worker.
PROJECT_DIR = Path(__file__).resolve().parent.parent
WATCHED_DIRS = [PROJECT_DIR / name for name in ("apps", "memoryweb", "templates")]
WATCHED_SUFFIXES = (".py", ".html")


class FileWatcher:
    """The project files that were added, changed or removed since the last look."""

    def __init__(self, roots: list[Path]) -> None:
        self.roots = roots
        self.stamps = self._stamps()

    def _stamps(self) -> dict[Path, int]:
        stamps = {}
        for root in self.roots:
            for path in root.rglob("*"):
                if path.suffix in WATCHED_SUFFIXES:
                    try:
                        stamps[path] = path.stat().st_mtime_ns
                    except OSError:
                        continue  # deleted while we looked: the next look sees it gone
        return stamps

    def changed_files(self) -> list[Path]:
        now, seen = self._stamps(), self.stamps
        self.stamps = now
        return sorted(path for path in now.keys() | seen.keys() if now.get(path) != seen.get(path))

    def run(self, on_change: Callable[[list[Path]], None], interval: float = 1.0) -> None:
        while True:
            time.sleep(interval)
            changed = self.changed_files()
            if changed:
                on_change(changed)


def when_ready(server: Any) -> None:
    if os.environ.get("MEMORYWEB_RELOAD", "").strip().lower() not in ("1", "true", "yes", "on"):
        return

    def restart_workers(changed: list[Path]) -> None:
        server.log.info("%s changed: restarting the workers", changed[0].relative_to(PROJECT_DIR))
        os.kill(os.getpid(), signal.SIGHUP)  # gunicorn's graceful reload of its workers

    watcher = FileWatcher(WATCHED_DIRS)
    threading.Thread(
        target=watcher.run, args=(restart_workers,), name="memoryweb-reload", daemon=True
    ).start()


def post_worker_init(worker: Any) -> None:
    """Do before the worker takes requests what its first request would otherwise wait
    for: about a second for the imports behind the URLconf and the cache client, the
    connections to the database and the broker, and seconds more for the embedding
    model (far longer while the machine is busy)."""
    from django.conf import settings
    from django.core.cache import cache
    from django.db import connection
    from django.urls import get_resolver

    from memoryweb.celery import app as celery_app

    get_resolver().url_patterns  # noqa: B018 (imports every view and what they use)
    celery_app.finalize()  # binds every task, which the first queued job would do
    try:
        cache.get("memoryweb:warm-up")
        if not isinstance(worker, ThreadWorker):
            # A sync worker serves its requests on this thread, with this connection. A
            # threaded one serves them on its threads, each with a connection of its
            # own: one opened here would sit idle, beyond workers x threads.
            connection.ensure_connection()
        # A pooled broker connection for the jobs that requests queue.
        with celery_app.producer_or_acquire() as producer:
            producer.connection.ensure_connection(max_retries=1)
    except Exception:  # a server that is away now is reported by requests, not here
        logger.warning("warm-up: a server did not answer", exc_info=True)
    if settings.EMBEDDING_WARM_UP:
        from apps.retrieval.embedding import warm_up

        warm_up()

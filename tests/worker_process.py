"""A real Celery worker in a child process, for the test suite and the benchmarks."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import IO

import kombu.exceptions
import redis.exceptions
from django.conf import settings

from memoryweb.celery import app as celery_app


def start_worker_process(
    env: Mapping[str, str] | None = None,
    quiet: bool = False,
    timeout: float = 60,
    options: Sequence[str] = (),
    log: IO[bytes] | None = None,
) -> tuple[subprocess.Popen[bytes], str]:
    """Start `celery worker` (solo pool) and return once it answers a ping.

    `options` are more command-line options (they win over the defaults); `log`
    receives the worker's output.
    """
    hostname = f"child-{uuid.uuid4().hex[:8]}@localhost"
    output = log if log is not None else (subprocess.DEVNULL if quiet else None)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "memoryweb",
            "worker",
            "--pool=solo",
            "--loglevel=warning",
            f"--hostname={hostname}",
            "--without-mingle",
            "--without-gossip",
            *options,
        ],
        env=dict(env) if env is not None else None,
        cwd=str(settings.BASE_DIR),
        stdout=output,
        stderr=output,
    )
    deadline = time.monotonic() + timeout
    try:
        while not _answers(hostname):
            if process.poll() is not None:
                raise RuntimeError(f"the Celery worker exited with {process.returncode}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the Celery worker did not answer within {timeout:.0f} s")
    except BaseException:
        # Never leave a worker behind: it would take the next run's tasks.
        stop_worker_process(process)
        raise
    return process, hostname


def _answers(hostname: str) -> bool:
    try:
        return bool(celery_app.control.ping(destination=[hostname], timeout=0.5))
    except (OSError, kombu.exceptions.OperationalError, redis.exceptions.ConnectionError):
        # A pooled connection to a broker that restarted: the next ping opens a new one.
        return False


def stop_worker_process(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()

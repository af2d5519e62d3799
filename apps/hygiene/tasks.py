"""The hygiene scan job: takes a job id, flags the space's stored content, records its
progress. Idempotent: a re-run (or a redelivered job after a worker died) adds only the
flags still missing."""

from __future__ import annotations

from celery import shared_task
from django.db import InterfaceError, OperationalError

from apps.audit.context import request_id_var
from apps.hygiene.scans import scan_needed, scan_stored, start_scan
from apps.jobs.models import Job
from apps.memories.models import Episode, Memory
from apps.spaces.models import Space


@shared_task(
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=2,
    retry_backoff_max=300,
    max_retries=5,
)
def scan_space(job_id: int) -> dict[str, int]:
    job = Job.objects.filter(pk=job_id).select_related("space").first()
    if job is None or job.space is None or job.status in (Job.Status.SUCCEEDED, Job.Status.FAILED):
        return {}
    space = job.space
    request_id_var.set(f"hygiene-scan-{job_id}")
    total = Memory.objects.for_space(space).count() + Episode.objects.for_space(space).count()
    job.done, job.counts = 0, {}  # a redelivered job starts over: the scan is idempotent
    job.start(total=total)
    try:
        counts = scan_stored(space, lambda rows, added: job.advance(rows, flagged=added))
    except (OperationalError, InterfaceError):
        raise
    except Exception as exc:
        job.fail(f"{type(exc).__name__}: {exc}")
        raise
    job.counts = counts
    job.save(update_fields=["counts"])
    job.finish()
    return counts


@shared_task
def scan_unscanned_spaces() -> list[int]:
    """Beat's run: a scan for each space with content that this SCANNER_VERSION has
    not scanned (a new scanner, or a space never scanned)."""
    started = []
    for space in Space.objects.all():
        if scan_needed(space) and (space.memories.exists() or space.episodes.exists()):
            started.append(start_scan(space, "scanner version").pk)
    return started

"""The consolidation job: takes a job id, runs the operations, records what it did.
Idempotent: proposals are unique per change, so a re-run (or a redelivered job after a
worker died half-way) proposes only what is still missing."""

from __future__ import annotations

from celery import shared_task
from django.db import InterfaceError, OperationalError

from apps.audit.context import request_id_var
from apps.consolidation import services
from apps.consolidation.services.recheck import recheck_stale
from apps.jobs.models import Job
from apps.spaces.models import Space


@shared_task(
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=2,
    retry_backoff_max=300,
    max_retries=5,
)
def consolidate_space(job_id: int) -> dict[str, int]:
    job = Job.objects.filter(pk=job_id).select_related("space").first()
    if job is None or job.space is None or job.status in (Job.Status.SUCCEEDED, Job.Status.FAILED):
        return {}
    request_id_var.set(f"consolidate-{job_id}")
    only = job.params.get("only") or services.ALL_OPERATIONS
    if job.status == Job.Status.QUEUED:
        job.start(total=len(only))
    try:
        if "rechecked" not in job.counts:
            # Once per job, before the operations (each runs as its own step below).
            rechecked = recheck_stale(job.space)
            job.advance(
                0,
                rechecked=rechecked.pop("rechecked"),
                **{f"recheck_{status}": count for status, count in rechecked.items()},
            )
        for operation in only:
            if f"{operation}_proposed" in job.counts:
                continue  # done before the worker running it died: resume after it
            report = services.consolidate(job.space, only=[operation], recheck=False)
            job.advance(
                1,
                **{f"{operation}_proposed": report.proposed.get(operation, 0)},
                **{f"{operation}_applied": report.applied.get(operation, 0)},
            )
    except (OperationalError, InterfaceError):
        raise
    except Exception as exc:
        job.fail(f"{type(exc).__name__}: {exc}")
        raise
    job.finish()
    return dict(job.counts)


@shared_task
def consolidate_all_spaces() -> list[int]:
    """Beat's nightly run: one job per space that has memories."""
    from apps.consolidation.services import start_consolidation

    started = []
    for space in Space.objects.filter(memories__isnull=False).distinct():
        started.append(start_consolidation(space).pk)
    return started

"""The projection job. It takes a job id and is idempotent (see services.project)."""

from __future__ import annotations

from celery import shared_task
from django.db import InterfaceError, OperationalError

from apps.jobs.models import Job
from apps.maps import services


@shared_task(
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=2,
    retry_backoff_max=300,
    max_retries=5,
)
def project_space(job_id: int) -> int:
    job = Job.objects.filter(pk=job_id).select_related("space").first()
    if job is None:
        return 0
    try:
        projection = services.project(job)
    except (OperationalError, InterfaceError):
        raise  # retried; the job starts over
    except Exception as exc:
        job.fail(f"{type(exc).__name__}: {exc}")
        raise
    return projection.points if projection else 0

"""Starting a background job from a page: the job row and its task message together,
and a clear message (not a 500) when the task queue cannot be reached."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.contrib import messages
from django.db import transaction
from django.http import HttpRequest
from kombu.exceptions import OperationalError as BrokerError

from apps.jobs.models import Job

logger = logging.getLogger(__name__)


def queue_job(request: HttpRequest, start: Callable[[], Job], what: str) -> Job | None:
    """Run `start` (which saves a Job and queues its task on commit); None, with the
    reason shown to the person and kept on the failed job, when the broker is away."""
    job: Job | None = None
    try:
        # The task is queued when this block commits, so a broker that is down
        # raises here, after the job row is saved.
        with transaction.atomic():
            job = start()
    except (BrokerError, OSError) as exc:
        logger.warning("could not queue %s: %s", what, exc)
        if job is not None:
            job.fail(f"Could not reach the task queue: {exc}")
        messages.error(
            request,
            f"The {what} could not start: the task queue (broker) is unreachable. "
            "Check that the broker and the worker are running, then try again.",
        )
        return None
    return job

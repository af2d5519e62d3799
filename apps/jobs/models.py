"""Background jobs the dashboard can show: what runs, how far it got, what failed."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from apps.spaces.models import Space


class JobQuerySet(models.QuerySet["Job"]):
    def for_space(self, space: Space | int) -> JobQuerySet:
        space_id = space if isinstance(space, int) else space.pk
        return self.filter(space_id=space_id)

    def running(self) -> JobQuerySet:
        return self.filter(status__in=[Job.Status.QUEUED, Job.Status.RUNNING])


class Job(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    kind = models.CharField(max_length=32)
    # Null for jobs over every space (e.g. re-embedding all spaces).
    space = models.ForeignKey(
        Space, null=True, blank=True, on_delete=models.CASCADE, related_name="jobs"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    counts = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    params = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    objects = JobQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["space", "-created_at"], name="job_recent")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=["queued", "running", "succeeded", "failed"]),
                name="job_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.status} {self.done}/{self.total}"

    @property
    def progress(self) -> float:
        return 1.0 if self.total == 0 else min(1.0, self.done / self.total)

    def start(self, total: int) -> None:
        now = timezone.now()
        self.status, self.total, self.started_at, self.updated_at = (
            self.Status.RUNNING,
            total,
            now,
            now,
        )
        self.save(update_fields=["status", "total", "started_at", "updated_at"])

    def advance(self, by: int, **counts: int) -> None:
        self.done += by
        for key, value in counts.items():
            self.counts[key] = self.counts.get(key, 0) + value
        self.updated_at = timezone.now()
        self.save(update_fields=["done", "counts", "updated_at"])

    def finish(self) -> None:
        now = timezone.now()
        self.status, self.finished_at, self.updated_at = self.Status.SUCCEEDED, now, now
        self.save(update_fields=["status", "finished_at", "updated_at"])

    def fail(self, error: str) -> None:
        now = timezone.now()
        self.status, self.error, self.finished_at, self.updated_at = (
            self.Status.FAILED,
            error[:5000],
            now,
            now,
        )
        self.save(update_fields=["status", "error", "finished_at", "updated_at"])

"""Embedding maps: a 2-D projection of a space's memories, with clusters.

A projection is derived data, like the embedding itself: making one changes no memory
(no versions), and the job that makes it records one audit event. Only the newest
finished projection of a space is shown; older points are dropped once a new one is in.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from apps.jobs.models import Job
from apps.memories.models import Memory
from apps.spaces.models import Space
from apps.spaces.scoping import SpaceScopedManager


class Projection(models.Model):
    space = models.ForeignKey(Space, on_delete=models.CASCADE, related_name="+")
    job = models.OneToOneField(Job, null=True, on_delete=models.SET_NULL, related_name="+")
    embedding_model = models.CharField(max_length=200, blank=True)
    params = models.JSONField(default=dict, blank=True)
    points = models.PositiveIntegerField(default=0)
    clusters = models.PositiveIntegerField(default=0)
    finished_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = SpaceScopedManager["Projection"]()

    class Meta:
        indexes = [models.Index(fields=["space", "-finished_at"], name="projection_latest")]

    def __str__(self) -> str:
        return f"projection {self.pk} of space {self.space_id} ({self.points} points)"


class MapPoint(models.Model):
    projection = models.ForeignKey(Projection, on_delete=models.CASCADE, related_name="+")
    space = models.ForeignKey(Space, on_delete=models.CASCADE, related_name="+")
    memory = models.ForeignKey(Memory, on_delete=models.CASCADE, related_name="+")
    # The point's place in the projection's arrays: the page sends coordinates, not
    # ids, and a click or a selection names points by ordinal.
    ordinal = models.PositiveIntegerField()
    x = models.FloatField()
    y = models.FloatField()
    cluster = models.IntegerField(help_text="-1: in no cluster (noise)")
    # Cosine similarity to its nearest other memory: near 1 means a near-duplicate.
    nearest_similarity = models.FloatField()

    objects = SpaceScopedManager["MapPoint"]()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["projection", "memory"], name="mappoint_unique"),
            models.UniqueConstraint(fields=["projection", "ordinal"], name="mappoint_ordinal"),
        ]

    def __str__(self) -> str:
        return f"{self.memory_id} at ({self.x:.2f}, {self.y:.2f})"

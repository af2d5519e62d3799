"""Proposals: changes a consolidation job suggests, waiting for a person or a policy.

A proposal names its memories and carries the change it would make and the evidence
for it. Its fingerprint (operation + memories) is unique per space, so a rejected
proposal is remembered and the same change is never proposed again.
"""

from __future__ import annotations

import hashlib

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils import timezone

from apps.spaces.models import Space
from apps.spaces.scoping import SpaceScopedManager


class Operation(models.TextChoices):
    MERGE = "merge", "Merge near-duplicates"
    LINK = "link", "Link related memories"
    SUPERSEDE = "supersede", "Replace an outdated fact"
    SUMMARY = "summary", "Summarise a topic"
    ARCHIVE = "archive", "Archive a fading memory"
    ENTITY = "entity", "Record an entity"


class Proposal(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        APPLIED = "applied", "Applied"
        REJECTED = "rejected", "Rejected"
        # The memories changed since: applying it would act on what nobody reviewed.
        # A re-check turns it back to pending (fresh evidence) or retires it.
        STALE = "stale", "Stale"
        # Re-checked against the memories' current versions, it no longer holds.
        RETIRED = "retired", "Retired"
        # Applied, then taken back: the memories are as before; it may be applied again.
        UNDONE = "undone", "Undone"

    space = models.ForeignKey(Space, on_delete=models.CASCADE, related_name="+")
    operation = models.CharField(max_length=16, choices=Operation.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    memory_ids = ArrayField(models.UUIDField())
    # The versions the memories had when proposed: a later edit makes the proposal stale.
    memory_versions = ArrayField(models.PositiveIntegerField())
    fingerprint = models.CharField(max_length=64)
    change = models.JSONField(default=dict, blank=True)
    evidence = models.JSONField(default=dict, blank=True)
    score = models.FloatField()
    created_at = models.DateTimeField(default=timezone.now)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.CharField(max_length=200, blank=True)
    result = models.JSONField(default=dict, blank=True)
    # Why it is stale, retired or undone, in words a curator reads on the card.
    status_reason = models.TextField(blank=True)

    objects = SpaceScopedManager["Proposal"]()

    class Meta:
        indexes = [
            models.Index(fields=["space", "status", "operation", "-score"], name="proposal_queue")
        ]
        constraints = [
            models.UniqueConstraint(fields=["space", "fingerprint"], name="proposal_once"),
            models.CheckConstraint(
                condition=models.Q(
                    status__in=["pending", "applied", "rejected", "stale", "retired", "undone"]
                ),
                name="proposal_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.operation} of {len(self.memory_ids)} ({self.status})"

    @staticmethod
    def fingerprint_of(operation: str, memory_ids: list[str]) -> str:
        key = operation + ":" + ",".join(sorted(str(i) for i in memory_ids))
        return hashlib.sha256(key.encode()).hexdigest()

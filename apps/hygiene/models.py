"""Findings of the hygiene scanner kept on the memory or episode they were found in.

A flag stores where a finding is (offsets), what it is (category, type, detector) and a
keyed digest of the span, never the span's text: a flagged secret must not be copied
anywhere else.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import models
from django.db.models import Q
from django.utils import timezone

from apps.memories.models import Episode, Memory
from apps.spaces.models import Space
from apps.spaces.scoping import SpaceScopedManager


class FlagQuerySet(models.QuerySet["Flag"]):
    def open(self) -> FlagQuerySet:
        return self.filter(status=Flag.Status.OPEN)

    def on_memories(self) -> FlagQuerySet:
        return self.filter(memory__isnull=False)


class FlagManager(SpaceScopedManager["Flag"]):
    _queryset_class = FlagQuerySet

    def for_space(self, space: Space | int) -> FlagQuerySet:
        return super().for_space(space)  # type: ignore[return-value]

    def for_spaces(self, spaces: Iterable[Space | int]) -> FlagQuerySet:
        return super().for_spaces(spaces)  # type: ignore[return-value]


class Flag(models.Model):
    class Category(models.TextChoices):
        SECRET = "secret", "Secret"
        PII = "pii", "Personal data"
        INJECTION = "injection", "Prompt injection"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        DISMISSED = "dismissed", "Dismissed"
        RESOLVED = "resolved", "Resolved"

    space = models.ForeignKey(Space, on_delete=models.CASCADE, related_name="flags")
    memory = models.ForeignKey(
        Memory, null=True, blank=True, on_delete=models.CASCADE, related_name="flags"
    )
    episode = models.ForeignKey(
        Episode, null=True, blank=True, on_delete=models.CASCADE, related_name="flags"
    )
    category = models.CharField(max_length=16, choices=Category.choices)
    type = models.CharField(max_length=64)
    # Code-point offsets into the text the flag was computed on, end exclusive.
    start = models.PositiveIntegerField()
    end = models.PositiveIntegerField()
    detector = models.CharField(max_length=64)
    scanner_version = models.CharField(max_length=16)
    # content_hash() of the text the offsets refer to.
    content_hash = models.CharField(max_length=64)
    # Keyed digest of the flagged span (apps.hygiene.policy.span_digest): a dismissal
    # outlives edits elsewhere in the text and rescans, without keeping the span.
    span_digest = models.CharField(max_length=32)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.CharField(max_length=200, blank=True)

    objects = FlagManager()

    class Meta:
        indexes = [
            models.Index(fields=["space", "status", "category", "type"], name="flag_counts"),
            models.Index(fields=["memory", "status"], name="flag_memory"),
            models.Index(fields=["episode", "status"], name="flag_episode"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(memory__isnull=False, episode__isnull=True)
                    | Q(memory__isnull=True, episode__isnull=False)
                ),
                name="flag_on_memory_or_episode",
            ),
            models.CheckConstraint(
                condition=Q(category__in=["secret", "pii", "injection"]),
                name="flag_category_valid",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["open", "dismissed", "resolved"]),
                name="flag_status_valid",
            ),
            models.CheckConstraint(condition=Q(end__gt=models.F("start")), name="flag_span"),
        ]

    def __str__(self) -> str:
        return f"{self.category}/{self.type} {self.status}"

    @property
    def key(self) -> tuple[str, str, str]:
        """What identifies a finding across rescans and edits elsewhere in the text."""
        return (self.category, self.type, self.span_digest)

    def as_hit_mark(self) -> dict[str, Any]:
        return {"category": self.category, "type": self.type}


def open_flags_of(memory: Any) -> models.QuerySet[Flag]:
    """The open flags of `memory` (an id or an OuterRef to one), across spaces: only for
    a subquery correlated with memories already narrowed to one space (search filters)."""
    return Flag._base_manager.filter(memory_id=memory, status=Flag.Status.OPEN)

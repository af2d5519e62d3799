"""The append-only audit trail: every read and write, by whom, with which request."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from apps.audit.actors import ActorType, actor_foreign_keys, actor_indexes
from apps.spaces.models import Space
from apps.spaces.scoping import SpaceScopedManager


class AuditEvent(models.Model):
    """One action on one target. A database trigger refuses updates and deletes,
    except a purge's redaction (apps.audit.redaction) of `reason` and `summary`.

    `summary` never holds memory content, only which fields changed and their
    scalar values; a purge redacts those that are text (a subject, tags), so purging
    a memory really removes its text.
    """

    # Indexed by the indexes below, which all start with it: every write adds an event.
    space = models.ForeignKey(
        Space, on_delete=models.CASCADE, related_name="audit_events", db_index=False
    )
    actor_type = models.CharField(max_length=8, choices=ActorType.choices)
    actor_user, actor_token = actor_foreign_keys()
    actor_label = models.CharField(max_length=200)
    action = models.CharField(max_length=64)
    target_type = models.CharField(max_length=32)
    target_id = models.CharField(max_length=64)
    request_id = models.CharField(max_length=64, blank=True)
    reason = models.TextField(blank=True)
    summary = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = SpaceScopedManager["AuditEvent"]()

    class Meta:
        indexes = [
            models.Index(fields=["space", "-created_at"], name="audit_recent"),
            models.Index(fields=["space", "target_type", "target_id"], name="audit_target"),
            models.Index(fields=["space", "action"], name="audit_action"),
            models.Index(fields=["space", "actor_label"], name="audit_actor"),
            *actor_indexes("auditevent"),
        ]

    def __str__(self) -> str:
        return f"{self.actor_label} {self.action} {self.target_type}:{self.target_id}"

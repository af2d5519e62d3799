"""Stored first answers to requests sent with an Idempotency-Key header."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from apps.spaces.models import Space


class IdempotentRequest(models.Model):
    """The response a client got for (space, client, key); a retry gets it again.

    Only successful responses are kept: a failed request changed nothing, so
    retrying it (perhaps fixed) must run it again.
    """

    space = models.ForeignKey(Space, on_delete=models.CASCADE, related_name="+")
    client = models.CharField(max_length=64)  # "token:<id>" or "user:<id>"
    key = models.CharField(max_length=200)
    fingerprint = models.CharField(max_length=64)  # of method, path and body
    status_code = models.PositiveSmallIntegerField()
    response_body = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["space", "client", "key"], name="idempotentrequest_unique_key"
            ),
        ]
        indexes = [models.Index(fields=["created_at"], name="idempotentrequest_age")]

    def __str__(self) -> str:
        return f"{self.client} {self.key}"

"""Housekeeping for the API."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from apps.api.models import IdempotentRequest


@shared_task
def forget_old_idempotency_records() -> int:
    """Replays are promised for API_IDEMPOTENCY_HOURS; older answers are dropped."""
    cutoff = timezone.now() - timedelta(hours=settings.API_IDEMPOTENCY_HOURS)
    deleted, _ = IdempotentRequest.objects.filter(created_at__lt=cutoff).delete()
    return deleted

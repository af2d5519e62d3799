"""The retrieval health panel of a space: recall@10 against exact, vectors missing or
pending, the model mix, sizes and search latency (apps/retrieval/health.py)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from apps.dashboard.access import Curator, HtmxHttpRequest, go_to, space_page
from apps.retrieval import health as retrieval_health
from apps.spaces.models import Role


@require_GET
@space_page()
def health(request: HtmxHttpRequest, curator: Curator) -> HttpResponse:
    figures = retrieval_health.health_of(curator.space, timezone.now())
    context = {
        "nav": "health",
        "h": figures,
        "attention_below": retrieval_health.ATTENTION_BELOW,
        "sample_size": retrieval_health.SAMPLE_SIZE,
    }
    return render(request, "dashboard/health.html", context)


@require_POST
@space_page(Role.EDITOR)
def measure(request: HtmxHttpRequest, curator: Curator) -> HttpResponse:
    job = retrieval_health.start_measurement(curator.space, f"measure now by {curator.actor.label}")
    messages.success(request, f"Recall measurement queued as job #{job.pk}.")
    return go_to(request, reverse("dashboard:health", args=[curator.space.slug]))

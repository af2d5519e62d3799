"""The Flags page: what the hygiene scanner found in the space's memories and
episodes, counted by category and type, filtered, and acted on in bulk."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.db.models import Count
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from apps.dashboard.access import Curator, HtmxHttpRequest, go_to, space_page
from apps.hygiene import curation
from apps.hygiene.models import Flag
from apps.hygiene.policy import policy_of
from apps.hygiene.scans import start_scan
from apps.memories import services
from apps.spaces.models import Role

FLAGS_SHOWN = 200
ACTIONS = {"dismiss", "archive", "redact"}


def _filters(params: dict[str, str]) -> dict[str, str]:
    """The page's filters from the query string: unknown values are ignored."""
    category = params.get("category", "")
    status = params.get("status", Flag.Status.OPEN)
    return {
        "category": category if category in Flag.Category.values else "",
        "type": params.get("type", "").strip()[:64],
        "status": status if status in (*Flag.Status.values, "any") else Flag.Status.OPEN,
    }


@require_GET
@space_page()
def flags(request: HtmxHttpRequest, curator: Curator) -> HttpResponse:
    chosen = _filters(request.GET.dict())
    all_flags = Flag.objects.for_space(curator.space)
    counts = list(
        all_flags.open()
        .values("category", "type")
        .annotate(n=Count("pk"))
        .order_by("category", "-n", "type")
    )
    rows = all_flags.select_related("memory", "episode").only(
        "pk",
        "category",
        "type",
        "start",
        "end",
        "detector",
        "status",
        "created_at",
        "resolved_by",
        "memory__id",
        "memory__subject",
        "memory__kind",
        "memory__status",
        "episode__id",
        "episode__session",
    )
    if chosen["category"]:
        rows = rows.filter(category=chosen["category"])
    if chosen["type"]:
        rows = rows.filter(type=chosen["type"])
    if chosen["status"] != "any":
        rows = rows.filter(status=chosen["status"])
    shown = list(rows.order_by("-created_at", "-pk")[: FLAGS_SHOWN + 1])
    last_scan = (
        curator.space.jobs.filter(kind="hygiene_scan").order_by("-created_at").only("pk").first()
    )
    context = {
        "nav": "flags",
        "counts": counts,
        "open_total": sum(row["n"] for row in counts),
        "rows": shown[:FLAGS_SHOWN],
        "more": len(shown) > FLAGS_SHOWN,
        "chosen": chosen,
        "query": urlencode({k: v for k, v in chosen.items() if v}),
        "categories": Flag.Category.choices,
        "statuses": [*Flag.Status.choices, ("any", "Any")],
        "last_scan": last_scan,
        "policy": policy_of(curator.space),
    }
    return render(request, "dashboard/flags.html", context)


def _back(curator: Curator, query: str) -> str:
    chosen = _filters(dict(pair.split("=", 1) for pair in query.split("&") if "=" in pair))
    clean = urlencode({k: v for k, v in chosen.items() if v})
    return reverse("dashboard:flags", args=[curator.space.slug]) + (f"?{clean}" if clean else "")


@require_POST
@space_page(Role.EDITOR)
def act(request: HtmxHttpRequest, curator: Curator) -> HttpResponse:
    action = request.POST.get("action", "")
    ids = [int(value) for value in request.POST.getlist("flag") if value.isdigit()][:FLAGS_SHOWN]
    back = _back(curator, request.POST.get("query", ""))
    if action not in ACTIONS:
        messages.error(request, "Choose dismiss, archive or redact.")
        return go_to(request, back)
    if not ids:
        messages.error(request, "Select at least one flag.")
        return go_to(request, back)
    space, actor = curator.space, curator.actor
    try:
        if action == "dismiss":
            done = curation.dismiss_flags(space, actor, ids)
            messages.success(request, f"Dismissed {done} flag{'s' if done != 1 else ''}.")
        elif action == "archive":
            done = curation.archive_flagged(space, actor, ids)
            messages.success(request, f"Archived {done} memor{'ies' if done != 1 else 'y'}.")
        else:
            done = curation.redact_flagged(space, actor, ids)
            messages.success(request, f"Redacted {done} memor{'ies' if done != 1 else 'y'}.")
    except services.MemoryServiceError as refused:
        messages.error(request, refused.message)
    return go_to(request, back)


@require_POST
@space_page(Role.EDITOR)
def scan_now(request: HtmxHttpRequest, curator: Curator) -> HttpResponse:
    job = start_scan(curator.space, f"scan now by {curator.actor.label}")
    messages.success(request, f"Scan queued as job #{job.pk}.")
    return go_to(request, reverse("dashboard:flags", args=[curator.space.slug]))

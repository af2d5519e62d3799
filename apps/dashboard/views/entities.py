"""Entities that consolidation found (people, names, #topics): the space's list with
how many memories mention each, and each entity's page listing those memories."""

from __future__ import annotations

from uuid import UUID

from django.db.models import Count, Q
from django.db.models.functions import Left
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from apps.dashboard.access import Curator, space_page
from apps.memories.models import Entity, Memory

ENTITIES_SHOWN = 200
MEMORIES_SHOWN = 200
SNIPPET_CHARS = 200


@require_GET
@space_page()
def entities(request: HttpRequest, curator: Curator) -> HttpResponse:
    name = request.GET.get("q", "").strip()[:200]
    kind = request.GET.get("kind", "")
    if kind not in Entity.EntityKind.values:
        kind = ""
    rows = Entity.objects.for_space(curator.space).annotate(mention_count=Count("mentions"))
    if name:
        rows = rows.filter(Q(name__icontains=name) | Q(normalized_name__icontains=name))
    if kind:
        rows = rows.filter(kind=kind)
    shown = list(rows.order_by("-mention_count", "name")[: ENTITIES_SHOWN + 1])
    context = {
        "nav": "entities",
        "rows": shown[:ENTITIES_SHOWN],
        "more": len(shown) > ENTITIES_SHOWN,
        "q": name,
        "kind": kind,
        "kinds": Entity.EntityKind.choices,
    }
    return render(request, "dashboard/entities.html", context)


@require_GET
@space_page()
def entity(request: HttpRequest, curator: Curator, entity_id: UUID) -> HttpResponse:
    found = Entity.objects.for_space(curator.space).filter(pk=entity_id).first()
    if found is None:
        raise Http404("No such entity in this space.")
    mentioning = (
        Memory.objects.for_space(curator.space)
        .filter(mentions__entity=found)
        .only("id", "kind", "status", "subject", "occurred_at", "created_at")
        .annotate(snippet=Left("content", SNIPPET_CHARS))
        .order_by("-occurred_at", "-created_at")
    )
    total = mentioning.count()
    context = {
        "nav": "entities",
        "entity": found,
        "memories": list(mentioning[:MEMORIES_SHOWN]),
        "total": total,
    }
    return render(request, "dashboard/entity.html", context)

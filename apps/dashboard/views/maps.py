"""The embedding map: a WebGL scatter of the newest projection, coloured by cluster,
kind, status, agent, age or near-duplicates; hover shows a snippet, a click opens the
memory, a box or lasso selection lists the memories with the browser's bulk actions.

The page sends the points as typed arrays (plotly's base64 encoding of numpy
arrays), not one object per point: 100k points are a few megabytes, not tens.
Points are named by their ordinal in the projection; ids travel only on demand.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go
from django import forms
from django.contrib import messages
from django.db.models import Exists, OuterRef
from django.db.models.functions import Left
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from apps.dashboard.access import Curator, HtmxHttpRequest, go_to, space_page
from apps.dashboard.forms import BULK_ACTIONS
from apps.dashboard.services import BULK_LIMIT
from apps.maps import services as maps
from apps.maps.models import MapPoint, Projection
from apps.memories.models import Kind, Memory, Status
from apps.spaces.models import Role

COLOURINGS = {
    "cluster": "Cluster",
    "kind": "Kind",
    "status": "Status",
    "agent": "Agent",
    "age": "Age",
    "duplicates": "Near-duplicates",
}
NEAR_DUPLICATE = 0.95  # cosine similarity to the nearest other memory
# Categorical colourings get a trace (and a legend entry) per value up to this many.
LEGEND_MAX = 24
NOISE = "#9ca3af"
SELECTION_ROWS = 200
SECONDS_PER_DAY = 86_400


class MapForm(forms.Form):
    colour = forms.ChoiceField(choices=list(COLOURINGS.items()), required=False, label="Colour by")


def _columns(points: Sequence[tuple[Any, ...]], index: int) -> list[Any]:
    return [row[index] for row in points]


def _categorical(
    xs: np.ndarray, ys: np.ndarray, ordinals: np.ndarray, labels: list[str]
) -> list[Any]:
    values = sorted(set(labels), key=lambda v: (v.startswith("no "), v))
    if len(values) > LEGEND_MAX:
        codes = np.array([values.index(v) for v in labels], dtype=np.int16)
        return [_scatter(xs, ys, ordinals, "memories", {"color": codes, "colorscale": "Turbo"})]
    traces = []
    codes_of = {value: i for i, value in enumerate(values)}
    codes = np.array([codes_of[v] for v in labels])
    for value in values:
        chosen = codes == codes_of[value]
        marker = {"color": NOISE} if value.startswith("no ") else {}
        traces.append(_scatter(xs[chosen], ys[chosen], ordinals[chosen], value, marker))
    return traces


def _scatter(
    xs: np.ndarray, ys: np.ndarray, ordinals: np.ndarray, name: str, marker: dict[str, Any]
) -> go.Scattergl:
    return go.Scattergl(
        x=xs.astype(np.float32),
        y=ys.astype(np.float32),
        customdata=ordinals.astype(np.uint32),
        mode="markers",
        name=name,
        marker={"size": 5, "opacity": 0.8, **marker},
        hovertemplate=f"{name}<extra></extra>",
    )


def _labels(colour: str, rows: Sequence[tuple[Any, ...]]) -> list[str]:
    if colour == "cluster":
        return [f"cluster {c}" if c >= 0 else "no cluster" for c in _columns(rows, 3)]
    if colour == "duplicates":
        return [
            "near-duplicate" if s >= NEAR_DUPLICATE else "no close copy" for s in _columns(rows, 4)
        ]
    if colour == "kind":
        names = dict(Kind.choices)
        return [str(names.get(kind, kind)) for kind in _columns(rows, 5)]
    if colour == "status":
        return list(_columns(rows, 6))
    return [agent or "no agent" for agent in _columns(rows, 7)]


def figure(rows: Sequence[tuple[Any, ...]], colour: str) -> dict[str, Any]:
    ordinals = np.array(_columns(rows, 0), dtype=np.uint32)
    xs = np.array(_columns(rows, 1), dtype=np.float32)
    ys = np.array(_columns(rows, 2), dtype=np.float32)
    now = timezone.now()
    if colour == "age":
        days = np.array(
            [(now - created).total_seconds() / SECONDS_PER_DAY for created in _columns(rows, 8)],
            dtype=np.float32,
        )
        marker = {
            "color": days,
            "colorscale": "Viridis",
            "reversescale": True,
            "colorbar": {"title": {"text": "age (days)"}},
        }
        traces = [_scatter(xs, ys, ordinals, "memories", marker)]
    else:
        traces = _categorical(xs, ys, ordinals, _labels(colour, rows))
    layout = go.Layout(
        dragmode="lasso",
        hovermode="closest",
        showlegend=colour != "age",
        legend={"itemsizing": "constant"},
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        xaxis={"visible": False},
        yaxis={"visible": False, "scaleanchor": "x"},
        height=620,
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)",
        uirevision="map",
    )
    return json.loads(go.Figure(data=traces, layout=layout).to_json())


def _shown_points(projection: Projection) -> list[tuple[Any, ...]]:
    """One row per point still worth drawing (its memory not deleted since)."""
    return list(
        maps.points_of(projection)
        .exclude(memory__status=Status.DELETED)
        .order_by("ordinal")
        .values_list(
            "ordinal",
            "x",
            "y",
            "cluster",
            "nearest_similarity",
            "memory__kind",
            "memory__status",
            "memory__agent",
            "memory__created_at",
        )
    )


def _not_projected(curator: Curator, projection: Projection) -> int:
    on_map = MapPoint.objects.for_space(curator.space).filter(
        projection=projection, memory=OuterRef("pk")
    )
    return maps.mappable(curator.space).filter(~Exists(on_map)).count()


@require_GET
@space_page()
def embedding_map(request: HtmxHttpRequest, curator: Curator) -> HttpResponse:
    form = MapForm(request.GET)
    colour = (form.cleaned_data["colour"] if form.is_valid() else "") or "cluster"
    projection = maps.latest(curator.space)
    running = curator.space.jobs.running().filter(kind="project").order_by("-created_at").first()
    context: dict[str, Any] = {
        "nav": "map",
        "form": form,
        "projection": projection,
        "running": running,
        "colour": colour,
    }
    if projection is not None:
        rows = _shown_points(projection)
        context.update(
            figure=figure(rows, colour),
            shown=len(rows),
            not_projected=_not_projected(curator, projection),
            bulk_actions=BULK_ACTIONS,
        )
    # Only a swap of the panel gets the panel; an htmx navigation gets the page.
    partial = request.htmx and request.htmx.target == "map-panel"
    template = "dashboard/map.html#panel" if partial else "dashboard/map.html"
    return render(request, template, context)


@require_POST
@space_page(Role.EDITOR)
def project(request: HtmxHttpRequest, curator: Curator) -> HttpResponse:
    job = maps.start_projection(curator.space)
    messages.success(request, "Projecting this space: the map appears when the job finishes.")
    return go_to(request, reverse("dashboard:job", args=[curator.space.slug, job.pk]))


def _projection_or_404(curator: Curator, projection_id: int) -> Projection:
    found = Projection.objects.for_space(curator.space).filter(pk=projection_id).first()
    if found is None:
        raise Http404("No such map in this space")
    return found


@require_GET
@space_page()
def point(request: HtmxHttpRequest, curator: Curator, projection_id: int, ordinal: int) -> Any:
    """A point's memory: a hover card for htmx, else the memory's page."""
    projection = _projection_or_404(curator, projection_id)
    found = (
        maps.points_of(projection)
        .filter(ordinal=ordinal)
        .values_list("memory_id", flat=True)
        .first()
    )
    if found is None:
        raise Http404("No such point on this map")
    if not request.htmx:
        return redirect("dashboard:memory", curator.space.slug, found)
    memory = (
        Memory.objects.for_space(curator.space)
        .filter(pk=found)
        .annotate(snippet=Left("content", 240))
        .only("pk", "kind", "status", "subject", "created_at")
        .first()
    )
    return render(request, "dashboard/map.html#hover", {"memory": memory})


@require_POST
@space_page()
def selection(request: HtmxHttpRequest, curator: Curator, projection_id: int) -> HttpResponse:
    """The memories behind a box or lasso selection, with the bulk actions."""
    projection = _projection_or_404(curator, projection_id)
    raw = request.POST.get("ordinals", "")
    ordinals = sorted({int(o) for o in raw.split(",") if o.strip().isdigit()})
    too_many = len(ordinals) > BULK_LIMIT
    ids = list(
        maps.points_of(projection)
        .filter(ordinal__in=ordinals[:BULK_LIMIT])
        .values_list("memory_id", flat=True)
    )
    shown = (
        Memory.objects.for_space(curator.space)
        .filter(pk__in=ids)
        .exclude(status=Status.DELETED)
        .annotate(snippet=Left("content", 160))
        .only("pk", "kind", "status", "subject", "created_at")
        .order_by("-created_at")
    )
    memories = list(shown[:SELECTION_ROWS])
    context = {
        "selected": memories,
        "selected_count": len(ids),
        "too_many": too_many,
        "limit": BULK_LIMIT,
        "rows_cut": len(ids) > len(memories),
        "all_ids": ids,
        "bulk_actions": BULK_ACTIONS,
        "return_to": reverse("dashboard:map", args=[curator.space.slug]),
    }
    return render(request, "dashboard/map.html#selection", context)

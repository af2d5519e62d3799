"""The embedding map: a WebGL scatter of the newest projection, coloured by cluster,
kind, status, agent, age or near-duplicates; hover shows a snippet, a click opens the
memory, a box or lasso selection lists the memories with the browser's bulk actions.

The page sends the points once, as base64 typed arrays (static/js/memoryweb.js
builds plotly's traces from them): x and y quantized to 16 bits over the map's
bounds, and a category code or a quantized value per point for the colouring. Points
are named by their ordinal in the projection, implicit in their order (only the
ordinals of deleted memories are listed, as gaps); ids travel only on demand. About
8 bytes of text per point, where plotly's own encoding (float32 x and y, a uint32
ordinal, per trace) took 16.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import plotly.graph_objects as go
from django.contrib import messages
from django.core.cache import cache
from django.db import connections
from django.db.models.functions import Left
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.safestring import SafeString
from django.views.decorators.http import require_GET, require_POST

from apps.audit.models import AuditEvent
from apps.core import replicas
from apps.core.params import InvalidParameter, parse_int
from apps.core.replicas import PRIMARY
from apps.dashboard import charts
from apps.dashboard.access import Curator, HtmxHttpRequest, go_to, space_page
from apps.dashboard.forms import BULK_ACTIONS, MapForm
from apps.dashboard.queueing import queue_job
from apps.dashboard.services import BULK_LIMIT
from apps.maps import services as maps
from apps.maps.models import Projection
from apps.memories.models import SECONDS_PER_DAY, Kind, Memory, Status
from apps.spaces.models import Role, Space

NEAR_DUPLICATE = 0.95  # cosine similarity to the nearest other memory
# Categorical colourings get a trace (and a legend entry) per value up to this many.
LEGEND_MAX = 24
NOISE = "#9ca3af"
SELECTION_ROWS = 200
# The points listed under the map, for whoever cannot point at them (keyboard, screen
# reader): a few hundred, by cluster; the memory browser lists every memory.
LISTED_POINTS = 300
# Points as large as the map can take: big while few, smaller as they crowd together.
POINT_SIZES = ((500, 12), (20_000, 8), (None, 5))  # (up to this many points, size)
# A drawn map is kept until the space's memories change; this bounds how long a change
# that committed behind a later one (and so did not change the latest event) can hide.
DRAWN_MAP_SECONDS = 600


@dataclass
class Points:
    """The drawable points of a projection as columns, with one colouring's values."""

    ordinals: np.ndarray
    xs: np.ndarray
    ys: np.ndarray
    values: np.ndarray  # per point: a category (str or int) or, for age, days
    clusters: np.ndarray  # whatever the colouring: the listed points go by cluster

    def __len__(self) -> int:
        return len(self.ordinals)


# What each colouring reads per point, in SQL over the point (p) and its memory (m),
# and how: a number as big-endian bytes (its `...send` function) and numpy's type for
# them, a text in an array.
COLOUR_SQL = {
    "cluster": "int4send(p.cluster)",
    "duplicates": f"boolsend(p.nearest_similarity >= {NEAR_DUPLICATE})",
    "kind": "m.kind",
    "status": "m.status",
    "agent": "m.agent",
    "age": f"float8send(EXTRACT(EPOCH FROM now() - m.created_at)::float8 / {SECONDS_PER_DAY})",
}
# Numbers stay numbers: sorting 100k Python objects for the legend would be slow.
VALUE_TYPES: dict[str, tuple[str, type]] = {
    "cluster": (">i4", np.int32),
    "duplicates": ("?", np.bool_),
    "age": (">f8", np.float32),
}


def shown_points(projection: Projection, colour: str, using: str = PRIMARY) -> Points:
    """The points whose memories still exist and are not deleted, in ordinal order.

    One row of columns, each aggregated in PostgreSQL as the bytes of its numbers
    (texts as an array), read into numpy without a Python object per value: 100k
    points as rows took 270-410 ms to fetch and unpack, these 120-140 ms."""
    numeric = colour in VALUE_TYPES
    value = COLOUR_SQL[colour]
    values_of = f"string_agg({value}, ''::bytea" if numeric else f"array_agg({value}"
    with connections[using].cursor() as cursor:
        cursor.execute(
            f"""
            SELECT string_agg(int4send(p.ordinal), ''::bytea ORDER BY p.ordinal),
                   string_agg(float4send(p.x::float4), ''::bytea ORDER BY p.ordinal),
                   string_agg(float4send(p.y::float4), ''::bytea ORDER BY p.ordinal),
                   string_agg(int4send(p.cluster), ''::bytea ORDER BY p.ordinal),
                   {values_of} ORDER BY p.ordinal)
            FROM maps_mappoint p JOIN memories_memory m ON m.id = p.memory_id
            WHERE p.projection_id = %s AND p.space_id = %s AND m.space_id = %s
                AND m.status <> %s
            """,
            # The memories' space as well: the join then reads this space's part of
            # an index, not every space's memories.
            [projection.pk, projection.space_id, projection.space_id, Status.DELETED],
        )
        ordinals, xs, ys, clusters, values = cursor.fetchone()
    if numeric:
        wire, dtype = VALUE_TYPES[colour]
        read_values: np.ndarray = np.frombuffer(values or b"", wire).astype(dtype)
    else:
        read_values = np.array(values or [], dtype=object)
    return Points(
        ordinals=np.frombuffer(ordinals or b"", ">u4").astype(np.uint32),
        xs=np.frombuffer(xs or b"", ">f4").astype(np.float32),
        ys=np.frombuffer(ys or b"", ">f4").astype(np.float32),
        values=read_values,
        clusters=np.frombuffer(clusters or b"", ">i4").astype(np.int32),
    )


def _names(colour: str, values: np.ndarray) -> list[str]:
    """A legend name per distinct value (values as np.unique sorts them)."""
    if colour == "cluster":
        return [f"cluster {c}" if c >= 0 else "no cluster" for c in values]
    if colour == "duplicates":
        return ["near-duplicate" if v else "no close copy" for v in values]
    if colour == "kind":
        kinds = dict(Kind.choices)
        return [str(kinds.get(v, v)) for v in values]
    if colour == "agent":
        return [v or "no agent" for v in values]
    return [str(v) for v in values]


QUANTA = 65535  # levels of a 16-bit quantized coordinate or value


def _base64(values: np.ndarray) -> str:
    """Little-endian bytes, as JavaScript's typed arrays read them."""
    return base64.b64encode(values.astype(values.dtype.newbyteorder("<")).tobytes()).decode()


def _quantized(values: np.ndarray) -> dict[str, Any]:
    """16-bit steps between the lowest and highest value: a step of the map is far
    below a pixel even when a box zoom magnifies a corner a hundred times."""
    low = float(values.min()) if len(values) else 0.0
    high = float(values.max()) if len(values) else 0.0
    scale = (values.astype(np.float64) - low) / ((high - low) or 1.0)
    steps = np.rint(scale * QUANTA).astype(np.uint16)
    return {"u2": _base64(steps), "low": low, "high": high}


def _gaps(ordinals: np.ndarray) -> list[int]:
    """The ordinals missing from 0..last (deleted memories), so the page can number
    the points it gets without an ordinal per point."""
    if not len(ordinals):
        return []
    present = np.zeros(int(ordinals[-1]) + 1, dtype=bool)
    present[ordinals] = True
    return [int(o) for o in np.flatnonzero(~present)]


def _categorical(points: Points, colour: str) -> tuple[list[dict[str, Any]], np.ndarray]:
    """Traces that pick their points by category code, and the codes."""
    distinct, codes = np.unique(points.values, return_inverse=True)
    names = _names(colour, distinct)
    if len(names) > LEGEND_MAX:
        marker = {"colorscale": "Turbo"}
        return [_trace(points, "memories", marker, colour_from="codes")], codes
    # Named values first, then the "no ..." catch-alls, each its own trace and legend entry.
    order = sorted(range(len(names)), key=lambda i: (names[i].startswith("no "), names[i]))
    traces = []
    for i in order:
        marker = {"color": NOISE} if names[i].startswith("no ") else {}
        traces.append(_trace(points, names[i], marker, code=i))
    return traces, codes


def point_size(count: int) -> int:
    return next(size for limit, size in POINT_SIZES if limit is None or count <= limit)


def _trace(points: Points, name: str, marker: dict[str, Any], **picks: Any) -> dict[str, Any]:
    """A scattergl trace without its points: `code` picks the points of one category
    (else it takes them all), `colour_from` colours them by the codes or the values."""
    trace = go.Scattergl(
        mode="markers",
        name=name,
        marker={"size": point_size(len(points)), "opacity": 0.8, **marker},
        hovertemplate=f"{name}<extra></extra>",
    ).to_plotly_json()
    return {**trace, **picks}


def figure(points: Points, colour: str) -> SafeString:
    """The figure as JSON for a <script type="application/json">, escaped as
    json_script would: the layout, the traces, and the points once for all of them."""
    packed: dict[str, Any] = {
        "count": len(points),
        "x": _quantized(points.xs),
        "y": _quantized(points.ys),
        "gaps": _gaps(points.ordinals),
    }
    if colour == "age":
        marker = {
            "colorscale": "Viridis",
            "reversescale": True,
            "colorbar": {"title": {"text": "age (days)"}},
        }
        traces = [_trace(points, "memories", marker, colour_from="values")]
        packed["values"] = _quantized(points.values)
    else:
        traces, codes = _categorical(points, colour)
        wide = len(codes) and int(codes.max()) > 255
        packed["codes"] = (
            {"u2": _base64(codes.astype(np.uint16))}
            if wide
            else {"u1": _base64(codes.astype(np.uint8))}
        )
    drawn = charts.layout(
        dragmode="lasso",
        hovermode="closest",
        showlegend=colour != "age",
        legend={"itemsizing": "constant"},
        xaxis={"visible": False},
        yaxis={"visible": False, "scaleanchor": "x"},
        height=620,
        uirevision="map",
    )
    payload = {"data": traces, "layout": drawn.to_plotly_json(), "points": packed}
    text = json.dumps(payload, separators=(",", ":"))
    return charts.script_safe(text)


def listed_points(
    projection: Projection, points: Points, using: str = PRIMARY
) -> list[dict[str, Any]]:
    """The map's first LISTED_POINTS shown points, cluster by cluster (noise last),
    without their text (see with_snippets). Chosen from the drawn points' arrays: the
    database sorted 100k points for them in 50 ms."""
    first = np.lexsort((points.ordinals, points.clusters, points.clusters < 0))
    wanted = [int(ordinal) for ordinal in points.ordinals[first[:LISTED_POINTS]]]
    rows = (
        maps.points_of(projection)
        .using(using)
        .filter(ordinal__in=wanted)
        .values("ordinal", "cluster", "memory_id", "memory__kind", "memory__status")
    )
    by_ordinal = {row["ordinal"]: row for row in rows}
    return [dict(by_ordinal[ordinal]) for ordinal in wanted if ordinal in by_ordinal]


def with_snippets(space: Space, listed: list[dict[str, Any]], using: str) -> list[dict[str, Any]]:
    """The listed points with the start of each memory's text, read now: a drawn map
    is cached, and memory text must not outlive a purge in the cache."""
    memories = (
        Memory.objects.for_space(space)
        .using(using)
        .filter(pk__in=[point["memory_id"] for point in listed])
        .annotate(snippet=Left("content", 120))
        .values_list("pk", "snippet")
    )
    snippets = dict(memories)
    return [{**point, "snippet": snippets.get(point["memory_id"], "")} for point in listed]


def default_colour(projection: Projection | None) -> str:
    """Clusters when the projection found some; else every point would be "no cluster"
    grey, and kinds at least tell facts from episodes."""
    return "cluster" if projection is None or projection.clusters else "kind"


def _not_projected(curator: Curator, projection: Projection, shown: int, using: str) -> int:
    """The mappable memories (maps.mappable: embedded, not deleted) without a point,
    from counts that need no memory's row: the living memories less the vectorless
    ones (an index holds those), against the points shown (not deleted) less those
    whose memory lost its vector since (an edit). Anti-joining maps.mappable with the
    points read every row for its vector: 70-120 ms at 100k, against about 10."""
    living = Memory.objects.for_space(curator.space).using(using).exclude(status=Status.DELETED)
    vectorless = living.filter(embedding__isnull=True)
    placed_vectorless = (
        maps.points_of(projection).using(using).filter(memory__in=vectorless.values("pk")).count()
    )
    return living.count() - vectorless.count() - (shown - placed_vectorless)


def _drawn_map(curator: Curator, projection: Projection, colour: str, using: str) -> dict[str, Any]:
    """The figure, its counts and the listed points, drawn once per state of the space
    (the points' text is read on every view).

    Reading 100k points, counting the memories not on the map and listing the first
    few hundred take most of a second; the map changes only with the projection or the
    memories (every change to them writes an audit event, in its transaction), so the
    newest event names the state the drawing is of.
    """
    newest_event = (
        AuditEvent.objects.for_space(curator.space)
        .using(using)
        .order_by("-created_at", "-pk")
        .values_list("pk", flat=True)
        .first()
    )
    # The projection's time as well: a database made anew reuses the ids.
    key = f"map:{projection.pk}:{projection.created_at.timestamp()}:{colour}:{newest_event}"
    drawn: dict[str, Any] | None = cache.get(key)
    if drawn is None:
        points = shown_points(projection, colour, using)
        drawn = {
            "figure": figure(points, colour),
            "shown": len(points),
            "not_projected": _not_projected(curator, projection, len(points), using),
            "listed": listed_points(projection, points, using),
        }
        cache.set(key, drawn, DRAWN_MAP_SECONDS)
    return {**drawn, "listed": with_snippets(curator.space, drawn["listed"], using)}


@require_GET
@space_page()
def embedding_map(request: HtmxHttpRequest, curator: Curator) -> HttpResponse:
    form = MapForm(request.GET)
    projection = maps.latest(curator.space)
    colour = (form.cleaned_data["colour"] if form.is_valid() else "") or default_colour(projection)
    running = curator.space.jobs.running().filter(kind="project").order_by("-created_at").first()
    context: dict[str, Any] = {
        "nav": "map",
        "form": form,
        "projection": projection,
        "running": running,
        "colour": colour,
    }
    if projection is not None:
        drawn = _drawn_map(curator, projection, colour, replicas.for_reading(request))
        context.update(drawn, bulk_actions=BULK_ACTIONS)
    # Only a swap of the panel gets the panel; an htmx navigation gets the page.
    partial = request.htmx and request.htmx.target == "map-panel"
    template = "dashboard/map.html#panel" if partial else "dashboard/map.html"
    return render(request, template, context)


@require_POST
@space_page(Role.EDITOR)
def project(request: HtmxHttpRequest, curator: Curator) -> HttpResponse:
    job = queue_job(request, lambda: maps.start_projection(curator.space), "projection")
    if job is None:
        return go_to(request, reverse("dashboard:map", args=[curator.space.slug]))
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
    form = MapForm(request.GET)
    colour = (form.cleaned_data["colour"] if form.is_valid() else "") or default_colour(projection)
    raw = request.POST.get("ordinals", "")
    ordinals = sorted(
        {ordinal for o in raw.split(",") if (ordinal := _ordinal(o.strip())) is not None}
    )
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
        # Back to the map as it was drawn: the colouring travels with the selection.
        "return_to": f"{reverse('dashboard:map', args=[curator.space.slug])}?colour={colour}",
    }
    return render(request, "dashboard/map.html#selection", context)


def _ordinal(raw: str) -> int | None:
    """A point's ordinal from a selection, or None for what cannot be one (skipped)."""
    try:
        return parse_int(raw, "ordinal", minimum=0, maximum=2**31 - 1)
    except InvalidParameter:
        return None

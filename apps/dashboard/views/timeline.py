"""The timeline: memories by when they happened, narrowed to a subject, agent or
session; zooming the chart reloads the range (and its list) through htmx."""

from __future__ import annotations

import json
from collections import OrderedDict
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import plotly.graph_objects as go
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from apps.core import replicas
from apps.dashboard import charts
from apps.dashboard.access import Curator, HtmxHttpRequest, space_page
from apps.dashboard.forms import TimelineForm
from apps.memories import timeline
from apps.memories.models import Kind, Status

COLOURS = {
    "kind": dict(Kind.choices),
    "status": dict(Status.choices),
}
# The least room around the points of a range, as when it holds a single memory.
MIN_PAD = timedelta(hours=1)
PALETTE = ["#2563eb", "#d97706", "#16a34a", "#7c3aed", "#dc2626", "#0891b2", "#9ca3af"]


def _page_url(curator: Curator, form: TimelineForm, **changes: Any) -> str:
    params = {
        name: value
        for name in ("subject", "agent", "session", "colour")
        if (value := form.cleaned_data.get(name))
    }
    for name, value in changes.items():
        if value is not None:
            params[name] = value.isoformat() if isinstance(value, datetime) else value
    base = reverse("dashboard:timeline", args=[curator.space.slug])
    return f"{base}?{urlencode(params)}" if params else base


def _plotted(moment: datetime) -> str:
    """Plotly's date axes know no time zones: times go as wall-clock display time."""
    return timezone.localtime(moment).replace(tzinfo=None).isoformat()


def _colour_of(categories: list[str]) -> dict[str, str]:
    return {category: PALETTE[i % len(PALETTE)] for i, category in enumerate(categories)}


def _counts_figure(
    curator: Curator, form: TimelineForm, found: list[timeline.Bucket], unit: str, colour: str
) -> dict[str, Any]:
    names = COLOURS[colour]
    categories = sorted({b.category for b in found})
    colours = _colour_of(categories)
    traces = []
    for category in categories:
        rows = [b for b in found if b.category == category]
        traces.append(
            go.Bar(
                x=[_plotted(b.start) for b in rows],
                y=[b.count for b in rows],
                name=str(names.get(category, category)),
                marker={"color": colours[category]},
                # A click on a bar zooms into its bucket.
                customdata=[
                    _page_url(curator, form, start=b.start, end=timeline.next_bucket(b.start, unit))
                    for b in rows
                ],
                hovertemplate=f"%{{y}} memories per {unit}<extra>%{{fullData.name}}</extra>",
            )
        )
    layout = _layout(barmode="stack", yaxis={"title": {"text": f"memories per {unit}"}})
    return json.loads(go.Figure(data=traces, layout=layout).to_json())


def _detail_figure(
    curator: Curator,
    rows: list[dict[str, Any]],
    edits: list[dict[str, Any]],
    colour: str,
    window: tuple[datetime, datetime],
) -> dict[str, Any]:
    """The memories one by one. The axis spans `window` (the memories' own times, or the
    range asked for), not the edits (`edits` holds only those inside it) nor the
    validity bars, which it cuts at its edges: an edit made months later would
    otherwise squeeze the memories into a corner."""
    names = COLOURS[colour]
    categories = sorted({row[colour] for row in rows})
    colours = _colour_of(categories)
    lane = {row["pk"]: str(names.get(row[colour], row[colour])) for row in rows}
    traces: list[Any] = []
    # Validity intervals first, under the points: what was true from when to when.
    for category in categories:
        xs: list[str | None] = []
        ys: list[str | None] = []
        for row in rows:
            if row[colour] == category and row["valid_to"] is not None:
                began = row["valid_from"] or row["moment"]
                xs += [_plotted(began), _plotted(row["valid_to"]), None]
                ys += [lane[row["pk"]], lane[row["pk"]], None]
        if xs:
            name = f"valid ({names.get(category, category)})"
            traces.append(charts.segments(xs, ys, name, colours[category], 6, opacity=0.35))
    for category in categories:
        chosen = [row for row in rows if row[colour] == category]
        traces.append(
            go.Scatter(
                x=[_plotted(row["moment"]) for row in chosen],
                y=[lane[row["pk"]] for row in chosen],
                mode="markers",
                name=str(names.get(category, category)),
                marker={"color": colours[category], "size": 9},
                text=[row["snippet"] for row in chosen],
                customdata=[
                    reverse("dashboard:memory", args=[curator.space.slug, row["pk"]])
                    for row in chosen
                ],
                hovertemplate="%{text}<extra>%{x}</extra>",
            )
        )
    first, last = window
    shown_edits = [edit for edit in edits if edit["memory_id"] in lane]
    if shown_edits:
        traces.append(
            go.Scatter(
                x=[_plotted(edit["created_at"]) for edit in shown_edits],
                y=[lane[edit["memory_id"]] for edit in shown_edits],
                mode="markers",
                name="edits",
                marker={"symbol": "x-thin", "size": 10, "line": {"width": 2, "color": "#6b7280"}},
                text=[f"v{e['version']} {e['action']} by {e['actor_label']}" for e in shown_edits],
                customdata=[
                    reverse("dashboard:memory", args=[curator.space.slug, edit["memory_id"]])
                    for edit in shown_edits
                ],
                hovertemplate="%{text}<extra>%{x}</extra>",
            )
        )
    # A little room either side, so the first and last points are not cut in half.
    pad = max((last - first) * 0.03, MIN_PAD)
    layout = _layout(
        yaxis={"type": "category"},
        xaxis={"type": "date", "range": [_plotted(first - pad), _plotted(last + pad)]},
    )
    return json.loads(go.Figure(data=traces, layout=layout).to_json())


def _layout(**extra: Any) -> go.Layout:
    return charts.layout(
        **{
            "height": 360,
            "margin": {"l": 60, "r": 10, "t": 10, "b": 40},
            "legend": {"orientation": "h"},
            "xaxis": {"type": "date"},
            **extra,
        }
    )


def _grouped(
    curator: Curator, rows: list[dict[str, Any]]
) -> list[tuple[Any, list[tuple[str, list[Any]]]]]:
    """The list under the chart: by local day, then by session within the day. Each
    row's link and local time are made here, once: two hundred rows' worth of url and
    date tags were most of the whole range's server time."""
    days: OrderedDict[Any, OrderedDict[str, list[Any]]] = OrderedDict()
    for row in rows[: timeline.LIST_ROWS]:
        local = timezone.localtime(row["moment"])
        row.update(
            stamp=local.isoformat(),
            clock=local.strftime("%H:%M"),
            url=reverse("dashboard:memory", args=[curator.space.slug, row["pk"]]),
        )
        days.setdefault(local.date(), OrderedDict()).setdefault(row["session"], []).append(row)
    return [(day, list(sessions.items())) for day, sessions in days.items()]


@require_GET
@space_page()
def timeline_page(request: HtmxHttpRequest, curator: Curator) -> HttpResponse:
    form = TimelineForm(request.GET)
    context: dict[str, Any] = {"nav": "timeline", "form": form}
    status = 200
    if form.is_valid():
        colour = form.cleaned_data["colour"] or "kind"
        memories = form.memories(curator).using(replicas.for_reading(request))
        first, last = timeline.span(memories)
        start = form.cleaned_data["start"] or first
        end = form.cleaned_data["end"] or last
        chosen = timeline.in_range(memories, form.cleaned_data["start"], form.cleaned_data["end"])
        # The count is the sum of the buckets: one scan of the range, not two.
        unit = timeline.unit_for(start, end) if start and end else "month"
        found = timeline.buckets(chosen, unit, colour) if start and end else []
        count = sum(bucket.count for bucket in found)
        context.update(
            count=count,
            start=start,
            end=end,
            zoomed=bool(form.cleaned_data["start"] or form.cleaned_data["end"]),
        )
        if count and start and end:
            context["whole"] = _page_url(curator, form)
            context["range_base"] = _page_url(curator, form)
            if count > timeline.DETAIL_LIMIT:
                context.update(unit=unit, figure=_counts_figure(curator, form, found, unit, colour))
                listed = timeline.details(chosen, limit=timeline.LIST_ROWS)
            else:
                listed = timeline.details(chosen)
                edits = timeline.edits(chosen, curator.space.pk, start, end)
                context["figure"] = _detail_figure(curator, listed, edits, colour, (start, end))
            context.update(days=_grouped(curator, listed), list_cut=count > timeline.LIST_ROWS)
    else:
        status = 400
    partial = request.htmx and request.htmx.target == "timeline-panel"
    template = "dashboard/timeline.html#panel" if partial else "dashboard/timeline.html"
    return render(request, template, context, status=status)

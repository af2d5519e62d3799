"""The graph explorer: a memory's or an entity's neighbourhood, laid out server-side
with networkx and drawn with plotly; clicking a node recentres the graph on it."""

from __future__ import annotations

import json
from typing import Any

import networkx as nx
import plotly.graph_objects as go
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from apps.dashboard import charts
from apps.dashboard.access import Curator, HtmxHttpRequest, space_page
from apps.dashboard.forms import EDGE_LABELS, GraphForm
from apps.memories.graph import (
    EDGE_TYPES,
    MENTIONS,
    NodeRef,
    Subgraph,
    neighbourhood,
)
from apps.memories.models import Entity, Memory

# One colour per edge type and per node status, readable in light and dark mode.
EDGE_COLOURS = {
    "derived_from": "#7c3aed",
    "related_to": "#2563eb",
    "supersedes": "#d97706",
    "contradicts": "#dc2626",
    "same_entity": "#0891b2",
    "next_in_time": "#6b7280",
    MENTIONS: "#16a34a",
}
STATUS_COLOURS = {
    "active": "#2563eb",
    "archived": "#9ca3af",
    "superseded": "#d97706",
    "deleted": "#dc2626",
}
STARTING_POINTS = 12
# Small graphs carry a short label beside each node; larger ones only on hover.
LABELLED_NODES = 40
LABEL_CHARS = 28


def _url(curator: Curator, center: str, hops: int, types: list[str]) -> str:
    query = f"?center={center}&hops={hops}"
    if types and set(types) != set(EDGE_TYPES):
        query += "".join(f"&types={t}" for t in types)
    return reverse("dashboard:graph", args=[curator.space.slug]) + query


def _node_url(curator: Curator, ref: NodeRef) -> str:
    if ref.kind == "memory":
        return reverse("dashboard:memory", args=[curator.space.slug, ref.id])
    return _url(curator, ref.key, 1, [])


def figure(subgraph: Subgraph, recentre: dict[str, str]) -> dict[str, Any]:
    """The plotly figure: one line trace per edge type (so the legend toggles them),
    one marker trace for memories and one for entities."""
    graph: nx.Graph = nx.Graph()
    graph.add_nodes_from(subgraph.nodes)
    graph.add_edges_from((e.source, e.target) for e in subgraph.edges)
    center = subgraph.center.key
    if len(graph) > 1:
        # A fixed seed keeps the same neighbourhood drawn the same way on every visit.
        positions = nx.spring_layout(graph, seed=7, pos={center: (0.0, 0.0)}, fixed=[center])
    else:
        positions = {center: (0.0, 0.0)}
    traces: list[Any] = []
    for edge_type in EDGE_TYPES:
        xs: list[float | None] = []
        ys: list[float | None] = []
        for edge in subgraph.edges:
            if edge.type == edge_type:
                (x0, y0), (x1, y1) = positions[edge.source], positions[edge.target]
                xs += [float(x0), float(x1), None]
                ys += [float(y0), float(y1), None]
        if xs:
            traces.append(
                charts.segments(xs, ys, EDGE_LABELS[edge_type], EDGE_COLOURS[edge_type], 1.5)
            )
    for kind, symbol, name in (("memory", "circle", "memories"), ("entity", "diamond", "entities")):
        members = [n for n in subgraph.nodes.values() if n.ref.kind == kind]
        if not members:
            continue
        labelled = len(subgraph.nodes) <= LABELLED_NODES
        traces.append(
            go.Scatter(
                x=[float(positions[n.ref.key][0]) for n in members],
                y=[float(positions[n.ref.key][1]) for n in members],
                mode="markers+text" if labelled else "markers",
                textposition="top center",
                texttemplate="%{meta}" if labelled else None,
                meta=[_short(n.label) for n in members],
                name=name,
                marker={
                    "symbol": symbol,
                    "size": [20 if n.ref.key == center else 13 for n in members],
                    "color": [
                        STATUS_COLOURS.get(str(n.detail.get("status")), "#16a34a") for n in members
                    ],
                    "line": {"width": [3 if n.ref.key == center else 1 for n in members]},
                },
                text=[n.label for n in members],
                customdata=[recentre[n.ref.key] for n in members],
                hovertemplate="%{text}<extra></extra>",
            )
        )
    node_xs = [float(x) for x, _ in positions.values()]
    node_ys = [float(y) for _, y in positions.values()]
    # Room around the outermost nodes for their labels.
    pad_x = max(0.3, 0.15 * (max(node_xs) - min(node_xs)))
    pad_y = max(0.15, 0.08 * (max(node_ys) - min(node_ys)))
    drawn = charts.layout(
        showlegend=True,
        legend={"orientation": "h"},
        xaxis={"visible": False, "range": [min(node_xs) - pad_x, max(node_xs) + pad_x]},
        yaxis={"visible": False, "range": [min(node_ys) - pad_y, max(node_ys) + pad_y]},
        height=520,
    )
    return json.loads(go.Figure(data=traces, layout=drawn).to_json())


def _short(label: str) -> str:
    return label if len(label) <= LABEL_CHARS else label[: LABEL_CHARS - 1] + "…"


def _starting_points(curator: Curator) -> dict[str, Any]:
    """Where to begin when no centre is given: the most linked memories, the entities."""
    memories = (
        Memory.objects.for_space(curator.space)
        .active()
        .only("pk", "content")
        .order_by("-updated_at")[:STARTING_POINTS]
    )
    entities = Entity.objects.for_space(curator.space).only("pk", "name", "kind").order_by("name")
    return {"start_memories": list(memories), "start_entities": list(entities[:STARTING_POINTS])}


@require_GET
@space_page()
def graph(request: HtmxHttpRequest, curator: Curator) -> HttpResponse:
    form = GraphForm(request.GET, space=curator.space)
    context: dict[str, Any] = {"nav": "graph", "form": form, "edge_labels": EDGE_LABELS}
    status = 200
    if form.is_valid() and form.cleaned_data["center"] is not None:
        center: NodeRef = form.cleaned_data["center"]
        hops = form.cleaned_data["hops"] or 1
        types = form.cleaned_data["types"] or list(EDGE_TYPES)
        try:
            subgraph = neighbourhood(curator.space, center, hops=hops, types=types)
        except (Memory.DoesNotExist, Entity.DoesNotExist):
            raise Http404("No such memory or entity in this space") from None
        recentre = {key: _url(curator, key, hops, types) for key in subgraph.nodes}
        context.update(
            subgraph=subgraph,
            centre=subgraph.nodes[center.key],
            matched=form.matched,
            figure=figure(subgraph, recentre),
            rows=[
                (node, recentre[key], _node_url(curator, node.ref))
                for key, node in sorted(
                    subgraph.nodes.items(), key=lambda item: (item[1].depth, item[1].label)
                )
            ],
        )
    elif form.is_valid():
        context.update(_starting_points(curator))
    else:
        status = 400
        context.update(_starting_points(curator))
    # Only a swap of the panel gets the panel; an htmx navigation gets the page.
    partial = request.htmx and request.htmx.target == "graph-panel"
    template = "dashboard/graph.html#panel" if partial else "dashboard/graph.html"
    return render(request, template, context, status=status)

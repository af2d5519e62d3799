"""The neighbourhood of a memory or an entity: memories joined by typed links, and the
entities they mention, expanded breadth-first for a bounded number of hops.

One subgraph serves the dashboard's graph explorer and `GET /api/v1/graph`. Expansion
stops adding nodes at a cap and counts what it left out, so a hub with thousands of
neighbours answers quickly and says how much is not shown.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from uuid import UUID

from django.db.models import Q
from django.db.models.functions import Left

from apps.memories.models import Entity, Link, LinkType, Memory, Mention
from apps.spaces.models import Space

MAX_HOPS = 3
DEFAULT_NODE_CAP = 150
MAX_NODE_CAP = 500
MENTIONS = "mentions"  # the edge type between a memory and an entity it mentions
EDGE_TYPES = (*LinkType.values, MENTIONS)
SNIPPET_CHARS = 160


class GraphError(ValueError):
    """A request for a subgraph that cannot be answered as asked."""

    def __init__(self, message: str, details: dict[str, object]) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


@dataclass(frozen=True)
class NodeRef:
    kind: str  # "memory" or "entity"
    id: UUID

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.id}"

    @classmethod
    def parse(cls, raw: str) -> NodeRef:
        """`memory:<uuid>` or `entity:<uuid>`; a bare uuid means a memory."""
        kind, _, value = raw.rpartition(":")
        kind = kind or "memory"
        if kind not in ("memory", "entity"):
            raise GraphError("center must be memory:<id> or entity:<id>", {"center": raw})
        try:
            return cls(kind, UUID(value))
        except ValueError:
            raise GraphError("center must be memory:<id> or entity:<id>", {"center": raw}) from None


@dataclass
class Node:
    ref: NodeRef
    depth: int
    label: str = ""
    detail: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Edge:
    source: str  # node keys
    target: str
    type: str
    weight: float = 1.0


@dataclass
class Subgraph:
    center: NodeRef
    hops: int
    nodes: dict[str, Node]
    edges: list[Edge]
    not_shown: int  # neighbours found but left out by the node cap

    def as_json(self) -> dict[str, object]:
        return {
            "center": self.center.key,
            "hops": self.hops,
            "nodes": [
                {
                    "id": node.ref.key,
                    "kind": node.ref.kind,
                    "depth": node.depth,
                    "label": node.label,
                    **node.detail,
                }
                for node in self.nodes.values()
            ],
            "edges": [
                {"source": e.source, "target": e.target, "type": e.type, "weight": e.weight}
                for e in self.edges
            ],
            "not_shown": self.not_shown,
        }


def neighbourhood(
    space: Space,
    center: NodeRef,
    *,
    hops: int = 1,
    types: Collection[str] = EDGE_TYPES,
    node_cap: int | None = None,
) -> Subgraph:
    """The subgraph within `hops` of `center`, keeping at most `node_cap` nodes (nearest
    first). Raises Memory.DoesNotExist / Entity.DoesNotExist for a center outside the space."""
    node_cap = DEFAULT_NODE_CAP if node_cap is None else node_cap
    if not 1 <= hops <= MAX_HOPS:
        raise GraphError(f"hops must be from 1 to {MAX_HOPS}", {"hops": hops})
    if not 1 <= node_cap <= MAX_NODE_CAP:
        raise GraphError(f"the node cap must be from 1 to {MAX_NODE_CAP}", {"limit": node_cap})
    unknown = sorted(set(types) - set(EDGE_TYPES))
    if unknown:
        raise GraphError(f"unknown edge types {unknown}", {"types": unknown})
    model = Memory if center.kind == "memory" else Entity
    if not model.objects.for_space(space).filter(pk=center.id).exists():
        raise model.DoesNotExist(f"no {center.kind} {center.id} in this space")

    nodes = {center.key: Node(center, depth=0)}
    edges: dict[tuple[str, str, str], Edge] = {}
    frontier = [center]
    not_shown: set[str] = set()
    link_types = [t for t in types if t != MENTIONS]
    for depth in range(1, hops + 1):
        found = _edges_around(space, frontier, link_types, MENTIONS in types)
        frontier = []
        for edge, neighbours in found:
            for ref in neighbours:
                if ref.key in nodes:
                    continue
                if len(nodes) >= node_cap:
                    not_shown.add(ref.key)
                    continue
                nodes[ref.key] = Node(ref, depth=depth)
                frontier.append(ref)
            if edge.source in nodes and edge.target in nodes:
                edges[(edge.source, edge.target, edge.type)] = edge
        if not frontier:
            break
    _describe(space, nodes)
    return Subgraph(center, hops, nodes, list(edges.values()), len(not_shown - set(nodes)))


def _edges_around(
    space: Space, frontier: list[NodeRef], link_types: list[str], with_mentions: bool
) -> Iterable[tuple[Edge, list[NodeRef]]]:
    """Each edge touching the frontier, with the nodes at its ends, in a stable order."""
    memory_ids = [ref.id for ref in frontier if ref.kind == "memory"]
    entity_ids = [ref.id for ref in frontier if ref.kind == "entity"]
    if memory_ids and link_types:
        links = (
            Link.objects.for_space(space)
            .filter(
                Q(source_id__any_of=memory_ids) | Q(target_id__any_of=memory_ids),
                type__in=link_types,
            )
            .order_by("-weight", "created_at", "pk")
            .values_list("source_id", "target_id", "type", "weight")
        )
        for source, target, link_type, weight in links:
            ends = [NodeRef("memory", source), NodeRef("memory", target)]
            yield Edge(ends[0].key, ends[1].key, link_type, weight), ends
    if with_mentions and (memory_ids or entity_ids):
        mentions = (
            Mention.objects.for_space(space)
            .filter(Q(memory_id__any_of=memory_ids) | Q(entity_id__any_of=entity_ids))
            .order_by("created_at", "pk")
            .values_list("memory_id", "entity_id")
        )
        for memory_id, entity_id in mentions:
            ends = [NodeRef("memory", memory_id), NodeRef("entity", entity_id)]
            yield Edge(ends[0].key, ends[1].key, MENTIONS), ends


def _describe(space: Space, nodes: dict[str, Node]) -> None:
    """Labels and a few facts per node: two queries, whatever the size."""
    memory_ids = [n.ref.id for n in nodes.values() if n.ref.kind == "memory"]
    entity_ids = [n.ref.id for n in nodes.values() if n.ref.kind == "entity"]
    memories = (
        Memory.objects.for_space(space)
        .filter(pk__in=memory_ids)
        .annotate(snippet=Left("content", SNIPPET_CHARS))
        .values_list("pk", "snippet", "kind", "status", "subject")
    )
    for pk, snippet, kind, status, subject in memories:
        node = nodes[f"memory:{pk}"]
        node.label = snippet
        node.detail = {"memory_kind": kind, "status": status, "subject": subject}
    entities = (
        Entity.objects.for_space(space).filter(pk__in=entity_ids).values_list("pk", "name", "kind")
    )
    for pk, name, kind in entities:
        node = nodes[f"entity:{pk}"]
        node.label = name
        node.detail = {"entity_kind": kind}

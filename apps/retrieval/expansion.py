"""Graph-expanded retrieval: Personalized PageRank (as in HippoRAG) over what
consolidation built, seeded by the best hits.

The graph is the seeds' neighbourhood, two steps out: `related_to`, `derived_from`
(a summary and its members) and `same_entity` links, and the entities the memories
mention (an entity is a node between the memories that name it). PageRank with
restarts at the seeds then gives every node a share of the seeds' relevance; memories
the filters allow get that share added to their score, so a turn that answers the
question without repeating its words can still rise through what it shares with the
hits.
"""

from __future__ import annotations

from collections import defaultdict
from uuid import UUID

from django.db.models import Count, Q, QuerySet

from apps.memories.models import Link, LinkType, Memory, Mention
from apps.spaces.models import Space

GRAPH_LINK_TYPES = (LinkType.RELATED_TO, LinkType.DERIVED_FROM, LinkType.SAME_ENTITY)
SEEDS = 10
HOPS = 2
# A name in more memories than this (a conversation's speakers, say) joins everything
# and so says nothing about any one of them; its memories are not fetched.
MAX_ENTITY_MENTIONS = 40
RESTART = 0.5
ITERATIONS = 20

Node = tuple[str, object]  # ("m", memory id) or ("e", entity id)


def _neighbourhood(space: Space, seeds: list[UUID]) -> dict[Node, dict[Node, float]]:
    edges: dict[Node, dict[Node, float]] = defaultdict(dict)

    def connect(a: Node, b: Node, weight: float) -> None:
        if a == b:
            return
        edges[a][b] = max(edges[a].get(b, 0.0), weight)
        edges[b][a] = max(edges[b].get(a, 0.0), weight)

    frontier_memories = set(seeds)
    frontier_entities: set[int] = set()
    seen_memories = set(seeds)
    seen_entities: set[int] = set()
    for _ in range(HOPS):
        reached_memories: set[UUID] = set()
        reached_entities: set[int] = set()
        if frontier_memories:
            links = (
                Link.objects.for_space(space)
                .filter(type__in=GRAPH_LINK_TYPES)
                .filter(
                    Q(source_id__any_of=frontier_memories) | Q(target_id__any_of=frontier_memories)
                )
                .values_list("source_id", "target_id", "weight")
            )
            for source, target, weight in links:
                connect(("m", source), ("m", target), float(weight or 1.0))
                reached_memories |= {source, target}
            mentioned = Mention.objects.for_space(space).filter(memory_id__any_of=frontier_memories)
            for mentioning, entity in mentioned.values_list("memory_id", "entity_id"):
                connect(("m", mentioning), ("e", entity), 1.0)
                reached_entities.add(int(entity))
        if frontier_entities:
            narrow = (
                Mention.objects.for_space(space)
                .filter(entity_id__any_of=frontier_entities)
                .values("entity_id")
                .annotate(count=Count("id"))
                .filter(count__lte=MAX_ENTITY_MENTIONS)
                .values_list("entity_id", flat=True)
            )
            mentions = Mention.objects.for_space(space).filter(entity_id__in=narrow)
            for memory_id, entity_id in mentions.values_list("memory_id", "entity_id"):
                connect(("m", memory_id), ("e", entity_id), 1.0)
                reached_memories.add(memory_id)
        frontier_memories = reached_memories - seen_memories
        frontier_entities = reached_entities - seen_entities
        seen_memories |= reached_memories
        seen_entities |= reached_entities
    return edges


def personalized_pagerank(
    edges: dict[Node, dict[Node, float]], restart: dict[Node, float]
) -> dict[Node, float]:
    """Power iteration of r = a·p + (1 - a)·Wᵀr with W the row-normalized weights;
    a dangling node's mass goes back to the seeds."""
    total = sum(restart.values())
    p = {node: value / total for node, value in restart.items()}
    degree = {node: sum(neighbours.values()) for node, neighbours in edges.items()}
    rank = dict(p)
    for _ in range(ITERATIONS):
        nxt: dict[Node, float] = defaultdict(float)
        dangling = 0.0
        for node, mass in rank.items():
            if not degree.get(node):
                dangling += mass
                continue
            for neighbour, weight in edges[node].items():
                nxt[neighbour] += (1 - RESTART) * mass * weight / degree[node]
        for node, value in p.items():
            nxt[node] += (RESTART + (1 - RESTART) * dangling) * value
        rank = nxt
    return rank


def expand(
    space: Space, scoped: QuerySet[Memory], seed_scores: dict[UUID, float]
) -> dict[UUID, float]:
    """What each memory gets from the walk from the best `SEEDS` of `seed_scores`, as a
    share of their total; only memories that `scoped` (the search's filters) allows."""
    seeds = sorted(seed_scores, key=seed_scores.__getitem__, reverse=True)[:SEEDS]
    if not seeds:
        return {}
    edges = _neighbourhood(space, seeds)
    if not edges:
        return {}
    rank = personalized_pagerank(edges, {("m", pk): seed_scores[pk] for pk in seeds})
    reached = {node[1] for node in rank if node[0] == "m"}
    allowed = set(scoped.filter(pk__in=reached).values_list("pk", flat=True))
    return {pk: rank[("m", pk)] for pk in allowed if rank.get(("m", pk))}

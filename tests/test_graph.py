"""The neighbourhood subgraph: hops, node caps, edge types, entities, isolation."""

from __future__ import annotations

import pytest

from apps.memories import services
from apps.memories.graph import GraphError, NodeRef, neighbourhood
from apps.memories.models import Entity, Memory, Mention


@pytest.fixture
def chain(space, actor):
    """a → b → c → d, linked related_to, and e superseding a."""
    a, b, c, d, e = services.create_memories(
        space, actor, [{"content": f"memory {name}"} for name in "abcde"]
    )
    for source, target in ((a, b), (b, c), (c, d)):
        services.link_memories(space, actor, source.pk, target.pk, "related_to")
    services.link_memories(space, actor, e.pk, a.pk, "supersedes")
    return a, b, c, d, e


def keys(subgraph):
    return {node.label for node in subgraph.nodes.values()}


def test_it_expands_hop_by_hop(space, chain):
    a = chain[0]
    one = neighbourhood(space, NodeRef("memory", a.pk), hops=1)
    assert keys(one) == {"memory a", "memory b", "memory e"}
    two = neighbourhood(space, NodeRef("memory", a.pk), hops=2)
    assert keys(two) == {"memory a", "memory b", "memory c", "memory e"}
    assert {n.label: n.depth for n in two.nodes.values()}["memory c"] == 2
    assert {(e.type) for e in two.edges} == {"related_to", "supersedes"}
    assert len(two.edges) == 3 and two.not_shown == 0


def test_it_follows_only_the_edge_types_asked_for(space, chain):
    subgraph = neighbourhood(space, NodeRef("memory", chain[0].pk), hops=3, types=["supersedes"])
    assert keys(subgraph) == {"memory a", "memory e"}


def test_it_stops_at_the_node_cap_and_counts_what_it_left_out(space, actor):
    hub, *spokes = services.create_memories(
        space, actor, [{"content": f"node {i}"} for i in range(21)]
    )
    for spoke in spokes:
        services.link_memories(space, actor, hub.pk, spoke.pk, "related_to")
    subgraph = neighbourhood(space, NodeRef("memory", hub.pk), node_cap=8)
    assert len(subgraph.nodes) == 8
    assert subgraph.not_shown == 13
    # Every edge drawn joins two nodes that are shown.
    assert all(e.source in subgraph.nodes and e.target in subgraph.nodes for e in subgraph.edges)
    assert len(subgraph.edges) == 7


def test_entities_join_the_memories_that_mention_them(space, actor):
    first, second, _unrelated = services.create_memories(
        space, actor, [{"content": "Maya runs."}, {"content": "Maya cooks."}, {"content": "Rain."}]
    )
    maya = Entity.objects.for_space(space).create(
        space=space, name="Maya", normalized_name="maya", kind="person"
    )
    for memory in (first, second):
        Mention.objects.for_space(space).create(space=space, entity=maya, memory=memory)
    from_entity = neighbourhood(space, NodeRef("entity", maya.pk))
    assert keys(from_entity) == {"Maya", "Maya runs.", "Maya cooks."}
    from_memory = neighbourhood(space, NodeRef("memory", first.pk), hops=2)
    assert keys(from_memory) == {"Maya runs.", "Maya", "Maya cooks."}
    assert {e.type for e in from_memory.edges} == {"mentions"}


def test_it_never_leaves_the_space(space, outsider_space, actor, chain):
    with pytest.raises(Memory.DoesNotExist):
        neighbourhood(outsider_space, NodeRef("memory", chain[0].pk))
    stranger = services.create_memory(outsider_space, actor, content="elsewhere")
    with pytest.raises(Memory.DoesNotExist):
        neighbourhood(space, NodeRef("memory", stranger.pk))


@pytest.mark.parametrize(
    ("raw", "options"),
    [("memory:nope", {}), ("thing:1", {}), (None, {"hops": 4}), (None, {"types": ["likes"]})],
)
def test_it_refuses_what_it_cannot_answer(space, chain, raw, options):
    with pytest.raises(GraphError):
        center = NodeRef.parse(raw) if raw else NodeRef("memory", chain[0].pk)
        neighbourhood(space, center, **options)

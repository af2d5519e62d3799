"""Graph-expanded retrieval: Personalized PageRank from the best hits over links and
entities, adding what it reaches within the filters."""

from __future__ import annotations

import pytest

from apps.consolidation import entities
from apps.memories import services
from apps.retrieval import expansion
from apps.retrieval.search import Filters, Weights, search


def ids(result):
    return [hit.memory.pk for hit in result.hits]


def test_it_ranks_what_is_nearer_the_seeds_higher():
    edges: dict[expansion.Node, dict[expansion.Node, float]] = {
        ("m", "seed"): {("m", "near"): 1.0},
        ("m", "near"): {("m", "seed"): 1.0, ("m", "far"): 1.0},
        ("m", "far"): {("m", "near"): 1.0},
    }
    rank = expansion.personalized_pagerank(edges, {("m", "seed"): 2.0})
    assert rank[("m", "seed")] > rank[("m", "near")] > rank[("m", "far")] > 0
    assert sum(rank.values()) == pytest.approx(1.0)
    assert ("m", "elsewhere") not in rank


@pytest.fixture
def festival(space, actor, hashing_backend):
    hit, neighbour, stranger = services.create_memories(
        space,
        actor,
        [
            {"content": "Caroline went to the pride parade in Riverton."},
            {"content": "The Riverton crowd sang all night long."},
            {"content": "Melanie bought new running shoes."},
        ],
    )
    entities.extract(space, actor)
    return hit, neighbour, stranger


def test_it_reaches_memories_that_share_an_entity_with_a_hit(space, festival):
    hit, neighbour, _stranger = festival
    query = "pride parade"
    without = search(space, query, mode="text", k=3, record_access=False, weights=Weights())
    walked = search(space, query, mode="text", k=3, record_access=False, weights=Weights(graph=1))
    assert ids(without) == [hit.pk]
    assert ids(walked) == [hit.pk, neighbour.pk]
    assert walked.hits[1].components["graph"]["share"] > 0


def test_it_adds_nothing_the_filters_exclude(space, actor, festival):
    hit, neighbour, _ = festival
    services.archive_memory(space, actor, neighbour.pk)
    walked = search(
        space, "pride parade", mode="text", k=3, record_access=False, weights=Weights(graph=1)
    )
    assert ids(walked) == [hit.pk]


def test_it_walks_through_a_summary_to_its_other_members(space, actor, hashing_backend):
    asked, sibling, _ = services.create_memories(
        space,
        actor,
        [
            {"content": "we adopted a puppy called biscuit", "kind": "episodic"},
            {"content": "vet appointment booked for tuesday", "kind": "episodic"},
            {"content": "quarterly taxes are due", "kind": "episodic"},
        ],
    )
    services.summarize_memories(
        space, actor, [asked.pk, sibling.pk], content="A new dog and its first vet visit."
    )
    turns = Filters(kinds=["episodic"])
    walked = search(
        space,
        "puppy biscuit",
        mode="text",
        k=3,
        filters=turns,
        record_access=False,
        weights=Weights(graph=1),
    )
    # Two steps: the member to its summary, the summary to the other member; the
    # summary itself is not a turn, so it is walked through and never ranked.
    assert ids(walked) == [asked.pk, sibling.pk]


def test_a_name_in_too_many_memories_joins_nothing(space, actor, hashing_backend, monkeypatch):
    hit, *others = services.create_memories(
        space,
        actor,
        [{"content": "They told Zoe the parade was loud."}]
        + [{"content": f"They told Zoe about item {n}."} for n in range(3)],
    )
    entities.extract(space, actor)

    def walk():
        weights = Weights(graph=1)
        return search(space, "parade loud", mode="text", k=5, record_access=False, weights=weights)

    monkeypatch.setattr(expansion, "MAX_ENTITY_MENTIONS", 4)
    assert set(ids(walk())) == {hit.pk, *(m.pk for m in others)}
    monkeypatch.setattr(expansion, "MAX_ENTITY_MENTIONS", 3)
    assert ids(walk()) == [hit.pk]


def test_it_is_off_unless_weighted(space, festival):
    result = search(space, "pride parade", mode="text", k=3, record_access=False, weights=Weights())
    assert all("graph" not in hit.components for hit in result.hits)

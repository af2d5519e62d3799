"""Recall feedback in the domain layer and in ranking: record_feedback's guarantees, the
Recall row a search writes, and the feedback prior (off unless weighted)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.audit.actors import Actor
from apps.audit.models import AuditEvent
from apps.memories import services
from apps.memories.models import Memory
from apps.retrieval import tasks
from apps.retrieval.embedding import get_backend
from apps.retrieval.models import Recall, RecallFeedback
from apps.retrieval.search import SearchResult, Weights, feedback_prior, search
from apps.spaces.models import Space

AGENT = Actor.system("assistant")


@pytest.fixture
def queued(monkeypatch: Any) -> list[dict[str, Any]]:
    """The access-log tasks a search queues, caught (the worker's part is tested apart)."""
    caught: list[dict[str, Any]] = []

    def delay(
        space_id: int,
        memory_ids: list[str],
        at: str,
        query: str,
        mode: str,
        actor: dict,
        recall_id: str | None = None,
    ) -> None:
        caught.append({"space_id": space_id, "memory_ids": memory_ids, "recall_id": recall_id})

    monkeypatch.setattr(tasks.record_recall, "delay", delay)
    return caught


@pytest.fixture
def cafe(
    space: Space, make_memory: Callable[..., Memory], hashing_backend: Any, embed_now: Any
) -> list[Memory]:
    made = [
        make_memory("Brasa opens at noon on Sundays."),
        make_memory("Brasa opens its terrace in May."),
        make_memory("Maya coaches the running club."),
    ]
    embed_now(space)
    return made


def recorded(space: Space, query: str, *memories: Memory) -> Recall:
    return Recall.objects.for_space(space).create(
        space=space,
        query=query,
        mode="hybrid",
        query_vector=get_backend().embed([query])[0],
        memory_ids=[m.pk for m in memories],
        **AGENT.as_fields(),
    )


def strength(memory: Memory) -> float:
    return Memory.objects.for_space(memory.space_id).get(pk=memory.pk).strength


# ----------------------------------------------------------------- the recall row


def test_it_writes_the_recall_of_a_search_and_names_it_to_the_worker(
    space: Space, cafe: list[Memory], queued: list[dict[str, Any]]
) -> None:
    result = search(space, "when does Brasa open", mode="hybrid", k=2, actor=AGENT)

    recall = Recall.objects.for_space(space).get()
    assert result.recall_id == recall.pk
    assert recall.memory_ids == [hit.memory.pk for hit in result.hits]
    assert recall.query == "when does Brasa open" and recall.mode == "hybrid"
    assert recall.actor_label == AGENT.label
    assert list(recall.query_vector) == pytest.approx(
        get_backend().embed(["when does Brasa open"])[0], abs=1e-6
    )
    assert queued == [
        {
            "space_id": space.pk,
            "memory_ids": [str(pk) for pk in recall.memory_ids],
            "recall_id": str(recall.pk),
        }
    ]


def test_it_writes_no_recall_for_a_search_not_recorded(
    space: Space, cafe: list[Memory], queued: list[dict[str, Any]]
) -> None:
    result = search(space, "Brasa", mode="text", record_access=False)
    assert result.hits and result.recall_id is None
    assert not Recall.objects.for_space(space).exists() and queued == []


def test_it_keeps_no_query_vector_for_a_text_search(
    space: Space, cafe: list[Memory], queued: list[dict[str, Any]]
) -> None:
    search(space, "Brasa", mode="text", actor=AGENT)
    assert Recall.objects.for_space(space).get().query_vector is None


def test_the_worker_logs_the_recall_id_with_each_hit(space: Space, cafe: list[Memory]) -> None:
    recall = recorded(space, "Brasa", *cafe[:2])
    tasks.record_recall(
        space.pk,
        [str(m.pk) for m in cafe[:2]],
        timezone.now().isoformat(),
        "Brasa",
        "hybrid",
        AGENT.to_payload(),
        recall_id=str(recall.pk),
    )
    events = AuditEvent.objects.for_space(space).filter(action="memory.recall")
    assert sorted(e.summary["rank"] for e in events) == [1, 2]
    assert {e.summary["recall_id"] for e in events} == {str(recall.pk)}


# ----------------------------------------------------------------- record_feedback


def test_it_strengthens_a_useful_hit_once_per_recall_but_again_in_another(
    space: Space, cafe: list[Memory]
) -> None:
    memory = cafe[0]
    before = strength(memory)
    first, second = recorded(space, "Brasa", memory), recorded(space, "Brasa hours", memory)

    services.record_feedback(space, AGENT, first.pk, useful=[memory.pk])
    services.record_feedback(space, AGENT, first.pk, not_useful=[memory.pk])
    services.record_feedback(space, AGENT, first.pk, useful=[memory.pk])
    services.record_feedback(space, AGENT, second.pk, useful=[str(memory.pk)])

    assert strength(memory) == before + 2
    marks = RecallFeedback.objects.for_space(space).filter(memory=memory)
    assert sorted((m.recall_id == first.pk, m.verdict) for m in marks) == [
        (False, "useful"),
        (True, "useful"),
    ]
    events = AuditEvent.objects.for_space(space).filter(action="memory.feedback")
    assert [e.summary["strengthened"] for e in events.order_by("pk")] == [
        True,
        False,
        False,
        True,
    ]


def test_it_returns_the_marks_in_the_order_named_with_the_new_strengths(
    space: Space, cafe: list[Memory]
) -> None:
    recall = recorded(space, "Brasa", *cafe)
    recorded_feedback = services.record_feedback(
        space, AGENT, recall.pk, useful=[cafe[1].pk], not_useful=[cafe[2].pk, cafe[0].pk]
    )
    assert [(m.memory_id, m.verdict) for m in recorded_feedback.marks] == [
        (cafe[1].pk, "useful"),
        (cafe[2].pk, "not_useful"),
        (cafe[0].pk, "not_useful"),
    ]
    assert recorded_feedback.strengths == {m.pk: strength(m) for m in cafe}


def test_it_refuses_another_spaces_recall(
    space: Space, outsider_space: Space, cafe: list[Memory]
) -> None:
    recall = recorded(space, "Brasa", cafe[0])
    with pytest.raises(services.RecallNotFound):
        services.record_feedback(outsider_space, AGENT, recall.pk, useful=[cafe[0].pk])
    assert not RecallFeedback.objects.for_space(space).exists()


def test_it_refuses_ids_the_recall_did_not_return_and_writes_nothing(
    space: Space, cafe: list[Memory]
) -> None:
    recall = recorded(space, "Brasa", cafe[0])
    before = strength(cafe[0])
    stranger = uuid.uuid4()
    with pytest.raises(services.NotInRecall) as refused:
        services.record_feedback(space, AGENT, recall.pk, useful=[cafe[0].pk, stranger])
    assert refused.value.details == {"not_in_recall": [str(stranger)]}
    assert not RecallFeedback.objects.for_space(space).exists()
    assert strength(cafe[0]) == before
    assert not AuditEvent.objects.for_space(space).filter(action="memory.feedback").exists()


def test_it_refuses_a_hit_purged_since_the_search(
    space: Space, actor: Actor, cafe: list[Memory]
) -> None:
    recall = recorded(space, "Brasa", cafe[0], cafe[1])
    services.purge_memory(space, actor, cafe[1].pk, reason="asked to forget")
    with pytest.raises(services.MemoryNotFound):
        services.record_feedback(space, AGENT, recall.pk, useful=[cafe[0].pk, cafe[1].pk])
    assert not RecallFeedback.objects.for_space(space).exists()


# ----------------------------------------------------------------- the ranking prior


def ranked(space: Space, query: str, weight: float) -> SearchResult:
    return search(
        space, query, mode="vector", k=3, weights=Weights(feedback=weight), record_access=False
    )


def test_the_prior_reorders_hits_only_when_weighted(space: Space, cafe: list[Memory]) -> None:
    query = "when does Brasa open"
    before = [hit.memory.pk for hit in ranked(space, query, 0.0).hits]
    top, runner_up = before[0], before[1]
    recall = recorded(space, query, *[m for pk in before for m in cafe if m.pk == pk])
    services.record_feedback(space, AGENT, recall.pk, useful=[runner_up], not_useful=[top])

    unweighted = ranked(space, query, 0.0)
    weighted = ranked(space, query, 1.0)

    assert [hit.memory.pk for hit in unweighted.hits] == before
    assert all("feedback" not in hit.components for hit in unweighted.hits)
    # Marked useful: first; marked not useful: below the one nobody marked.
    assert [hit.memory.pk for hit in weighted.hits] == [runner_up, before[2], top]
    components = {
        hit.memory.pk: hit.components["feedback"]
        for hit in weighted.hits
        if "feedback" in hit.components
    }
    assert set(components) == {runner_up, top}
    assert components[runner_up]["prior"] == pytest.approx(1.0)
    assert components[top]["prior"] == pytest.approx(-1.0)


def test_the_prior_ignores_feedback_on_queries_unlike_this_one(
    space: Space, cafe: list[Memory]
) -> None:
    recall = recorded(space, "when does Brasa open", cafe[0])
    services.record_feedback(space, AGENT, recall.pk, not_useful=[cafe[0].pk])
    vector = get_backend().embed(["who coaches the running club"])[0]

    assert feedback_prior(space, vector, [m.pk for m in cafe]) == {}
    assert feedback_prior(space, recall.query_vector, [cafe[0].pk]) == {
        cafe[0].pk: pytest.approx(-1.0)
    }


def test_the_prior_costs_one_statement_and_only_when_weighted(
    space: Space, cafe: list[Memory]
) -> None:
    ranked(space, "Brasa", 0.0)  # caches warm
    with CaptureQueriesContext(connection) as off:
        ranked(space, "Brasa", 0.0)
    with CaptureQueriesContext(connection) as on:
        ranked(space, "Brasa", 1.0)
    assert len(on) == len(off) + 1
    assert not any("retrieval_recallfeedback" in q["sql"] for q in off)

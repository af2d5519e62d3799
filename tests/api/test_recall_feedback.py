"""POST /api/v1/recalls/{recall_id}/feedback: an agent says which hits of a search were
useful; the marks are stored, audited, and a useful hit gains strength once."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from apps.audit.models import AuditEvent
from apps.memories.models import Memory
from apps.retrieval import tasks
from apps.retrieval.models import Recall, RecallFeedback
from apps.spaces.models import ApiToken, Space
from tests.api.conftest import READ, error_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def recalls_now(monkeypatch: Any) -> None:
    """The worker's access-log task, run in this process as the search queues it."""
    monkeypatch.setattr(tasks.record_recall, "delay", tasks.record_recall)


@pytest.fixture
def cafe(space: Space, make_memory: Callable[..., Memory]) -> list[Memory]:
    return [
        make_memory("Brasa opens at noon on Sundays."),
        make_memory("Brasa closes at ten on weekdays."),
        make_memory("Inês runs front of house at Brasa."),
    ]


def searched(agent: APIClient, query: str = "Brasa") -> dict[str, Any]:
    response = agent.post("/api/v1/search", {"query": query, "mode": "text"}, format="json")
    assert response.status_code == 200, response.content
    return dict(response.json())


def feedback(agent: APIClient, recall_id: str, **body: Any) -> Any:
    return agent.post(f"/api/v1/recalls/{recall_id}/feedback", body, format="json")


def strength(memory: Memory) -> float:
    return Memory.objects.for_space(memory.space_id).get(pk=memory.pk).strength


def test_it_answers_a_search_with_the_id_of_its_recall(
    reader: APIClient, space: Space, cafe: list[Memory], recalls_now: None
) -> None:
    answer = searched(reader)
    recall = Recall.objects.for_space(space).get(pk=answer["recall_id"])
    assert [str(pk) for pk in recall.memory_ids] == [h["memory"]["id"] for h in answer["hits"]]
    assert recall.query == "Brasa" and recall.mode == "text"
    assert recall.actor_label == f"token:{reader.token.name}"  # type: ignore[attr-defined]
    # The access log names the recall, so its page can show the feedback.
    logged = AuditEvent.objects.for_space(space).filter(action="memory.recall")
    assert {event.summary["recall_id"] for event in logged} == {answer["recall_id"]}


def test_it_answers_a_search_that_found_nothing_without_a_recall(
    reader: APIClient, space: Space, cafe: list[Memory]
) -> None:
    answer = searched(reader, "zebra xylophone")
    assert answer["hits"] == [] and answer["recall_id"] is None
    assert not Recall.objects.for_space(space).exists()


def test_it_stores_the_marks_strengthens_useful_hits_and_audits_them(
    reader: APIClient, space: Space, cafe: list[Memory], recalls_now: None
) -> None:
    answer = searched(reader)
    first, second = answer["hits"][0]["memory"]["id"], answer["hits"][1]["memory"]["id"]
    before = {m.pk: strength(m) for m in cafe}

    response = feedback(
        reader, answer["recall_id"], useful=[first], not_useful=[second], note="asked hours"
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["recall_id"] == answer["recall_id"] and body["query"] == "Brasa"
    assert [(m["memory"], m["verdict"], m["note"]) for m in body["marks"]] == [
        (first, "useful", "asked hours"),
        (second, "not_useful", "asked hours"),
    ]
    stored = {
        str(mark.memory_id): mark
        for mark in RecallFeedback.objects.for_space(space).filter(recall_id=answer["recall_id"])
    }
    assert {pk: mark.verdict for pk, mark in stored.items()} == {
        first: "useful",
        second: "not_useful",
    }
    assert stored[first].actor_label == f"token:{reader.token.name}"  # type: ignore[attr-defined]
    by_id = {str(m.pk): m for m in cafe}
    assert strength(by_id[first]) == before[by_id[first].pk] + 1
    assert strength(by_id[second]) == before[by_id[second].pk]
    assert {m["memory"]: m["strength"] for m in body["marks"]} == {
        first: strength(by_id[first]),
        second: strength(by_id[second]),
    }
    events = AuditEvent.objects.for_space(space).filter(action="memory.feedback")
    assert {(e.target_id, e.summary["verdict"]) for e in events} == {
        (first, "useful"),
        (second, "not_useful"),
    }
    event = events.get(target_id=first)
    assert event.summary["recall_id"] == answer["recall_id"]
    assert event.summary["query"] == "Brasa" and event.summary["note"] == "asked hours"


def test_it_counts_a_useful_hit_once_however_often_it_is_marked(
    reader: APIClient, space: Space, cafe: list[Memory], recalls_now: None
) -> None:
    answer = searched(reader)
    hit = answer["hits"][0]["memory"]["id"]
    memory = Memory.objects.for_space(space).get(pk=hit)
    before = strength(memory)

    for verdict in ("useful", "useful", "not_useful", "useful"):
        assert feedback(reader, answer["recall_id"], **{verdict: [hit]}).status_code == 200

    assert strength(memory) == before + 1
    (mark,) = RecallFeedback.objects.for_space(space).filter(memory_id=hit)
    assert mark.verdict == "useful" and mark.strengthened
    assert AuditEvent.objects.for_space(space).filter(action="memory.feedback").count() == 4


def test_it_replaces_the_verdict_and_note_of_a_hit_marked_again(
    reader: APIClient, space: Space, cafe: list[Memory], recalls_now: None
) -> None:
    answer = searched(reader)
    hit = answer["hits"][0]["memory"]["id"]
    feedback(reader, answer["recall_id"], useful=[hit], note="right")
    response = feedback(reader, answer["recall_id"], not_useful=[hit], note="out of date")
    assert response.status_code == 200
    (mark,) = RecallFeedback.objects.for_space(space).filter(memory_id=hit)
    assert (mark.verdict, mark.note) == ("not_useful", "out of date")


def test_it_finds_no_recall_of_another_space(
    reader: APIClient,
    outsider: APIClient,
    space: Space,
    cafe: list[Memory],
    recalls_now: None,
) -> None:
    answer = searched(reader)
    hit = answer["hits"][0]["memory"]["id"]

    response = feedback(outsider, answer["recall_id"], useful=[hit])

    assert response.status_code == 404
    assert error_of(response)["code"] == "recall_not_found"
    assert not RecallFeedback.objects.for_space(space).exists()
    assert not AuditEvent.objects.for_space(space).filter(action="memory.feedback").exists()


@pytest.mark.parametrize("recall_id", [str(uuid.uuid4()), "not-a-uuid"])
def test_it_answers_404_for_a_recall_that_does_not_exist(
    reader: APIClient, cafe: list[Memory], recall_id: str
) -> None:
    response = feedback(reader, recall_id, useful=[str(cafe[0].pk)])
    assert response.status_code == 404
    assert error_of(response)["code"] == "recall_not_found"


def test_it_refuses_memories_the_recall_did_not_return_and_writes_nothing(
    reader: APIClient,
    space: Space,
    cafe: list[Memory],
    make_memory: Callable[..., Memory],
    recalls_now: None,
) -> None:
    answer = searched(reader, "noon Sundays")
    returned = {h["memory"]["id"] for h in answer["hits"]}
    stranger = make_memory("Maya coaches on Tuesdays.")
    hit = next(iter(returned))
    memory = Memory.objects.for_space(space).get(pk=hit)
    before = strength(memory)

    response = feedback(reader, answer["recall_id"], useful=[hit, str(stranger.pk)])

    assert response.status_code == 422
    error = error_of(response)
    assert error["code"] == "not_in_recall"
    assert error["details"]["not_in_recall"] == [str(stranger.pk)]
    assert not RecallFeedback.objects.for_space(space).exists()
    assert strength(memory) == before
    assert not AuditEvent.objects.for_space(space).filter(action="memory.feedback").exists()


@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "useful"),
        ({"useful": [], "not_useful": []}, "useful"),
        ({"useful": ["not-an-id"]}, "useful"),
        ({"useful": "one id"}, "useful"),
        ({"note": "no marks"}, "useful"),
        ({"useful": ["{hit}"], "verdict": "good"}, "verdict"),
        ({"useful": ["{hit}"], "note": "x" * (RecallFeedback.NOTE_MAX_LENGTH + 1)}, "note"),
        ({"useful": ["{hit}"], "not_useful": ["{hit}"]}, "both"),
    ],
)
def test_it_refuses_a_malformed_body_with_400(
    reader: APIClient,
    space: Space,
    cafe: list[Memory],
    recalls_now: None,
    body: dict[str, Any],
    field: str,
) -> None:
    answer = searched(reader)
    hit = answer["hits"][0]["memory"]["id"]
    filled = {
        key: [item.replace("{hit}", hit) for item in value]
        if isinstance(value, list) and all(isinstance(i, str) for i in value)
        else value
        for key, value in body.items()
    }

    response = feedback(reader, answer["recall_id"], **filled)

    assert response.status_code == 400, response.content
    error = error_of(response)
    assert error["code"] == "invalid_request"
    assert field in error["details"]
    assert not RecallFeedback.objects.for_space(space).exists()


def test_it_lets_a_read_only_token_give_feedback_and_refuses_a_revoked_one(
    agent_for: Callable[..., APIClient], space: Space, cafe: list[Memory], recalls_now: None
) -> None:
    reader = agent_for(space, READ)
    answer = searched(reader)
    hit = answer["hits"][0]["memory"]["id"]
    assert feedback(reader, answer["recall_id"], useful=[hit]).status_code == 200

    token = reader.token  # type: ignore[attr-defined]
    ApiToken.objects.filter(pk=token.pk).update(revoked_at=timezone.now())
    response = feedback(reader, answer["recall_id"], not_useful=[hit])

    assert response.status_code == 401
    (mark,) = RecallFeedback.objects.for_space(space).all()
    assert mark.verdict == "useful"


def test_it_replays_a_retried_request_without_marking_twice(
    reader: APIClient, space: Space, cafe: list[Memory], recalls_now: None
) -> None:
    answer = searched(reader)
    hit = answer["hits"][0]["memory"]["id"]
    url = f"/api/v1/recalls/{answer['recall_id']}/feedback"
    first = reader.post(url, {"useful": [hit]}, format="json", HTTP_IDEMPOTENCY_KEY="fb-1")
    again = reader.post(url, {"useful": [hit]}, format="json", HTTP_IDEMPOTENCY_KEY="fb-1")
    assert first.status_code == again.status_code == 200
    assert again["Idempotent-Replayed"] == "true"
    assert AuditEvent.objects.for_space(space).filter(action="memory.feedback").count() == 1

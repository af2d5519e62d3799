"""What a write answers. A token that may only write gets a receipt (ids, versions,
status, timestamps) and nothing of what a memory holds; a token that may also read gets
the memories, and that answer is in their access log like any read, unless all it
shows is what the token has just sent to be created."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from rest_framework.test import APIClient

from apps.audit.models import AuditEvent
from apps.consolidation import services as consolidation
from apps.memories import services
from apps.memories.models import Memory
from apps.spaces.models import Scope

pytestmark = pytest.mark.django_db

WRITE_ONLY = [Scope.MEMORIES_WRITE]
READ_WRITE = [Scope.MEMORIES_READ, Scope.MEMORIES_WRITE]
HELD = ("content", "subject", "tags", "metadata")
# Each memory holds text found nowhere else, so any echo of it shows in the body.
SECRETS: dict[str, Any] = {
    "content": "The vault code is 4471-ALPHA.",
    "subject": "vault-subject-ALPHA",
    "tags": ["vault-tag-alpha"],
    "metadata": {"vault-key-alpha": "vault-value-alpha"},
}
OTHER: dict[str, Any] = {
    "content": "The safe code is 9902-BRAVO.",
    "subject": "vault-subject-BRAVO",
    "tags": ["vault-tag-bravo"],
    "metadata": {"vault-key-bravo": "vault-value-bravo"},
}
SENT: dict[str, Any] = {
    "content": "A new note 5583-CHARLIE.",
    "subject": "vault-subject-CHARLIE",
    "tags": ["vault-tag-charlie"],
    "metadata": {"vault-key-charlie": "vault-value-charlie"},
}
SENT_TOO: dict[str, Any] = {**SENT, "content": "Another new note 6614-DELTA."}
SECRET_TEXTS = [
    text
    for fields in (SECRETS, OTHER, SENT, SENT_TOO)
    for text in (fields["content"], fields["subject"], *fields["tags"], *fields["metadata"])
]


@dataclass
class Stored:
    first: Memory  # at version 2: its first version can be reverted to
    second: Memory
    archived: Memory


@pytest.fixture
def stored(space, actor) -> Stored:
    first = services.create_memory(space, actor, **SECRETS)
    services.update_memory(space, actor, first.pk, expected_version=None, importance=0.9)
    second = services.create_memory(space, actor, **OTHER)
    archived = services.create_memory(space, actor, **{**OTHER, "content": "Archived 7725-ECHO."})
    services.archive_memory(space, actor, archived.pk)
    return Stored(first, second, archived)


@dataclass(frozen=True)
class Write:
    name: str
    via: str | None  # how the access log names it; None: the answer is no read
    send: Callable[[APIClient, Stored], Any]
    status: int = 200


WRITES = [
    Write(
        "create",
        None,
        lambda c, m: c.post("/api/v1/memories", SENT, format="json"),
        201,
    ),
    Write(
        "batch",
        None,
        lambda c, m: c.post("/api/v1/memories/batch", {"items": [SENT, SENT_TOO]}, format="json"),
        201,
    ),
    Write(
        "update with nothing",
        "update",
        lambda c, m: c.patch(f"/api/v1/memories/{m.first.pk}", {}, format="json"),
    ),
    Write(
        "update",
        "update",
        lambda c, m: c.patch(f"/api/v1/memories/{m.first.pk}", {"pinned": True}, format="json"),
    ),
    Write("delete", "delete", lambda c, m: c.delete(f"/api/v1/memories/{m.first.pk}")),
    Write(
        "archive",
        "archive",
        lambda c, m: c.post(f"/api/v1/memories/{m.first.pk}/archive", {}, format="json"),
    ),
    Write(
        "restore",
        "restore",
        lambda c, m: c.post(f"/api/v1/memories/{m.archived.pk}/restore", {}, format="json"),
    ),
    Write(
        "merge",
        "merge",
        lambda c, m: c.post(
            "/api/v1/memories/merge", {"ids": [str(m.first.pk), str(m.second.pk)]}, format="json"
        ),
        201,
    ),
    Write(
        "supersede by an existing memory",
        "supersede",
        lambda c, m: c.post(
            f"/api/v1/memories/{m.first.pk}/supersede", {"by": str(m.second.pk)}, format="json"
        ),
    ),
    Write(
        "supersede by a new memory",
        "supersede",
        lambda c, m: c.post(
            f"/api/v1/memories/{m.first.pk}/supersede", {"memory": SENT}, format="json"
        ),
    ),
    Write(
        "revert",
        "revert",
        lambda c, m: c.post(f"/api/v1/memories/{m.first.pk}/revert", {"version": 1}, format="json"),
    ),
    Write(
        "redact",
        "redact",
        lambda c, m: c.post(
            f"/api/v1/memories/{m.first.pk}/redact",
            {"spans": [{"start": 18, "end": 28, "type": "secret"}], "reason": "leak"},
            format="json",
        ),
    ),
    Write(
        "remember a conversation",
        None,
        lambda c, m: c.post(
            "/api/v1/episodes",
            {
                "messages": [{"content": SENT["content"], "metadata": SENT["metadata"]}],
                "remember": True,
            },
            format="json",
        ),
        201,
    ),
]


def objects_in(value: Any) -> Iterator[dict[str, Any]]:
    if isinstance(value, dict):
        yield value
        for item in value.values():
            yield from objects_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from objects_in(item)


def memories_in(body: Any) -> list[dict[str, Any]]:
    return [item for item in objects_in(body) if "version" in item and "id" in item]


def assert_holds_nothing_written(response: Any) -> None:
    body = response.json()
    for item in objects_in(body):
        shown = sorted(set(item) & set(HELD))
        assert not shown, f"{shown} in {item}"
    text = json.dumps(body)
    for secret in SECRET_TEXTS:
        assert secret not in text


@pytest.mark.parametrize("write", WRITES, ids=lambda w: w.name)
def test_it_answers_a_write_only_token_with_a_receipt(agent_for, space, stored, write):
    response = write.send(agent_for(space, WRITE_ONLY), stored)

    assert response.status_code == write.status, response.content
    assert_holds_nothing_written(response)
    receipts = memories_in(response.json())
    assert receipts
    for receipt in receipts:
        assert set(receipt) == {"id", "version", "status", "created_at", "updated_at"}
        memory = Memory.objects.for_space(space).get(pk=receipt["id"])
        assert (receipt["version"], receipt["status"]) == (memory.version, memory.status)
    # A receipt shows nothing of a memory: it is no read to log.
    assert not AuditEvent.objects.for_space(space).filter(action="memory.read").exists()


@pytest.mark.parametrize("write", WRITES, ids=lambda w: w.name)
def test_it_answers_a_read_write_token_with_the_memories_and_logs_the_read(
    agent_for, space, stored, write
):
    response = write.send(agent_for(space, READ_WRITE), stored)

    assert response.status_code == write.status, response.content
    shown = memories_in(response.json())
    assert shown
    for item in shown:
        memory = Memory.objects.for_space(space).get(pk=item["id"])
        assert {name: item[name] for name in HELD} == {name: getattr(memory, name) for name in HELD}
    reads = AuditEvent.objects.for_space(space).filter(action="memory.read")
    logged = [] if write.via is None else [(item["id"], write.via) for item in shown]
    assert sorted((e.target_id, e.summary["via"]) for e in reads) == sorted(logged)


def test_it_answers_a_write_only_token_with_episode_receipts(agent_for, space):
    response = agent_for(space, WRITE_ONLY).post(
        "/api/v1/episodes",
        {"messages": [{"content": SENT["content"], "speaker": "maya"}]},
        format="json",
    )

    assert response.status_code == 201, response.content
    assert_holds_nothing_written(response)
    (episode,) = response.json()["episodes"]
    assert set(episode) == {"id", "occurred_at", "created_at"}
    assert response.json()["memories"] == []


@pytest.fixture
def proposal(space, actor, hashing_backend, embed_now):
    services.create_memories(
        space, actor, [{"content": SECRETS["content"]}, {"content": SECRETS["content"].upper()}]
    )
    embed_now(space)
    (made,) = consolidation.propose_merges(space)
    return made


@pytest.mark.parametrize("decision", ["approve", "reject"])
def test_it_answers_a_write_only_token_deciding_a_proposal_without_its_text(
    agent_for, space, proposal, decision
):
    response = agent_for(space, WRITE_ONLY).post(
        f"/api/v1/proposals/{proposal.pk}/{decision}", {}, format="json"
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert SECRETS["content"] not in json.dumps(body)
    assert SECRETS["content"].upper() not in json.dumps(body)
    assert "change" not in body and "evidence" not in body
    proposal.refresh_from_db()
    assert (body["id"], body["status"]) == (proposal.pk, proposal.status)
    assert body["result"] == proposal.result


def test_it_shows_a_read_write_token_the_proposal_it_decided(agent_for, space, proposal):
    response = agent_for(space, READ_WRITE).post(
        f"/api/v1/proposals/{proposal.pk}/approve", {}, format="json"
    )

    assert response.status_code == 200, response.content
    assert response.json()["change"]["content"] == proposal.change["content"]


def test_a_link_answer_holds_no_memory_text(agent_for, space, stored):
    response = agent_for(space, WRITE_ONLY).post(
        "/api/v1/links",
        {"source": str(stored.first.pk), "target": str(stored.second.pk), "type": "related_to"},
        format="json",
    )

    assert response.status_code == 201, response.content
    text = response.content.decode()
    assert not [secret for secret in SECRET_TEXTS if secret in text]

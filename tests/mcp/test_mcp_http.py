"""The MCP tools over streamable HTTP, with the official client: the same tokens,
scopes, errors, isolation and audit as the REST API."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone
from mcp.shared.exceptions import MCPError
from mcp_types import CallToolResult

from apps.audit.models import AuditEvent
from apps.memories.models import Link, Memory, MemoryVersion, Status
from apps.retrieval.models import RecallFeedback
from apps.spaces.models import ApiToken, Membership, Role, Space
from tests.mcp.conftest import READ, WRITE, error_of, http_client, run_client, text_of

pytestmark = pytest.mark.django_db(transaction=True)

Call = Callable[..., CallToolResult]
TOOLS = {
    "remember",
    "recall",
    "get_memory",
    "update_memory",
    "forget",
    "history",
    "link",
    "feedback",
}


@pytest.fixture
def home(transactional_db: Any) -> Space:
    return Space.objects.create(slug="home", name="Home")


@pytest.fixture
def writer(home: Space, token_for: Callable[..., str]) -> str:
    return token_for(home, WRITE)


def remembered(call: Call, token: str, content: str, **fields: Any) -> dict[str, Any]:
    result = call(token, "remember", content=content, **fields)
    assert not result.is_error, text_of(result)
    assert result.structured_content is not None
    return dict(result.structured_content)


def test_it_lists_the_tools_with_descriptions_for_a_model(mcp_url: str, writer: str) -> None:
    listed = run_client(http_client(mcp_url, writer), lambda c: c.list_tools())
    tools = {tool.name: tool for tool in listed.tools}
    assert set(tools) == TOOLS
    for tool in tools.values():
        assert tool.description and len(tool.description) > 30, tool.name
        for name, schema in tool.input_schema["properties"].items():
            assert schema.get("description") or name in {"memory_id", "source", "target"}, (
                tool.name,
                name,
            )
    assert tools["recall"].annotations is not None and tools["recall"].annotations.read_only_hint
    assert tools["forget"].annotations is not None and tools["forget"].annotations.destructive_hint


def test_it_refuses_requests_without_a_live_token(mcp_url: str, home: Space) -> None:
    token, raw = ApiToken.issue(space=home, name="soon revoked", scopes=WRITE)
    token.revoked_at = timezone.now()
    token.save(update_fields=["revoked_at"])
    request = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    for headers in ({}, {"Authorization": f"Bearer {raw}"}, {"Authorization": "Bearer mw_x_y"}):
        response = httpx.post(
            mcp_url, json=request, headers={"Accept": "application/json", **headers}
        )
        assert response.status_code == 401
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert response.json()["error"]["code"] in {"not_authenticated", "authentication_failed"}
    # The client, refused at the door, cannot even start its session.
    with pytest.raises(ExceptionGroup) as refused:
        run_client(http_client(mcp_url, raw), lambda c: c.list_tools())
    assert refused.group_contains(MCPError)


def test_it_remembers_a_memory_and_recalls_it(call: Call, writer: str, home: Space) -> None:
    stored = remembered(
        call,
        writer,
        "Maya moved to Porto in March.",
        subject="Maya",
        kind="fact",
        tags=["home"],
        occurred_at="2026-03-01T09:00:00Z",
    )
    memory = Memory.objects.for_space(home).get(pk=stored["id"])
    assert (memory.subject, memory.kind, memory.tags) == ("Maya", "fact", ["home"])
    assert memory.occurred_at is not None and memory.occurred_at.month == 3

    result = call(writer, "recall", query="Where does Maya live?", k=3, explain=True)
    assert not result.is_error, text_of(result)
    text = text_of(result)
    assert "1. [score " in text and "Maya moved to Porto in March." in text
    assert f"id {memory.pk}" in text and "version 1" in text and "2026-03-01 09:00" in text
    assert result.structured_content is not None
    hits = result.structured_content["hits"]
    assert hits[0]["memory"]["id"] == str(memory.pk) and "explain" in hits[0]


def test_it_recalls_with_the_rest_filters(call: Call, writer: str) -> None:
    remembered(call, writer, "Maya drinks green tea.", subject="Maya")
    remembered(call, writer, "Tomás drinks green tea.", subject="Tomás")
    result = call(writer, "recall", query="green tea", subject="Tomás", mode="text")
    assert result.structured_content is not None
    hits = result.structured_content["hits"]
    assert [hit["memory"]["subject"] for hit in hits] == ["Tomás"]

    bad = error_of(call(writer, "recall", query="tea", occurred_after="last tuesday"))
    assert bad["code"] == "invalid_request"


def test_it_remembers_a_conversation_as_episodes(call: Call, writer: str, home: Space) -> None:
    messages = [
        {"content": "I am training for the Lisbon marathon.", "speaker": "Maya", "role": "user"},
        {"content": "Good luck! When is it?", "speaker": "assistant", "role": "assistant"},
    ]
    result = call(writer, "remember", messages=messages, session="chat-1")
    assert not result.is_error, text_of(result)
    assert text_of(result) == "Stored 2 messages as memories."
    stored = Memory.objects.for_space(home).order_by("created_at")
    assert [m.content for m in stored] == [m["content"] for m in messages]
    assert {m.session for m in stored} == {"chat-1"}


def test_it_asks_for_content_or_messages(call: Call, writer: str, home: Space) -> None:
    error = error_of(call(writer, "remember"))
    assert error["code"] == "invalid_request"
    assert not Memory.objects.for_space(home).exists()


def test_it_replays_a_remember_with_the_same_key(call: Call, writer: str, home: Space) -> None:
    first = remembered(call, writer, "Maya likes figs.", idempotency_key="chat-1/turn-4")
    again = remembered(call, writer, "Maya likes figs.", idempotency_key="chat-1/turn-4")
    assert again["id"] == first["id"]
    assert Memory.objects.for_space(home).count() == 1

    other = error_of(call(writer, "remember", content="Other", idempotency_key="chat-1/turn-4"))
    assert other["code"] == "idempotency_key_reused"
    assert Memory.objects.for_space(home).count() == 1


def test_it_reads_and_corrects_a_memory_with_the_version_read(
    call: Call, writer: str, home: Space
) -> None:
    stored = remembered(call, writer, "Maya lives in Lisbon.", subject="Maya")
    read = call(writer, "get_memory", memory_id=stored["id"])
    assert "Maya lives in Lisbon. | " in text_of(read) and "version 1" in text_of(read)

    updated = call(
        writer,
        "update_memory",
        memory_id=stored["id"],
        expected_version=1,
        content="Maya lives in Porto.",
        reason="she moved",
    )
    assert not updated.is_error, text_of(updated)
    memory = Memory.objects.for_space(home).get(pk=stored["id"])
    assert (memory.content, memory.version) == ("Maya lives in Porto.", 2)

    history = text_of(call(writer, "history", memory_id=stored["id"]))
    assert "v1 create" in history and "Maya lives in Lisbon." in history
    assert "v2 update" in history and "(she moved)" in history


def test_it_names_the_current_version_on_a_stale_update(
    call: Call, writer: str, home: Space
) -> None:
    stored = remembered(call, writer, "Maya lives in Lisbon.")
    call(writer, "update_memory", memory_id=stored["id"], expected_version=1, content="Porto.")
    stale = call(writer, "update_memory", memory_id=stored["id"], expected_version=1, content="X")
    error = error_of(stale)
    assert error["code"] == "version_conflict"
    assert error["details"]["current_version"] == 2
    assert '"current_version": 2' in text_of(stale)
    assert Memory.objects.for_space(home).get(pk=stored["id"]).content == "Porto."
    assert MemoryVersion.objects.for_space(home).filter(memory_id=stored["id"]).count() == 2


def test_it_archives_by_default_and_purges_only_with_admin(
    call: Call, writer: str, home: Space, token_for: Callable[..., str]
) -> None:
    kept = remembered(call, writer, "Maya's old phone number ends in 12.")
    result = call(writer, "forget", memory_id=kept["id"], reason="outdated")
    assert text_of(result) == f"Archived memory {kept['id']}."
    assert Memory.objects.for_space(home).get(pk=kept["id"]).status == Status.ARCHIVED

    gone = remembered(call, writer, "A secret that should not be here.")
    assert call(writer, "forget", memory_id=gone["id"], how="delete").is_error is False
    assert Memory.objects.for_space(home).get(pk=gone["id"]).status == Status.DELETED

    refused = error_of(call(writer, "forget", memory_id=gone["id"], how="purge"))
    assert refused["code"] == "forbidden"
    assert Memory.objects.for_space(home).filter(pk=gone["id"]).exists()
    admin = token_for(home, ["admin"])
    assert not call(admin, "forget", memory_id=gone["id"], how="purge").is_error
    assert not Memory.objects.for_space(home).filter(pk=gone["id"]).exists()


def test_it_links_two_memories(call: Call, writer: str, home: Space) -> None:
    old = remembered(call, writer, "Maya lives in Lisbon.")
    new = remembered(call, writer, "Maya lives in Porto.")
    result = call(writer, "link", source=new["id"], target=old["id"], type="supersedes")
    assert not result.is_error, text_of(result)
    link = Link.objects.for_space(home).get()
    assert (str(link.source_id), str(link.target_id), link.type) == (
        new["id"],
        old["id"],
        "supersedes",
    )


def test_it_refuses_write_tools_to_a_read_only_token(
    call: Call, writer: str, home: Space, token_for: Callable[..., str]
) -> None:
    stored = remembered(call, writer, "Maya lives in Lisbon.")
    reader = token_for(home, READ)
    assert not call(reader, "get_memory", memory_id=stored["id"]).is_error
    attempts = [
        ("remember", {"content": "Injected."}),
        ("update_memory", {"memory_id": stored["id"], "expected_version": 1, "content": "X"}),
        ("forget", {"memory_id": stored["id"]}),
        ("link", {"source": stored["id"], "target": stored["id"]}),
    ]
    for name, arguments in attempts:
        error = error_of(call(reader, name, **arguments))
        assert error["code"] == "forbidden", name
        assert "memories:write" in error["message"], (name, error)
    memory = Memory.objects.for_space(home).get()
    assert (memory.content, memory.version, memory.status) == ("Maya lives in Lisbon.", 1, "active")


def test_it_answers_another_spaces_memory_as_not_found(
    call: Call, writer: str, token_for: Callable[..., str]
) -> None:
    stored = remembered(call, writer, "Maya's address is private.")
    elsewhere = Space.objects.create(slug="elsewhere", name="Elsewhere")
    outsider = token_for(elsewhere, ["admin"])
    for name, arguments in [
        ("get_memory", {"memory_id": stored["id"]}),
        ("history", {"memory_id": stored["id"]}),
        ("update_memory", {"memory_id": stored["id"], "expected_version": 1, "content": "X"}),
        ("forget", {"memory_id": stored["id"], "how": "purge"}),
    ]:
        error = error_of(call(outsider, name, **arguments))
        assert error["code"] == "not_found", name
    hits = call(outsider, "recall", query="Maya address", mode="text").structured_content
    assert hits is not None and hits["hits"] == []


def test_it_audits_each_call_with_the_token_as_actor(call: Call, writer: str, home: Space) -> None:
    stored = remembered(call, writer, "Maya lives in Lisbon.")
    call(writer, "update_memory", memory_id=stored["id"], expected_version=1, content="Porto.")
    token = ApiToken.objects.get(space=home)
    events = AuditEvent.objects.for_space(home).filter(target_id=stored["id"]).order_by("id")
    assert [e.action for e in events][:2] == ["memory.create", "memory.update"]
    assert {e.actor_token_id for e in events} == {token.pk}
    assert {e.actor_type for e in events} == {"token"}
    versions = (
        MemoryVersion.objects.for_space(home).filter(memory_id=stored["id"]).order_by("version")
    )
    assert [(v.version, v.actor_type, v.actor_label) for v in versions] == [
        (1, "token", f"token:{token.name}"),
        (2, "token", f"token:{token.name}"),
    ]


def test_it_answers_the_structured_content_as_json(call: Call, writer: str) -> None:
    stored = remembered(call, writer, "Maya likes figs.")
    result = call(writer, "get_memory", memory_id=stored["id"])
    assert result.structured_content is not None
    assert json.loads(json.dumps(result.structured_content))["content"] == "Maya likes figs."


def test_it_takes_feedback_on_a_recall_and_strengthens_the_useful_hit(
    call: Call, writer: str, home: Space
) -> None:
    opens = remembered(call, writer, "Brasa opens at noon on Sundays.")
    closes = remembered(call, writer, "Brasa closes at ten on weekdays.")
    found = call(writer, "recall", query="Brasa", mode="text")
    assert found.structured_content is not None
    recall_id = found.structured_content["recall_id"]
    assert text_of(found).startswith(f"recall_id {recall_id}\n")
    before = Memory.objects.for_space(home).get(pk=opens["id"]).strength

    result = call(
        writer,
        "feedback",
        recall_id=recall_id,
        useful=[opens["id"]],
        not_useful=[closes["id"]],
        note="asked about Sunday",
    )
    assert not result.is_error, text_of(result)
    assert Memory.objects.for_space(home).get(pk=opens["id"]).strength == before + 1
    marks = RecallFeedback.objects.for_space(home).order_by("verdict")
    assert [(str(m.memory_id), m.verdict, m.note) for m in marks] == [
        (closes["id"], "not_useful", "asked about Sunday"),
        (opens["id"], "useful", "asked about Sunday"),
    ]
    token = ApiToken.objects.get(space=home)
    audited = AuditEvent.objects.for_space(home).filter(action="memory.feedback")
    assert {e.actor_token_id for e in audited} == {token.pk} and audited.count() == 2

    unknown = error_of(call(writer, "feedback", recall_id=str(uuid.uuid4()), useful=[opens["id"]]))
    assert unknown["code"] == "recall_not_found"
    stranger = remembered(call, writer, "Not in that recall.")
    outside = error_of(call(writer, "feedback", recall_id=recall_id, useful=[stranger["id"]]))
    assert outside["code"] == "not_in_recall"
    assert RecallFeedback.objects.for_space(home).count() == 2


def test_it_shows_memories_agents_keep_rejecting_on_the_space_home(
    call: Call, writer: str, home: Space
) -> None:
    remembered(call, writer, "Brasa opens at noon on Sundays.")
    wrong = remembered(call, writer, "Brasa's old owner sold the place.")
    for query in ("when does Brasa open", "Brasa opening hours"):
        found = call(writer, "recall", query=query, mode="text")
        assert found.structured_content is not None
        ids = [hit["memory"]["id"] for hit in found.structured_content["hits"]]
        assert wrong["id"] in ids, query
        result = call(
            writer,
            "feedback",
            recall_id=found.structured_content["recall_id"],
            not_useful=[wrong["id"]],
        )
        assert not result.is_error, text_of(result)

    curator = get_user_model().objects.create_user("curator", password="correct horse battery")
    Membership.objects.create(space=home, user=curator, role=Role.EDITOR)
    browser = Client()
    browser.force_login(curator)
    html = browser.get("/s/home/").content.decode()
    listed = html.split('id="not-useful"', 1)[1].split("</section>", 1)[0]
    assert f"/s/home/memories/{wrong['id']}/#access" in listed
    assert "not useful 2 times" in listed
    assert "“Brasa opening hours”" in listed and "“when does Brasa open”" in listed
    assert "Brasa opens at noon" not in listed

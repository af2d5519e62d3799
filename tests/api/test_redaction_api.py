"""POST /api/v1/memories/{id}/redact: spans of the content become `[REDACTED:type]` in a
new version, and their text leaves the memory's history; bad input changes nothing."""

from __future__ import annotations

from typing import Any

from apps.audit.models import AuditEvent
from apps.memories.models import MemoryVersion
from apps.spaces.models import Scope

CONTENT = "Maya's phone is +44 20 7946 0958, call after six."


def redact(client: Any, memory: Any, body: dict[str, Any], **headers: str) -> Any:
    return client.post(f"/api/v1/memories/{memory.pk}/redact", body, format="json", **headers)


def phone_span(kind: str = "phone") -> dict[str, Any]:
    start = CONTENT.index("+44")
    return {"start": start, "end": start + len("+44 20 7946 0958"), "type": kind}


def test_it_answers_the_new_version_and_scrubs_the_history(writer, space, make_memory):
    memory = make_memory(CONTENT)

    response = redact(
        writer, memory, {"spans": [phone_span()], "reason": "personal data"}, HTTP_IF_MATCH='"1"'
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["content"] == "Maya's phone is [REDACTED:phone], call after six."
    assert body["version"] == 2 and response["ETag"] == '"2"'
    versions = MemoryVersion.objects.for_space(space).filter(memory=memory).order_by("version")
    assert [(v.action, "+44" in v.content) for v in versions] == [
        ("create", False),
        ("redact", False),
    ]
    event = AuditEvent.objects.for_space(space).get(action="memory.redact")
    assert (event.reason, event.summary["types"]) == ("personal data", ["phone"])


def test_it_refuses_a_stale_version_with_412(writer, space, make_memory):
    memory = make_memory(CONTENT)

    response = redact(
        writer, memory, {"spans": [phone_span()], "reason": "pii"}, HTTP_IF_MATCH='"7"'
    )

    assert response.status_code == 412
    memory.refresh_from_db()
    assert memory.version == 1 and memory.content == CONTENT


def test_it_refuses_a_span_outside_the_content_with_422_and_never_echoes_text(
    writer, space, make_memory
):
    memory = make_memory(CONTENT)

    response = redact(
        writer, memory, {"spans": [{"start": 40, "end": 400, "type": "phone"}], "reason": "pii"}
    )

    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid" and "spans[0]" in error["details"]
    assert "Maya" not in response.content.decode()
    memory.refresh_from_db()
    assert memory.version == 1


def test_it_refuses_a_body_without_reason_or_spans_with_400(writer, space, make_memory):
    memory = make_memory(CONTENT)

    for body in ({"spans": [phone_span()]}, {"spans": [], "reason": "x"}, {"reason": "x"}):
        response = redact(writer, memory, body)
        assert response.status_code == 400, body
        assert "error" in response.json()
    assert not AuditEvent.objects.for_space(space).filter(action="memory.redact").exists()


def test_it_needs_the_write_scope_and_hides_other_spaces(
    agent_for, reader, space, outsider_space, actor, make_memory
):
    memory = make_memory(CONTENT)
    outsider = agent_for(outsider_space, [Scope.MEMORIES_WRITE])

    assert redact(reader, memory, {"spans": [phone_span()], "reason": "x"}).status_code == 403
    assert redact(outsider, memory, {"spans": [phone_span()], "reason": "x"}).status_code == 404
    memory.refresh_from_db()
    assert memory.version == 1


def test_it_refuses_a_redaction_that_outgrows_the_content_limit_with_422(
    writer, space, make_memory, settings
):
    memory = make_memory(CONTENT)
    settings.MEMORY_MAX_CONTENT_CHARS = len(CONTENT)
    pin = {"start": CONTENT.index("six"), "end": CONTENT.index("six") + 3, "type": "time_of_day"}

    response = redact(writer, memory, {"spans": [pin], "reason": "pii"})

    assert response.status_code == 422, response.content
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert error["details"] == {
        "content": "too long once redacted",
        "chars": len(CONTENT) - 3 + len("[REDACTED:time_of_day]"),
        "limit": len(CONTENT),
    }
    assert "six" not in error["message"]
    memory.refresh_from_db()
    assert (memory.version, memory.content) == (1, CONTENT)
    assert not AuditEvent.objects.for_space(space).filter(action="memory.redact").exists()

"""GET /api/v1/export and POST /api/v1/import."""

from __future__ import annotations

import json

import pytest

from apps.memories.models import Memory
from apps.spaces.models import Space
from tests.api.conftest import WRITE, error_of

pytestmark = pytest.mark.django_db

JSONL = "application/x-ndjson"


def export(client) -> list[dict]:
    response = client.get("/api/v1/export")
    assert response.status_code == 200
    assert response["Content-Type"] == JSONL
    assert "attachment" in response["Content-Disposition"]
    return [json.loads(line) for line in b"".join(response.streaming_content).splitlines()]


def without_ids(rows: list[dict]) -> list[dict]:
    """Rows with ids replaced by their order of first appearance, the header dropped."""
    names: dict[str, str] = {}

    def rename(value):
        if isinstance(value, str) and value in ids:
            return names.setdefault(value, f"#{len(names)}")
        if isinstance(value, list):
            return [rename(v) for v in value]
        if isinstance(value, dict):
            return {k: rename(v) for k, v in value.items()}
        return value

    ids = {str(row["id"]) for row in rows if "id" in row}
    return [rename({k: v for k, v in row.items() if k != "id"}) for row in rows[1:]]


def test_export_then_import_into_an_empty_space_gives_the_same_export(writer, agent_for):
    stored = writer.post(
        "/api/v1/episodes",
        {
            "remember": True,
            "session": "s1",
            "messages": [
                {"content": "Maya lives in Porto.", "speaker": "Maya"},
                {"content": "Tomás cycles to work.", "speaker": "Tomás"},
            ],
        },
        format="json",
    ).json()
    first = stored["memories"][0]
    writer.patch(f"/api/v1/memories/{first['id']}", {"tags": ["home"]}, format="json")
    writer.post(
        f"/api/v1/memories/{first['id']}/supersede",
        {"memory": {"content": "Maya lives in Lisbon."}},
        format="json",
    )
    original = export(writer)
    assert [row["type"] for row in original].count("memory") == 3

    empty = Space.objects.create(slug="copy", name="Copy")
    copier = agent_for(empty, WRITE)
    body = b"".join(json.dumps(row).encode() + b"\n" for row in original)
    response = copier.post("/api/v1/import", body, content_type=JSONL)
    assert response.status_code == 200, response.content
    assert response.json() == {
        "imported": {"episode": 2, "memory": 3, "link": 2, "entity": 0},
        "errors": [],
    }
    copied = export(copier)
    assert without_ids(copied) == without_ids(original)
    assert copied[0]["slug"] == "copy"


def test_it_reports_bad_lines_and_imports_the_rest(writer, space):
    lines = [
        json.dumps({"type": "memory", "id": "m1", "content": "good", "kind": "fact"}),
        "{broken",
        json.dumps({"type": "memory", "id": "m2", "content": "bad kind", "kind": "gossip"}),
    ]
    response = writer.post("/api/v1/import", "\n".join(lines), content_type=JSONL)
    assert response.status_code == 200
    report = response.json()
    assert report["imported"]["memory"] == 1
    assert [(e["line"], e["code"]) for e in report["errors"]][:1] == [(2, "malformed_json")]
    assert [e["line"] for e in report["errors"]] == [2, 3]
    assert list(Memory.objects.for_space(space).values_list("content", flat=True)) == ["good"]


def test_an_atomic_import_with_a_bad_line_imports_nothing(writer, space):
    lines = [json.dumps({"type": "memory", "id": "m1", "content": "good"}), "{broken"]
    response = writer.post("/api/v1/import?atomic=true", "\n".join(lines), content_type=JSONL)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_import"
    assert error["details"]["errors"][0]["line"] == 2
    assert not Memory.objects.for_space(space).exists()


def test_it_refuses_an_import_that_is_too_large_or_not_json_lines(writer, space, settings):
    settings.API_MAX_IMPORT_BYTES = 10
    big = writer.post("/api/v1/import", json.dumps({"type": "memory"}) * 2, content_type=JSONL)
    assert big.status_code == 413
    assert error_of(big)["code"] == "request_too_large"
    wrong_type = writer.post("/api/v1/import", {"a": 1}, format="json")
    assert wrong_type.status_code == 415
    assert writer.post("/api/v1/import?atomic=maybe", "", content_type=JSONL).status_code == 400
    assert not Memory.objects.for_space(space).exists()


def test_import_needs_the_write_scope(reader):
    response = reader.post("/api/v1/import", "", content_type=JSONL)
    assert response.status_code == 403


def test_an_export_holds_only_the_callers_space(writer, outsider):
    writer.post("/api/v1/memories", {"content": "home secret"}, format="json")
    outsider.post("/api/v1/memories", {"content": "outsider note"}, format="json")
    contents = [row.get("content") for row in export(outsider)]
    assert "outsider note" in contents and "home secret" not in contents


@pytest.mark.django_db(transaction=True)
def test_it_exports_outside_a_test_transaction_in_one_read_only_snapshot(agent_for):
    space = Space.objects.create(slug="snap", name="Snapshot")
    client = agent_for(space, WRITE)
    client.post("/api/v1/memories", {"content": "committed"}, format="json")
    rows = export(client)  # the request runs its own REPEATABLE READ READ ONLY transaction
    assert [row.get("content") for row in rows if row["type"] == "memory"] == ["committed"]

"""/api/v1/memories: create, list, get, edit, lifecycle, batch, merge, supersede."""

from __future__ import annotations

import pytest

from apps.audit.models import AuditEvent
from apps.memories.models import Link, Memory, MemoryVersion
from tests.api.conftest import error_of

pytestmark = pytest.mark.django_db


def create(client, **fields):
    response = client.post(
        "/api/v1/memories", {"content": "Maya runs on Sundays.", **fields}, format="json"
    )
    assert response.status_code == 201, response.content
    return response.json()


def test_it_creates_a_memory_with_a_version_and_an_audit_event(writer, space):
    response = writer.post(
        "/api/v1/memories",
        {
            "content": "Maya is training for the Lisbon marathon.",
            "kind": "fact",
            "subject": "Maya",
            "tags": ["running", "goals"],
            "importance": 0.8,
            "occurred_at": "2026-03-01T10:00:00Z",
        },
        format="json",
    )
    assert response.status_code == 201
    body = response.json()
    assert response["ETag"] == '"1"'
    assert body["version"] == 1 and body["status"] == "active"
    assert body["agent"] == writer.token.name  # the token names the agent by default
    assert "embedding" not in body
    memory = Memory.objects.for_space(space).get(pk=body["id"])
    assert memory.tags == ["running", "goals"]
    assert memory.versions.get().actor_label == f"token:{writer.token.name}"
    assert (
        AuditEvent.objects.for_space(space)
        .filter(action="memory.create", target_id=str(memory.pk))
        .exists()
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"content": 42}, "content"),
        ({"content": ""}, "content"),
        ({}, "content"),
        ({"content": "x", "importance": "0.5"}, "importance"),
        ({"content": "x", "importance": 2}, "importance"),
        ({"content": "x", "pinned": "yes"}, "pinned"),
        ({"content": "x", "kind": "gossip"}, "kind"),
        ({"content": "x", "tags": "running"}, "tags"),
        ({"content": "x", "metadata": [1, 2]}, "metadata"),
        ({"content": "x", "occurred_at": "last tuesday"}, "occurred_at"),
        ({"content": "x", "colour": "blue"}, "colour"),
        ({"content": "x", "source_episodes": ["not-a-uuid"]}, "source_episodes"),
    ],
)
def test_it_refuses_bad_fields_and_stores_nothing(writer, space, body, field):
    response = writer.post("/api/v1/memories", body, format="json")
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "invalid_request"
    assert field in error["details"]
    assert not Memory.objects.for_space(space).exists()


def test_it_refuses_malformed_json(writer, space):
    response = writer.post("/api/v1/memories", "{not json", content_type="application/json")
    assert response.status_code == 400
    assert error_of(response)["code"] == "malformed_json"


def test_it_refuses_a_body_that_is_not_json(writer):
    response = writer.post("/api/v1/memories", "content=x", content_type="text/plain")
    assert response.status_code == 415
    assert error_of(response)["code"] == "unsupported_media_type"


def test_it_answers_413_for_content_over_the_limit(writer, space, settings):
    settings.MEMORY_MAX_CONTENT_CHARS = 100
    response = writer.post("/api/v1/memories", {"content": "x" * 101}, format="json")
    assert response.status_code == 413
    assert error_of(response)["code"] == "content_too_large"
    assert not Memory.objects.for_space(space).exists()


def test_it_refuses_inconsistent_validity_with_422(writer, space):
    response = writer.post(
        "/api/v1/memories",
        {"content": "x", "valid_from": "2026-02-01T00:00:00Z", "valid_to": "2026-01-01T00:00:00Z"},
        format="json",
    )
    assert response.status_code == 422
    assert not Memory.objects.for_space(space).exists()


def test_it_refuses_source_episodes_of_another_space(writer, outsider):
    episode = outsider.post(
        "/api/v1/episodes", {"messages": [{"content": "hi"}]}, format="json"
    ).json()["episodes"][0]["id"]
    response = writer.post(
        "/api/v1/memories", {"content": "x", "source_episodes": [episode]}, format="json"
    )
    assert response.status_code == 422
    assert error_of(response)["details"]["source_episodes"] == [episode]


def test_it_gets_a_memory_and_logs_the_read(writer, space):
    memory = create(writer)
    response = writer.get(f"/api/v1/memories/{memory['id']}")
    assert response.status_code == 200
    assert response.json()["content"] == "Maya runs on Sundays."
    assert response["ETag"] == '"1"'
    access = writer.get(f"/api/v1/memories/{memory['id']}/access").json()["results"]
    assert [(e["action"], e["summary"]["via"]) for e in access] == [("memory.read", "get")]
    assert access[0]["actor_label"] == f"token:{writer.token.name}"


def test_it_answers_404_for_an_id_that_is_not_a_uuid(writer):
    response = writer.get("/api/v1/memories/not-a-uuid")
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"


def test_it_lists_newest_first_with_a_stable_cursor(writer):
    ids = [create(writer, content=f"memory {i}")["id"] for i in range(5)]
    first = writer.get("/api/v1/memories?limit=2").json()
    assert [m["id"] for m in first["results"]] == ids[::-1][:2]
    create(writer, content="written while paging")  # must not shift the next pages
    second = writer.get(f"/api/v1/memories?limit=2&cursor={first['next_cursor']}").json()
    third = writer.get(second["next"].split("testserver")[1]).json()
    assert [m["id"] for m in second["results"] + third["results"]] == ids[::-1][2:]
    assert third["next_cursor"] is None


def test_it_filters_a_list_like_search_does(writer):
    create(writer, content="a", subject="Maya", tags=["x"], kind="preference")
    create(writer, content="b", subject="Tomás", tags=["y"])
    archived = create(writer, content="c", subject="Maya")
    writer.post(f"/api/v1/memories/{archived['id']}/archive", {}, format="json")

    def contents(query: str) -> list[str]:
        response = writer.get(f"/api/v1/memories?{query}")
        assert response.status_code == 200, response.content
        return sorted(m["content"] for m in response.json()["results"])

    assert contents("subject=Maya") == ["a"]
    assert contents("subject=Maya&status=active,archived") == ["a", "c"]
    assert contents("status=any") == ["a", "b", "c"]
    assert contents("tags=y,z") == ["b"]
    assert contents("kind=preference") == ["a"]
    assert contents("created_after=2000-01-01T00:00:00Z&created_before=2000-01-02T00:00:00Z") == []


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("colour=blue", "unknown_parameter"),
        ("cursor=not-a-cursor", "invalid_cursor"),
        ("cursor=WyJ4IiwgMV0", "invalid_cursor"),
        ("created_after=yesterday", "invalid_date"),
        ("created_after=2026-01-01T00:00:00", "invalid_date"),
        ("limit=0", "invalid_request"),
        ("limit=5000", "invalid_request"),
        ("kind=gossip", "invalid_search"),
        ("fields=content,colour", "invalid_request"),
    ],
)
def test_it_refuses_bad_list_parameters(writer, query, code):
    create(writer)
    response = writer.get(f"/api/v1/memories?{query}")
    assert response.status_code == 400
    assert error_of(response)["code"] == code


def test_it_returns_only_the_fields_asked_for(writer, django_assert_max_num_queries):
    create(writer)
    response = writer.get("/api/v1/memories?fields=id,subject,version")
    assert set(response.json()["results"][0]) == {"id", "subject", "version"}
    with_embedding = writer.get("/api/v1/memories?fields=embedding")
    assert with_embedding.json()["results"][0] == {
        "id": with_embedding.json()["results"][0]["id"],
        "embedding": None,
    }


def test_it_lists_a_page_in_a_bounded_number_of_queries(writer, django_assert_max_num_queries):
    for i in range(30):
        create(writer, content=f"memory {i}")
    # token, last-used, rate window (cache), page, source episodes, access log insert
    with django_assert_max_num_queries(6):
        response = writer.get("/api/v1/memories?limit=30")
    assert len(response.json()["results"]) == 30


def test_it_edits_with_if_match_and_refuses_a_stale_version(writer, space):
    memory = create(writer)
    edited = writer.patch(
        f"/api/v1/memories/{memory['id']}",
        {"content": "Maya runs on Saturdays.", "reason": "she moved her long run"},
        format="json",
        HTTP_IF_MATCH='"1"',
    )
    assert edited.status_code == 200
    assert edited.json()["version"] == 2 and edited["ETag"] == '"2"'
    stale = writer.patch(
        f"/api/v1/memories/{memory['id']}",
        {"content": "Maya runs on Mondays."},
        format="json",
        HTTP_IF_MATCH='"1"',
    )
    assert stale.status_code == 412
    error = error_of(stale)
    assert error["code"] == "version_conflict"
    assert error["details"]["current_version"] == 2
    stored = Memory.objects.for_space(space).get(pk=memory["id"])
    assert (stored.content, stored.version) == ("Maya runs on Saturdays.", 2)
    assert stored.versions.count() == 2
    assert stored.versions.get(version=2).reason == "she moved her long run"


def test_it_refuses_a_malformed_if_match(writer):
    memory = create(writer)
    response = writer.patch(
        f"/api/v1/memories/{memory['id']}", {"tags": ["x"]}, format="json", HTTP_IF_MATCH="abc"
    )
    assert response.status_code == 400


def test_it_refuses_a_bad_patch_and_changes_nothing(writer, space):
    memory = create(writer)
    response = writer.patch(
        f"/api/v1/memories/{memory['id']}", {"importance": "high", "tags": ["ok"]}, format="json"
    )
    assert response.status_code == 400
    stored = Memory.objects.for_space(space).get(pk=memory["id"])
    assert (stored.tags, stored.version) == ([], 1)


def test_it_soft_deletes_restores_and_archives(writer, space):
    memory = create(writer)
    url = f"/api/v1/memories/{memory['id']}"
    deleted = writer.delete(f"{url}?reason=wrong+person")
    assert deleted.status_code == 200 and deleted.json()["status"] == "deleted"
    assert writer.get("/api/v1/memories").json()["results"] == []
    again = writer.delete(url)
    assert again.status_code == 409
    assert error_of(again)["code"] == "invalid_transition"
    restored = writer.post(f"{url}/restore", {"reason": "it was right"}, format="json")
    assert restored.json()["status"] == "active"
    archived = writer.post(f"{url}/archive", {}, format="json")
    assert archived.json()["status"] == "archived"
    actions = list(
        MemoryVersion.objects.for_space(space)
        .filter(memory_id=memory["id"])
        .order_by("version")
        .values_list("action", "reason")
    )
    assert actions == [
        ("create", ""),
        ("delete", "wrong person"),
        ("restore", "it was right"),
        ("archive", ""),
    ]


def test_it_needs_a_reason_to_purge(admin_agent, space):
    memory = create(admin_agent)
    for body in ({}, {"reason": ""}, {"reason": "   "}):
        response = admin_agent.post(f"/api/v1/memories/{memory['id']}/purge", body, format="json")
        assert response.status_code in (400, 422)
        assert Memory.objects.for_space(space).filter(pk=memory["id"]).exists()
    done = admin_agent.post(
        f"/api/v1/memories/{memory['id']}/purge", {"reason": "user asked"}, format="json"
    )
    assert done.json() == {"id": memory["id"], "purged": True}
    purge = AuditEvent.objects.for_space(space).get(action="memory.purge")
    assert purge.reason == "user asked"


def test_it_merges_memories(writer, space):
    a = create(writer, content="Maya likes tea.")
    b = create(writer, content="Maya likes green tea in the morning.")
    response = writer.post(
        "/api/v1/memories/merge", {"ids": [a["id"], b["id"]], "reason": "duplicates"}, format="json"
    )
    assert response.status_code == 201
    merged = response.json()
    assert merged["content"] == "Maya likes green tea in the morning."
    statuses = set(
        Memory.objects.for_space(space)
        .filter(pk__in=[a["id"], b["id"]])
        .values_list("status", flat=True)
    )
    assert statuses == {"superseded"}
    assert (
        Link.objects.for_space(space).filter(source_id=merged["id"], type="derived_from").count()
        == 2
    )


def test_it_refuses_a_merge_of_one_memory(writer):
    a = create(writer)
    response = writer.post("/api/v1/memories/merge", {"ids": [a["id"]]}, format="json")
    assert response.status_code == 400


def test_it_supersedes_with_a_new_memory_or_an_existing_one(writer, space):
    old = create(writer, content="Maya lives in Porto.", subject="Maya")
    response = writer.post(
        f"/api/v1/memories/{old['id']}/supersede",
        {"memory": {"content": "Maya lives in Lisbon.", "valid_from": "2026-05-01T00:00:00Z"}},
        format="json",
        HTTP_IF_MATCH='"1"',
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["superseded"]["status"] == "superseded"
    assert body["superseded"]["valid_to"] == "2026-05-01T00:00:00Z"
    assert body["by"]["subject"] == "Maya"  # carried over
    assert (
        Link.objects.for_space(space)
        .filter(source_id=body["by"]["id"], target_id=old["id"], type="supersedes")
        .exists()
    )
    other = create(writer, content="Maya lives in Faro.")
    again = writer.post(
        f"/api/v1/memories/{body['by']['id']}/supersede", {"by": other["id"]}, format="json"
    )
    assert again.status_code == 200
    assert again.json()["by"]["id"] == other["id"]


def test_it_refuses_a_supersede_naming_both_or_neither(writer):
    old = create(writer)
    for body in ({}, {"by": old["id"], "memory": {"content": "x"}}):
        response = writer.post(f"/api/v1/memories/{old['id']}/supersede", body, format="json")
        assert response.status_code == 400


def test_a_stale_supersede_changes_nothing(writer, space):
    old = create(writer)
    writer.patch(f"/api/v1/memories/{old['id']}", {"tags": ["t"]}, format="json")
    response = writer.post(
        f"/api/v1/memories/{old['id']}/supersede",
        {"memory": {"content": "new"}},
        format="json",
        HTTP_IF_MATCH='"1"',
    )
    assert response.status_code == 412
    assert Memory.objects.for_space(space).count() == 1


# ------------------------------------------------------------------ batch


def test_it_creates_a_batch_with_a_result_per_item(writer, space):
    response = writer.post(
        "/api/v1/memories/batch",
        {
            "items": [
                {"content": "one"},
                {"content": "two", "importance": "very"},
                {
                    "content": "three",
                    "valid_from": "2026-02-01T00:00:00Z",
                    "valid_to": "2026-01-01T00:00:00Z",
                },
                {"content": "four", "tags": ["x"]},
            ]
        },
        format="json",
    )
    assert response.status_code == 207
    body = response.json()
    assert (body["created"], body["failed"]) == (2, 2)
    assert [r["status"] for r in body["results"]] == [201, 400, 422, 201]
    assert body["results"][1]["error"]["code"] == "invalid_request"
    assert "importance" in body["results"][1]["error"]["details"]
    assert sorted(Memory.objects.for_space(space).values_list("content", flat=True)) == [
        "four",
        "one",
    ]


def test_it_stores_nothing_of_an_atomic_batch_with_a_bad_item(writer, space):
    response = writer.post(
        "/api/v1/memories/batch",
        {"items": [{"content": "one"}, {"content": 2}], "atomic": True},
        format="json",
    )
    assert response.status_code == 400
    assert "1" in error_of(response)["details"]["items"]
    assert not Memory.objects.for_space(space).exists()


def test_it_stores_nothing_of_an_atomic_batch_the_domain_refuses(writer, space, settings):
    settings.MEMORY_MAX_CONTENT_CHARS = 10
    response = writer.post(
        "/api/v1/memories/batch",
        {"items": [{"content": "short"}, {"content": "far too long a text"}], "atomic": True},
        format="json",
    )
    assert response.status_code == 413
    assert not Memory.objects.for_space(space).exists()


def test_it_creates_a_whole_batch_with_201(writer, space):
    items = [{"content": f"memory {i}", "subject": "Maya"} for i in range(50)]
    response = writer.post("/api/v1/memories/batch", {"items": items}, format="json")
    assert response.status_code == 201
    assert response.json()["created"] == 50
    assert MemoryVersion.objects.for_space(space).count() == 50


def test_it_refuses_a_batch_over_the_limit(writer, space, settings):
    settings.API_MAX_BATCH = 3
    items = [{"content": f"memory {i}"} for i in range(4)]
    response = writer.post("/api/v1/memories/batch", {"items": items}, format="json")
    assert response.status_code == 413
    assert error_of(response)["code"] == "batch_too_large"
    assert not Memory.objects.for_space(space).exists()


def test_it_refuses_an_empty_batch(writer):
    response = writer.post("/api/v1/memories/batch", {"items": []}, format="json")
    assert response.status_code == 400


def test_a_retried_create_with_an_idempotency_key_stores_once(writer, space):
    first = writer.post(
        "/api/v1/memories", {"content": "once"}, format="json", HTTP_IDEMPOTENCY_KEY="k-1"
    )
    again = writer.post(
        "/api/v1/memories", {"content": "once"}, format="json", HTTP_IDEMPOTENCY_KEY="k-1"
    )
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert Memory.objects.for_space(space).count() == 1


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("delete", "/api/v1/memories/{id}", None),
        ("post", "/api/v1/memories/{id}/archive", {}),
        ("post", "/api/v1/memories/{id}/revert", {"version": 1}),
    ],
)
def test_it_refuses_a_lifecycle_step_on_a_stale_version(writer, space, method, path, body):
    memory = create(writer)
    edited = writer.patch(
        f"/api/v1/memories/{memory['id']}",
        {"content": "Maya swims on Sundays."},
        format="json",
        HTTP_IF_MATCH='"1"',
    )
    assert edited.status_code == 200
    stale = getattr(writer, method)(
        path.format(id=memory["id"]), body, format="json", HTTP_IF_MATCH='"1"'
    )
    assert stale.status_code == 412
    assert error_of(stale)["details"]["current_version"] == 2
    stored = Memory.objects.for_space(space).get(pk=memory["id"])
    assert (stored.status, stored.version, stored.content) == (
        "active",
        2,
        "Maya swims on Sundays.",
    )


def test_it_refuses_a_restore_on_a_stale_version(writer, space):
    memory = create(writer)
    deleted = writer.delete(f"/api/v1/memories/{memory['id']}", HTTP_IF_MATCH='"1"')
    assert deleted.status_code == 200 and deleted.json()["version"] == 2
    stale = writer.post(
        f"/api/v1/memories/{memory['id']}/restore", {}, format="json", HTTP_IF_MATCH='"1"'
    )
    assert stale.status_code == 412
    assert Memory.objects.for_space(space).get(pk=memory["id"]).status == "deleted"

"""Versions, links, entities, audit, spaces and tokens over the API."""

from __future__ import annotations

import pytest

from apps.audit.models import AuditEvent
from apps.memories.models import Entity, Link, Mention
from apps.spaces.models import ApiToken, Space
from tests.api.conftest import bearer, error_of

pytestmark = pytest.mark.django_db


def create(client, content="Maya runs on Sundays.", **fields):
    response = client.post("/api/v1/memories", {"content": content, **fields}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def test_it_lists_versions_and_reverts_to_one(writer):
    memory = create(writer)
    url = f"/api/v1/memories/{memory['id']}"
    writer.patch(url, {"content": "Maya runs on Saturdays."}, format="json")
    versions = writer.get(f"{url}/versions").json()["results"]
    assert [(v["version"], v["action"], v["content"]) for v in versions] == [
        (1, "create", "Maya runs on Sundays."),
        (2, "update", "Maya runs on Saturdays."),
    ]
    assert writer.get(f"{url}/versions/1").json()["content"] == "Maya runs on Sundays."
    assert writer.get(f"{url}/versions/9").status_code == 404
    stale = writer.post(f"{url}/revert", {"version": 1}, format="json", HTTP_IF_MATCH='"1"')
    assert stale.status_code == 412
    reverted = writer.post(f"{url}/revert", {"version": 1, "reason": "typo"}, format="json")
    assert reverted.status_code == 200
    assert (reverted.json()["content"], reverted.json()["version"]) == ("Maya runs on Sundays.", 3)
    missing = writer.post(f"{url}/revert", {"version": 7}, format="json")
    assert missing.status_code == 404
    assert writer.post(f"{url}/revert", {"version": "1"}, format="json").status_code == 400


def test_it_creates_lists_and_deletes_links(writer, space):
    a, b = create(writer, "a"), create(writer, "b")
    response = writer.post(
        "/api/v1/links", {"source": a["id"], "target": b["id"], "type": "related_to"}, format="json"
    )
    assert response.status_code == 201
    link = response.json()
    assert link["created_by"] == f"token:{writer.token.name}"
    assert [
        row["id"] for row in writer.get(f"/api/v1/links?memory={b['id']}").json()["results"]
    ] == [link["id"]]
    assert writer.get("/api/v1/links?type=supersedes").json()["results"] == []
    assert writer.get("/api/v1/links?source=nonsense").json()["results"] == []
    assert writer.get(f"/api/v1/memories/{a['id']}/links").json()["results"][0]["id"] == link["id"]
    assert writer.get(f"/api/v1/links/{link['id']}").json()["type"] == "related_to"
    assert writer.delete(f"/api/v1/links/{link['id']}").status_code == 204
    assert not Link.objects.for_space(space).exists()
    assert writer.delete(f"/api/v1/links/{link['id']}").status_code == 404
    assert writer.get("/api/v1/links/abc").status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        {"source": "A", "type": "related_to"},
        {"source": "x", "target": "y", "type": "related_to"},
        {"source": "A", "target": "B", "type": "friends_with"},
        {"source": "A", "target": "B", "type": "related_to", "weight": "heavy"},
        {"source": "A", "target": "B", "type": "related_to", "colour": "red"},
    ],
)
def test_it_refuses_a_bad_link(writer, space, body):
    ids = {"A": create(writer, "a")["id"], "B": create(writer, "b")["id"]}
    payload = {key: ids.get(value, value) for key, value in body.items()}
    response = writer.post("/api/v1/links", payload, format="json")
    assert response.status_code == 400
    assert not Link.objects.for_space(space).exists()


def test_it_refuses_a_self_link(writer):
    a = create(writer, "a")
    response = writer.post(
        "/api/v1/links", {"source": a["id"], "target": a["id"], "type": "related_to"}, format="json"
    )
    assert response.status_code == 422


def test_it_lists_entities_and_shows_one_with_its_memories(writer, space, outsider):
    memory = create(writer, "Maya met Tomás in Lisbon.")
    entity = Entity.objects.for_space(space).create(
        space=space, name="Lisbon", normalized_name="lisbon", kind="place"
    )
    Mention.objects.for_space(space).create(space=space, entity=entity, memory_id=memory["id"])
    listed = writer.get("/api/v1/entities?name=LISB").json()["results"]
    assert [(e["name"], e["memory_count"]) for e in listed] == [("Lisbon", 1)]
    detail = writer.get(f"/api/v1/entities/{entity.pk}").json()
    assert [m["id"] for m in detail["memories"]] == [memory["id"]]
    assert outsider.get(f"/api/v1/entities/{entity.pk}").status_code == 404
    assert writer.get("/api/v1/entities?kind=person").json()["results"] == []


def test_it_filters_the_audit_log(writer, reader, space):
    memory = create(writer)
    writer.patch(f"/api/v1/memories/{memory['id']}", {"tags": ["x"]}, format="json")
    reader.get(f"/api/v1/memories/{memory['id']}")

    def actions(query: str) -> list[str]:
        response = reader.get(f"/api/v1/audit?{query}")
        assert response.status_code == 200, response.content
        return [e["action"] for e in response.json()["results"]]

    assert actions(f"target_id={memory['id']}") == [
        "memory.read",
        "memory.read",  # the edit's answer showed the memory to its writer
        "memory.update",
        "memory.create",
    ]
    assert actions(f"actor=token:{writer.token.name}&target_type=memory") == [
        "memory.read",
        "memory.update",
        "memory.create",
    ]
    assert actions("action=memory.update") == ["memory.update"]
    assert actions("since=2999-01-01T00:00:00Z") == []
    assert reader.get("/api/v1/audit?until=tomorrow").status_code == 400


def test_it_shows_spaces_and_lets_only_an_admin_change_one(
    writer, admin_agent, space, outsider_space
):
    assert [s["slug"] for s in writer.get("/api/v1/spaces").json()["results"]] == ["home"]
    assert writer.get("/api/v1/spaces/home").json()["name"] == "Home"
    assert writer.get("/api/v1/spaces/outsider").status_code == 404
    refused = writer.patch("/api/v1/spaces/home", {"name": "Mine"}, format="json")
    assert refused.status_code == 403
    changed = admin_agent.patch(
        "/api/v1/spaces/home",
        {"name": "Household", "settings": {"consolidation": {"auto_apply": ["link"]}}},
        format="json",
    )
    assert changed.status_code == 200
    space.refresh_from_db()
    assert (space.name, space.settings) == (
        "Household",
        {"consolidation": {"auto_apply": ["link"]}},
    )
    assert AuditEvent.objects.for_space(space).filter(action="space.update").exists()
    assert (
        admin_agent.patch("/api/v1/spaces/outsider", {"name": "x"}, format="json").status_code
        == 404
    )
    outsider_space.refresh_from_db()
    assert outsider_space.name == "Outsider"


def test_an_admin_issues_lists_and_revokes_tokens(admin_agent, space):
    response = admin_agent.post(
        "/api/v1/tokens", {"name": "planner", "scopes": ["memories:read"]}, format="json"
    )
    assert response.status_code == 201
    issued = response.json()
    fresh = bearer(issued["token"])
    assert fresh.get("/api/v1/memories").status_code == 200
    assert fresh.post("/api/v1/memories", {"content": "x"}, format="json").status_code == 403
    listed = admin_agent.get("/api/v1/tokens").json()["results"]
    assert "planner" in [t["name"] for t in listed]
    assert all("token" not in t and "secret_hash" not in t for t in listed)
    assert admin_agent.delete(f"/api/v1/tokens/{issued['id']}").json()["active"] is False
    assert fresh.get("/api/v1/memories").status_code == 401
    assert admin_agent.delete(f"/api/v1/tokens/{issued['id']}").status_code == 200
    token_writes = AuditEvent.objects.for_space(space).filter(
        action__in=["token.create", "token.revoke"]
    )
    assert sorted(token_writes.values_list("action", "target_id")) == [
        ("token.create", str(issued["id"])),
        ("token.revoke", str(issued["id"])),
    ]


@pytest.mark.parametrize(
    "body",
    [
        {"name": "x", "scopes": ["everything"]},
        {"name": "x", "scopes": []},
        {"name": "x", "scopes": ["admin"], "expires_at": "2000-01-01T00:00:00Z"},
        {"scopes": ["admin"]},
    ],
)
def test_it_refuses_a_bad_token_request(admin_agent, space, body):
    before = ApiToken.objects.filter(space=space).count()
    response = admin_agent.post("/api/v1/tokens", body, format="json")
    assert response.status_code == 400
    assert ApiToken.objects.filter(space=space).count() == before


def test_it_refuses_a_duplicate_token_name(admin_agent):
    body = {"name": "dup", "scopes": ["memories:read"]}
    assert admin_agent.post("/api/v1/tokens", body, format="json").status_code == 201
    response = admin_agent.post("/api/v1/tokens", body, format="json")
    assert response.status_code == 400
    assert "name" in error_of(response)["details"]


def test_another_spaces_token_cannot_be_revoked(admin_agent, outsider, outsider_space):
    token_id = outsider.token.pk
    assert admin_agent.delete(f"/api/v1/tokens/{token_id}").status_code == 404
    assert ApiToken.objects.get(pk=token_id).revoked_at is None
    assert Space.objects.filter(slug="outsider").exists()


def test_the_graph_endpoint_serves_a_memorys_neighbourhood(writer, outsider, space):
    ids = [
        writer.post("/api/v1/memories", {"content": f"fact {i}"}, format="json").json()["id"]
        for i in range(3)
    ]
    for source, target in ((ids[0], ids[1]), (ids[1], ids[2])):
        created = writer.post(
            "/api/v1/links",
            {"source": source, "target": target, "type": "related_to"},
            format="json",
        )
        assert created.status_code == 201
    response = writer.get(f"/api/v1/graph?center=memory:{ids[0]}&hops=2")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["center"] == f"memory:{ids[0]}"
    assert {node["id"]: node["depth"] for node in body["nodes"]} == {
        f"memory:{ids[0]}": 0,
        f"memory:{ids[1]}": 1,
        f"memory:{ids[2]}": 2,
    }
    assert [edge["type"] for edge in body["edges"]] == ["related_to", "related_to"]
    assert body["not_shown"] == 0
    capped = writer.get(f"/api/v1/graph?center={ids[0]}&hops=2&limit=2").json()
    assert len(capped["nodes"]) == 2 and capped["not_shown"] == 1

    assert outsider.get(f"/api/v1/graph?center=memory:{ids[0]}").status_code == 404
    for bad in ("hops=9", "center=", "types=likes", "limit=many"):
        refused = writer.get(f"/api/v1/graph?center=memory:{ids[0]}&{bad}")
        assert refused.status_code == 400, bad
        assert error_of(refused)["code"] in ("invalid_request", "unknown_parameter")
    assert writer.get("/api/v1/graph").status_code == 400


def test_reads_of_links_entities_audit_and_tokens_are_audited_once_per_request(
    writer, admin_agent, space
):
    first = writer.post("/api/v1/memories", {"content": "one"}, format="json").json()["id"]
    second = writer.post("/api/v1/memories", {"content": "two"}, format="json").json()["id"]
    link = writer.post(
        "/api/v1/links", {"source": first, "target": second, "type": "related_to"}, format="json"
    ).json()
    for client, path in (
        (writer, "/api/v1/links?type=related_to"),
        (writer, f"/api/v1/links/{link['id']}"),
        (writer, "/api/v1/entities"),
        (writer, f"/api/v1/graph?center={first}"),
        (admin_agent, "/api/v1/audit"),
        (admin_agent, "/api/v1/tokens"),
    ):
        assert client.get(path).status_code == 200, path
    reads = list(
        AuditEvent.objects.for_space(space)
        .filter(action__endswith=".read")
        .exclude(action="memory.read")
        .order_by("pk")
        .values_list("action", "target_id", "summary__path")
    )
    assert reads == [
        ("link.read", "", "/api/v1/links"),
        ("link.read", str(link["id"]), f"/api/v1/links/{link['id']}"),
        ("entity.read", "", "/api/v1/entities"),
        ("graph.read", "", "/api/v1/graph"),
        ("audit.read", "", "/api/v1/audit"),
        ("token.read", "", "/api/v1/tokens"),
    ]
    assert writer.get("/api/v1/links/999999").status_code == 404
    assert not AuditEvent.objects.for_space(space).filter(target_id="999999").exists()

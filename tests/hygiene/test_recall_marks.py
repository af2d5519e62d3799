"""Search over REST: hits carry their open flags, and flagged memories can be left out."""

from __future__ import annotations

from apps.hygiene.models import Flag
from apps.memories import services
from tests.hygiene.test_policy import WITH_INJECTION


def search(client, **body):
    response = client.post("/api/v1/search", {"mode": "text", **body}, format="json")
    assert response.status_code == 200, response.content
    return response.json()["hits"]


def test_each_hit_carries_its_open_flags(writer, space, actor):
    flagged = services.create_memory(space, actor, content=f"Deploy notes. {WITH_INJECTION}")
    plain = services.create_memory(space, actor, content="Deploy notes: run the tests first.")

    hits = {h["memory"]["id"]: h for h in search(writer, query="deploy notes")}

    assert hits[str(flagged.pk)]["flags"] == [{"category": "injection", "type": "override"}]
    assert hits[str(plain.pk)]["flags"] == []


def test_a_dismissed_flag_is_not_on_the_hit(writer, space, actor):
    services.create_memory(space, actor, content=f"Deploy notes. {WITH_INJECTION}")
    Flag.objects.for_space(space).update(status=Flag.Status.DISMISSED)
    [hit] = search(writer, query="deploy notes")
    assert hit["flags"] == []


def test_exclude_flagged_leaves_flagged_memories_out(writer, space, actor):
    services.create_memory(space, actor, content=f"Deploy notes. {WITH_INJECTION}")
    plain = services.create_memory(space, actor, content="Deploy notes: run the tests first.")

    hits = search(writer, query="deploy notes", filters={"exclude_flagged": True})

    assert [h["memory"]["id"] for h in hits] == [str(plain.pk)]
    assert len(search(writer, query="deploy notes", filters={"exclude_flagged": False})) == 2


def test_exclude_flagged_works_in_hybrid_mode_without_a_query(writer, space, actor, embed_now):
    services.create_memory(space, actor, content=f"Deploy notes. {WITH_INJECTION}")
    services.create_memory(space, actor, content="Deploy notes: run the tests first.")
    embed_now(space)
    for body in ({"query": "deploy", "mode": "hybrid"}, {"query": ""}):
        hits = search(writer, filters={"exclude_flagged": True}, **body)
        assert [h["flags"] for h in hits] == [[]], body


def test_exclude_flagged_must_be_a_boolean(writer):
    response = writer.post(
        "/api/v1/search", {"query": "x", "filters": {"exclude_flagged": "yes"}}, format="json"
    )
    assert response.status_code == 400
    assert "exclude_flagged" in response.json()["error"]["details"]["filters"]

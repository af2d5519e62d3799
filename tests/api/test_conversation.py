"""/api/v1/episodes and /api/v1/search."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.api.models import IdempotentRequest
from apps.api.tasks import forget_old_idempotency_records
from apps.audit.models import AuditEvent
from apps.memories.models import Episode, Link, Memory
from tests.api.conftest import error_of

pytestmark = pytest.mark.django_db

CONVERSATION = {
    "session": "2026-03-01-call",
    "remember": True,
    "messages": [
        {
            "role": "user",
            "speaker": "Maya",
            "content": "I signed up for the Lisbon marathon in October.",
            "occurred_at": "2026-03-01T10:00:00Z",
        },
        {
            "role": "assistant",
            "speaker": "coach",
            "content": "Great, we will build up your long runs from March.",
            "occurred_at": "2026-03-01T10:00:05Z",
            "metadata": {"turn": 2},
        },
    ],
}


def test_it_stores_a_conversation_and_remembers_each_message(writer, space):
    response = writer.post("/api/v1/episodes", CONVERSATION, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert [e["speaker"] for e in body["episodes"]] == ["Maya", "coach"]
    assert [m["kind"] for m in body["memories"]] == ["episodic", "episodic"]
    assert body["memories"][0]["source_episodes"] == [body["episodes"][0]["id"]]
    assert body["memories"][1]["session"] == "2026-03-01-call"
    assert body["memories"][1]["metadata"] == {"turn": 2}
    assert (
        Link.objects.for_space(space)
        .filter(
            source_id=body["memories"][0]["id"],
            target_id=body["memories"][1]["id"],
            type="next_in_time",
        )
        .exists()
    )


def test_it_continues_a_session_across_requests(writer, space):
    first = writer.post("/api/v1/episodes", CONVERSATION, format="json").json()
    later = writer.post(
        "/api/v1/episodes",
        {
            "session": "2026-03-01-call",
            "remember": True,
            "messages": [
                {
                    "content": "And I want to run under 4 hours.",
                    "speaker": "Maya",
                    "occurred_at": "2026-03-01T10:01:00Z",
                }
            ],
        },
        format="json",
    ).json()
    assert (
        Link.objects.for_space(space)
        .filter(source_id=first["memories"][1]["id"], target_id=later["memories"][0]["id"])
        .exists()
    )


def test_it_stores_episodes_only_without_remember(writer, space):
    body = writer.post(
        "/api/v1/episodes", {**CONVERSATION, "remember": False}, format="json"
    ).json()
    assert body["memories"] == []
    assert Episode.objects.for_space(space).count() == 2
    assert not Memory.objects.for_space(space).exists()


def test_a_retried_request_with_an_idempotency_key_stores_once(writer, space):
    first = writer.post("/api/v1/episodes", CONVERSATION, format="json", HTTP_IDEMPOTENCY_KEY="abc")
    again = writer.post("/api/v1/episodes", CONVERSATION, format="json", HTTP_IDEMPOTENCY_KEY="abc")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert Episode.objects.for_space(space).count() == 2
    assert Memory.objects.for_space(space).count() == 2


def test_it_refuses_an_idempotency_key_reused_for_another_request(writer, space):
    writer.post("/api/v1/episodes", CONVERSATION, format="json", HTTP_IDEMPOTENCY_KEY="abc")
    other = {**CONVERSATION, "messages": [{"content": "something else"}]}
    response = writer.post("/api/v1/episodes", other, format="json", HTTP_IDEMPOTENCY_KEY="abc")
    assert response.status_code == 422
    assert error_of(response)["code"] == "idempotency_key_reused"
    assert Episode.objects.for_space(space).count() == 2


def test_idempotency_keys_belong_to_their_token(agent_for, space):
    one, two = agent_for(space, ["memories:write"]), agent_for(space, ["memories:write"])
    one.post("/api/v1/episodes", CONVERSATION, format="json", HTTP_IDEMPOTENCY_KEY="same")
    two.post("/api/v1/episodes", CONVERSATION, format="json", HTTP_IDEMPOTENCY_KEY="same")
    assert Episode.objects.for_space(space).count() == 4


def test_a_failed_request_does_not_use_up_its_idempotency_key(writer, space):
    bad = {**CONVERSATION, "messages": [{"content": ""}]}
    assert (
        writer.post("/api/v1/episodes", bad, format="json", HTTP_IDEMPOTENCY_KEY="k").status_code
        == 400
    )
    good = writer.post("/api/v1/episodes", CONVERSATION, format="json", HTTP_IDEMPOTENCY_KEY="k")
    assert good.status_code == 201


def test_it_refuses_a_conversation_with_a_bad_message_and_stores_nothing(writer, space):
    body = {
        "remember": True,
        "messages": [{"content": "fine"}, {"content": "when?", "occurred_at": "soon"}],
    }
    response = writer.post("/api/v1/episodes", body, format="json")
    assert response.status_code == 400
    assert "occurred_at" in error_of(response)["details"]["messages"]["1"]
    assert not Episode.objects.for_space(space).exists()


def test_it_refuses_too_many_messages(writer, space, settings):
    settings.API_MAX_BATCH = 1
    response = writer.post("/api/v1/episodes", CONVERSATION, format="json")
    assert response.status_code == 413
    assert not Episode.objects.for_space(space).exists()


def test_it_lists_and_gets_episodes_with_their_memories(writer):
    body = writer.post("/api/v1/episodes", CONVERSATION, format="json").json()
    listed = writer.get("/api/v1/episodes?session=2026-03-01-call").json()["results"]
    assert [e["speaker"] for e in listed] == ["coach", "Maya"]  # newest first
    episode_id = body["episodes"][0]["id"]
    assert writer.get(f"/api/v1/episodes/{episode_id}").json()["content"].startswith("I signed")
    memories = writer.get(f"/api/v1/episodes/{episode_id}/memories").json()["results"]
    assert [m["id"] for m in memories] == [body["memories"][0]["id"]]


# ------------------------------------------------------------------ search


@pytest.fixture
def remembered(writer, hashing_backend):
    writer.post("/api/v1/episodes", CONVERSATION, format="json")
    writer.post(
        "/api/v1/memories",
        {"content": "Tomás prefers cycling to running.", "subject": "Tomás"},
        format="json",
    )


def test_it_searches_text_and_explains(writer, remembered):
    response = writer.post(
        "/api/v1/search",
        {"query": "marathon", "mode": "text", "k": 5, "explain": True},
        format="json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    # The turn after a match shares its score: answers often follow the question.
    assert [h["memory"]["content"] for h in body["hits"]] == [
        "I signed up for the Lisbon marathon in October.",
        "Great, we will build up your long runs from March.",
    ]
    assert body["hits"][0]["explain"]["text"]["rank"] == 1
    assert body["hits"][1]["explain"]["context"][0]["as"] == "next"


def test_it_searches_hybrid_with_filters(writer, remembered, embed_now, space):
    embed_now(space)
    response = writer.post(
        "/api/v1/search",
        {"query": "running", "filters": {"subject": "Tomás"}, "k": 5},
        format="json",
    )
    assert response.status_code == 200
    assert [h["memory"]["subject"] for h in response.json()["hits"]] == ["Tomás"]
    assert "explain" not in response.json()["hits"][0]


def test_it_searches_with_the_callers_own_vector(
    writer, remembered, embed_now, space, hashing_backend
):
    embed_now(space)
    vector = hashing_backend.embed(["Tomás prefers cycling to running."])[0]
    response = writer.post(
        "/api/v1/search",
        {"query": "", "mode": "vector", "vector": vector, "k": 3, "explain": True},
        format="json",
    )
    assert response.status_code == 200
    nearest = [
        h for h in response.json()["hits"] if h["explain"].get("vector", {}).get("rank") == 1
    ]
    assert nearest[0]["memory"]["content"] == "Tomás prefers cycling to running."
    assert nearest[0]["explain"]["vector"]["score"] == pytest.approx(1.0)
    assert response.json()["embed_ms"] == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"query": "x", "mode": "fuzzy"}, "mode"),
        ({"query": "x", "k": 0}, "k"),
        ({"query": "x", "k": "5"}, "k"),
        ({"query": "x", "filters": {"colour": "red"}}, "filters"),
        ({"query": "x", "filters": {"kind": ["gossip"]}}, "filters"),
        ({"query": "x", "as_of": "yesterday"}, "as_of"),
        ({"query": "x", "vector": [0.1, 0.2]}, "vector"),
        ({"query": "x", "vector": [0.0] * 384}, "vector"),
        ({"query": "x", "vector": ["a"] * 384}, "vector"),
        ({"mode": "text"}, "query"),
    ],
)
def test_it_refuses_a_bad_search(writer, body, field):
    response = writer.post("/api/v1/search", body, format="json")
    assert response.status_code == 400
    assert field in error_of(response)["details"]


def test_it_answers_a_search_of_an_empty_space_with_a_notice(writer):
    response = writer.post("/api/v1/search", {"query": "anything", "mode": "text"}, format="json")
    assert response.status_code == 200
    assert response.json()["hits"] == []
    assert response.json()["notice"] == "This space has no memories yet."


def test_reading_episodes_is_audited(writer, reader, space):
    body = writer.post("/api/v1/episodes", CONVERSATION, format="json").json()
    episode_id = body["episodes"][0]["id"]
    reader.get(f"/api/v1/episodes/{episode_id}")
    reader.get("/api/v1/episodes?limit=1")
    reads = AuditEvent.objects.for_space(space).filter(action="episode.read")
    assert sorted(reads.values_list("target_id", flat=True)) == sorted(
        [episode_id, body["episodes"][1]["id"]]
    )
    assert {e.actor_label for e in reads} == {f"token:{reader.token.name}"}


def test_old_idempotency_records_are_forgotten(writer, space, settings):
    writer.post("/api/v1/episodes", CONVERSATION, format="json", HTTP_IDEMPOTENCY_KEY="old")
    writer.post("/api/v1/episodes", CONVERSATION, format="json", HTTP_IDEMPOTENCY_KEY="new")
    IdempotentRequest.objects.filter(key="old").update(
        created_at=timezone.now() - timedelta(hours=settings.API_IDEMPOTENCY_HOURS + 1)
    )
    assert forget_old_idempotency_records() == 1
    assert list(IdempotentRequest.objects.values_list("key", flat=True)) == ["new"]
    assert "idempotency-cleanup" in settings.CELERY_BEAT_SCHEDULE


def test_it_lists_and_finds_memories_with_their_source_episodes(
    writer, space, outsider_space, actor
):
    body = writer.post("/api/v1/episodes", CONVERSATION, format="json").json()
    episodes = {m["id"]: m["source_episodes"] for m in body["memories"]}
    assert all(len(ids) == 1 for ids in episodes.values())
    # A link to another space's episode, as no service would write it, is never shown.
    stray = Episode.objects.for_space(outsider_space).create(
        space=outsider_space, content="outsider's turn"
    )
    first = Memory.objects.for_space(space).get(pk=body["memories"][0]["id"])
    Memory.source_episodes.through.objects.create(memory=first, episode=stray)

    listed = writer.get("/api/v1/memories").json()["results"]
    assert {m["id"]: m["source_episodes"] for m in listed} == episodes
    one = writer.get(f"/api/v1/memories/{first.pk}").json()
    assert one["source_episodes"] == episodes[str(first.pk)]
    found = writer.post("/api/v1/search", {"query": "marathon", "mode": "text"}, format="json")
    hits = found.json()["hits"]
    assert hits and all(h["memory"]["source_episodes"] == episodes[h["memory"]["id"]] for h in hits)


def test_it_reads_source_episodes_from_the_links_in_a_space_new_to_the_statistics(
    space, outsider_space, actor
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from apps.api.serializers import MemorySerializer
    from apps.memories import services
    from apps.memories.models import attach_source_episode_ids

    turns = [{"content": f"Turn {i} of an older conversation."} for i in range(300)]
    services.remember_conversation(outsider_space, actor, turns, remember=True)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE memories_episode; ANALYZE memories_memory_source_episodes")
    # A space the statistics have never seen: the planner expects it to hold one episode.
    turns = [{"content": f"Turn {i} of a new conversation."} for i in range(200)]
    _episodes, memories = services.remember_conversation(space, actor, turns, remember=True)
    hits = memories[:10]
    with CaptureQueriesContext(connection) as queries:
        attach_source_episode_ids(hits)
    assert [len(m.source_episode_ids) for m in hits] == [1] * 10
    # However many memories an answer holds, their episodes take one query.
    page = list(Memory.objects.for_space(space).order_by("created_at")[:50])
    with CaptureQueriesContext(connection) as serializing:
        rows = MemorySerializer(page, many=True).data
    assert len(serializing.captured_queries) == 1
    assert all(len(row["source_episodes"]) == 1 for row in rows)
    (query,) = queries.captured_queries
    with connection.cursor() as cursor:
        # Tables this small are read whole; planned as for large ones, the index chosen
        # follows the row estimates, as it would in production.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + query["sql"])
        (plan,) = cursor.fetchone()[0]
    # Only the ten memories' links and their episodes are read, never the space's 200.
    assert max(node_rows(plan["Plan"])) <= 10


def node_rows(node):
    """The actual row count of every node of an EXPLAIN (ANALYZE, FORMAT JSON) plan."""
    yield node["Actual Rows"]
    for child in node.get("Plans", []):
        yield from node_rows(child)

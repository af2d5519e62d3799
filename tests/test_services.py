"""The domain layer: every change writes exactly its versions and audit events."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from apps.audit.actors import Actor
from apps.audit.models import AuditEvent
from apps.memories import services
from apps.memories.models import Episode, Link, LinkType, Memory, MemoryVersion, Status
from apps.memories.services import lineage
from tests.conftest import events_for, versions_of


def reload(memory: Memory) -> Memory:
    return Memory.objects.for_space(memory.space_id).get(pk=memory.pk)


def test_it_creates_a_memory_with_version_one_and_an_event(space, actor, make_memory):
    memory = make_memory("Alice likes green tea.", tags=["drinks", " drinks ", "tea"])

    assert memory.version == 1
    assert memory.tags == ["drinks", "tea"]
    assert memory.content_hash
    assert versions_of(memory) == [(1, "create")]
    event = AuditEvent.objects.for_space(space).get(target_id=str(memory.pk))
    assert (event.action, event.actor_label, event.actor_user_id) == (
        "memory.create",
        "user:alice",
        actor.user.pk,
    )
    assert "green tea" not in str(event.summary)


def test_it_links_a_memory_to_its_source_episodes(space, actor):
    episode = services.record_episode(space, actor, content="I love green tea", speaker="Alice")
    memory = services.create_memory(
        space, actor, content="Alice loves green tea.", source_episodes=[episode.pk]
    )
    assert list(memory.source_episodes.values_list("pk", flat=True)) == [episode.pk]
    assert events_for(space) == ["episode.create", "memory.create"]


def test_it_refuses_source_episodes_of_another_space(space, outsider_space, actor):
    foreign = services.record_episode(outsider_space, actor, content="secret")
    with pytest.raises(services.InvalidMemory) as excinfo:
        services.create_memory(space, actor, content="x", source_episodes=[foreign.pk])
    assert excinfo.value.details == {"source_episodes": [str(foreign.pk)]}
    assert not Memory.objects.for_space(space).exists()


@pytest.mark.parametrize(
    ("fields", "bad_field"),
    [
        ({"content": "   "}, "content"),
        ({"content": "ok", "kind": "gossip"}, "kind"),
        ({"content": "ok", "importance": 1.5}, "importance"),
        ({"content": "ok", "confidence": "high"}, "confidence"),
        ({"content": "ok", "tags": "not-a-list"}, "tags"),
        ({"content": "ok", "metadata": ["a"]}, "metadata"),
        ({"content": "ok", "status": "archived"}, "status"),
    ],
)
def test_it_rejects_invalid_fields_and_stores_nothing(space, actor, fields, bad_field):
    with pytest.raises(services.InvalidMemory) as excinfo:
        services.create_memory(space, actor, **fields)
    assert bad_field in excinfo.value.details
    assert not Memory.objects.for_space(space).exists()
    assert not AuditEvent.objects.for_space(space).exists()


def test_it_rejects_content_over_the_size_limit(space, actor, settings):
    settings.MEMORY_MAX_CONTENT_CHARS = 10
    with pytest.raises(services.ContentTooLarge):
        services.create_memory(space, actor, content="x" * 11)
    assert not Memory.objects.for_space(space).exists()


def test_it_rejects_validity_that_ends_before_it_starts(space, actor):
    now = timezone.now()
    with pytest.raises(services.InvalidMemory):
        services.create_memory(space, actor, content="x", valid_from=now, valid_to=now)


def test_it_updates_with_the_expected_version(space, actor, make_memory):
    memory = make_memory()
    updated = services.update_memory(
        space,
        actor,
        memory.pk,
        expected_version=1,
        content="Alice prefers oolong.",
        importance=0.9,
        reason="she said so",
    )

    assert updated.version == 2
    assert reload(memory).content == "Alice prefers oolong."
    assert versions_of(memory) == [(1, "create"), (2, "update")]
    v2 = MemoryVersion.objects.for_space(space).get(memory=memory, version=2)
    assert (v2.content, v2.importance, v2.reason) == ("Alice prefers oolong.", 0.9, "she said so")
    event = AuditEvent.objects.for_space(space).filter(action="memory.update").get()
    assert event.summary["changed"]["importance"] == {"from": 0.5, "to": 0.9}
    assert event.summary["changed"]["content"] == {
        "from_chars": len("Alice likes green tea."),
        "to_chars": len("Alice prefers oolong."),
    }


def test_it_updates_in_one_read_and_one_write_of_the_memory(space, actor, make_memory):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    memory = make_memory()

    with CaptureQueriesContext(connection) as queries:
        services.update_memory(space, actor, memory.pk, expected_version=1, tags=["tea"])

    # The version and the event go in one pipelined round trip outside Django's cursor;
    # what Django sends is the locking read and the update, not a load of the space.
    statements = [q["sql"].split()[0] for q in queries.captured_queries]
    assert [s for s in statements if s in ("SELECT", "UPDATE")] == ["SELECT", "UPDATE"]
    assert not any("spaces_space" in q["sql"] for q in queries.captured_queries)
    assert versions_of(memory) == [(1, "create"), (2, "update")]
    event = AuditEvent.objects.for_space(space).get(action="memory.update")
    assert (event.space_id, event.summary["changed"]["tags"]) == (
        space.pk,
        {"from": [], "to": ["tea"]},
    )


def test_it_clears_the_embedding_when_the_content_changes(space, actor, make_memory):
    memory = make_memory()
    Memory.objects.for_space(space).filter(pk=memory.pk).update(
        embedding=[0.1] * 384, embedding_model="test"
    )
    services.update_memory(space, actor, memory.pk, expected_version=1, importance=0.7)
    assert reload(memory).embedding is not None

    services.update_memory(space, actor, memory.pk, expected_version=2, content="New text.")
    fresh = reload(memory)
    assert fresh.embedding is None
    assert fresh.embedding_model == ""


def test_it_refuses_a_stale_update_and_changes_nothing(space, actor, make_memory):
    memory = make_memory()
    services.update_memory(space, actor, memory.pk, expected_version=1, content="Second.")

    with pytest.raises(services.VersionConflict) as excinfo:
        services.update_memory(space, actor, memory.pk, expected_version=1, content="Lost?")

    assert excinfo.value.details == {"current_version": 2, "expected_version": 1}
    assert reload(memory).content == "Second."
    assert versions_of(memory) == [(1, "create"), (2, "update")]
    assert events_for(space, memory.pk) == ["memory.create", "memory.update"]


def test_an_update_that_changes_nothing_writes_nothing(space, actor, make_memory):
    memory = make_memory(importance=0.4)
    same = services.update_memory(space, actor, memory.pk, expected_version=1, importance=0.4)
    assert same.version == 1
    assert versions_of(memory) == [(1, "create")]


def test_it_archives_restores_and_soft_deletes(space, actor, make_memory):
    memory = make_memory()
    services.archive_memory(space, actor, memory.pk, reason="old")
    services.restore_memory(space, actor, memory.pk)
    services.delete_memory(space, actor, memory.pk, reason="wrong")

    assert reload(memory).status == Status.DELETED
    assert versions_of(memory) == [(1, "create"), (2, "archive"), (3, "restore"), (4, "delete")]
    assert events_for(space, memory.pk) == [
        "memory.create",
        "memory.archive",
        "memory.restore",
        "memory.delete",
    ]


def test_it_refuses_impossible_transitions(space, actor, make_memory):
    memory = make_memory()
    with pytest.raises(services.InvalidTransition):
        services.restore_memory(space, actor, memory.pk)
    services.delete_memory(space, actor, memory.pk)
    with pytest.raises(services.InvalidTransition):
        services.update_memory(space, actor, memory.pk, expected_version=2, content="edit")
    assert versions_of(memory) == [(1, "create"), (2, "delete")]


def test_it_supersedes_with_validity_and_a_link(space, actor, make_memory):
    started = timezone.now() - timedelta(days=30)
    changed = timezone.now() - timedelta(days=2)
    old = make_memory("Tomás opens on 15 October.", valid_from=started)
    new = make_memory("Tomás opens on 2 November.", valid_from=changed)

    services.supersede_memory(space, actor, old.pk, new.pk, reason="date moved")

    old = reload(old)
    assert old.status == Status.SUPERSEDED
    assert old.valid_to == changed
    link = Link.objects.for_space(space).get()
    assert (link.source_id, link.target_id, link.type) == (new.pk, old.pk, LinkType.SUPERSEDES)
    assert versions_of(old) == [(1, "create"), (2, "supersede")]
    assert versions_of(new) == [(1, "create")]
    assert events_for(space)[-2:] == ["memory.supersede", "link.create"]


def test_it_merges_into_a_new_memory_derived_from_the_originals(space, actor, make_memory):
    episode = services.record_episode(space, actor, content="tea talk")
    first = make_memory("Alice likes tea.", tags=["tea"], source_episodes=[episode.pk])
    second = make_memory("Alice likes green tea, mostly in the morning.", tags=["morning"])

    merged = services.merge_memories(space, actor, [first.pk, second.pk], reason="duplicates")

    assert merged.content == "Alice likes green tea, mostly in the morning."
    assert merged.tags == ["tea", "morning"]
    assert list(merged.source_episodes.values_list("pk", flat=True)) == [episode.pk]
    assert {reload(first).status, reload(second).status} == {Status.SUPERSEDED}
    assert versions_of(merged) == [(1, "merge")]
    assert versions_of(first) == [(1, "create"), (2, "merge")]
    derived = Link.objects.for_space(space).filter(source=merged, type=LinkType.DERIVED_FROM)
    assert set(derived.values_list("target_id", flat=True)) == {first.pk, second.pk}
    assert events_for(space, merged.pk) == ["memory.merge"]
    assert events_for(space, first.pk) == ["memory.create", "memory.merge"]


def test_an_exception_in_the_middle_of_a_merge_leaves_the_database_as_it_was(
    space, actor, make_memory, monkeypatch
):
    first = make_memory("Alice likes tea.")
    second = make_memory("Alice likes green tea.")
    before = {
        "memories": list(Memory.objects.for_space(space).values_list("pk", "status", "version")),
        "versions": MemoryVersion.objects.for_space(space).count(),
        "events": AuditEvent.objects.for_space(space).count(),
    }
    real_link = lineage.add_link
    calls = []

    def failing_link(*args: Any, **kwargs: Any) -> Any:
        # Fail on the second original, after the new memory, one superseded
        # original and one link have been written.
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("worker crashed mid-merge")
        return real_link(*args, **kwargs)

    monkeypatch.setattr(lineage, "add_link", failing_link)
    with pytest.raises(RuntimeError):
        services.merge_memories(space, actor, [first.pk, second.pk])

    assert len(calls) == 2
    after = {
        "memories": list(Memory.objects.for_space(space).values_list("pk", "status", "version")),
        "versions": MemoryVersion.objects.for_space(space).count(),
        "events": AuditEvent.objects.for_space(space).count(),
    }
    assert after == before
    assert not Link.objects.for_space(space).exists()


def test_it_refuses_to_merge_fewer_than_two_or_deleted_memories(space, actor, make_memory):
    first = make_memory()
    with pytest.raises(services.InvalidMemory):
        services.merge_memories(space, actor, [first.pk, first.pk])
    second = make_memory("Other.")
    services.delete_memory(space, actor, second.pk)
    with pytest.raises(services.InvalidTransition):
        services.merge_memories(space, actor, [first.pk, second.pk])
    assert Memory.objects.for_space(space).count() == 2


def test_purge_leaves_no_version_or_embedding_only_an_event(space, actor, make_memory):
    memory = make_memory("The wifi password is hunter2.")
    other = make_memory("Alice likes tea.")
    services.link_memories(space, actor, memory.pk, other.pk, LinkType.RELATED_TO)
    Memory.objects.for_space(space).filter(pk=memory.pk).update(embedding=[0.2] * 384)
    services.update_memory(space, actor, memory.pk, expected_version=1, importance=0.1)

    with pytest.raises(services.InvalidMemory):
        services.purge_memory(space, actor, memory.pk, reason="  ")
    services.purge_memory(space, actor, memory.pk, reason="leaked secret")

    assert not Memory.objects.for_space(space).filter(pk=memory.pk).exists()
    assert not MemoryVersion.objects.for_space(space).filter(memory_id=memory.pk).exists()
    assert not Link.objects.for_space(space).exists()
    event = AuditEvent.objects.for_space(space).get(action="memory.purge")
    assert (event.target_id, event.reason, event.actor_label) == (
        str(memory.pk),
        "leaked secret",
        "user:alice",
    )
    assert event.summary["versions_deleted"] == 2
    stored_text = " ".join(str(e.summary) + e.reason for e in AuditEvent.objects.for_space(space))
    assert "hunter2" not in stored_text


def test_revert_writes_a_new_version_equal_to_the_old_one(space, actor, make_memory):
    memory = make_memory("Version one.", tags=["a"])
    services.update_memory(
        space, actor, memory.pk, expected_version=1, content="Version two.", tags=["b"]
    )
    services.archive_memory(space, actor, memory.pk)

    reverted = services.revert_to_version(
        space, actor, memory.pk, to_version=1, expected_version=3
    ).memory

    assert reverted.version == 4
    assert (reverted.content, reverted.tags) == ("Version one.", ["a"])
    assert reverted.status == Status.ARCHIVED  # lifecycle is not reverted
    assert versions_of(memory) == [(1, "create"), (2, "update"), (3, "archive"), (4, "revert")]
    assert MemoryVersion.objects.for_space(space).get(memory=memory, version=2).content == (
        "Version two."
    )
    with pytest.raises(services.MemoryNotFound):
        services.revert_to_version(space, actor, memory.pk, to_version=9)


def test_link_and_unlink_write_events_and_linking_twice_is_harmless(space, actor, make_memory):
    first, second = make_memory("A."), make_memory("B.")
    link = services.link_memories(space, actor, first.pk, second.pk, LinkType.RELATED_TO)
    again = services.link_memories(space, actor, first.pk, second.pk, LinkType.RELATED_TO)
    assert again.pk == link.pk
    with pytest.raises(services.InvalidMemory):
        services.link_memories(space, actor, first.pk, first.pk, LinkType.RELATED_TO)
    with pytest.raises(services.InvalidMemory):
        services.link_memories(space, actor, first.pk, second.pk, "likes")

    services.unlink(space, actor, link.pk)

    assert not Link.objects.for_space(space).exists()
    link_events = [e for e in events_for(space) if e.startswith("link.")]
    assert link_events == ["link.create", "link.delete"]


def test_system_and_token_actors_are_recorded(space, make_memory):
    from apps.spaces.models import ApiToken

    token, _raw = ApiToken.issue(space=space, name="agent-1", scopes=["memories:write"])
    memory = services.create_memory(space, Actor.for_token(token), content="From an agent.")
    services.archive_memory(space, Actor.system("forgetting"), memory.pk)

    assert memory.agent == "agent-1"
    versions = MemoryVersion.objects.for_space(space).filter(memory=memory).order_by("version")
    assert [(v.actor_type, v.actor_label) for v in versions] == [
        ("token", "token:agent-1"),
        ("system", "system:forgetting"),
    ]
    assert versions[0].actor_token_id == token.pk


def test_episodes_are_recorded_with_an_event(space, actor):
    episode = services.record_episode(space, actor, content="hello", session="s1", role="user")
    assert Episode.objects.for_space(space).get().pk == episode.pk
    assert events_for(space, episode.pk) == ["episode.create"]
    with pytest.raises(services.InvalidMemory):
        services.record_episode(space, actor, content="")


def test_create_links_adds_new_links_once_with_events(space, outsider_space, actor, make_memory):
    first, second, third = make_memory("A."), make_memory("B."), make_memory("C.")
    edges = [(first.pk, second.pk, "next_in_time"), (second.pk, third.pk, "next_in_time")]

    assert services.create_links(space, actor, edges) == 2
    assert services.create_links(space, actor, [*edges, (first.pk, third.pk, "related_to")]) == 1

    assert Link.objects.for_space(space).count() == 3
    assert [e for e in events_for(space) if e.startswith("link.")] == ["link.create"] * 3
    foreign = make_memory("Elsewhere.", space=outsider_space)
    with pytest.raises(services.MemoryNotFound):
        services.create_links(space, actor, [(first.pk, foreign.pk, "related_to")])
    with pytest.raises(services.InvalidMemory):
        services.create_links(space, actor, [(first.pk, second.pk, "likes")])
    assert Link.objects.for_space(space).count() == 3


def test_bulk_create_writes_a_version_and_event_per_memory(space, actor):
    episode = services.record_episode(space, actor, content="raw")
    memories = services.create_memories(
        space,
        actor,
        [
            {"content": "One.", "tags": ["x"], "source_episodes": [episode.pk]},
            {"content": "Two.", "kind": "preference"},
        ],
    )
    assert [versions_of(m) for m in memories] == [[(1, "create")], [(1, "create")]]
    assert [events_for(space, m.pk) for m in memories] == [["memory.create"]] * 2
    assert list(memories[0].source_episodes.values_list("pk", flat=True)) == [episode.pk]


def test_bulk_create_is_all_or_nothing_and_names_the_bad_item(space, actor):
    with pytest.raises(services.InvalidMemory) as excinfo:
        services.create_memories(space, actor, [{"content": "Fine."}, {"content": ""}])
    assert excinfo.value.details["index"] == 1
    assert not Memory.objects.for_space(space).exists()
    assert not AuditEvent.objects.for_space(space).exists()


def test_store_embeddings_drops_a_vector_computed_for_old_content(space, actor, make_memory):
    memory = make_memory("Old text.")
    old_hash = memory.content_hash
    services.update_memory(space, actor, memory.pk, expected_version=1, content="New text.")

    kept = services.store_embeddings(space, [(memory.pk, old_hash)], [[0.1] * 384], "m")

    assert kept == 0
    assert reload(memory).embedding is None
    fresh_hash = reload(memory).content_hash
    assert services.store_embeddings(space, [(memory.pk, fresh_hash)], [[0.1] * 384], "m") == 1
    assert reload(memory).embedding_model == "m"
    assert versions_of(memory) == [(1, "create"), (2, "update")]  # no version for a vector


def test_it_stores_each_vector_exactly_against_its_own_memory(space, actor, make_memory):
    import numpy as np

    from apps.retrieval import storage

    first, second = make_memory("First."), make_memory("Second.")
    vectors = np.random.default_rng(7).standard_normal((2, 384)).astype(np.float32)

    kept = services.store_embeddings(
        space,
        [(first.pk, first.content_hash), (second.pk, second.content_hash)],
        vectors.tolist(),
        "m",
    )

    assert kept == 2
    # Exactly as the configured storage holds it: 2-byte floats under halfvec.
    stored = (
        vectors.astype(np.float16).astype(np.float32)
        if storage.sql_type() == "halfvec"
        else vectors
    )
    assert np.array_equal(np.asarray(reload(first).embedding, dtype=np.float32), stored[0])
    assert np.array_equal(np.asarray(reload(second).embedding, dtype=np.float32), stored[1])


def test_it_refuses_a_vector_of_the_wrong_size_and_stores_none_of_the_batch(
    space, actor, make_memory
):
    from django.db import DataError

    first, second = make_memory("First."), make_memory("Second.")

    with pytest.raises(DataError, match="384"):
        services.store_embeddings(
            space,
            [(first.pk, first.content_hash), (second.pk, second.content_hash)],
            [[0.1] * 384, [0.1] * 3],
            "m",
        )

    assert reload(first).embedding is None
    assert reload(second).embedding is None
    assert not AuditEvent.objects.for_space(space).filter(action="memory.embed").exists()


def pages_of(space) -> dict[str, int]:
    """Each memory's heap page: a row updated in place (HOT) stays on its page."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id::text, (ctid::text::point)[0]::bigint FROM memories_memory "
            "WHERE space_id = %s",
            [space.pk],
        )
        return dict(cursor.fetchall())


def test_it_records_recalls_in_place_without_new_index_entries(
    transactional_db, space, actor, hashing_backend, embed_now
):
    services.create_memories(
        space, actor, [{"content": f"Note {i}: Alice drinks green tea."} for i in range(40)]
    )
    embed_now(space)  # a new vector moves its row: to a page filled up to the fillfactor
    before = pages_of(space)
    # The first update on each page shows whether the page kept room for a new version.
    first_on_each_page = list({page: memory_id for memory_id, page in before.items()}.values())
    assert len(first_on_each_page) >= 8
    for memory_id in first_on_each_page:  # one search after another
        services.record_recall(
            space, actor, [memory_id], at=timezone.now(), query="tea", mode="hybrid"
        )
    after = pages_of(space)
    recalled = Memory.objects.for_space(space).filter(pk__in=first_on_each_page)
    assert all(memory.access_count == 1 for memory in recalled)
    # A row that stays on its page was updated in place (HOT): no new entry in the HNSW
    # graph, the full-text index or any other. On pages packed full (fillfactor 100)
    # such an update moves its row and indexes it again.
    moved = [memory_id for memory_id in first_on_each_page if after[memory_id] != before[memory_id]]
    assert moved == []

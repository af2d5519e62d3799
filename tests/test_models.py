"""Constraints that live in the database, whoever writes the row."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.memories.models import Episode, Link, Memory, MemoryVersion


def raw_memory(space, **fields):
    defaults = {"space": space, "content": "x", "content_hash": "h"}
    return Memory(**{**defaults, **fields})


@pytest.mark.parametrize(
    "fields",
    [
        {"status": "forgotten"},
        {"kind": "gossip"},
        {"version": 0},
        {"importance": 1.2},
        {"confidence": -0.1},
        {"strength": 0},
        {"content": ""},
    ],
)
def test_it_rejects_invalid_rows_in_the_database(space, fields):
    with pytest.raises(IntegrityError), transaction.atomic():
        raw_memory(space, **fields).save()


def test_it_requires_valid_from_before_valid_to(space):
    now = timezone.now()
    with pytest.raises(IntegrityError), transaction.atomic():
        raw_memory(space, valid_from=now, valid_to=now - timedelta(seconds=1)).save()
    raw_memory(space, valid_from=now, valid_to=now + timedelta(seconds=1)).save()
    raw_memory(space, valid_from=now).save()
    assert Memory.objects.for_space(space).count() == 2


def test_a_link_cannot_point_at_itself_or_repeat(space, make_memory):
    first, second = make_memory("A."), make_memory("B.")
    with pytest.raises(IntegrityError), transaction.atomic():
        Link.objects.for_space(space).create(
            space=space, source=first, target=first, type="related_to", created_by="t"
        )
    Link.objects.for_space(space).create(
        space=space, source=first, target=second, type="related_to", created_by="t"
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        Link.objects.for_space(space).create(
            space=space, source=first, target=second, type="related_to", created_by="t"
        )


def test_versions_and_episodes_cannot_be_rewritten(space, actor, make_memory):
    from apps.memories import services

    memory = make_memory()
    episode = services.record_episode(space, actor, content="raw input")
    version = MemoryVersion.objects.for_space(space).get(memory=memory)

    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        MemoryVersion.objects.for_space(space).filter(pk=version.pk).update(content="rewritten")
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        Episode.objects.for_space(space).filter(pk=episode.pk).update(content="rewritten")
    assert MemoryVersion.objects.for_space(space).get(pk=version.pk).content == memory.content


def test_audit_events_cannot_be_changed_or_deleted(space, make_memory):
    make_memory()
    event = AuditEvent.objects.for_space(space).get()
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        AuditEvent.objects.for_space(space).filter(pk=event.pk).update(action="memory.nothing")
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        AuditEvent.objects.for_space(space).filter(pk=event.pk).delete()
    assert AuditEvent.objects.for_space(space).get().action == "memory.create"


def test_deleting_a_person_keeps_their_versions_and_events_attributed(space, alice, make_memory):
    memory = make_memory()
    alice.delete()
    version = MemoryVersion.objects.for_space(space).get(memory=memory)
    event = AuditEvent.objects.for_space(space).get()
    assert (version.actor_user_id, version.actor_label) == (None, "user:alice")
    assert (event.actor_user_id, event.actor_label) == (None, "user:alice")


def test_the_full_text_column_is_kept_by_postgres(space, make_memory):
    memory = make_memory("Maya is training for the Lisbon marathon.")
    matches = Memory.objects.for_space(space).extra(
        where=["search_vector @@ websearch_to_tsquery('english', %s)"], params=["marathons"]
    )
    assert list(matches.values_list("pk", flat=True)) == [memory.pk]


def test_the_expected_indexes_exist(db):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'memories_memory'"
        )
        indexes = dict(cursor.fetchall())
    # No HNSW index shared by all spaces: large spaces get their own (vector_indexes).
    assert not [definition for definition in indexes.values() if "USING hnsw" in definition]
    assert "USING gin (search_vector)" in indexes["memory_search_vector"]
    assert "USING gin (tags)" in indexes["memory_tags"]
    assert "memory_status_created" in indexes


WRITE_PATH_TABLES = ["memories_memory", "memories_memoryversion", "audit_auditevent"]


@pytest.mark.django_db
def test_no_index_a_write_fills_is_the_start_of_another():
    # Every memory written adds a row to each of these tables, and every vector stored
    # rewrites its memory's row: an index that another one's leading columns already
    # serve is an entry a row for nothing.
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT t.relname, i.relname, ix.indkey::int2[], ix.indpred IS NOT NULL,
                   ix.indexprs IS NOT NULL, am.amname
            FROM pg_index ix
            JOIN pg_class i ON i.oid = ix.indexrelid
            JOIN pg_class t ON t.oid = ix.indrelid
            JOIN pg_am am ON am.oid = i.relam
            WHERE t.relname = ANY(%s)
            """,
            [WRITE_PATH_TABLES],
        )
        indexes = cursor.fetchall()
    plain = [(t, name, keys) for t, name, keys, partial, expr, am in indexes if am == "btree"]
    full = [
        (t, name, keys)
        for t, name, keys, partial, expr, am in indexes
        if am == "btree" and not partial and not expr
    ]
    redundant = [
        (name, other)
        for table, name, keys in full
        for other_table, other, other_keys in plain
        if other_table == table
        and other != name
        and len(keys) < len(other_keys)
        and other_keys[: len(keys)] == keys
        and not name.endswith("_pkey")
    ]
    assert redundant == []
    names = {name for _, name, *_ in indexes}
    assert {"memoryversion_actor_user", "auditevent_actor_token"} <= names


@pytest.mark.django_db
def test_deleting_a_user_finds_their_history_through_the_partial_actor_index(space):
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(
            "EXPLAIN SELECT id FROM memories_memoryversion WHERE actor_user_id IN (1, 2)"
        )
        plan = " ".join(row[0] for row in cursor.fetchall())
    assert "memoryversion_actor_user" in plan

"""COPY for the bulk paths, and one round trip for a single write: rows must be
exactly what the ORM would have written."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from django.db import IntegrityError, transaction
from django.forms.models import model_to_dict

from apps.audit.models import AuditEvent
from apps.core.bulk import copy_insert, insert_together
from apps.memories import services
from apps.memories.models import Episode, Memory, MemoryVersion
from apps.spaces.models import Space

FIELDS: dict[str, Any] = {
    "content": "Alice moved to Lisbon in May.",
    "kind": "fact",
    "subject": "alice",
    "session": "s1",
    "tags": ["move", "city"],
    "metadata": {"source": {"turn": 3}, "score": 0.5},
    "importance": 0.8,
    "confidence": 0.9,
    "occurred_at": datetime(2026, 5, 1, 9, 30, tzinfo=UTC),
    "valid_from": datetime(2026, 5, 1, tzinfo=UTC),
}
# Set by the database or by the clock, so different between any two rows.
VARYING = {"id", "created_at", "updated_at"}


def stored(memory: Memory) -> dict:
    row = Memory.objects.for_space(memory.space_id).get(pk=memory.pk)
    return {k: v for k, v in model_to_dict(row).items() if k not in VARYING}


def test_it_writes_a_batch_row_for_row_as_a_single_create_would(space, actor):
    one = services.create_memory(space, actor, **FIELDS)
    (batched,) = services.create_memories(space, actor, [FIELDS])

    assert stored(batched) == stored(one)
    searchable = Memory.objects.for_space(space).filter(search_vector="lisbon")
    assert set(searchable.values_list("pk", flat=True)) == {one.pk, batched.pk}
    version = MemoryVersion.objects.for_space(space).get(memory=batched)
    assert (version.version, version.action, version.tags) == (1, "create", ["move", "city"])
    event = AuditEvent.objects.for_space(space).get(target_id=str(batched.pk))
    assert (event.action, event.actor_label, event.summary["bulk"]) == (
        "memory.create",
        actor.label,
        True,
    )


def test_it_leaves_the_instances_saved(space, actor):
    (memory,) = services.create_memories(space, actor, [{"content": "First text."}])

    assert memory._state.adding is False
    memory.subject = "changed"
    memory.save(update_fields=["subject"])  # an UPDATE: an INSERT would clash on the id
    assert Memory.objects.for_space(space).get(pk=memory.pk).subject == "changed"


def test_it_refuses_instances_of_two_models(space):
    episode = Episode(space=space, content="Hello.")

    with pytest.raises(TypeError, match="one model"):
        copy_insert([Memory(space=space, content="Hi."), episode])
    assert not Episode.objects.for_space(space).exists()


def test_it_refuses_an_unsaved_related_object(db):
    unsaved = Space(slug="unsaved", name="Unsaved")

    with pytest.raises(ValueError, match="unsaved related object"):
        copy_insert([Memory(space=unsaved, content="Orphan.")])


def test_it_rolls_back_the_whole_batch_on_a_bad_row(space):
    same_id = uuid.uuid4()
    rows = [Memory(id=uuid.uuid4(), space=space, content="Fine.", content_hash="a")] + [
        Memory(id=same_id, space=space, content=f"Clash {i}.", content_hash="b") for i in range(2)
    ]

    with pytest.raises(IntegrityError), transaction.atomic():
        copy_insert(rows)

    assert not Memory.objects.for_space(space).exists()


def test_it_writes_a_memory_with_its_episode_link_version_and_event_together(space, actor):
    episode = services.record_episode(space, actor, content="Alice: I moved to Lisbon.")

    memory = services.create_memory(space, actor, source_episodes=[episode.pk], **FIELDS)

    assert stored(memory)["content"] == FIELDS["content"]
    assert list(memory.source_episodes.values_list("pk", flat=True)) == [episode.pk]
    version = MemoryVersion.objects.for_space(space).get(memory=memory)
    assert (version.version, version.subject, version.actor_label) == (1, "alice", actor.label)
    event = AuditEvent.objects.for_space(space).get(target_id=str(memory.pk))
    assert event.summary["source_episodes"] == [str(episode.pk)]
    assert memory._state.adding is False


def test_it_rolls_back_every_row_sent_together_when_one_fails(space):
    first = Memory(id=uuid.uuid4(), space=space, content="Fine.", content_hash="a")
    clash = Memory(id=first.id, space=space, content="Same id.", content_hash="b")

    with pytest.raises(IntegrityError), transaction.atomic():
        insert_together([first, Episode(space=space, content="Hello."), clash])

    assert not Memory.objects.for_space(space).exists()
    assert not Episode.objects.for_space(space).exists()
    # The connection has left pipeline mode and takes the next write as usual.
    insert_together([Memory(space=space, content="After.", content_hash="c")])
    assert Memory.objects.for_space(space).get().content == "After."


def test_it_converts_values_as_the_orm_would_where_they_are_not_plain(space):
    from apps.memories.models import Kind

    naive = datetime(2026, 5, 1, 9, 30)  # what a careless caller passes
    odd = {
        "content": "Typed loosely.",
        "kind": Kind.PREFERENCE,  # a str subclass
        "importance": 1,  # an int for a float column
        "valid_to": None,
    }
    with pytest.warns(RuntimeWarning, match="naive datetime"):
        copy_insert([Memory(space=space, occurred_at=naive, content_hash="h", **odd)])
    with pytest.warns(RuntimeWarning, match="naive datetime"):
        Memory.objects.for_space(space).bulk_create(
            [Memory(space=space, occurred_at=naive, content_hash="h", **odd)]
        )
    copied, created = Memory.objects.for_space(space).order_by("created_at")
    assert stored(copied) == stored(created)
    assert copied.occurred_at == created.occurred_at
    assert copied.occurred_at is not None and copied.occurred_at.tzinfo is not None
    assert (copied.kind, copied.importance) == ("preference", 1.0)

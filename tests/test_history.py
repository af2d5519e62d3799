"""Time travel: what the space believed at a moment, from the versions, the validity
and the record times. Moments are read from the clock between the changes, so each
lies after one change was recorded and before the next."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from apps.memories import history, services
from apps.memories.models import Entity, Memory, MemoryVersion
from apps.memories.services.entities import NamedSpan, record_mentions


def texts(space, moment, **narrowing):
    return [v.content for v in history.believed_at(space, moment, **narrowing)]


def test_it_believes_the_old_fact_before_a_supersession_and_the_new_after(space, actor):
    old = services.create_memory(space, actor, content="Maya lives in Lisbon.", subject="Maya")
    before = timezone.now()
    _, new = services.replace_memory(space, actor, old.pk, content="Maya lives in Porto.")
    after = timezone.now()

    assert texts(space, before) == ["Maya lives in Lisbon."]
    assert texts(space, after) == ["Maya lives in Porto."]
    # The superseded memory is still in the database, marked so: only the moment differs.
    assert Memory.objects.for_space(space).get(pk=old.pk).status == "superseded"
    believed = history.believed_at(space, after).values("memory_id", "current_status").get()
    assert believed == {"memory_id": new.pk, "current_status": "active"}


def test_it_keeps_believing_a_superseded_fact_until_its_replacement_becomes_valid(space, actor):
    old = services.create_memory(space, actor, content="Maya works at Acme.", subject="Maya")
    starts = timezone.now() + timedelta(days=30)
    services.replace_memory(
        space, actor, old.pk, content="Maya works at Initech.", valid_from=starts
    )
    after = timezone.now()

    # Recorded already, but the new job only begins in a month.
    assert texts(space, after) == ["Maya works at Acme."]
    assert texts(space, starts + timedelta(seconds=1)) == ["Maya works at Initech."]


def test_it_does_not_believe_a_memory_before_it_was_recorded(space, actor):
    long_ago = datetime(2026, 1, 1, tzinfo=UTC)
    before = timezone.now()
    services.create_memory(
        space, actor, content="Maya was born in Accra.", subject="Maya", valid_from=long_ago
    )

    # Valid since January, but nobody knew it in February, nor just before it was written.
    assert texts(space, long_ago + timedelta(days=40)) == []
    assert texts(space, before) == []
    assert texts(space, timezone.now()) == ["Maya was born in Accra."]


def test_it_shows_the_text_and_subject_as_of_the_moment(space, actor):
    memory = services.create_memory(space, actor, content="Maya has a cat.", subject="Maya")
    between = timezone.now()
    services.update_memory(
        space, actor, memory.pk, expected_version=1, content="Maya has two cats.", subject="Ana"
    )

    then = history.believed_at(space, between, subject="maya")
    assert list(then.values_list("content", "version", "current_version")) == [
        ("Maya has a cat.", 1, 2)
    ]
    assert texts(space, timezone.now(), subject="maya") == []
    assert texts(space, timezone.now(), subject="Ana") == ["Maya has two cats."]
    assert MemoryVersion.objects.for_space(space).filter(memory=memory).count() == 2


@pytest.mark.parametrize("action", ["delete", "archive"])
def test_it_forgets_a_memory_from_its_deletion_or_archiving_on(space, actor, action):
    memory = services.create_memory(space, actor, content="Maya runs marathons.")
    between = timezone.now()
    services.change_status(space, actor, memory.pk, action)

    assert texts(space, between) == ["Maya runs marathons."]
    assert texts(space, timezone.now()) == []


def test_it_comes_back_after_a_restore(space, actor):
    memory = services.create_memory(space, actor, content="Maya runs marathons.")
    services.delete_memory(space, actor, memory.pk)
    deleted = timezone.now()
    services.restore_memory(space, actor, memory.pk)

    assert texts(space, deleted) == []
    assert texts(space, timezone.now()) == ["Maya runs marathons."]


def test_it_narrows_to_the_memories_that_mention_an_entity(space, actor):
    about, _other = services.create_memories(
        space,
        actor,
        [{"content": "Maya met Tomas in Porto."}, {"content": "The office moved."}],
    )
    record_mentions(space, actor, [NamedSpan(about.pk, "Tomas", Entity.EntityKind.PERSON)])
    tomas = Entity.objects.for_space(space).get(normalized_name="tomas")

    assert texts(space, timezone.now(), entity=tomas) == ["Maya met Tomas in Porto."]


def test_it_never_shows_another_space(space, outsider_space, actor):
    services.create_memory(outsider_space, actor, content="Maya is secret.", subject="Maya")
    outsider_memory = services.create_memory(outsider_space, actor, content="Tomas is too.")
    record_mentions(
        outsider_space, actor, [NamedSpan(outsider_memory.pk, "Tomas", Entity.EntityKind.PERSON)]
    )
    theirs = Entity.objects.for_space(outsider_space).get()
    services.create_memory(space, actor, content="Maya is ours.", subject="Maya")

    assert texts(space, timezone.now(), subject="Maya") == ["Maya is ours."]
    assert texts(space, timezone.now(), entity=theirs) == []
    assert history.facts_of(space, entity=theirs).bars == []


def test_it_reads_the_beliefs_in_one_query_however_many_memories(
    space, actor, django_assert_num_queries
):
    for count in (2, 25):
        made = services.create_memories(
            space,
            actor,
            [{"content": f"fact {count}-{i}", "subject": "Maya"} for i in range(count)],
        )
        for memory in made[:3]:
            services.update_memory(
                space, actor, memory.pk, expected_version=1, content=f"{memory.content}, edited"
            )
        with django_assert_num_queries(1):
            believed = list(history.believed_at(space, timezone.now(), subject="Maya"))
        assert len(believed) == Memory.objects.for_space(space).count()
        with django_assert_num_queries(2):
            history.facts_of(space, subject="Maya")


def test_it_draws_a_subjects_facts_with_their_supersessions(space, actor):
    old = services.create_memory(space, actor, content="Maya lives in Lisbon.", subject="Maya")
    _, new = services.replace_memory(space, actor, old.pk, content="Maya lives in Porto.")
    gone = services.create_memory(space, actor, content="Maya is gone.", subject="Maya")
    services.delete_memory(space, actor, gone.pk)

    facts = history.facts_of(space, subject="maya")

    assert [bar.memory_id for bar in facts.bars] == [old.pk, new.pk]
    assert facts.bars[0].end == Memory.objects.for_space(space).get(pk=old.pk).valid_to
    assert facts.bars[1].end is None
    assert facts.supersessions == [(old.pk, new.pk)]
    assert not facts.cut


def test_the_history_begins_with_the_earliest_record_or_validity(space, actor):
    assert history.first_moment(space) is None
    early = datetime(2025, 3, 1, tzinfo=UTC)
    services.create_memory(space, actor, content="Old news.", valid_from=early)
    assert history.first_moment(space) == early


def test_what_held_then_as_known_now_includes_history_recorded_later(space, actor):
    long_ago = datetime(2026, 1, 1, tzinfo=UTC)
    old = services.create_memory(
        space, actor, content="Maya lived in Lisbon.", subject="Maya", valid_from=long_ago
    )
    services.replace_memory(
        space, actor, old.pk, content="Maya lives in Porto.", valid_from=long_ago + timedelta(60)
    )
    february = long_ago + timedelta(days=40)

    # Nobody knew either in February; we know now that Lisbon held then, and Porto after.
    assert texts(space, february) == []
    held = history.held_at(space, february, subject="maya")
    assert list(held.values_list("content", "status")) == [("Maya lived in Lisbon.", "superseded")]
    april = [m.content for m in history.held_at(space, long_ago + timedelta(days=90))]
    assert april == ["Maya lives in Porto."]
    assert list(history.held_at(space, long_ago - timedelta(days=1))) == []

"""An outsider space can neither see nor change another space's rows."""

from __future__ import annotations

import pytest

from apps.audit.models import AuditEvent
from apps.memories import services
from apps.memories.models import Entity, Episode, Link, LinkType, Memory, MemoryVersion, Mention
from apps.spaces.scoping import UnscopedQueryError

SCOPED_MODELS = [Memory, MemoryVersion, Episode, Link, Entity, Mention, AuditEvent]


@pytest.fixture
def home_rows(space, actor, make_memory):
    episode = services.record_episode(space, actor, content="private conversation")
    first = make_memory("Home secret one.", source_episodes=[episode.pk])
    second = make_memory("Home secret two.")
    link = services.link_memories(space, actor, first.pk, second.pk, LinkType.RELATED_TO)
    entity = Entity.objects.for_space(space).create(
        space=space, name="Home", normalized_name="home"
    )
    Mention.objects.for_space(space).create(space=space, entity=entity, memory=first)
    return {"memory": first, "other": second, "link": link, "episode": episode}


@pytest.mark.parametrize("model", SCOPED_MODELS, ids=lambda m: m.__name__)
def test_an_outsider_sees_no_rows_through_for_space(model, home_rows, space, outsider_space):
    assert model.objects.for_space(space).exists()
    assert not model.objects.for_space(outsider_space).exists()


@pytest.mark.parametrize("model", SCOPED_MODELS, ids=lambda m: m.__name__)
@pytest.mark.parametrize(
    "method",
    [
        "all",
        "filter",
        "get",
        "exclude",
        "count",
        "create",
        "first",
        "values",
        "update",
        "in_bulk",
        "iterator",
        "aggregate",
    ],
)
def test_there_is_no_unscoped_entry_point(model, method):
    with pytest.raises(UnscopedQueryError, match="for_space"):
        getattr(model.objects, method)()


@pytest.mark.parametrize(
    "call",
    [
        lambda s, a, r: services.update_memory(
            s, a, r["memory"].pk, expected_version=None, content="hijacked"
        ),
        lambda s, a, r: services.archive_memory(s, a, r["memory"].pk),
        lambda s, a, r: services.restore_memory(s, a, r["memory"].pk),
        lambda s, a, r: services.delete_memory(s, a, r["memory"].pk),
        lambda s, a, r: services.purge_memory(s, a, r["memory"].pk, reason="x"),
        lambda s, a, r: services.revert_to_version(s, a, r["memory"].pk, to_version=1),
        lambda s, a, r: services.supersede_memory(s, a, r["memory"].pk, r["other"].pk),
        lambda s, a, r: services.merge_memories(s, a, [r["memory"].pk, r["other"].pk]),
        lambda s, a, r: services.link_memories(s, a, r["memory"].pk, r["other"].pk, "contradicts"),
        lambda s, a, r: services.unlink(s, a, r["link"].pk),
    ],
    ids=[
        "update",
        "archive",
        "restore",
        "delete",
        "purge",
        "revert",
        "supersede",
        "merge",
        "link",
        "unlink",
    ],
)
def test_an_outsider_cannot_change_rows_through_the_domain_layer(
    call, home_rows, space, outsider_space, actor
):
    before = list(
        Memory.objects.for_space(space)
        .order_by("pk")
        .values_list("pk", "content", "version", "status")
    )
    events_before = AuditEvent.objects.for_space(space).count()

    with pytest.raises(services.MemoryNotFound):
        call(outsider_space, actor, home_rows)

    after = list(
        Memory.objects.for_space(space)
        .order_by("pk")
        .values_list("pk", "content", "version", "status")
    )
    assert after == before
    assert Link.objects.for_space(space).count() == 1
    assert AuditEvent.objects.for_space(space).count() == events_before
    assert not AuditEvent.objects.for_space(outsider_space).exists()


def test_related_managers_stay_narrowed_by_their_parent(home_rows, space):
    memory = home_rows["memory"]
    assert memory.versions.count() == 1
    assert memory.versions.filter(version=1).exists()
    assert list(home_rows["episode"].memories.all()) == [memory]
    assert space.memories.count() == 2

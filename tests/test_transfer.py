"""Export and import of a space: a round trip keeps everything but the ids."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.audit.actors import Actor
from apps.audit.models import AuditEvent
from apps.memories import services, transfer
from apps.memories.models import (
    Entity,
    Episode,
    Link,
    LinkType,
    Memory,
    MemoryVersion,
    Mention,
    content_hash,
)
from apps.memories.services.restore import InvalidHistory, RestoredMemory, restore_records
from apps.memories.transfer import FORMAT, export_space, import_lines
from apps.spaces.models import Space
from tests.conftest import versions_of

pytestmark = pytest.mark.django_db

T0 = "2024-05-01T10:00:00+00:00"
T1 = "2024-05-02T10:00:00+00:00"


# ----------------------------------------------------------------- helpers


def populate(space: Space, actor: Actor) -> dict[str, Any]:
    """A space touched by every kind of change the domain layer makes."""
    first, second = services.record_episodes(
        space,
        actor,
        [
            {"content": "I love green tea", "speaker": "Alice", "session": "s1", "role": "user"},
            {"content": "Actually, coffee now", "speaker": "Alice", "metadata": {"turn": 2}},
        ],
    )
    tea = services.create_memory(
        space,
        actor,
        content="Alice likes green tea.",
        subject="Alice",
        tags=["drinks"],
        occurred_at=timezone.now() - timedelta(days=3),
        source_episodes=[first.pk],
    )
    tea = services.update_memory(
        space,
        actor,
        tea.pk,
        expected_version=1,
        reason="more precise",
        content="Alice likes green tea with honey.",
        importance=0.8,
    )
    coffee = services.create_memory(
        space,
        actor,
        content="Alice prefers coffee.",
        subject="Alice",
        valid_from=timezone.now() - timedelta(days=1),
        source_episodes=[first.pk, second.pk],
    )
    services.supersede_memory(space, actor, tea.pk, coffee.pk, reason="changed her mind")
    # One batch shares its created_at: the export must still keep one order.
    batch = services.create_memories(
        space, actor, [{"content": f"Bob fact {i}.", "subject": "Bob"} for i in range(4)]
    )
    merged = services.merge_memories(space, actor, [batch[0].pk, batch[1].pk], reason="same")
    services.link_memories(
        space, actor, batch[2].pk, batch[3].pk, LinkType.RELATED_TO, weight=0.5, metadata={"a": 1}
    )
    services.archive_memory(space, actor, batch[3].pk, reason="old")
    services.record_recall(
        space, actor, [coffee.pk, merged.pk], at=timezone.now(), query="drinks", mode="hybrid"
    )
    alice = Entity.objects.for_space(space).create(
        space=space, name="Alice", normalized_name="alice", kind="person", aliases=["Al"]
    )
    Mention.objects.for_space(space).create(
        space=space, entity=alice, memory=coffee, start=0, end=5
    )
    Mention.objects.for_space(space).create(space=space, entity=alice, memory=tea)
    Entity.objects.for_space(space).create(
        space=space, name="Green tea", normalized_name="green tea", kind="topic"
    )
    return {"tea": tea, "coffee": coffee, "merged": merged}


def export(space: Space) -> list[dict[str, Any]]:
    # Through JSON, as the API sends it: the export must be JSON-safe.
    return [json.loads(json.dumps(line)) for line in export_space(space)]


def jsonl(lines: list[Any]) -> list[str]:
    return [line if isinstance(line, str) else json.dumps(line) for line in lines]


def canonical(lines: list[dict[str, Any]]) -> list[Any]:
    """The export after the header with each id replaced by its line's position."""
    names = {line["id"]: f"{line['type']}#{n}" for n, line in enumerate(lines) if "id" in line}

    def rename(value: Any) -> Any:
        if isinstance(value, str):
            return names.get(value, value)
        if isinstance(value, list):
            return [rename(item) for item in value]
        if isinstance(value, dict):
            return {key: rename(item) for key, item in value.items()}
        return value

    return [rename(line) for line in lines[1:]]


def ids_in(lines: list[dict[str, Any]]) -> set[str]:
    return {line["id"] for line in lines if "id" in line}


def new_space(slug: str) -> Space:
    return Space.objects.create(slug=slug, name=slug.title())


def version(number: int, content: str, **fields: Any) -> dict[str, Any]:
    return {
        "version": number,
        "action": "create" if number == 1 else "update",
        "reason": "",
        "actor_type": "user",
        "actor_label": "user:alice",
        "created_at": T0,
        "content": content,
        **fields,
    }


def memory_line(memory_id: str, content: str = "Alice likes tea.", **fields: Any) -> dict:
    return {"type": "memory", "id": memory_id, "content": content, **fields}


def link_line(source: str, target: str, link_type: str = "related_to", **fields: Any) -> dict:
    return {"type": "link", "source": source, "target": target, "link_type": link_type, **fields}


def header(**fields: Any) -> dict[str, Any]:
    return {"type": "space", "format": FORMAT, "format_version": 1, **fields}


def codes(report: transfer.ImportReport) -> list[tuple[int, str]]:
    return [(error["line"], error["code"]) for error in report.errors]


# ----------------------------------------------------------------- export


def test_it_exports_the_documented_keys_in_order_and_never_embeddings(space, actor):
    populate(space, actor)
    lines = export(space)

    assert [line["type"] for line in lines] == [
        "space",
        *["episode"] * 2,
        *["memory"] * 7,
        "link",
        "link",
        "link",
        "link",
        *["entity"] * 2,
    ]
    keys = {line["type"]: set(line) for line in lines}
    assert keys["space"] == {
        "type",
        "format",
        "format_version",
        "slug",
        "name",
        "description",
        "settings",
        "exported_at",
    }
    assert keys["memory"] == {
        "type",
        "id",
        *Memory.VERSIONED_FIELDS,
        "created_at",
        "updated_at",
        "version",
        "access_count",
        "last_accessed_at",
        "strength",
        "source_episodes",
        "versions",
    }
    assert keys["link"] == {
        "type",
        "source",
        "target",
        "link_type",
        "weight",
        "metadata",
        "created_by",
        "created_at",
    }
    assert keys["entity"] == {
        "type",
        "id",
        "name",
        "kind",
        "aliases",
        "metadata",
        "created_at",
        "mentions",
    }
    assert lines[0]["format"] == FORMAT and lines[0]["format_version"] == 1
    tea = next(line for line in lines if line.get("content") == "Alice likes green tea with honey.")
    assert [v["version"] for v in tea["versions"]] == [1, 2, 3]
    assert set(tea["versions"][0]) == {
        "version",
        "action",
        "reason",
        "actor_type",
        "actor_label",
        "created_at",
        *Memory.VERSIONED_FIELDS,
    }


def test_it_orders_each_group_by_creation(space, actor):
    populate(space, actor)
    lines = export(space)
    for kind in ("episode", "memory", "entity"):
        group = [line for line in lines if line["type"] == kind]
        assert group == sorted(group, key=lambda line: (line["created_at"], line["id"]))


def test_it_exports_only_the_rows_of_the_space(space, outsider_space, actor):
    populate(space, actor)
    episode = services.record_episode(outsider_space, actor, content="outsider secret episode")
    mine = services.create_memory(
        outsider_space, actor, content="outsider secret one", source_episodes=[episode.pk]
    )
    other = services.create_memory(outsider_space, actor, content="outsider secret two")
    services.link_memories(outsider_space, actor, mine.pk, other.pk, LinkType.CONTRADICTS)
    entity = Entity.objects.for_space(outsider_space).create(
        space=outsider_space, name="Outsider secret", normalized_name="outsider secret"
    )
    Mention.objects.for_space(outsider_space).create(
        space=outsider_space, entity=entity, memory=mine
    )

    dumped = json.dumps(export(space))

    assert "outsider secret" not in dumped.casefold()
    for foreign_id in (episode.pk, mine.pk, other.pk, entity.pk):
        assert str(foreign_id) not in dumped
    assert "outsider secret one" in json.dumps(export(outsider_space))


def test_it_reads_memories_in_chunks_not_row_by_row(space, actor, monkeypatch):
    memories = services.create_memories(space, actor, [{"content": f"fact {i}"} for i in range(30)])
    for memory in memories:
        services.update_memory(space, actor, memory.pk, expected_version=1, importance=0.9)
    monkeypatch.setattr(transfer.export, "CHUNK_SIZE", 10)

    with CaptureQueriesContext(connection) as queries:
        lines = export(space)

    assert sum(line["type"] == "memory" for line in lines) == 30
    assert all(len(line["versions"]) == 2 for line in lines if line["type"] == "memory")
    assert len(queries.captured_queries) <= 12


# ----------------------------------------------------------------- round trip


def test_it_round_trips_a_space_except_for_the_ids(space, actor):
    populate(space, actor)
    first = export(space)
    copy = new_space("copy")

    report = import_lines(copy, actor, jsonl(first))

    assert report.errors == []
    assert report.imported == {"episode": 2, "memory": 7, "link": 4, "entity": 2}
    second = export(copy)
    assert canonical(second) == canonical(first)
    assert ids_in(first).isdisjoint(ids_in(second))


def test_it_keeps_versions_timestamps_and_usage(space, actor):
    made = populate(space, actor)
    copy = new_space("copy")
    import_lines(copy, actor, jsonl(export(space)))

    original = Memory.objects.for_space(space).get(pk=made["coffee"].pk)
    imported = Memory.objects.for_space(copy).get(content="Alice prefers coffee.")
    for name in ("created_at", "updated_at", "version", "access_count", "strength"):
        assert getattr(imported, name) == getattr(original, name), name
    assert imported.last_accessed_at == original.last_accessed_at is not None
    assert imported.content_hash == original.content_hash
    assert imported.embedding is None
    tea = Memory.objects.for_space(copy).get(content="Alice likes green tea with honey.")
    assert versions_of(tea) == [(1, "create"), (2, "update"), (3, "supersede")]
    copied_versions = MemoryVersion.objects.for_space(copy).filter(memory=tea).order_by("version")
    original_versions = MemoryVersion.objects.for_space(space).filter(memory=made["tea"])
    assert [(v.created_at, v.reason, v.actor_label, v.content) for v in copied_versions] == [
        (v.created_at, v.reason, v.actor_label, v.content) for v in original_versions
    ]
    assert all(v.actor_user_id is None and v.actor_token_id is None for v in copied_versions)
    assert sorted(e.content for e in imported.source_episodes.all()) == [
        "Actually, coffee now",
        "I love green tea",
    ]


def test_it_points_a_merged_memory_at_the_imported_originals(space, actor):
    made = populate(space, actor)
    copy = new_space("copy")
    import_lines(copy, actor, jsonl(export(space)))

    merged = Memory.objects.for_space(copy).get(version=1, metadata__has_key="merged_from")
    originals = set(
        Memory.objects.for_space(copy).filter(
            content__in=["Bob fact 0.", "Bob fact 1."], status="superseded"
        )
    )
    assert len(originals) == 2
    assert set(merged.metadata["merged_from"]) == {str(m.pk) for m in originals}
    assert made["merged"].pk != merged.pk


def test_it_imports_one_export_into_two_spaces(space, actor):
    populate(space, actor)
    lines = jsonl(export(space))
    one, two = new_space("one"), new_space("two")

    reports = [import_lines(one, actor, lines), import_lines(two, actor, lines)]

    assert [r.errors for r in reports] == [[], []]
    exports = [export(space), export(one), export(two)]
    assert canonical(exports[1]) == canonical(exports[2]) == canonical(exports[0])
    ids = [ids_in(lines) for lines in exports]
    assert len(ids[0] | ids[1] | ids[2]) == 3 * len(ids[0])
    assert Memory.objects.for_space(space).count() == 7


def test_it_leaves_the_target_space_name_and_settings_alone(space, actor):
    space.settings = {"retention": 30}
    space.save()
    populate(space, actor)
    copy = new_space("copy")

    import_lines(copy, actor, jsonl(export(space)))

    copy.refresh_from_db()
    assert (copy.slug, copy.name, copy.settings) == ("copy", "Copy", {})


def test_it_writes_one_import_event_per_row_without_content(space, actor):
    populate(space, actor)
    copy = new_space("copy")

    import_lines(copy, actor, jsonl(export(space)))

    events = list(AuditEvent.objects.for_space(copy))
    assert Counter(e.action for e in events) == {
        "episode.import": 2,
        "memory.import": 7,
        "link.import": 4,
        "entity.import": 2,
    }
    memory_events = {e.target_id for e in events if e.target_type == "memory"}
    assert memory_events == {
        str(pk) for pk in Memory.objects.for_space(copy).values_list("pk", flat=True)
    }
    assert {e.actor_label for e in events} == {"user:alice"}
    summaries = json.dumps([e.summary for e in events])
    for content in Memory.objects.for_space(copy).values_list("content", flat=True):
        assert content not in summaries


def test_it_schedules_embedding_after_commit(
    space, actor, monkeypatch, django_capture_on_commit_callbacks
):
    populate(space, actor)
    lines = jsonl(export(space))
    scheduled: list[tuple[int, int]] = []
    monkeypatch.setattr(
        "apps.retrieval.tasks.schedule_embedding",
        lambda space_id, pending: scheduled.append((space_id, pending)),
    )
    copy, episodes_only = new_space("copy"), new_space("episodes")

    with django_capture_on_commit_callbacks(execute=True):
        import_lines(copy, actor, lines)
        import_lines(
            episodes_only, actor, [line for line in lines if json.loads(line)["type"] == "episode"]
        )

    assert scheduled == [(copy.pk, Memory.objects.for_space(copy).count())]
    assert Episode.objects.for_space(episodes_only).count() == 2


def test_it_writes_lines_in_batches_not_row_by_row(space, actor, monkeypatch):
    monkeypatch.setattr(transfer.importer, "BATCH_SIZE", 25)
    lines = [header(), {"type": "episode", "id": "e", "content": "hi"}]
    lines += [
        memory_line(f"m{i}", f"fact {i}", source_episodes=["e"], versions=[version(1, f"fact {i}")])
        for i in range(98)
    ]

    with CaptureQueriesContext(connection) as queries:
        report = import_lines(space, actor, jsonl(lines))

    assert report.imported["memory"] == 98
    # Four batches of a savepoint, an insert per table and a release; an audit statement
    # per 25 events; the import's own savepoint. Row by row would be hundreds.
    assert len(queries.captured_queries) <= 30


def test_it_undoes_only_the_line_the_database_refuses(space, actor, monkeypatch):
    """A refusal the checks cannot foresee (text Postgres cannot store) undoes the
    batch, which is then written line by line: the other lines still land, and a
    line that refers to the refused row is refused too."""
    monkeypatch.setattr(transfer.importer, "BATCH_SIZE", 4)
    lines = [
        {"type": "episode", "id": "e1", "content": "hello"},
        {"type": "episode", "id": "e2", "content": "nul \u0000 byte"},  # 2
        memory_line("m1", source_episodes=["e1"]),
        memory_line("m2", "Bob.", source_episodes=["e2"]),  # 4
        link_line("m1", "m2"),  # 5
        memory_line("m3", "Carol."),
    ]

    report = import_lines(space, actor, jsonl(lines))

    assert codes(report) == [(2, "invalid"), (4, "unknown_reference"), (5, "unknown_reference")]
    assert report.imported == {"episode": 1, "memory": 2, "link": 0, "entity": 0}
    assert sorted(Memory.objects.for_space(space).values_list("content", flat=True)) == [
        "Alice likes tea.",
        "Carol.",
    ]
    assert AuditEvent.objects.for_space(space).count() == 3


def test_it_refuses_text_that_is_not_valid_unicode_but_keeps_escaped_emoji(space, actor):
    lone_surrogate = '{"type": "memory", "id": "m", "content": "half a pair: \\ud800"}'
    emoji = json.dumps(memory_line("ok", "Alice \N{HOT BEVERAGE}\N{GRINNING FACE}"))
    assert "\\ud83d" in emoji

    report = import_lines(space, actor, [lone_surrogate, emoji])

    assert codes(report) == [(1, "malformed_json")]
    assert (
        Memory.objects.for_space(space).get().content == "Alice \N{HOT BEVERAGE}\N{GRINNING FACE}"
    )


def test_it_refuses_an_entity_whose_name_the_space_already_has(space, actor):
    Entity.objects.for_space(space).create(space=space, name="Alice", normalized_name="alice")
    lines = [
        memory_line("m"),
        {"type": "entity", "id": "n1", "name": "ALICE", "mentions": [{"memory": "m"}]},
        {"type": "entity", "id": "n2", "name": "Bob", "mentions": [{"memory": "m"}]},
    ]

    report = import_lines(space, actor, jsonl(lines))

    assert codes(report) == [(2, "duplicate")]
    assert report.errors[0]["details"] == {"constraint": "entity_unique_name"}
    assert report.imported == {"episode": 0, "memory": 1, "link": 0, "entity": 1}
    assert Mention.objects.for_space(space).get().entity.name == "Bob"


# ----------------------------------------------------------------- bad lines


def bad_file() -> list[Any]:
    return [
        header(),  # 1
        {"type": "episode", "id": "e1", "content": "hello"},  # 2
        "",  # 3
        "{not json",  # 4
        {"type": "planet", "id": "p"},  # 5
        memory_line("bad-date", created_at="yesterday"),  # 6
        memory_line("orphan", source_episodes=["e404"]),  # 7
        memory_line("huge", "x" * 51),  # 8
        memory_line("gap", "b", versions=[version(1, "a"), version(3, "b")]),  # 9
        memory_line("ok", source_episodes=["e1"]),  # 10
        memory_line("ok2", "Bob likes cake."),  # 11
        link_line("ok", "bad-date"),  # 12
        link_line("ok", "ok2"),  # 13
        {"type": "entity", "id": "n", "name": "Alice", "mentions": [{"memory": "ok"}]},  # 14
    ]


EXPECTED_ERRORS = [
    (4, "malformed_json"),
    (5, "invalid_line"),
    (6, "invalid"),
    (7, "unknown_reference"),
    (8, "content_too_large"),
    (9, "invalid_versions"),
    (12, "unknown_reference"),
]


def test_it_reports_bad_lines_by_number_and_imports_the_rest(space, actor, settings):
    settings.MEMORY_MAX_CONTENT_CHARS = 50

    report = import_lines(space, actor, [line.encode() for line in jsonl(bad_file())])

    assert codes(report) == EXPECTED_ERRORS
    assert report.imported == {"episode": 1, "memory": 2, "link": 1, "entity": 1}
    errors = {error["line"]: error for error in report.errors}
    assert "created_at" in errors[6]["details"]
    assert errors[7]["details"] == {"source_episodes[0]": "e404"}
    assert errors[9]["details"] == {"versions": [1, 3]}
    assert errors[12]["details"] == {"target": "bad-date"}
    assert all(error["message"] for error in report.errors)
    ok = Memory.objects.for_space(space).get(content="Alice likes tea.")
    assert [e.content for e in ok.source_episodes.all()] == ["hello"]
    assert Mention.objects.for_space(space).get().memory == ok


def test_it_imports_nothing_when_atomic_and_a_line_is_bad(space, actor, settings):
    settings.MEMORY_MAX_CONTENT_CHARS = 50

    report = import_lines(space, actor, jsonl(bad_file()), atomic=True)

    assert codes(report) == EXPECTED_ERRORS
    assert report.imported == {"episode": 0, "memory": 0, "link": 0, "entity": 0}
    for model in (Episode, Memory, MemoryVersion, Link, Entity, Mention, AuditEvent):
        assert not model.objects.for_space(space).exists(), model.__name__


def test_it_rolls_back_when_atomic_and_only_a_late_line_is_refused(space, actor):
    lines = [memory_line("m"), {"type": "episode", "id": "e", "content": "nul \u0000"}]

    report = import_lines(space, actor, jsonl(lines), atomic=True)

    assert codes(report) == [(2, "invalid")]
    assert report.imported["memory"] == 0
    assert not Memory.objects.for_space(space).exists()


def test_it_imports_everything_when_atomic_and_every_line_is_good(space, actor):
    populate(space, actor)
    copy = new_space("copy")

    report = import_lines(copy, actor, jsonl(export(space)), atomic=True)

    assert report.errors == []
    assert Memory.objects.for_space(copy).count() == 7


@pytest.mark.parametrize(
    ("fields", "code", "detail"),
    [
        ({"kind": "gossip"}, "invalid", "kind"),
        ({"status": "zombie"}, "invalid", "status"),
        ({"occurred_at": "2024-05-01T10:00:00"}, "invalid", "occurred_at"),
        ({"created_at": 17}, "invalid", "created_at"),
        ({"updated_at": None}, "invalid", "updated_at"),
        ({"importance": "high"}, "invalid", "importance"),
        ({"pinned": "yes"}, "invalid", "pinned"),
        ({"strength": 0}, "invalid", "strength"),
        ({"access_count": -1}, "invalid", "access_count"),
        ({"tags": "tea"}, "invalid", "tags"),
        ({"content": "  "}, "invalid", "content"),
        ({"content": None}, "invalid", "content"),
        ({"content": 5}, "invalid", "content"),
        ({"id": 7}, "invalid", "id"),
        ({"embedding": [0.1, 0.2]}, "invalid", "embedding"),
        ({"source_episodes": "e1"}, "invalid", "source_episodes"),
        ({"valid_from": T1, "valid_to": T0}, "invalid", "valid_from"),
        ({"version": 2}, "invalid_versions", "version"),
        ({"versions": []}, "invalid_versions", None),
        ({"versions": [version(1, "other text")]}, "invalid_versions", "fields"),
        ({"versions": [version(1, "Alice likes tea.", action="teleport")]}, "invalid", None),
        ({"versions": [version(1, "Alice likes tea."), version(1, "x")]}, "invalid_versions", None),
        ({"versions": ["v1"]}, "invalid", "versions[0]"),
        ({"versions": [{**version(1, "Alice likes tea."), "created_at": "soon"}]}, "invalid", None),
    ],
)
def test_it_refuses_an_invalid_memory_line(space, actor, fields, code, detail):
    report = import_lines(space, actor, jsonl([memory_line("m", **fields)]))

    assert codes(report) == [(1, code)]
    if detail is not None:
        assert detail in report.errors[0]["details"]
    assert not Memory.objects.for_space(space).exists()
    assert not MemoryVersion.objects.for_space(space).exists()


def test_it_names_the_bad_field_of_a_version(space, actor):
    line = memory_line("m", versions=[version(1, "Alice likes tea.", action="teleport")])

    report = import_lines(space, actor, jsonl([line]))

    assert list(report.errors[0]["details"]) == ["versions[0].action"]


def test_it_refuses_nan_as_malformed_json(space, actor):
    line = '{"type": "memory", "id": "m", "content": "x", "importance": NaN}'

    report = import_lines(space, actor, [line])

    assert codes(report) == [(1, "malformed_json")]


def test_it_refuses_a_deeply_nested_line_quickly_and_imports_the_rest(space, actor):
    deep = '{"type": "memory", "id": "d", "content": "x", "metadata": ' + "[" * 100_000
    good = json.dumps(memory_line("m", content="Alice likes tea."))

    report = import_lines(space, actor, [deep, good])

    assert codes(report) == [(1, "malformed_json")]
    assert report.errors[0]["details"] == {"max_depth": 64}
    assert list(Memory.objects.for_space(space).values_list("content", flat=True)) == [
        "Alice likes tea."
    ]


@pytest.mark.parametrize(
    ("line", "code"),
    [
        ('["a list"]', "invalid_line"),
        ('{"id": "no type"}', "invalid_line"),
        (b"\xff\xfe", "malformed_json"),
    ],
)
def test_it_refuses_lines_that_are_not_typed_objects(space, actor, line, code):
    assert codes(import_lines(space, actor, [line])) == [(1, code)]


def test_it_gives_a_memory_without_history_a_first_version(space, actor):
    report = import_lines(space, actor, jsonl([memory_line("m", created_at=T0)]))

    memory = Memory.objects.for_space(space).get()
    assert report.errors == []
    assert versions_of(memory) == [(1, "create")]
    first = MemoryVersion.objects.for_space(space).get()
    assert (first.reason, first.actor_label, first.created_at.isoformat()) == (
        "imported",
        "user:alice",
        T0,
    )
    assert (memory.kind, memory.status, memory.importance) == ("fact", "active", 0.5)


def test_it_refuses_a_duplicate_id_link_or_entity(space, actor):
    lines = [
        memory_line("a"),
        memory_line("a", "again"),  # 2
        memory_line("b", "Bob."),
        link_line("a", "b"),
        link_line("a", "b"),  # 5
        link_line("a", "a"),  # 6
        link_line("a", "b", "loves"),  # 7
        {"type": "entity", "id": "n1", "name": "Alice"},
        {"type": "entity", "id": "n2", "name": " alice "},  # 9: same normalised name
        {"type": "entity", "id": "n3", "name": "Bob", "mentions": [{"memory": "zz"}]},  # 10
        {
            "type": "entity",
            "id": "n4",
            "name": "Eve",
            "mentions": [{"memory": "a", "start": 3, "end": 3}],
        },  # 11
        {"type": "entity", "id": "n1", "name": "Carol"},  # 12
    ]

    report = import_lines(space, actor, jsonl(lines))

    assert codes(report) == [
        (2, "duplicate"),
        (5, "duplicate"),
        (6, "invalid"),
        (7, "invalid"),
        (9, "duplicate"),
        (10, "unknown_reference"),
        (11, "invalid"),
        (12, "duplicate"),
    ]
    assert report.errors[-2]["details"] == {"mentions[0].end": "must be greater than start"}
    assert report.imported == {"episode": 0, "memory": 2, "link": 1, "entity": 1}


def test_it_refuses_an_unsupported_format_but_imports_the_rest(space, actor):
    lines = [header(format_version=2), memory_line("m")]

    report = import_lines(space, actor, jsonl(lines))

    assert codes(report) == [(1, "unsupported_format")]
    assert report.imported["memory"] == 1


@pytest.mark.parametrize(
    "bad_header",
    [header(format="other"), header(format_version=True), {"type": "space"}],
)
def test_it_refuses_a_header_of_another_format(space, actor, bad_header):
    assert codes(import_lines(space, actor, jsonl([bad_header]))) == [(1, "unsupported_format")]


def test_it_accepts_the_header_only_as_the_first_line(space, actor):
    lines = ["", header(), memory_line("m"), header()]

    report = import_lines(space, actor, jsonl(lines))

    assert codes(report) == [(4, "invalid_line")]


# ----------------------------------------------------------------- the domain layer's restore


def restored_memory(space: Space, content: str, *, last_version_content: str) -> RestoredMemory:
    memory = Memory(space=space, id=uuid.uuid4(), content=content, version=1)
    version = MemoryVersion(
        version=1, action="create", actor_type="user", actor_label="user:old", **memory.snapshot()
    )
    version.content = last_version_content
    return RestoredMemory(memory, [version], imported_from="m-old")


def test_it_restores_a_memory_with_its_history_into_the_given_space(space, actor):
    elsewhere = new_space("elsewhere")
    record = restored_memory(elsewhere, "Alice likes tea.", last_version_content="Alice likes tea.")

    restore_records(space, actor, [record])

    memory = Memory.objects.for_space(space).get()
    assert memory.content_hash == content_hash("Alice likes tea.")
    assert versions_of(memory) == [(1, "create")]
    event = AuditEvent.objects.for_space(space).get()
    assert (event.action, event.target_id) == ("memory.import", str(memory.pk))
    assert event.summary["imported_from"] == "m-old"
    assert not Memory.objects.for_space(elsewhere).exists()


def test_it_restores_nothing_when_a_history_does_not_end_at_the_memory(space, actor):
    good = restored_memory(space, "Alice likes tea.", last_version_content="Alice likes tea.")
    bad = restored_memory(space, "Bob likes coffee.", last_version_content="Bob likes tea.")

    with pytest.raises(InvalidHistory) as refused:
        restore_records(space, actor, [good, bad])

    assert refused.value.code == "invalid_versions"
    assert refused.value.details == {"fields": ["content"]}
    for model in (Memory, MemoryVersion, AuditEvent):
        assert not model.objects.for_space(space).exists(), model.__name__

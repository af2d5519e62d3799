"""One set of rules for a memory's fields, and the behaviour that lives on the model.

The same bad value is refused by every way in: the domain layer, the API, the
dashboard's edit form and the import reader. Retention, the lifecycle actions a
status allows and the named filters are answered by the model and its queryset.
"""

from __future__ import annotations

import json
import math
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from apps.memories import services
from apps.memories.models import Memory, MemoryVersion, Status
from apps.memories.transfer import import_lines
from apps.spaces.models import ApiToken
from apps.spaces.scoping import UnscopedQueryError
from tests.api.conftest import WRITE, bearer, error_of
from tests.conftest import edit_data

pytestmark = pytest.mark.django_db

TOO_MANY_TAGS = [f"tag-{n}" for n in range(101)]
TOO_LONG_TAG = "x" * 65
TOO_LONG_SUBJECT = "s" * 201

# field, bad value: each breaks one rule of MemoryRules.
BAD_FIELDS = [
    pytest.param("tags", TOO_MANY_TAGS, id="101 tags"),
    pytest.param("tags", [TOO_LONG_TAG], id="a 65-character tag"),
    pytest.param("subject", TOO_LONG_SUBJECT, id="a 201-character subject"),
    pytest.param("importance", 2, id="importance 2"),
]


def stored(space: Any) -> list[Memory]:
    return list(Memory.objects.for_space(space))


@pytest.fixture
def writer(space: Any) -> Any:
    _, raw = ApiToken.issue(space=space, name="writer", scopes=[str(scope) for scope in WRITE])
    return bearer(raw)


# ----------------------------------------------------------------- the domain layer


@pytest.mark.parametrize(("field", "value"), BAD_FIELDS)
def test_it_refuses_a_bad_field_in_the_domain_layer(space, actor, field, value):
    with pytest.raises(services.InvalidMemory) as refused:
        services.create_memory(space, actor, content="Alice likes tea.", **{field: value})

    assert field in refused.value.details
    assert stored(space) == []


@pytest.mark.parametrize(("field", "value"), BAD_FIELDS)
def test_it_refuses_a_bad_field_in_an_edit_and_keeps_the_memory(
    space, actor, make_memory, field, value
):
    memory = make_memory("Alice likes tea.", tags=["tea"])

    with pytest.raises(services.InvalidMemory) as refused:
        services.update_memory(space, actor, memory.pk, expected_version=1, **{field: value})

    assert field in refused.value.details
    after = Memory.objects.for_space(space).get(pk=memory.pk)
    assert (after.version, after.tags, after.subject, after.importance) == (1, ["tea"], "", 0.5)
    assert MemoryVersion.objects.for_space(space).filter(memory_id=memory.pk).count() == 1


def test_it_counts_tags_once_cleaned(space, actor):
    """Blanks and repeats are dropped before counting: 100 distinct tags are allowed."""
    tags = [f"tag-{n}" for n in range(100)]
    memory = services.create_memory(space, actor, content="x", tags=[*tags, "tag-0", " "])

    assert memory.tags == tags


# ----------------------------------------------------------------- the API


@pytest.mark.parametrize(("field", "value"), BAD_FIELDS)
def test_it_refuses_a_bad_field_in_the_api(writer, space, field, value):
    response = writer.post(
        "/api/v1/memories", {"content": "Alice likes tea.", field: value}, format="json"
    )

    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "invalid_request"
    assert field in error["details"]
    assert stored(space) == []


# ----------------------------------------------------------------- the edit form


def edit_page_post(client: Client, memory: Memory, **changes: str) -> Any:
    url = reverse("dashboard:memory_edit", args=[memory.space.slug, memory.pk])
    return client.post(url, edit_data(memory, **changes))


# The edit form has no subject field: a curator does not edit it on the page.
@pytest.mark.parametrize(
    ("changes", "message"),
    [
        pytest.param({"tags": ", ".join(TOO_MANY_TAGS)}, "at most 100 tags", id="101 tags"),
        pytest.param(
            {"tags": f"ok, {TOO_LONG_TAG}"}, "longer than 64 characters", id="a 65-character tag"
        ),
        pytest.param({"importance": "2"}, "less than or equal to 1", id="importance 2"),
    ],
)
def test_it_refuses_a_bad_field_in_the_edit_form(alice, make_memory, changes, message):
    memory = make_memory("Alice likes tea.", tags=["tea"])
    client = Client()
    client.force_login(alice)

    response = edit_page_post(client, memory, **changes)

    assert response.status_code == 422
    assert message in response.content.decode()
    after = Memory.objects.for_space(memory.space_id).get(pk=memory.pk)
    assert (after.version, after.tags, after.importance) == (1, ["tea"], 0.5)


# ----------------------------------------------------------------- the import reader


@pytest.mark.parametrize(("field", "value"), BAD_FIELDS)
def test_it_refuses_a_bad_field_in_an_imported_line(space, actor, field, value):
    line = {"type": "memory", "id": "m1", "content": "Alice likes tea.", field: value}

    report = import_lines(space, actor, [json.dumps(line)])

    assert [(error["line"], error["code"]) for error in report.errors] == [(1, "invalid")]
    assert field in report.errors[0]["details"]
    assert stored(space) == []


# ----------------------------------------------------------------- retention


def test_it_computes_retention_from_the_last_recall_and_the_strength():
    now = timezone.now()
    memory = Memory(created_at=now - timedelta(days=4), strength=2.0)

    assert memory.retention(now) == pytest.approx(math.exp(-2))  # 4 days since creation
    memory.last_accessed_at = now - timedelta(days=1)
    assert memory.retention(now) == pytest.approx(math.exp(-0.5))  # 1 day since the recall
    memory.last_accessed_at = now + timedelta(minutes=1)  # another server's clock, a bit ahead
    assert memory.retention(now) == 1.0


def test_it_shows_the_same_retention_in_the_api_and_on_the_page(writer, space, alice, make_memory):
    memory = make_memory()
    client = Client()
    client.force_login(alice)

    body = writer.get(f"/api/v1/memories/{memory.pk}").json()
    page = client.get(reverse("dashboard:memory", args=[space.slug, memory.pk]))

    assert body["retention"] == pytest.approx(1.0, abs=1e-3)
    assert "Retention" in page.content.decode() and "1.000" in page.content.decode()


# ----------------------------------------------------------------- lifecycle actions


@pytest.mark.parametrize(
    ("status", "actions"),
    [
        (Status.ACTIVE, ["archive", "delete"]),
        (Status.ARCHIVED, ["restore", "delete"]),
        (Status.SUPERSEDED, ["delete"]),
        (Status.DELETED, ["restore"]),
    ],
)
def test_it_knows_which_lifecycle_actions_a_status_allows(status, actions):
    assert Memory(status=status).allowed_actions() == actions


@pytest.mark.parametrize("status", list(Status))
def test_the_domain_layer_accepts_exactly_the_allowed_actions(space, actor, make_memory, status):
    for action in ("archive", "restore", "delete"):
        memory = memory_with_status(space, actor, make_memory, status)
        if action in memory.allowed_actions():
            assert (
                services.change_status(space, actor, memory.pk, action).version
                == memory.version + 1
            )
        else:
            with pytest.raises(services.InvalidTransition):
                services.change_status(space, actor, memory.pk, action)


def test_it_refuses_an_unknown_lifecycle_action(space, actor, make_memory):
    memory = make_memory()

    with pytest.raises(services.InvalidTransition) as refused:
        services.change_status(space, actor, memory.pk, "explode")

    assert refused.value.details == {
        "action": "explode",
        "allowed": ["archive", "restore", "delete"],
    }
    assert Memory.objects.for_space(space).get(pk=memory.pk).version == 1


def memory_with_status(space: Any, actor: Any, make_memory: Any, status: str) -> Memory:
    memory = make_memory("Alice likes tea.")
    if status == Status.ARCHIVED:
        services.archive_memory(space, actor, memory.pk)
    elif status == Status.DELETED:
        services.delete_memory(space, actor, memory.pk)
    elif status == Status.SUPERSEDED:
        newer = make_memory("Alice likes coffee now.")
        services.supersede_memory(space, actor, memory.pk, newer.pk)
    return Memory.objects.for_space(space).get(pk=memory.pk)


@pytest.mark.parametrize("status", list(Status))
def test_the_page_offers_exactly_the_allowed_actions(space, actor, alice, make_memory, status):
    memory = memory_with_status(space, actor, make_memory, status)
    client = Client()
    client.force_login(alice)

    html = client.get(reverse("dashboard:memory", args=[space.slug, memory.pk])).content.decode()

    offered = [
        action
        for action in ("archive", "restore", "delete", "supersede", "merge")
        if f'name="action" value="{action}"' in html
    ]
    assert offered == memory.allowed_actions()


# ----------------------------------------------------------------- named filters


def test_it_names_the_active_and_the_pending_memories(
    space, outsider_space, actor, make_memory, hashing_backend, embed_now
):
    embedded = make_memory("Embedded and active.")
    embed_now(space)
    archived = make_memory("Archived, waiting for its vector.")
    services.archive_memory(space, actor, archived.pk)
    waiting = make_memory("Active, waiting for its vector.")
    make_memory("Another space's.", space=outsider_space)

    memories = Memory.objects.for_space(space)
    assert set(memories.active()) == {embedded, waiting}
    assert set(memories.pending_embedding()) == {archived, waiting}
    assert set(memories.embedded()) == {embedded}
    assert set(memories.active().pending_embedding()) == {waiting}
    assert set(space.memories.active()) == {embedded, waiting}  # the related manager too


def test_it_still_refuses_a_named_filter_without_a_space():
    with pytest.raises(UnscopedQueryError):
        Memory.objects.active()

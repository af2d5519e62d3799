"""Reads that may be a moment stale come from a real streaming replica; writes, and
the reads that must see them, from the primary (apps/core/replicas.py)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.db import connections
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.test import APIClient

from apps.audit.actors import Actor
from apps.core import replicas
from apps.memories import services
from apps.memories.models import Memory
from apps.retrieval.models import Recall
from apps.spaces.models import ApiToken, Scope, Space
from tests.conftest import edit_data, free_port
from tests.dashboard.conftest import member
from tests.dashboard.test_map_page import draw_map
from tests.replica.conftest import ALIAS, caught_up, pause_replay, received, resume_replay

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", ALIAS])

READ = [Scope.MEMORIES_READ]
WRITE = [Scope.MEMORIES_READ, Scope.MEMORIES_WRITE]


def agent(space: Space, scopes: list[Scope]) -> APIClient:
    _, raw = ApiToken.issue(
        space=space, name=f"agent-{len(scopes)}-{id(scopes)}", scopes=list(scopes)
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def search(client: APIClient, query: str) -> Any:
    return client.post("/api/v1/search", {"query": query, "mode": "text"}, format="json")


def hit_ids(response: Any) -> list[str]:
    return [hit["memory"]["id"] for hit in response.json()["hits"]]


def listed_ids(response: Any) -> list[str]:
    return [memory["id"] for memory in response.json()["results"]]


@contextmanager
def queries() -> Iterator[tuple[CaptureQueriesContext, CaptureQueriesContext]]:
    """The statements sent to the primary and to the replica meanwhile."""
    with (
        CaptureQueriesContext(connections["default"]) as primary,
        CaptureQueriesContext(connections[ALIAS]) as replica,
    ):
        yield primary, replica


def reads_memories(captured: CaptureQueriesContext) -> bool:
    return any('"memories_memory"' in query["sql"] for query in captured.captured_queries)


def sql_of(captured: CaptureQueriesContext) -> str:
    return "\n".join(query["sql"] for query in captured.captured_queries)


@pytest.fixture
def noted(space: Space, actor: Actor) -> Memory:
    """A memory every replica has replayed."""
    memory = services.create_memory(space, actor, content="Maya swims on Tuesdays.")
    caught_up()
    return memory


def test_it_streams_from_the_primary_into_a_replica_in_recovery(replica, noted):
    with connections[replica].cursor() as cursor:
        cursor.execute("SELECT pg_is_in_recovery()")
        assert cursor.fetchone()[0] is True
    assert Memory.objects.for_space(noted.space).using(replica).get(pk=noted.pk).version == 1
    assert replicas.for_reading(None) == replica


def test_it_reads_a_search_from_the_replica_and_writes_its_recall_to_the_primary(
    replica, space, noted
):
    reader = agent(space, READ)
    with queries() as (primary, on_replica):
        response = search(reader, "swims")
    assert response.status_code == 200
    assert hit_ids(response) == [str(noted.pk)]
    # The candidates and the hits' rows come from the replica, not the primary.
    # The candidate statement (BM25's steps); the words' counts still read the primary.
    assert "step0 AS" in sql_of(on_replica)
    assert "step0 AS" not in sql_of(primary)
    assert 'INSERT INTO "retrieval_recall"' in sql_of(primary)
    assert "INSERT" not in sql_of(on_replica)
    recall = Recall.objects.for_space(space).get()
    assert str(recall.pk) == response.json()["recall_id"]
    assert recall.memory_ids == [noted.pk]

    # A search is a POST, yet writes nothing its caller reads back: the next one
    # reads from the replica again.
    with queries() as (primary, on_replica):
        assert search(reader, "swims").status_code == 200
    assert "WITH " in sql_of(on_replica)


def test_it_keeps_a_replica_search_inside_the_callers_space(replica, space, outsider_space, noted):
    theirs = services.create_memory(outsider_space, Actor.system("t"), content="Otto swims.")
    caught_up()
    outsider = agent(outsider_space, READ)
    with queries() as (_, on_replica):
        response = search(outsider, "swims")
    assert response.status_code == 200
    assert hit_ids(response) == [str(theirs.pk)]
    assert "WITH " in sql_of(on_replica)
    assert f'"memories_memory"."space_id" = {outsider_space.pk}' in sql_of(on_replica)
    assert f'"memories_memory"."space_id" = {space.pk}' not in sql_of(on_replica)


def test_it_lists_memories_from_the_replica(replica, space, noted):
    reader = agent(space, READ)
    with queries() as (primary, on_replica):
        response = reader.get("/api/v1/memories")
    assert response.status_code == 200
    assert listed_ids(response) == [str(noted.pk)]
    assert reads_memories(on_replica)
    assert not reads_memories(primary)


def test_it_writes_to_the_primary_and_the_writer_then_reads_the_primary(replica, space, noted):
    writer, reader = agent(space, WRITE), agent(space, READ)
    pause_replay()
    with queries() as (_, on_replica):
        created = writer.post(
            "/api/v1/memories", {"content": "Maya moved to Lisbon."}, format="json"
        )
    assert created.status_code == 201
    assert on_replica.captured_queries == []
    new_id = created.json()["id"]
    assert Memory.objects.for_space(space).filter(pk=new_id).exists()
    received()
    assert not Memory.objects.for_space(space).using(replica).filter(pk=new_id).exists()

    with queries() as (_, on_replica):
        own = writer.get("/api/v1/memories")
    assert new_id in listed_ids(own)
    assert on_replica.captured_queries == []

    # Someone else reads the replica, which has not replayed the write yet.
    with queries() as (_, on_replica):
        others = reader.get("/api/v1/memories")
    assert others.status_code == 200
    assert listed_ids(others) == [str(noted.pk)]
    assert reads_memories(on_replica)


def test_the_writer_reads_the_replica_again_once_the_sticky_window_ends(
    replica, space, noted, settings
):
    settings.REPLICA_STICKY_SECONDS = 1
    writer = agent(space, WRITE)
    created = writer.post("/api/v1/memories", {"content": "Maya moved to Porto."}, format="json")
    assert created.status_code == 201
    caught_up()
    with queries() as (_, on_replica):
        writer.get("/api/v1/memories")
    assert on_replica.captured_queries == []
    time.sleep(1.5)
    with queries() as (_, on_replica):
        later = writer.get("/api/v1/memories")
    assert created.json()["id"] in listed_ids(later)
    assert reads_memories(on_replica)


def test_it_reads_an_etag_right_after_an_edit_from_the_primary(replica, space, noted):
    writer = agent(space, WRITE)
    pause_replay()
    changed = writer.patch(
        f"/api/v1/memories/{noted.pk}",
        {"content": "Maya swims on Fridays."},
        format="json",
        HTTP_IF_MATCH='"1"',
    )
    assert changed.status_code == 200
    with queries() as (_, on_replica):
        read = writer.get(f"/api/v1/memories/{noted.pk}")
    assert read.status_code == 200
    assert read["ETag"] == '"2"'
    assert read.json()["content"] == "Maya swims on Fridays."
    assert on_replica.captured_queries == []


def test_it_shows_the_memory_page_after_an_edit_from_the_primary(replica, space, alice, noted):
    editor = Client()
    editor.force_login(alice)
    viewer = member(space, "victor", "viewer")
    pause_replay()
    response = editor.post(
        reverse("dashboard:memory_edit", args=[space.slug, noted.pk]),
        edit_data(noted, content="Maya swims at dawn."),
    )
    assert response.status_code == 302
    with queries() as (_, on_replica):
        page = editor.get(reverse("dashboard:memory", args=[space.slug, noted.pk]))
        listing = editor.get(reverse("dashboard:browse", args=[space.slug]))
    assert "Maya swims at dawn." in page.content.decode()
    assert "Maya swims at dawn." in listing.content.decode()
    assert on_replica.captured_queries == []

    # The viewer did not write: their list is the replica's, a version behind.
    with queries() as (_, on_replica):
        listing = viewer.get(reverse("dashboard:browse", args=[space.slug]))
    assert listing.status_code == 200
    assert "Maya swims on Tuesdays." in listing.content.decode()
    assert reads_memories(on_replica)


def test_it_answers_a_lagging_search_without_the_new_memory_then_finds_it(
    replica, space, actor, noted
):
    reader = agent(space, READ)
    pause_replay()
    fresh = services.create_memory(space, actor, content="Maya adopted a cat named Pixel.")
    response = search(reader, "Pixel")
    assert response.status_code == 200
    assert hit_ids(response) == []

    resume_replay()
    caught_up()
    response = search(reader, "Pixel")
    assert response.status_code == 200
    assert hit_ids(response) == [str(fresh.pk)]


def test_it_skips_a_replica_that_lags_more_than_the_bound(replica, space, actor, noted, settings):
    settings.REPLICA_MAX_LAG_SECONDS = 0
    reader = agent(space, READ)
    pause_replay()
    fresh = services.create_memory(space, actor, content="Maya adopted a cat named Pixel.")
    received()  # the replica has the write, and has not applied it
    with queries() as (_, on_replica):
        response = search(reader, "Pixel")
    assert response.status_code == 200
    assert hit_ids(response) == [str(fresh.pk)]
    assert not reads_memories(on_replica)


def test_it_reads_from_the_primary_when_the_replica_is_down(replica, space, noted):
    reader = agent(space, READ)
    replica_settings = connections[replica].settings_dict
    port = replica_settings["PORT"]
    connections[replica].close()
    replica_settings["PORT"] = free_port()  # nothing listens there
    try:
        response = search(reader, "swims")
        listed = reader.get("/api/v1/memories")
    finally:
        connections[replica].close()
        replica_settings["PORT"] = port
    assert response.status_code == 200
    assert hit_ids(response) == [str(noted.pk)]
    assert listed.status_code == 200
    assert listed_ids(listed) == [str(noted.pk)]


def test_it_exports_and_draws_the_timeline_from_the_replica(replica, space, noted):
    reader = agent(space, READ)
    viewer = member(space, "victor", "viewer")
    with queries() as (primary, on_replica):
        export: Any = reader.get("/api/v1/export")
        lines = [json.loads(line) for line in b"".join(export.streaming_content).splitlines()]
    assert export.status_code == 200
    assert [line["id"] for line in lines if line["type"] == "memory"] == [str(noted.pk)]
    assert reads_memories(on_replica)
    assert not reads_memories(primary)
    assert 'INSERT INTO "audit_auditevent"' in sql_of(primary)  # the export is audited

    with queries() as (_, on_replica):
        timeline = viewer.get(reverse("dashboard:timeline", args=[space.slug]))
    assert timeline.status_code == 200
    assert "Maya swims on Tuesdays." in timeline.content.decode()
    assert reads_memories(on_replica)


def test_it_lists_episodes_and_links_from_the_replica(replica, space, actor, noted):
    episode = services.record_episode(space, actor, content="Maya: I swim on Tuesdays.")
    other = services.create_memory(space, actor, content="Maya's coach is Lee.")
    link = services.link_memories(space, actor, noted.pk, other.pk, "related_to")
    caught_up()
    reader = agent(space, READ)
    with queries() as (primary, on_replica):
        episodes = reader.get("/api/v1/episodes")
        links = reader.get("/api/v1/links")
    assert episodes.status_code == links.status_code == 200
    assert [row["id"] for row in episodes.json()["results"]] == [str(episode.pk)]
    assert [row["id"] for row in links.json()["results"]] == [link.pk]
    for table in ("memories_episode", "memories_link"):
        assert f'FROM "{table}"' in sql_of(on_replica)
        assert f'FROM "{table}"' not in sql_of(primary)


def test_it_draws_the_map_and_searches_the_browser_from_the_replica(replica, space, noted):
    draw_map(space, [noted])
    caught_up()
    viewer = member(space, "victor", "viewer")
    with queries() as (primary, on_replica):
        page = viewer.get(reverse("dashboard:map", args=[space.slug]))
    assert page.status_code == 200
    assert "FROM maps_mappoint p JOIN memories_memory m" in sql_of(on_replica)
    assert "maps_mappoint p" not in sql_of(primary)
    assert "Maya swims on Tuesdays." in page.content.decode()

    with queries() as (primary, on_replica):
        found = viewer.get(reverse("dashboard:browse", args=[space.slug]) + "?q=swims&mode=text")
    assert found.status_code == 200
    assert str(noted.pk) in found.content.decode()
    # The candidate statement (BM25's steps); the words' counts still read the primary.
    assert "step0 AS" in sql_of(on_replica)
    assert "step0 AS" not in sql_of(primary)

"""Export: a space as a stream of JSON-safe dicts, one per JSON Lines line."""

from __future__ import annotations

import itertools
import uuid
from collections import defaultdict
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

from django.utils import timezone

from apps.core.replicas import PRIMARY
from apps.memories.models import Entity, Episode, Link, Memory, MemoryVersion, Mention
from apps.memories.services.records import jsonable
from apps.memories.transfer.schema import (
    ENTITY_KEYS,
    EPISODE_KEYS,
    FORMAT,
    FORMAT_VERSION,
    MEMORY_KEYS,
    VERSION_KEYS,
)
from apps.spaces.models import Space

# Rows per query.
CHUNK_SIZE = 500

T = TypeVar("T")


def export_space(space: Space, *, using: str = PRIMARY) -> Iterator[dict[str, Any]]:
    """Yield the space as JSON-safe dicts, one per JSONL line (see the module docstring).

    Each group is ordered by (created_at, id) and read in chunks, so a large space
    streams in bounded memory. Rows of other spaces are never read. `using` is the
    database read (a replica, apps/core/replicas.py).
    """
    yield _header(space)
    yield from _export_episodes(space, using)
    yield from _export_memories(space, using)
    yield from _export_links(space, using)
    yield from _export_entities(space, using)


def _header(space: Space) -> dict[str, Any]:
    return {
        "type": "space",
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "slug": space.slug,
        "name": space.name,
        "description": space.description,
        "settings": space.settings,
        "exported_at": timezone.now().isoformat(),
    }


def _json_safe(row: dict[str, Any]) -> dict[str, Any]:
    return {key: jsonable(value) for key, value in row.items()}


def _chunks(rows: Iterable[T], size: int) -> Iterator[list[T]]:
    iterator = iter(rows)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


def _export_episodes(space: Space, using: str) -> Iterator[dict[str, Any]]:
    rows = (
        Episode.objects.for_space(space)
        .using(using)
        .order_by("created_at", "id")
        .values(*EPISODE_KEYS)
        .iterator(chunk_size=CHUNK_SIZE)
    )
    for row in rows:
        yield {"type": "episode", **_json_safe(row)}


def _export_memories(space: Space, using: str) -> Iterator[dict[str, Any]]:
    rows = (
        Memory.objects.for_space(space)
        .using(using)
        .order_by("created_at", "id")
        .values(*MEMORY_KEYS)  # never the embedding: derived, large, model-specific
        .iterator(chunk_size=CHUNK_SIZE)
    )
    for chunk in _chunks(rows, CHUNK_SIZE):
        ids = [row["id"] for row in chunk]
        versions = _versions_by_memory(space, ids, using)
        sources = _source_episodes_by_memory(ids, using)
        for row in chunk:
            yield {
                "type": "memory",
                **_json_safe(row),
                "source_episodes": sources.get(row["id"], []),
                "versions": versions.get(row["id"], []),
            }


def _versions_by_memory(
    space: Space, memory_ids: list[uuid.UUID], using: str
) -> dict[uuid.UUID, list[Any]]:
    grouped: dict[uuid.UUID, list[Any]] = defaultdict(list)
    rows = (
        MemoryVersion.objects.for_space(space)
        .using(using)
        .filter(memory_id__in=memory_ids)
        .order_by("memory_id", "version")
        .values("memory_id", *VERSION_KEYS)
    )
    for row in rows:
        grouped[row.pop("memory_id")].append(_json_safe(row))
    return grouped


def _source_episodes_by_memory(
    memory_ids: list[uuid.UUID], using: str
) -> dict[uuid.UUID, list[str]]:
    # The through table has no space column; the memory ids already belong to the space.
    grouped: dict[uuid.UUID, list[str]] = defaultdict(list)
    pairs = (
        Memory.source_episodes.through.objects.using(using)
        .filter(memory_id__in=memory_ids)
        .order_by("id")  # the order they were attached in, which an import preserves
        .values_list("memory_id", "episode_id")
    )
    for memory_id, episode_id in pairs:
        grouped[memory_id].append(str(episode_id))
    return grouped


def _export_links(space: Space, using: str) -> Iterator[dict[str, Any]]:
    rows = (
        Link.objects.for_space(space)
        .using(using)
        .order_by("created_at", "id")
        .values("source_id", "target_id", "type", "weight", "metadata", "created_by", "created_at")
        .iterator(chunk_size=CHUNK_SIZE)
    )
    for row in rows:
        yield {
            "type": "link",
            "source": str(row["source_id"]),
            "target": str(row["target_id"]),
            "link_type": row["type"],
            **_json_safe(
                {key: row[key] for key in ("weight", "metadata", "created_by", "created_at")}
            ),
        }


def _export_entities(space: Space, using: str) -> Iterator[dict[str, Any]]:
    rows = (
        Entity.objects.for_space(space)
        .using(using)
        .order_by("created_at", "id")
        .values(*ENTITY_KEYS)
        .iterator(chunk_size=CHUNK_SIZE)
    )
    for chunk in _chunks(rows, CHUNK_SIZE):
        mentions = _mentions_by_entity(space, [row["id"] for row in chunk], using)
        for row in chunk:
            yield {"type": "entity", **_json_safe(row), "mentions": mentions.get(row["id"], [])}


def _mentions_by_entity(
    space: Space, entity_ids: list[uuid.UUID], using: str
) -> dict[uuid.UUID, list[Any]]:
    grouped: dict[uuid.UUID, list[Any]] = defaultdict(list)
    rows = (
        Mention.objects.for_space(space)
        .using(using)
        .filter(entity_id__in=entity_ids)
        .order_by("created_at", "id")
        .values("entity_id", "memory_id", "start", "end", "created_at")
    )
    for row in rows:
        mention = {
            "memory": row["memory_id"],
            "start": row["start"],
            "end": row["end"],
            "created_at": row["created_at"],
        }
        grouped[row["entity_id"]].append(_json_safe(mention))
    return grouped

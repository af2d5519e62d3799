"""The export format: its name and version, and the keys each line type carries."""

from __future__ import annotations

from apps.memories.models import Episode, Memory, MemoryVersion

FORMAT = "memoryweb-export"
FORMAT_VERSION = 1

RECORD_TYPES = ("episode", "memory", "link", "entity")

EPISODE_KEYS = Episode.PUBLIC_FIELDS
MEMORY_KEYS = ("id", *Memory.VERSIONED_FIELDS, *Memory.STATE_FIELDS)
VERSION_KEYS = MemoryVersion.PUBLIC_FIELDS
LINK_KEYS = ("source", "target", "link_type", "weight", "metadata", "created_by", "created_at")
ENTITY_KEYS = ("id", "name", "kind", "aliases", "metadata", "created_at")
MENTION_KEYS = ("memory", "start", "end", "created_at")
DATE_FIELDS = ("occurred_at", "valid_from", "valid_to")

"""What each line type becomes: its fields checked, its references translated into
the new ids, and its rows ready for the domain layer to restore."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.utils import timezone

from apps.audit.actors import Actor, ActorType
from apps.memories.models import Entity, Episode, Link, LinkType, Memory, MemoryVersion, Mention
from apps.memories.services import InvalidMemory
from apps.memories.services.restore import (
    RestoredEntity,
    RestoredEpisode,
    RestoredLink,
    RestoredMemory,
    RestoredRecord,
    check_history,
)
from apps.memories.services.rules import check_validity
from apps.memories.transfer.ids import IdMap
from apps.memories.transfer.reader import REQUIRED, FieldReader, read_snapshot
from apps.memories.transfer.schema import (
    ENTITY_KEYS,
    EPISODE_KEYS,
    LINK_KEYS,
    MEMORY_KEYS,
    MENTION_KEYS,
    VERSION_KEYS,
)
from apps.spaces.models import Space


class RecordReader:
    """Reads the episode, memory, link and entity lines of one import into `space`.

    A line is checked whole before anything is kept; a line that passes has claimed
    its new id, which the caller remembers in `ids` once the line is written.
    """

    def __init__(self, space: Space, actor: Actor, ids: IdMap) -> None:
        self.space = space
        self.actor = actor
        self.ids = ids
        self.readers: dict[str, Callable[[dict[str, Any]], RestoredRecord]] = {
            "episode": self.read_episode,
            "memory": self.read_memory_line,
            "link": self.read_link,
            "entity": self.read_entity,
        }

    def read_episode(self, record: dict[str, Any]) -> RestoredEpisode:
        reader = FieldReader(record, EPISODE_KEYS)
        old_id = reader.identifier("id")
        now = timezone.now()
        episode = Episode(
            space=self.space,
            source=reader.choice("source", Episode.Source.values, Episode.Source.MESSAGE),
            session=reader.model_text(Episode, "session", ""),
            role=reader.model_text(Episode, "role", ""),
            speaker=reader.model_text(Episode, "speaker", ""),
            agent=reader.model_text(Episode, "agent", ""),
            content=reader.model_text(Episode, "content", REQUIRED),
            occurred_at=reader.when("occurred_at", now),
            metadata=reader.mapping("metadata"),
            created_at=reader.when("created_at", now),
        )
        reader.raise_errors()
        episode.pk = self.ids.claim("episode", old_id)
        return RestoredEpisode(episode, imported_from=old_id)

    def read_memory_line(self, record: dict[str, Any]) -> RestoredMemory:
        reader = FieldReader(record, (*MEMORY_KEYS, "source_episodes", "versions"))
        old_id = reader.identifier("id")
        memory = self._read_memory(reader)
        versions = self._read_versions(reader, memory)
        episode_refs = reader.strings("source_episodes", max_length=200)
        reader.raise_errors()
        check_validity(memory)
        check_history(memory, versions, declared=record.get("version") is not None)
        episode_ids = self.ids.resolve(
            "episode",
            {f"source_episodes[{i}]": old for i, old in enumerate(dict.fromkeys(episode_refs))},
        )
        memory.pk = self.ids.claim("memory", old_id)
        self._translate_merged_from(memory, versions)
        return RestoredMemory(
            memory,
            versions,
            imported_from=old_id,
            source_episode_ids=list(episode_ids.values()),
        )

    def _read_memory(self, reader: FieldReader) -> Memory:
        snapshot = read_snapshot(reader)
        created_at = reader.when("created_at", timezone.now())
        return Memory(
            space=self.space,
            **snapshot,
            created_at=created_at,
            updated_at=reader.when("updated_at", created_at),
            version=reader.integer("version", 1, minimum=1),
            access_count=reader.integer("access_count", 0, minimum=0),
            last_accessed_at=reader.optional_when("last_accessed_at", None),
            strength=reader.number("strength", 1.0, minimum=0, exclusive=True),
        )

    def _read_versions(self, reader: FieldReader, memory: Memory) -> list[MemoryVersion]:
        if not reader.has("versions"):
            # A hand-written line without history: its state is its first version.
            return [
                MemoryVersion(
                    space=self.space,
                    version=1,
                    action=MemoryVersion.Action.CREATE,
                    reason="imported",
                    created_at=memory.created_at,
                    **self.actor.as_fields(),
                    **memory.snapshot(),
                )
            ]
        versions = []
        for index, item in enumerate(reader.objects("versions")):
            version_reader = reader.child(item, VERSION_KEYS, f"versions[{index}]")
            if version_reader is not None:
                versions.append(self._read_version(version_reader))
        return versions

    def _read_version(self, reader: FieldReader) -> MemoryVersion:
        snapshot = read_snapshot(reader)
        version = MemoryVersion(
            space=self.space,
            version=reader.integer("version", REQUIRED, minimum=1),
            action=reader.choice("action", MemoryVersion.Action.values, REQUIRED),
            reason=reader.model_text(MemoryVersion, "reason", ""),
            actor_type=reader.choice("actor_type", ActorType.values, REQUIRED),
            actor_label=reader.model_text(MemoryVersion, "actor_label", REQUIRED),
            created_at=reader.when("created_at", REQUIRED),
            **snapshot,
        )
        try:
            check_validity(Memory(**snapshot))
        except InvalidMemory as exc:
            reader.fail("valid_from", exc.message)
        return version

    def _translate_merged_from(self, memory: Memory, versions: list[MemoryVersion]) -> None:
        """merge_memories records the originals' ids in metadata; point them at the copies."""
        known = self.ids.known["memory"]
        rows: list[Memory | MemoryVersion] = [memory, *versions]
        for row in rows:
            merged_from = row.metadata.get("merged_from")
            if isinstance(merged_from, list):
                row.metadata = {
                    **row.metadata,
                    "merged_from": [
                        str(known[old]) if isinstance(old, str) and old in known else old
                        for old in merged_from
                    ],
                }

    def read_link(self, record: dict[str, Any]) -> RestoredLink:
        reader = FieldReader(record, LINK_KEYS)
        ends = {"source": reader.identifier("source"), "target": reader.identifier("target")}
        link = Link(
            space=self.space,
            type=reader.choice("link_type", LinkType.values, REQUIRED),
            weight=reader.number("weight", 1.0, minimum=0),
            metadata=reader.mapping("metadata"),
            created_by=reader.model_text(Link, "created_by", self.actor.label),
            created_at=reader.when("created_at", timezone.now()),
        )
        if ends["source"] and ends["source"] == ends["target"]:
            reader.fail("target", "a memory cannot link to itself")
        reader.raise_errors()
        resolved = self.ids.resolve("memory", ends)
        link.source_id, link.target_id = resolved["source"], resolved["target"]
        return RestoredLink(link)

    def read_entity(self, record: dict[str, Any]) -> RestoredEntity:
        reader = FieldReader(record, (*ENTITY_KEYS, "mentions"))
        old_id = reader.identifier("id")
        entity = Entity(
            space=self.space,
            name=reader.model_text(Entity, "name", REQUIRED),
            kind=reader.choice("kind", Entity.EntityKind.values, Entity.EntityKind.OTHER),
            aliases=reader.strings("aliases", max_length=200),
            metadata=reader.mapping("metadata"),
            created_at=reader.when("created_at", timezone.now()),
        )
        entity.normalized_name = Entity.normalize(entity.name)
        if len(entity.normalized_name) > 200:
            reader.fail("name", "must be at most 200 characters once normalised")
        mentions = self._read_mentions(reader, entity)
        reader.raise_errors()
        memory_ids = self.ids.resolve(
            "memory", {f"mentions[{i}].memory": old for i, (old, _) in enumerate(mentions)}
        )
        entity.pk = self.ids.claim("entity", old_id)
        for (_, mention), memory_id in zip(mentions, memory_ids.values(), strict=True):
            mention.memory_id = memory_id
        return RestoredEntity(entity, [m for _, m in mentions], imported_from=old_id)

    def _read_mentions(self, reader: FieldReader, entity: Entity) -> list[tuple[str, Mention]]:
        """(old memory id, unsaved mention) for each mention of the entity."""
        mentions: list[tuple[str, Mention]] = []
        seen: set[str] = set()
        for index, item in enumerate(reader.objects("mentions")):
            path = f"mentions[{index}]"
            mention_reader = reader.child(item, MENTION_KEYS, path)
            if mention_reader is None:
                continue
            memory = mention_reader.identifier("memory")
            if memory in seen:
                mention_reader.fail("memory", "mentioned twice")
            seen.add(memory)
            start = mention_reader.optional_integer("start", None, minimum=0)
            end = mention_reader.optional_integer("end", None, minimum=0)
            if start is not None and end is not None and end <= start:
                mention_reader.fail("end", "must be greater than start")
            created_at = mention_reader.when("created_at", entity.created_at)
            mention = Mention(space=self.space, start=start, end=end, created_at=created_at)
            mentions.append((memory, mention))
        return mentions

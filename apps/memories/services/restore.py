"""Restoring exported rows into a space: how an import writes.

An imported memory already has a history (its versions, timestamps, access count and
strength), so it cannot go through `create_memory`, which starts a new one. These
functions insert the rows as they are, and write one `<type>.import` audit event per
restored record in the same transaction.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from django.db import models, transaction

from apps.audit.actors import Actor
from apps.audit.services import record_events
from apps.hygiene.models import Flag
from apps.hygiene.policy import Screened, flag_rows, policy_of, screen
from apps.memories.models import (
    Entity,
    Episode,
    Link,
    Memory,
    MemoryVersion,
    Mention,
    content_hash,
)
from apps.memories.services.errors import InvalidMemory
from apps.memories.services.rules import check_redacted_content
from apps.spaces.models import Space
from apps.spaces.scoping import SpaceScopedManager


class InvalidHistory(InvalidMemory):
    """A memory's versions do not lead to its current state."""

    code = "invalid_versions"


@dataclass
class RestoredEpisode:
    record_type: ClassVar[str] = "episode"

    episode: Episode
    imported_from: str
    flags: list[Flag] = field(default_factory=list)
    hygiene: dict[str, Any] = field(default_factory=dict)

    @property
    def row(self) -> Episode:
        return self.episode

    def rows(self) -> list[models.Model]:
        return [self.episode, *self.flags]

    def audit_summary(self) -> dict[str, Any]:
        return {
            "imported_from": self.imported_from,
            "session": self.episode.session,
            "chars": len(self.episode.content),
            **self.hygiene,
        }


@dataclass
class RestoredMemory:
    """A memory with its whole history, oldest version first (see `check_history`)."""

    record_type: ClassVar[str] = "memory"

    memory: Memory
    versions: list[MemoryVersion]
    imported_from: str
    source_episode_ids: list[uuid.UUID] = field(default_factory=list)
    flags: list[Flag] = field(default_factory=list)
    hygiene: dict[str, Any] = field(default_factory=dict)

    @property
    def row(self) -> Memory:
        return self.memory

    def rows(self) -> list[models.Model]:
        through = Memory.source_episodes.through
        sources = [through(memory=self.memory, episode_id=pk) for pk in self.source_episode_ids]
        for version in self.versions:
            version.memory = self.memory
        return [self.memory, *sources, *self.versions, *self.flags]

    def audit_summary(self) -> dict[str, Any]:
        return {
            "imported_from": self.imported_from,
            "version": self.memory.version,
            "kind": self.memory.kind,
            "subject": self.memory.subject,
            "chars": len(self.memory.content),
            "source_episodes": [str(pk) for pk in self.source_episode_ids],
            **self.hygiene,
        }


@dataclass
class RestoredLink:
    record_type: ClassVar[str] = "link"

    link: Link

    @property
    def row(self) -> Link:
        return self.link

    def rows(self) -> list[models.Model]:
        return [self.link]

    def audit_summary(self) -> dict[str, Any]:
        return {
            "source": str(self.link.source_id),
            "target": str(self.link.target_id),
            "type": self.link.type,
            "weight": self.link.weight,
        }


@dataclass
class RestoredEntity:
    record_type: ClassVar[str] = "entity"

    entity: Entity
    mentions: list[Mention]
    imported_from: str

    @property
    def row(self) -> Entity:
        return self.entity

    def rows(self) -> list[models.Model]:
        for mention in self.mentions:
            mention.entity = self.entity
        return [self.entity, *self.mentions]

    def audit_summary(self) -> dict[str, Any]:
        return {
            "imported_from": self.imported_from,
            "name": self.entity.name,
            "kind": self.entity.kind,
            "mentions": len(self.mentions),
        }


RestoredRecord = RestoredEpisode | RestoredMemory | RestoredLink | RestoredEntity

# Rows are inserted table by table in this order, parents first.
_INSERT_ORDER: tuple[type[models.Model], ...] = (
    Episode,
    Memory,
    Memory.source_episodes.through,
    MemoryVersion,
    Link,
    Entity,
    Mention,
    Flag,
)


def screen_restored(space: Space, record: RestoredRecord) -> None:
    """Apply the space's hygiene policy to an imported episode or memory, as every
    other write does: raises ContentRefused, or redacts the text (in every version of
    a memory: its history must not keep what its text may not), and attaches the flags.
    """
    policy = policy_of(space)
    if isinstance(record, RestoredEpisode):
        screened = screen(policy, record.episode.content)
        record.episode.content = screened.text
        record.flags = flag_rows(space, screened.flagged, screened.text, episode=record.episode)
        record.hygiene = screened.audit_summary()
    elif isinstance(record, RestoredMemory):
        current = record.memory.content
        by_text: dict[str, Screened] = {}
        holders: list[Memory | MemoryVersion] = [*record.versions, record.memory]
        for holder in holders:
            if holder.content not in by_text:
                by_text[holder.content] = screen(policy, holder.content)
                if by_text[holder.content].redacted:
                    check_redacted_content(by_text[holder.content].text)
            holder.content = by_text[holder.content].text
        screened = by_text[current]
        record.flags = flag_rows(space, screened.flagged, screened.text, memory=record.memory)
        record.hygiene = screened.audit_summary()


def check_history(memory: Memory, versions: list[MemoryVersion], *, declared: bool) -> None:
    """Versions number 1..n, the memory is at n, and version n is the memory's state.

    Sorts `versions` by number; sets the memory's version to n when it was not
    `declared`. Raises InvalidHistory.
    """
    versions.sort(key=lambda version: version.version)
    numbers = [version.version for version in versions]
    if not versions:
        raise InvalidHistory("a memory needs at least one version")
    if numbers != list(range(1, len(versions) + 1)):
        raise InvalidHistory("versions must be numbered 1 to n", details={"versions": numbers})
    if declared and memory.version != len(versions):
        raise InvalidHistory(
            f"the memory is at version {memory.version} but has {len(versions)} versions",
            details={"version": memory.version, "versions": len(versions)},
        )
    memory.version = len(versions)
    latest = versions[-1].snapshot()
    differing = sorted(name for name, value in memory.snapshot().items() if latest[name] != value)
    if differing:
        raise InvalidHistory(
            "the last version must hold the memory's current fields",
            details={"fields": differing},
        )


@transaction.atomic
def restore_records(space: Space, actor: Actor, records: Sequence[RestoredRecord]) -> None:
    """Insert the records into `space` with one `<type>.import` audit event each, all
    or nothing.

    A record's rows go in as given (ids, timestamps, history), so the caller checks
    their fields first, and refers only to rows of `space`: to records earlier in
    `records` or restored by an earlier call. Memories without embeddings are left
    for the caller to queue once, after its last call.
    """
    by_model: dict[type[models.Model], list[models.Model]] = defaultdict(list)
    for record in records:
        if isinstance(record, RestoredMemory):
            check_history(record.memory, record.versions, declared=True)
            record.memory.content_hash = content_hash(record.memory.content)
        for row in record.rows():
            if hasattr(row, "space_id"):  # all but the source episodes' through rows
                row.space_id = space.pk
            by_model[type(row)].append(row)
    for model in _INSERT_ORDER:
        if by_model[model]:
            manager = model._default_manager
            table = manager.for_space(space) if isinstance(manager, SpaceScopedManager) else manager
            table.bulk_create(by_model[model], batch_size=1000)
    events: dict[str, list[tuple[str, object, dict[str, Any]]]] = defaultdict(list)
    for record in records:
        # A link's id exists only once it is inserted.
        target = (record.record_type, record.row.pk, record.audit_summary())
        events[record.record_type].append(target)
    for record_type, targets in events.items():
        record_events(space, actor, f"{record_type}.import", targets)

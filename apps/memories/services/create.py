"""New memories, one at a time or many in a few statements."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.db import transaction
from django.utils import timezone

from apps.audit.actors import Actor
from apps.audit.services import record_events
from apps.core.bulk import copy_insert, insert_together
from apps.hygiene.policy import Screened, flag_rows, policy_of, screen
from apps.memories.models import (
    Memory,
    MemoryVersion,
    content_hash,
)
from apps.memories.services.errors import (
    InvalidMemory,
)
from apps.memories.services.records import (
    embed_after_commit,
    episodes_in_space,
    memory_event,
    version_row,
)
from apps.memories.services.rules import (
    check_redacted_content,
    check_validity,
    validate_fields,
)
from apps.spaces.models import Space

Action = MemoryVersion.Action


def new_memory(
    space: Space,
    actor: Actor,
    fields: dict[str, Any],
    source_episodes: Iterable[object],
    action: str,
    reason: str,
    audit_summary: dict[str, Any],
) -> Memory:
    fields = validate_fields(fields)
    if "content" not in fields:
        raise InvalidMemory("content is required", details={"content": "required"})
    episodes = episodes_in_space(space, source_episodes)
    now = timezone.now()
    memory = Memory(space=space, created_at=now, updated_at=now, **fields)
    if not memory.agent and actor.token is not None:
        memory.agent = actor.token.name
    check_validity(memory)
    screened = screen(policy_of(space), memory.content)
    check_redacted_content(screened.text)
    memory.content = screened.text
    memory.content_hash = content_hash(memory.content)
    # One round trip for all the rows of a new memory: before, the waits between them
    # were most of a single write's time.
    insert_together(
        [
            memory,
            *(Memory.source_episodes.through(memory=memory, episode=e) for e in episodes),
            version_row(memory, actor, action, reason),
            memory_event(
                memory,
                actor,
                action,
                reason,
                {
                    "kind": memory.kind,
                    "subject": memory.subject,
                    "chars": len(memory.content),
                    "source_episodes": [str(e.pk) for e in episodes],
                    **screened.audit_summary(),
                    **audit_summary,
                },
            ),
            *flag_rows(space, screened.flagged, memory.content, memory=memory),
        ]
    )
    embed_after_commit(space.pk)
    return memory


@transaction.atomic
def create_memory(
    space: Space,
    actor: Actor,
    *,
    source_episodes: Iterable[object] = (),
    reason: str = "",
    **fields: Any,
) -> Memory:
    return new_memory(space, actor, fields, source_episodes, Action.CREATE, reason, {})


@transaction.atomic
def create_memories(
    space: Space,
    actor: Actor,
    items: Sequence[dict[str, Any]],
    *,
    reason: str = "",
    screenings: Sequence[Screened] | None = None,
) -> list[Memory]:
    """Create many memories in a few statements, with a version and an event each.

    All or nothing: an invalid item raises InvalidMemory naming its index.
    `screenings`, one per item, are the hygiene policy's verdicts on texts already
    screened (conversation turns stored as episodes first), so no text is scanned twice.
    """
    now = timezone.now()
    policy = policy_of(space)
    memories: list[Memory] = []
    screened_items: list[Screened] = []
    episode_ids: list[list[str]] = []
    for index, item in enumerate(items):
        fields = dict(item)
        episode_ids.append([str(e) for e in fields.pop("source_episodes", ())])
        try:
            if screenings and screenings[index].redacted:
                # An episode's text, redacted already: too long only because of it.
                check_redacted_content(screenings[index].text)
            fields = validate_fields(fields)
            if "content" not in fields:
                raise InvalidMemory("content is required", details={"content": "required"})
            memory = Memory(space=space, created_at=now, updated_at=now, **fields)
            check_validity(memory)
            screened = screenings[index] if screenings else screen(policy, memory.content)
            check_redacted_content(screened.text)
        except InvalidMemory as exc:
            raise type(exc)(
                f"item {index}: {exc.message}", details={"index": index, **exc.details}
            ) from None
        if not memory.agent and actor.token is not None:
            memory.agent = actor.token.name
        memory.content = screened.text
        memory.content_hash = content_hash(memory.content)
        memories.append(memory)
        screened_items.append(screened)
    episodes_in_space(space, {i for ids in episode_ids for i in ids})  # raises if foreign
    # COPY, not bulk_create: for 100 memories it halves the time (apps.core.bulk).
    copy_insert(memories)
    copy_insert(
        [
            Memory.source_episodes.through(memory_id=memory.pk, episode_id=episode_id)
            for memory, ids in zip(memories, episode_ids, strict=True)
            for episode_id in ids
        ]
    )
    copy_insert(
        [
            MemoryVersion(
                space=space,
                memory=memory,
                version=1,
                action=Action.CREATE,
                reason=reason,
                created_at=now,
                **actor.as_fields(),
                **memory.snapshot(),
            )
            for memory in memories
        ]
    )
    copy_insert(
        [
            flag
            for memory, screened in zip(memories, screened_items, strict=True)
            for flag in flag_rows(space, screened.flagged, memory.content, memory=memory)
        ]
    )
    record_events(
        space,
        actor,
        f"memory.{Action.CREATE}",
        [
            (
                "memory",
                m.pk,
                {
                    "version": 1,
                    "kind": m.kind,
                    "subject": m.subject,
                    "chars": len(m.content),
                    "bulk": True,
                    **screened.audit_summary(),
                },
            )
            for m, screened in zip(memories, screened_items, strict=True)
        ],
        reason=reason,
    )
    if memories:
        embed_after_commit(space.pk, len(memories))
    return memories

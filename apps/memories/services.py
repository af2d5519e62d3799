"""The domain layer: the only way to change a memory.

Every function runs in one transaction that changes the rows, appends the
MemoryVersion snapshot(s) and writes the AuditEvent(s); an exception anywhere
rolls all of it back. Views, the API and Celery jobs all call these functions.
Memories are addressed by id within a space: an id from another space is
`MemoryNotFound`, exactly like an id that does not exist.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

import numpy as np
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from apps.audit.actors import Actor
from apps.audit.models import AuditEvent
from apps.audit.services import new_event, record_event, record_events
from apps.core.bulk import copy_insert, insert_together
from apps.core.pgvector import binary_vector_cursor
from apps.memories.models import (
    Episode,
    Kind,
    Link,
    LinkType,
    Memory,
    MemoryVersion,
    Status,
    content_hash,
)
from apps.memories.signals import memory_purging
from apps.spaces.models import Space

Action = MemoryVersion.Action
MemoryId = uuid.UUID | str


class MemoryServiceError(Exception):
    """Base of the domain errors; `code` is stable and machine-readable."""

    code = "memory_error"

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}


class MemoryNotFound(MemoryServiceError):
    code = "not_found"


class VersionConflict(MemoryServiceError):
    code = "version_conflict"

    def __init__(self, memory: Memory, expected: int) -> None:
        super().__init__(
            f"memory {memory.pk} is at version {memory.version}, not {expected}",
            details={"current_version": memory.version, "expected_version": expected},
        )
        self.current = memory


class InvalidTransition(MemoryServiceError):
    code = "invalid_transition"


class InvalidMemory(MemoryServiceError):
    code = "invalid"


class ContentTooLarge(InvalidMemory):
    code = "content_too_large"


# What a caller may change directly; status changes have their own actions.
EDITABLE_FIELDS = tuple(name for name in Memory.VERSIONED_FIELDS if name != "status")


# ----------------------------------------------------------------- validation


def _clean_tags(tags: Iterable[str]) -> list[str]:
    cleaned: list[str] = []
    for tag in tags:
        if not isinstance(tag, str):
            raise InvalidMemory("tags must be strings", details={"tags": "not a string"})
        tag = tag.strip()
        if not tag:
            continue
        if len(tag) > 64:
            raise InvalidMemory("a tag is longer than 64 characters", details={"tags": tag[:64]})
        if tag not in cleaned:
            cleaned.append(tag)
    return cleaned


def holds_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(holds_nul(k) or holds_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(holds_nul(item) for item in value)
    return False


def _validate(fields: dict[str, Any]) -> dict[str, Any]:
    """Check and normalise editable fields; raises InvalidMemory naming each bad field."""
    errors: dict[str, str] = {}
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        errors.update({name: "not an editable field" for name in sorted(unknown)})
    if "content" in fields:
        content = fields["content"]
        if not isinstance(content, str) or not content.strip():
            errors["content"] = "must be non-empty text"
        elif len(content) > settings.MEMORY_MAX_CONTENT_CHARS:
            raise ContentTooLarge(
                f"content has {len(content)} characters; the limit is "
                f"{settings.MEMORY_MAX_CONTENT_CHARS}",
                details={"content": "too large", "limit": settings.MEMORY_MAX_CONTENT_CHARS},
            )
    if "kind" in fields and fields["kind"] not in Kind.values:
        errors["kind"] = f"must be one of {', '.join(Kind.values)}"
    for name in ("importance", "confidence"):
        if name in fields:
            value = fields[name]
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
                errors[name] = "must be a number from 0 to 1"
    if "pinned" in fields and not isinstance(fields["pinned"], bool):
        errors["pinned"] = "must be true or false"
    if "metadata" in fields and not isinstance(fields["metadata"], dict):
        errors["metadata"] = "must be an object"
    for name in ("subject", "agent", "session"):
        if name in fields and (not isinstance(fields[name], str) or len(fields[name]) > 200):
            errors[name] = "must be text of at most 200 characters"
    for name in ("occurred_at", "valid_from", "valid_to"):
        value = fields.get(name)
        if value is not None and not isinstance(value, datetime):
            errors[name] = "must be a date-time"
        elif value is not None and timezone.is_naive(value):
            errors[name] = "must include a time zone"
    for name, value in fields.items():
        if holds_nul(value):
            # PostgreSQL cannot store U+0000 in text or jsonb.
            errors[name] = "must not contain the NUL character (U+0000)"
    if "tags" in fields:
        if isinstance(fields["tags"], str) or not isinstance(fields["tags"], list | tuple):
            errors["tags"] = "must be a list of strings"
        else:
            fields = {**fields, "tags": _clean_tags(fields["tags"])}
    if errors:
        raise InvalidMemory("invalid memory fields", details=errors)
    return fields


def _check_validity(memory: Memory) -> None:
    if memory.valid_from and memory.valid_to and memory.valid_from >= memory.valid_to:
        raise InvalidMemory(
            "valid_from must be before valid_to",
            details={
                "valid_from": memory.valid_from.isoformat(),
                "valid_to": memory.valid_to.isoformat(),
            },
        )


# ----------------------------------------------------------------- helpers


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def _change_summary(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """Which fields changed, with values for scalars. Never the content itself:
    audit events outlive a purge, so they must not keep what was purged."""
    changed: dict[str, Any] = {}
    for name, old in before.items():
        new = after[name]
        if old == new:
            continue
        if name == "content":
            changed[name] = {"from_chars": len(old), "to_chars": len(new)}
        elif name == "metadata":
            keys = set(old) | set(new)
            changed[name] = {"keys": sorted(k for k in keys if old.get(k) != new.get(k))}
        else:
            changed[name] = {"from": _jsonable(old), "to": _jsonable(new)}
    return changed


def _locked(space: Space, memory_id: MemoryId) -> Memory:
    try:
        return Memory.objects.for_space(space).select_for_update().get(pk=memory_id)
    except (Memory.DoesNotExist, ValidationError, ValueError):
        raise MemoryNotFound(
            f"memory {memory_id} not found", details={"id": str(memory_id)}
        ) from None


def _locked_many(space: Space, memory_ids: Sequence[MemoryId]) -> list[Memory]:
    unique_ids = list(dict.fromkeys(str(i) for i in memory_ids))
    try:
        # Lock in id order so two merges over overlapping sets cannot deadlock.
        found = {
            str(m.pk): m
            for m in Memory.objects.for_space(space)
            .select_for_update()
            .filter(pk__in=unique_ids)
            .order_by("pk")
        }
    except (ValidationError, ValueError):
        found = {}
    missing = [i for i in unique_ids if i not in found]
    if missing:
        raise MemoryNotFound(f"memories not found: {', '.join(missing)}", details={"ids": missing})
    return [found[i] for i in unique_ids]


def _link_endpoints(space: Space, memory_ids: Sequence[MemoryId]) -> list[Memory]:
    """The memories a link joins, held only against deletion (FOR KEY SHARE) until
    the transaction ends: a link changes neither row, so it must not wait for an
    edit or for the embedding worker, which hold their rows for longer."""
    unique_ids = list(dict.fromkeys(str(i) for i in memory_ids))
    try:
        uuids = [uuid.UUID(i) for i in unique_ids]
    except ValueError:
        uuids = []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id FROM memories_memory WHERE space_id = %s AND id = ANY(%s) "
            "ORDER BY id FOR KEY SHARE",
            [space.pk, uuids],
        )
        found = {str(pk) for (pk,) in cursor.fetchall()}
    missing = [i for i in unique_ids if i not in found]
    if missing:
        raise MemoryNotFound(f"memories not found: {', '.join(missing)}", details={"ids": missing})
    return [Memory(pk=uuid.UUID(i), space=space) for i in unique_ids]


def _check_version(memory: Memory, expected_version: int | None) -> None:
    if expected_version is not None and memory.version != expected_version:
        raise VersionConflict(memory, expected_version)


def _new_version(memory: Memory, actor: Actor, action: str, reason: str) -> MemoryVersion:
    return MemoryVersion(
        space_id=memory.space_id,
        memory=memory,
        version=memory.version,
        action=action,
        reason=reason,
        **actor.as_fields(),
        **memory.snapshot(),
    )


def _new_event(
    memory: Memory, actor: Actor, action: str, reason: str, summary: dict[str, Any]
) -> AuditEvent:
    return new_event(
        memory.space_id,
        actor,
        f"memory.{action}",
        target_type="memory",
        target_id=memory.pk,
        reason=reason,
        summary={"version": memory.version, **summary},
    )


def _save_new_version(
    memory: Memory, actor: Actor, action: str, reason: str, before: dict[str, Any]
) -> Memory:
    memory.version += 1
    memory.updated_at = timezone.now()
    memory.save()
    changed = _change_summary(before, memory.snapshot())
    insert_together(
        [
            _new_version(memory, actor, action, reason),
            _new_event(memory, actor, action, reason, {"changed": changed}),
        ]
    )
    return memory


def _episodes_in_space(space: Space, episode_ids: Iterable[object]) -> list[Episode]:
    ids = list(dict.fromkeys(str(i) for i in episode_ids))
    if not ids:
        return []
    try:
        episodes = list(Episode.objects.for_space(space).filter(pk__in=ids))
    except (ValidationError, ValueError):
        episodes = []
    missing = sorted(set(ids) - {str(e.pk) for e in episodes})
    if missing:
        raise InvalidMemory(
            "source episodes not found in this space", details={"source_episodes": missing}
        )
    return episodes


def _embed_after_commit(space_id: int, pending: int = 1) -> None:
    """Writes never wait for the model: embedding of the `pending` memories this change
    left without a vector is queued once it is committed.

    robust=True: a broker that is down must not fail a write that already committed;
    the periodic sweep embeds whatever a lost message left behind.
    """
    from apps.retrieval.tasks import schedule_embedding

    transaction.on_commit(lambda: schedule_embedding(space_id, pending), robust=True)


# ----------------------------------------------------------------- episodes


def record_episode(space: Space, actor: Actor, **fields: Any) -> Episode:
    """Store one raw input (content, source, session, role, speaker, agent,
    occurred_at, metadata) with its audit event."""
    return record_episodes(space, actor, [fields])[0]


@transaction.atomic
def record_episodes(space: Space, actor: Actor, items: Sequence[dict[str, Any]]) -> list[Episode]:
    """Store a batch of raw inputs in a few statements, with an event each."""
    episodes: list[Episode] = []
    for index, item in enumerate(items):
        content = item.get("content")
        if not isinstance(content, str) or not content.strip():
            raise InvalidMemory(
                f"item {index}: episode content must be non-empty text"
                if len(items) > 1
                else "episode content must be non-empty text",
                details={"index": index, "content": "empty"},
            )
        episodes.append(
            Episode(
                space=space,
                content=content,
                source=item.get("source", Episode.Source.MESSAGE),
                session=item.get("session", ""),
                role=item.get("role", ""),
                speaker=item.get("speaker", ""),
                agent=item.get("agent") or (actor.token.name if actor.token else ""),
                occurred_at=item.get("occurred_at") or timezone.now(),
                metadata=item.get("metadata") or {},
            )
        )
    copy_insert(episodes)
    record_events(
        space,
        actor,
        "episode.create",
        [("episode", e.pk, {"session": e.session, "chars": len(e.content)}) for e in episodes],
    )
    return episodes


@transaction.atomic
def remember_conversation(
    space: Space, actor: Actor, messages: Sequence[dict[str, Any]], *, remember: bool
) -> tuple[list[Episode], list[Memory]]:
    """Store conversation messages as episodes and, with `remember`, each also as an
    episodic memory derived from its episode, chained by next_in_time links.

    The chain continues from the latest episodic memory already stored for the same
    session, so a conversation sent in several requests stays one conversation.
    """
    episodes = record_episodes(space, actor, messages)
    if not remember:
        return episodes, []
    memories = create_memories(
        space,
        actor,
        [
            {
                "content": episode.content,
                "kind": Kind.EPISODIC,
                "subject": episode.speaker,
                "agent": episode.agent,
                "session": episode.session,
                "occurred_at": episode.occurred_at,
                "metadata": dict(episode.metadata),
                "source_episodes": [episode.pk],
            }
            for episode in episodes
        ],
    )
    sessions: dict[str, list[Memory]] = {}
    for memory in memories:
        sessions.setdefault(memory.session, []).append(memory)
    edges: list[tuple[MemoryId, MemoryId, str]] = []
    new_ids = [m.pk for m in memories]
    for session, turns in sessions.items():
        turns.sort(key=lambda m: m.occurred_at or m.created_at)  # stable: ties keep order
        chain = list(turns)
        if session:
            previous = (
                Memory.objects.for_space(space)
                .filter(kind=Kind.EPISODIC, session=session, occurred_at__lte=turns[0].occurred_at)
                .exclude(pk__in=new_ids)
                .order_by("-occurred_at", "-created_at")
                .only("pk")
                .first()
            )
            if previous is not None:
                chain.insert(0, previous)
        edges += [(a.pk, b.pk, LinkType.NEXT_IN_TIME) for a, b in itertools.pairwise(chain)]
    if edges:
        create_links(space, actor, edges)
    return episodes, memories


# ----------------------------------------------------------------- memories


def _new_memory(
    space: Space,
    actor: Actor,
    fields: dict[str, Any],
    source_episodes: Iterable[object],
    action: str,
    reason: str,
    audit_summary: dict[str, Any],
) -> Memory:
    fields = _validate(fields)
    if "content" not in fields:
        raise InvalidMemory("content is required", details={"content": "required"})
    episodes = _episodes_in_space(space, source_episodes)
    now = timezone.now()
    memory = Memory(space=space, created_at=now, updated_at=now, **fields)
    if not memory.agent and actor.token is not None:
        memory.agent = actor.token.name
    _check_validity(memory)
    memory.content_hash = content_hash(memory.content)
    # One round trip for all the rows of a new memory: before, the waits between them
    # were most of a single write's time.
    insert_together(
        [
            memory,
            *(Memory.source_episodes.through(memory=memory, episode=e) for e in episodes),
            _new_version(memory, actor, action, reason),
            _new_event(
                memory,
                actor,
                action,
                reason,
                {
                    "kind": memory.kind,
                    "subject": memory.subject,
                    "chars": len(memory.content),
                    "source_episodes": [str(e.pk) for e in episodes],
                    **audit_summary,
                },
            ),
        ]
    )
    _embed_after_commit(space.pk)
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
    return _new_memory(space, actor, fields, source_episodes, Action.CREATE, reason, {})


@transaction.atomic
def create_memories(
    space: Space,
    actor: Actor,
    items: Sequence[dict[str, Any]],
    *,
    reason: str = "",
) -> list[Memory]:
    """Create many memories in a few statements, with a version and an event each.

    All or nothing: an invalid item raises InvalidMemory naming its index.
    """
    now = timezone.now()
    memories: list[Memory] = []
    episode_ids: list[list[str]] = []
    for index, item in enumerate(items):
        fields = dict(item)
        episode_ids.append([str(e) for e in fields.pop("source_episodes", ())])
        try:
            fields = _validate(fields)
            if "content" not in fields:
                raise InvalidMemory("content is required", details={"content": "required"})
            memory = Memory(space=space, created_at=now, updated_at=now, **fields)
            _check_validity(memory)
        except InvalidMemory as exc:
            raise type(exc)(
                f"item {index}: {exc.message}", details={"index": index, **exc.details}
            ) from None
        if not memory.agent and actor.token is not None:
            memory.agent = actor.token.name
        memory.content_hash = content_hash(memory.content)
        memories.append(memory)
    _episodes_in_space(space, {i for ids in episode_ids for i in ids})  # raises if foreign
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
                },
            )
            for m in memories
        ],
        reason=reason,
    )
    if memories:
        _embed_after_commit(space.pk, len(memories))
    return memories


@transaction.atomic
def store_embeddings(
    space: Space,
    rows: Sequence[tuple[MemoryId, str]],
    vectors: Sequence[Sequence[float]],
    model: str,
) -> int:
    """Store vectors computed for (memory id, content hash) pairs; returns how many were kept.

    A vector is dropped when the memory's content changed since it was read (its hash
    no longer matches), so a slow batch can never attach an old text's vector. The
    embedding is derived data: no version is written, one audit event per batch.
    """
    if len(rows) != len(vectors):
        raise ValueError(f"{len(rows)} memories but {len(vectors)} vectors")
    if not rows:
        return 0
    # One array each: the database, not numpy, says which vector has the wrong size.
    arrays = [np.asarray(vector, dtype=np.float32) for vector in vectors]
    with binary_vector_cursor() as cursor:
        cursor.execute(
            """
            UPDATE memories_memory AS m
            SET embedding = v.embedding, embedding_model = %s
            FROM unnest(%s::uuid[], %s::text[], %b::vector[]) AS v(id, content_hash, embedding)
            WHERE m.id = v.id AND m.content_hash = v.content_hash AND m.space_id = %s
            RETURNING m.id::text
            """,
            [
                model,
                [str(memory_id) for memory_id, _ in rows],
                [expected_hash for _, expected_hash in rows],
                arrays,
                space.pk,
            ],
        )
        stored = [memory_id for (memory_id,) in cursor.fetchall()]
    if stored:
        record_event(
            space,
            Actor.system("embedding"),
            "memory.embed",
            target_type="space",
            target_id=space.pk,
            summary={"model": model, "count": len(stored), "memories": stored},
        )
    return len(stored)


@transaction.atomic
def request_reembedding(space: Space, actor: Actor, memory_ids: Sequence[MemoryId]) -> int:
    """Drop these memories' vectors so the embedding job computes them again.

    The vector is derived data, so no version is written; the audit trail says who
    asked. Returns how many memories will be re-embedded.
    """
    ids = [str(i) for i in memory_ids]
    memories = Memory.objects.for_space(space).filter(pk__in=ids)
    found = [str(pk) for pk in memories.values_list("pk", flat=True)]
    memories.update(embedding=None, embedding_model="")
    record_events(space, actor, "memory.reembed", [("memory", pk, {}) for pk in found])
    if found:
        _embed_after_commit(space.pk, len(found))
    return len(found)


@transaction.atomic
def record_recall(
    space: Space,
    actor: Actor,
    memory_ids: Sequence[MemoryId],
    *,
    at: datetime,
    query: str,
    mode: str,
) -> int:
    """Note that these memories were returned by a search: the access log and the
    MemoryBank strength (S grows by one per recall). Reads write no version."""
    from django.db.models import F
    from django.db.models.functions import Greatest

    ids = [str(i) for i in memory_ids]
    updated = (
        Memory.objects.for_space(space)
        .filter(pk__in=ids)
        .update(
            access_count=F("access_count") + 1,
            strength=F("strength") + 1,
            last_accessed_at=Greatest(F("last_accessed_at"), at),
        )
    )
    record_events(
        space,
        actor,
        "memory.recall",
        [
            ("memory", memory_id, {"query": query[:500], "mode": mode, "rank": rank})
            for rank, memory_id in enumerate(ids, start=1)
        ],
    )
    return updated


@transaction.atomic
def update_memory(
    space: Space,
    actor: Actor,
    memory_id: MemoryId,
    *,
    expected_version: int | None,
    reason: str = "",
    **changes: Any,
) -> Memory:
    """Apply `changes` if the memory is still at `expected_version` (None: don't check).

    A change that alters nothing writes no version and no event.
    """
    changes = _validate(changes)
    memory = _locked(space, memory_id)
    _check_version(memory, expected_version)
    if memory.status == Status.DELETED:
        raise InvalidTransition("a deleted memory cannot be edited; restore it first")
    before = memory.snapshot()
    for name, value in changes.items():
        setattr(memory, name, value)
    if memory.snapshot() == before:
        return memory
    _check_validity(memory)
    if memory.content != before["content"]:
        memory.content_hash = content_hash(memory.content)
        if memory.content_hash != content_hash(str(before["content"])):
            # The old vector describes the old text; the embedding job fills it in.
            memory.embedding = None
            memory.embedding_model = ""
            _embed_after_commit(space.pk)
    return _save_new_version(memory, actor, Action.UPDATE, reason, before)


# action -> (status after, statuses it may start from)
_STATUS_TRANSITIONS: dict[str, tuple[str, set[str]]] = {
    Action.ARCHIVE: (Status.ARCHIVED, {Status.ACTIVE}),
    Action.RESTORE: (Status.ACTIVE, {Status.ARCHIVED, Status.DELETED}),
    # Soft delete: the memory leaves search results but keeps its history; restorable.
    Action.DELETE: (Status.DELETED, {Status.ACTIVE, Status.ARCHIVED, Status.SUPERSEDED}),
}


def _change_status(
    space: Space,
    actor: Actor,
    memory_id: MemoryId,
    action: str,
    *,
    reason: str = "",
    expected_version: int | None = None,
) -> Memory:
    to, allowed_from = _STATUS_TRANSITIONS[action]
    memory = _locked(space, memory_id)
    _check_version(memory, expected_version)
    if memory.status not in allowed_from:
        raise InvalidTransition(
            f"cannot {action} a memory that is {memory.status}",
            details={"status": memory.status, "allowed_from": sorted(allowed_from)},
        )
    before = memory.snapshot()
    memory.status = to
    return _save_new_version(memory, actor, action, reason, before)


@transaction.atomic
def archive_memory(space: Space, actor: Actor, memory_id: MemoryId, **options: Any) -> Memory:
    return _change_status(space, actor, memory_id, Action.ARCHIVE, **options)


@transaction.atomic
def restore_memory(space: Space, actor: Actor, memory_id: MemoryId, **options: Any) -> Memory:
    return _change_status(space, actor, memory_id, Action.RESTORE, **options)


@transaction.atomic
def delete_memory(space: Space, actor: Actor, memory_id: MemoryId, **options: Any) -> Memory:
    return _change_status(space, actor, memory_id, Action.DELETE, **options)


@transaction.atomic
def purge_memory(space: Space, actor: Actor, memory_id: MemoryId, *, reason: str) -> None:
    """Hard delete: afterwards the memory's text is in no table. Gone with it: its
    versions, links, mentions and embedding; the episodes it was drawn from (raw input
    holding the same words); summaries made from it (extractive: they quote it); and
    whatever other apps derived from its text (memory_purging).

    Only an audit event remains, saying what was purged, by whom and why.
    """
    if not reason or not reason.strip():
        raise InvalidMemory("purging needs a reason", details={"reason": "required"})
    memory = _locked(space, memory_id)
    summaries = list(
        Link.objects.for_space(space)
        .filter(target=memory, type=LinkType.DERIVED_FROM, source__kind=Kind.SUMMARY)
        .values_list("source_id", flat=True)
    )
    episodes = list(memory.source_episodes.values_list("pk", flat=True))
    summary = {
        "purged_version": memory.version,
        "kind": memory.kind,
        "status": memory.status,
        "versions_deleted": memory.versions.count(),
        "episodes_deleted": len(episodes),
        "summaries_purged": [str(pk) for pk in summaries],
    }
    memory_purging.send(sender=Memory, space=space, memory=memory)
    memory_pk = memory.pk
    memory.delete()
    Episode.objects.for_space(space).filter(pk__in=episodes).delete()
    record_event(
        space,
        actor,
        "memory.purge",
        target_type="memory",
        target_id=memory_pk,
        reason=reason.strip(),
        summary=summary,
    )
    for summary_id in summaries:
        if Memory.objects.for_space(space).filter(pk=summary_id).exists():
            purge_memory(space, actor, summary_id, reason=f"summary of purged memory {memory_pk}")


def _link(
    space: Space,
    actor: Actor,
    source: Memory,
    target: Memory,
    link_type: str,
    weight: float = 1.0,
    metadata: dict[str, Any] | None = None,
) -> tuple[Link, bool]:
    if link_type not in LinkType.values:
        raise InvalidMemory(
            f"unknown link type {link_type!r}",
            details={"type": f"one of {', '.join(LinkType.values)}"},
        )
    if source.pk == target.pk:
        raise InvalidMemory("a memory cannot link to itself", details={"target": str(target.pk)})
    link, created = Link.objects.for_space(space).get_or_create(
        source=source,
        target=target,
        type=link_type,
        defaults={
            "space": space,
            "weight": weight,
            "created_by": actor.label,
            "metadata": metadata or {},
        },
    )
    if created:
        record_event(
            space,
            actor,
            "link.create",
            target_type="link",
            target_id=link.pk,
            summary={
                "source": str(source.pk),
                "target": str(target.pk),
                "type": link_type,
                "weight": weight,
            },
        )
    return link, created


@transaction.atomic
def supersede_memory(
    space: Space,
    actor: Actor,
    old_id: MemoryId,
    new_id: MemoryId,
    *,
    reason: str = "",
    expected_version: int | None = None,
) -> Memory:
    """Mark `old` as replaced by `new`: it stops being valid when `new` starts."""
    if str(old_id) == str(new_id):
        raise InvalidMemory("a memory cannot supersede itself", details={"id": str(old_id)})
    old, new = _locked_many(space, [old_id, new_id])
    _check_version(old, expected_version)
    if old.status not in (Status.ACTIVE, Status.ARCHIVED):
        raise InvalidTransition(f"cannot supersede a memory that is {old.status}")
    if new.status != Status.ACTIVE:
        raise InvalidTransition(f"the superseding memory is {new.status}, not active")
    before = old.snapshot()
    old.status = Status.SUPERSEDED
    ends = new.valid_from or new.occurred_at or timezone.now()
    if old.valid_to is None or old.valid_to > ends:
        old.valid_to = ends
    _check_validity(old)
    _save_new_version(old, actor, Action.SUPERSEDE, reason, before)
    _link(space, actor, new, old, LinkType.SUPERSEDES)
    return old


@transaction.atomic
def replace_memory(
    space: Space,
    actor: Actor,
    old_id: MemoryId,
    *,
    reason: str = "",
    expected_version: int | None = None,
    **fields: Any,
) -> tuple[Memory, Memory]:
    """Store a corrected memory and supersede the old one with it, in one step.

    Kind, subject, agent, session and tags carry over unless given. Returns (old, new).
    """
    old = _locked(space, old_id)
    _check_version(old, expected_version)
    inherited = {name: getattr(old, name) for name in ("kind", "subject", "agent", "session")}
    new = _new_memory(
        space,
        actor,
        {**inherited, "tags": list(old.tags), **fields},
        [],
        Action.CREATE,
        reason,
        {"replaces": str(old.pk)},
    )
    old = supersede_memory(space, actor, old.pk, new.pk, reason=reason)
    return old, new


@transaction.atomic
def merge_memories(
    space: Space,
    actor: Actor,
    memory_ids: Sequence[MemoryId],
    *,
    reason: str = "",
    **overrides: Any,
) -> Memory:
    """Merge N memories into a new one `derived_from` each; the originals become superseded.

    Without `content` in `overrides` the most complete text (the longest) is kept.
    """
    if len({str(i) for i in memory_ids}) < 2:
        raise InvalidMemory(
            "a merge needs at least two distinct memories", details={"ids": "too few"}
        )
    originals = _locked_many(space, memory_ids)
    for memory in originals:
        if memory.status not in (Status.ACTIVE, Status.ARCHIVED):
            raise InvalidTransition(
                f"memory {memory.pk} is {memory.status} and cannot be merged",
                details={"id": str(memory.pk), "status": memory.status},
            )
    kinds = {m.kind for m in originals}
    subjects = {m.subject for m in originals}
    occurred = [m.occurred_at for m in originals if m.occurred_at]
    fields: dict[str, Any] = {
        "content": max((m.content for m in originals), key=len),
        "kind": kinds.pop() if len(kinds) == 1 else Kind.FACT,
        "subject": subjects.pop() if len(subjects) == 1 else "",
        "tags": [t for m in originals for t in m.tags],
        "importance": max(m.importance for m in originals),
        "confidence": max(m.confidence for m in originals),
        "pinned": any(m.pinned for m in originals),
        "occurred_at": min(occurred) if occurred else None,
        "metadata": {"merged_from": [str(m.pk) for m in originals]},
        **overrides,
    }
    episode_ids = [e.pk for m in originals for e in m.source_episodes.all().only("pk")]
    merged = _new_memory(
        space,
        actor,
        fields,
        episode_ids,
        Action.MERGE,
        reason,
        {"merged_from": [str(m.pk) for m in originals]},
    )
    for memory in originals:
        before = memory.snapshot()
        memory.status = Status.SUPERSEDED
        _save_new_version(memory, actor, Action.MERGE, reason, before)
        _link(space, actor, merged, memory, LinkType.DERIVED_FROM)
    return merged


@transaction.atomic
def summarize_memories(
    space: Space,
    actor: Actor,
    member_ids: Sequence[MemoryId],
    *,
    content: str,
    level: int = 1,
    reason: str = "",
) -> Memory:
    """A summary memory `derived_from` each member; the members stay as they are.
    A summary of summaries has the next `level` (a hierarchy over topics)."""
    members = _locked_many(space, member_ids)
    subjects = {m.subject for m in members}
    summary = _new_memory(
        space,
        actor,
        {
            "content": content,
            "kind": Kind.SUMMARY,
            "subject": subjects.pop() if len(subjects) == 1 else "",
            "metadata": {"summary_of": [str(m.pk) for m in members], "level": level},
        },
        (),
        Action.CREATE,
        reason,
        {"summary_of": [str(m.pk) for m in members]},
    )
    for member in members:
        _link(space, actor, summary, member, LinkType.DERIVED_FROM)
    return summary


@transaction.atomic
def unmerge_memory(
    space: Space, actor: Actor, merged_id: MemoryId, *, reason: str = "merge undone"
) -> list[Memory]:
    """Undo a merge: each memory it was merged from gets back the status it had before
    (new versions, history kept) and the merged memory is deleted (softly). Returns the
    originals. Originals changed since the merge (no longer superseded) are left alone."""
    merged = _locked(space, merged_id)
    sources = list(
        Link.objects.for_space(space)
        .filter(source_id=merged.pk, type=LinkType.DERIVED_FROM)
        .values_list("target_id", flat=True)
    )
    if not merged.metadata.get("merged_from") or not sources:
        raise InvalidTransition(
            f"memory {merged.pk} is not the result of a merge", details={"id": str(merged.pk)}
        )
    restored = []
    for original in _locked_many(space, sources):
        if original.status != Status.SUPERSEDED:
            continue
        before_merge = original.versions.filter(action=Action.MERGE).order_by("-version").first()
        previous = (
            original.versions.filter(version__lt=before_merge.version).order_by("-version").first()
            if before_merge
            else None
        )
        before = original.snapshot()
        original.status = previous.status if previous else Status.ACTIVE
        restored.append(_save_new_version(original, actor, Action.RESTORE, reason, before))
    if merged.status != Status.DELETED:
        before = merged.snapshot()
        merged.status = Status.DELETED
        _save_new_version(merged, actor, Action.DELETE, reason, before)
    return restored


@transaction.atomic
def revert_memory(
    space: Space,
    actor: Actor,
    memory_id: MemoryId,
    *,
    to_version: int,
    expected_version: int | None = None,
    reason: str = "",
) -> Memory:
    """Write a new version whose fields equal those of `to_version`; history is kept.

    The status is not reverted: lifecycle changes have their own actions
    (restore, archive), so reverting text never resurrects a deleted memory.
    """
    memory = _locked(space, memory_id)
    _check_version(memory, expected_version)
    old = memory.versions.filter(version=to_version).first()
    if old is None:
        raise MemoryNotFound(
            f"memory {memory.pk} has no version {to_version}", details={"version": to_version}
        )
    before = memory.snapshot()
    for name, value in old.snapshot().items():
        if name != "status":
            setattr(memory, name, value)
    if memory.snapshot() == before:
        return memory
    if memory.content != before["content"]:
        memory.content_hash = content_hash(memory.content)
        memory.embedding = None
        memory.embedding_model = ""
        _embed_after_commit(space.pk)
    _check_validity(memory)
    return _save_new_version(
        memory, actor, Action.REVERT, reason or f"revert to version {to_version}", before
    )


@transaction.atomic
def link_memories(
    space: Space,
    actor: Actor,
    source_id: MemoryId,
    target_id: MemoryId,
    link_type: str,
    *,
    weight: float = 1.0,
    metadata: dict[str, Any] | None = None,
) -> Link:
    """Create a typed link; linking twice returns the existing link and records nothing."""
    if str(source_id) == str(target_id):
        raise InvalidMemory("a memory cannot link to itself", details={"target": str(target_id)})
    source, target = _link_endpoints(space, [source_id, target_id])
    link, _created = _link(space, actor, source, target, link_type, weight, metadata)
    return link


@transaction.atomic
def create_links(
    space: Space,
    actor: Actor,
    edges: Sequence[tuple[MemoryId, MemoryId, str]],
    *,
    weight: float = 1.0,
) -> int:
    """Create many (source, target, type) links at once; existing ones are kept as they are.

    Returns how many were new. Every endpoint must be a memory of this space.
    """
    endpoints = {str(i) for edge in edges for i in edge[:2]}
    _link_endpoints(space, list(endpoints))  # raises MemoryNotFound for foreign ids
    for source, target, link_type in edges:
        if link_type not in LinkType.values or str(source) == str(target):
            raise InvalidMemory(
                "invalid link",
                details={"source": str(source), "target": str(target), "type": link_type},
            )
    # One link writer per space at a time (a short wait), so no concurrent call adds
    # the same link between this check and the insert.
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended('links', %s))", [space.pk])
    existing = set(
        Link.objects.for_space(space)
        .filter(source_id__in=endpoints, target_id__in=endpoints)
        .values_list("source_id", "target_id", "type")
    )
    wanted = dict.fromkeys(
        (uuid.UUID(str(source)), uuid.UUID(str(target)), link_type)
        for source, target, link_type in edges
    )
    new = Link.objects.for_space(space).bulk_create(
        [
            Link(
                space=space,
                source_id=source,
                target_id=target,
                type=link_type,
                weight=weight,
                created_by=actor.label,
            )
            for source, target, link_type in wanted
            if (source, target, link_type) not in existing
        ]
    )
    record_events(
        space,
        actor,
        "link.create",
        [
            (
                "link",
                link.pk,
                {
                    "source": str(link.source_id),
                    "target": str(link.target_id),
                    "type": link.type,
                    "weight": link.weight,
                },
            )
            for link in new
        ],
    )
    return len(new)


@transaction.atomic
def unlink(space: Space, actor: Actor, link_id: int | str) -> None:
    try:
        link = Link.objects.for_space(space).select_for_update().get(pk=link_id)
    except (Link.DoesNotExist, ValueError, ValidationError):
        raise MemoryNotFound(f"link {link_id} not found", details={"id": str(link_id)}) from None
    summary = {"source": str(link.source_id), "target": str(link.target_id), "type": link.type}
    link_pk = link.pk
    link.delete()
    record_event(
        space, actor, "link.delete", target_type="link", target_id=link_pk, summary=summary
    )

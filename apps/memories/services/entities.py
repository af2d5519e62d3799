"""Who and what memories are about: entities and their mentions.

Finding names is the extractors' business (apps.consolidation.entities); storing
them happens here, so that every writer resolves names to entities the same way and
purge knows what to take back.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Case, Exists, OuterRef, Q, When

from apps.audit.actors import Actor
from apps.audit.services import record_event
from apps.memories.models import Entity, Mention
from apps.memories.services.records import MemoryId
from apps.spaces.models import Space

PERSON = Entity.EntityKind.PERSON


@dataclass(frozen=True)
class NamedSpan:
    """A name found in a memory: where it stands in the content (no span for a name
    taken from a field such as the subject) and what kind of thing it names."""

    memory_id: MemoryId
    name: str
    kind: str
    start: int | None = None
    end: int | None = None


@transaction.atomic
def record_mentions(
    space: Space, actor: Actor, spans: Iterable[NamedSpan], *, action: str = "entities.extract"
) -> int:
    """Store a mention for each (entity, memory) the spans name, creating the entities
    whose names are new; returns how many mentions were new.

    A name known as a person, or given as one by any span, is that person wherever it
    appears. Where a memory names an entity twice, the first span is kept. One audit
    event, `action`, counts what was made (no names: they are the memories' words).
    """
    return len(_record(space, actor, spans, action).mentions)


@dataclass(frozen=True)
class Recorded:
    """What one recording made: the new (entity id, memory id) mentions, and the
    entities it created."""

    mentions: list[tuple[uuid.UUID, str]]
    created: set[uuid.UUID]


@dataclass(frozen=True)
class EntityMentions:
    """One entity's mentions as recorded, which `forget_mentions` can take back."""

    entity_id: uuid.UUID | None
    kind: str
    created: bool
    memory_ids: list[str]


@transaction.atomic
def record_entity(
    space: Space, actor: Actor, spans: Sequence[NamedSpan], *, action: str
) -> EntityMentions:
    """Record the spans of one name (a reviewed entity proposal): like
    `record_mentions`, and says which entity they went to, whether it was made for
    them and which memories' mentions are new, so that they can be taken back."""
    recorded = _record(space, actor, spans, action)
    name = Entity.normalize(spans[0].name) if spans else ""
    entity = (
        Entity.objects.for_space(space)
        .filter(normalized_name=name, kind__in=[PERSON, spans[0].kind] if spans else [])
        .order_by(Case(When(kind=PERSON, then=0), default=1))
        .first()
    )
    if entity is None:  # nothing to record (no spans, or a name of no letters)
        return EntityMentions(None, spans[0].kind if spans else "", False, [])
    return EntityMentions(
        entity.pk,
        entity.kind,
        entity.pk in recorded.created,
        sorted(memory for entity_id, memory in recorded.mentions if entity_id == entity.pk),
    )


def _record(space: Space, actor: Actor, spans: Iterable[NamedSpan], action: str) -> Recorded:
    spans = [span for span in spans if Entity.normalize(span.name)]
    if not spans:
        return Recorded([], set())
    names = {Entity.normalize(span.name) for span in spans}
    people = {Entity.normalize(span.name) for span in spans if span.kind == PERSON}
    people |= set(
        Entity.objects.for_space(space)
        .filter(kind=PERSON, normalized_name__in=names)
        .values_list("normalized_name", flat=True)
    )
    wanted: dict[tuple[str, str], str] = {}  # (kind, normalized name) -> display name
    for span in spans:
        normalized = Entity.normalize(span.name)
        wanted.setdefault((PERSON if normalized in people else span.kind, normalized), span.name)
    before = _entities(space, wanted)
    made_entities = len(wanted) - len(before)
    # Ignoring conflicts: a concurrent writer may have just made the same entity.
    Entity.objects.for_space(space).bulk_create(
        [
            Entity(space=space, name=name, normalized_name=normalized, kind=kind)
            for (kind, normalized), name in wanted.items()
            if (kind, normalized) not in before
        ],
        ignore_conflicts=True,
    )
    known = _entities(space, wanted)
    memory_ids = {str(span.memory_id) for span in spans}
    existing = {
        (entity_id, str(memory_id))
        for entity_id, memory_id in Mention.objects.for_space(space)
        .filter(memory_id__in=memory_ids)
        .values_list("entity_id", "memory_id")
    }
    mentions: dict[tuple[uuid.UUID, str], Mention] = {}
    for span in spans:
        normalized = Entity.normalize(span.name)
        entity = known[(PERSON if normalized in people else span.kind, normalized)]
        key = (entity.pk, str(span.memory_id))
        if key in mentions or key in existing:
            continue
        mentions[key] = Mention(
            space=space, entity=entity, memory_id=span.memory_id, start=span.start, end=span.end
        )
    Mention.objects.for_space(space).bulk_create(
        mentions.values(), batch_size=5000, ignore_conflicts=True
    )
    if mentions or made_entities:
        record_event(
            space,
            actor,
            action,
            target_type="space",
            target_id=space.pk,
            summary={
                "mentions": len(mentions),
                "entities": made_entities,
                "memories": len(memory_ids),
            },
        )
    return Recorded(
        list(mentions),
        {entity.pk for key, entity in known.items() if key not in before},
    )


@transaction.atomic
def forget_mentions(
    space: Space,
    actor: Actor,
    entity_id: uuid.UUID | str,
    memory_ids: Sequence[MemoryId],
    *,
    remove_entity: bool,
    reason: str = "",
) -> dict[str, int | bool]:
    """Take back an entity's mentions in these memories (an undone entity proposal's),
    and the entity itself if `remove_entity` (it was made for them) and no other memory
    mentions it any more. The audit event counts what went, naming nothing."""
    entity = Entity.objects.for_space(space).select_for_update().filter(pk=entity_id).first()
    if entity is None:
        return {"mentions": 0, "entity_removed": False}
    removed, _ = (
        Mention.objects.for_space(space)
        .filter(entity=entity, memory_id__in=[str(i) for i in memory_ids])
        .delete()
    )
    gone = remove_entity and not Mention.objects.for_space(space).filter(entity=entity).exists()
    if gone:
        entity.delete()
    record_event(
        space,
        actor,
        "entities.forget",
        target_type="entity",
        target_id=entity_id,
        reason=reason,
        summary={"mentions": removed, "entity_removed": gone},
    )
    return {"mentions": removed, "entity_removed": gone}


def _entities(space: Space, wanted: dict[tuple[str, str], str]) -> dict[tuple[str, str], Entity]:
    found = Entity.objects.for_space(space).filter(
        normalized_name__in={normalized for _, normalized in wanted}
    )
    return {
        (entity.kind, entity.normalized_name): entity
        for entity in found
        if (entity.kind, entity.normalized_name) in wanted
    }


@transaction.atomic
def forget_entities_of(space: Space, memory_ids: Sequence[MemoryId]) -> list[uuid.UUID]:
    """Remove these memories' mentions and every entity that only they mentioned (its
    name was taken from their text); returns the ids of the entities removed.

    An entity another memory still mentions stays: that memory holds the name too. So
    does one no memory ever mentioned, such as an imported one without mentions:
    nothing ties it to these memories. Called inside purge_memory, whose audit event
    counts what went.
    """
    mentions = Mention.objects.for_space(space).filter(memory_id__in=[str(i) for i in memory_ids])
    mentioned = set(mentions.values_list("entity_id", flat=True))
    # Locked first: a mention written meanwhile by extraction waits, then finds its
    # entity gone, instead of being deleted with it unseen.
    list(Entity.objects.for_space(space).select_for_update().filter(pk__in=mentioned))
    mentions.delete()
    elsewhere = Mention.objects.for_space(space).filter(entity=OuterRef("pk"))
    orphans = list(
        Entity.objects.for_space(space)
        .filter(pk__in=mentioned)
        .filter(~Exists(elsewhere))
        .values_list("pk", flat=True)
    )
    Entity.objects.for_space(space).filter(pk__in=orphans).delete()
    return orphans


@transaction.atomic
def save_entity(actor: Actor, entity: Entity, changed: Sequence[str]) -> Entity:
    """A person's own edit of an entity (the admin's form): its normalised name follows
    its name, and the audit trail says who changed which fields (not their values:
    a name may be a memory's words, which a purge must be able to take back)."""
    created = entity._state.adding
    entity.normalized_name = Entity.normalize(entity.name)
    entity.save()
    record_event(
        entity.space,
        actor,
        "entity.create" if created else "entity.update",
        target_type="entity",
        target_id=entity.pk,
        summary={"changed": sorted(changed)},
    )
    return entity


@transaction.atomic
def forget_entities_named(
    space: Space, memory_ids: Sequence[MemoryId], texts: Iterable[str]
) -> int:
    """For a redaction: an entity whose name holds a redacted text loses its mentions
    in these memories, and goes if no other memory mentions it (another memory that
    still holds the name keeps it: it was not redacted there). Returns how many
    entities went. Called inside redact_memory, whose audit event counts them."""
    named = Q(pk__in=[])
    for text in texts:
        named |= Q(name__icontains=text) | Q(normalized_name__icontains=text)
    entities = list(
        Entity.objects.for_space(space)
        .select_for_update()
        .filter(named)
        .values_list("pk", flat=True)
    )
    Mention.objects.for_space(space).filter(
        entity_id__in=entities, memory_id__in=[str(i) for i in memory_ids]
    ).delete()
    elsewhere = Mention.objects.for_space(space).filter(entity=OuterRef("pk"))
    deleted, _ = (
        Entity.objects.for_space(space).filter(pk__in=entities).filter(~Exists(elsewhere)).delete()
    )
    return deleted


@transaction.atomic
def move_mentions(
    space: Space, redacted: Mapping[MemoryId, tuple[Sequence[tuple[int, int, str]], str]]
) -> int:
    """For a redaction: each memory's content had `edits` (start, end, replacement in
    the old content, in order) and is now the given text. A mention after or between
    them moves with the text; one inside a redacted place moves to another place where
    the entity's name still stands, or goes. An entity left with no mention anywhere
    goes too (its name came from the redacted text). Returns how many entities went."""
    dropped: set[uuid.UUID] = set()
    moved: list[Mention] = []
    gone: list[int] = []
    mentions = Mention.objects.for_space(space).filter(
        memory_id__in=[str(pk) for pk in redacted], start__isnull=False
    )
    for mention in mentions.select_related("entity"):
        edits, content = redacted[mention.memory_id]
        assert mention.start is not None and mention.end is not None
        if any(start < mention.end and mention.start < end for start, end, _ in edits):
            found = re.search(re.escape(mention.entity.name), content, re.IGNORECASE)
            if found is None:
                gone.append(mention.pk)
                dropped.add(mention.entity_id)
                continue
            mention.start, mention.end = found.span()
        else:
            shift = sum(
                len(replacement) - (end - start)
                for start, end, replacement in edits
                if end <= mention.start
            )
            if not shift:
                continue
            mention.start, mention.end = mention.start + shift, mention.end + shift
        moved.append(mention)
    Mention.objects.for_space(space).bulk_update(moved, ["start", "end"])
    if not gone:
        return 0
    # Locked first, as in forget_entities_of: a mention written meanwhile waits.
    list(Entity.objects.for_space(space).select_for_update().filter(pk__in=dropped))
    Mention.objects.for_space(space).filter(pk__in=gone).delete()
    elsewhere = Mention.objects.for_space(space).filter(entity=OuterRef("pk"))
    deleted, _ = (
        Entity.objects.for_space(space).filter(pk__in=dropped).filter(~Exists(elsewhere)).delete()
    )
    return deleted

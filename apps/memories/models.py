"""The memory model: episodes (raw input), memories, their versions, links and entities.

Rows here are changed only through `apps.memories.services`, which writes the
version row and the audit event in the same transaction as the change.
"""

from __future__ import annotations

import hashlib
import math
import uuid
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Generic, Self, TypeVar, cast

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVector, SearchVectorField
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone
from pgvector.django import HalfVectorField, VectorField

from apps.audit.actors import ActorType, actor_foreign_keys, actor_indexes
from apps.spaces.models import Space
from apps.spaces.scoping import SpaceScopedManager

# Full-text search uses one fixed configuration so the generated column is immutable.
TEXT_SEARCH_CONFIG = "english"
SECONDS_PER_DAY = 86_400
# Every search through a GIN index reads its pending list (entries not yet merged in)
# from start to end. At PostgreSQL's default of 4 MB, 308 pending pages cost 3 ms of a
# text search while memories streamed in; 256 kB keeps it near 0.2 ms, and the merge,
# paid by an insert, comes more often in smaller pieces.
GIN_PENDING_LIST_KB = 256


def days_between(start: datetime, end: datetime) -> float:
    """Days (fractional) from `start` to `end`; never negative, so a clock that is a
    little behind another reads as no time having passed."""
    return max(0.0, (end - start).total_seconds() / SECONDS_PER_DAY)


def content_hash(text: str) -> str:
    """Hash of the content as the embedding model sees it (whitespace-normalised)."""
    return hashlib.sha256(" ".join(text.split()).encode()).hexdigest()


class Kind(models.TextChoices):
    EPISODIC = "episodic", "Episodic"
    FACT = "fact", "Semantic fact"
    PREFERENCE = "preference", "Preference"
    PROCEDURAL = "procedural", "Procedural"
    SUMMARY = "summary", "Summary"


class Status(models.TextChoices):
    ACTIVE = "active", "Active"
    ARCHIVED = "archived", "Archived"
    SUPERSEDED = "superseded", "Superseded"
    DELETED = "deleted", "Deleted"


# The lifecycle actions a curator or agent may take, in the order a page offers them:
# action -> (status after, statuses it may start from). Superseding has its own
# workflow (a replacement memory and a link), so it is not one of them.
STATUS_TRANSITIONS: dict[str, tuple[Status, frozenset[Status]]] = {
    "archive": (Status.ARCHIVED, frozenset({Status.ACTIVE})),
    "restore": (Status.ACTIVE, frozenset({Status.ARCHIVED, Status.DELETED})),
    # Soft delete: the memory leaves search results but keeps its history; restorable.
    "delete": (Status.DELETED, frozenset({Status.ACTIVE, Status.ARCHIVED, Status.SUPERSEDED})),
}


class MemoryRules:
    """The rules of a memory's editable fields, stated once.

    The model's columns and constraints are built from them; the domain layer's
    `validate_fields` checks them; the API serializer, the dashboard's edit form and
    the import reader take their limits from here or from `validate_fields`.
    """

    # subject, agent and session: short labels that are filtered on and indexed.
    LABEL_MAX_LENGTH = 200
    TAG_MAX_LENGTH = 64
    # Tags are labels to filter by, not a place for data: the API has refused more
    # than 100 since its first version, and a bound keeps the GIN index entries and
    # a page of tag chips small.
    MAX_TAGS = 100
    # importance and confidence are fractions.
    SCORE_MIN = 0.0
    SCORE_MAX = 1.0
    # content: non-empty text of at most settings.MEMORY_MAX_CONTENT_CHARS (read at
    # call time: deployments and tests set it). metadata: a JSON object.
    # Date-times carry a time zone; valid_from comes before valid_to.

    @staticmethod
    def content_max_chars() -> int:
        return int(settings.MEMORY_MAX_CONTENT_CHARS)


class Episode(models.Model):
    """Raw input exactly as received. Immutable: a database trigger refuses updates."""

    class Source(models.TextChoices):
        MESSAGE = "message", "Conversation message"
        DOCUMENT = "document", "Document chunk"
        TOOL = "tool", "Tool result"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    space = models.ForeignKey(Space, on_delete=models.CASCADE, related_name="episodes")
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.MESSAGE)
    session = models.CharField(max_length=200, blank=True)
    role = models.CharField(max_length=32, blank=True)
    speaker = models.CharField(max_length=200, blank=True)
    agent = models.CharField(max_length=200, blank=True)
    content = models.TextField()
    occurred_at = models.DateTimeField(default=timezone.now)
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = SpaceScopedManager["Episode"]()

    class Meta:
        indexes = [
            models.Index(fields=["space", "session", "occurred_at"], name="episode_session_time"),
            models.Index(fields=["space", "occurred_at"], name="episode_time"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(source__in=["message", "document", "tool"]),
                name="episode_source_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.speaker or self.role or 'episode'}: {self.content[:60]}"

    # What an episode is to the outside world (the API, exports).
    PUBLIC_FIELDS = (
        "id",
        "source",
        "session",
        "role",
        "speaker",
        "agent",
        "content",
        "occurred_at",
        "metadata",
        "created_at",
    )


_Memory = TypeVar("_Memory", bound=models.Model, covariant=True)
_Row = TypeVar("_Row", covariant=True)


# Generic in the row type as Django's QuerySet is, so that `.annotate()` and
# `.values()` keep their precise types through the named filters.
class MemoryQuerySet(models.QuerySet[_Memory, _Row], Generic[_Memory, _Row]):
    def active(self) -> Self:
        return self.filter(status=Status.ACTIVE)

    def pending_embedding(self) -> Self:
        """Memories the embedding job has yet to fill in (new, or content changed)."""
        return self.filter(embedding__isnull=True)

    def embedded(self) -> Self:
        return self.filter(embedding__isnull=False)


class MemoryManager(SpaceScopedManager["Memory"]):
    _queryset_class = MemoryQuerySet

    def for_space(self, space: Space | int) -> MemoryQuerySet[Memory, Memory]:
        return cast("MemoryQuerySet[Memory, Memory]", super().for_space(space))


class Memory(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # No index of its own: every index of the table but the primary key starts with
    # space_id, and each index is one more entry for every write and vector store.
    space = models.ForeignKey(
        Space, on_delete=models.CASCADE, related_name="memories", db_index=False
    )
    subject = models.CharField(
        max_length=MemoryRules.LABEL_MAX_LENGTH, blank=True, help_text="Whom or what it is about"
    )
    agent = models.CharField(max_length=MemoryRules.LABEL_MAX_LENGTH, blank=True)
    session = models.CharField(max_length=MemoryRules.LABEL_MAX_LENGTH, blank=True)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.FACT)
    content = models.TextField()
    tags = ArrayField(
        models.CharField(max_length=MemoryRules.TAG_MAX_LENGTH), default=list, blank=True
    )
    metadata = models.JSONField(default=dict, blank=True)
    importance = models.FloatField(default=0.5)
    confidence = models.FloatField(default=1.0)
    pinned = models.BooleanField(default=False)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    occurred_at = models.DateTimeField(null=True, blank=True)
    valid_from = models.DateTimeField(null=True, blank=True)
    valid_to = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    version = models.PositiveIntegerField(default=1)
    access_count = models.PositiveIntegerField(default=0)
    last_accessed_at = models.DateTimeField(null=True, blank=True)
    strength = models.FloatField(default=1.0, help_text="MemoryBank strength S, in days")
    embedding = VectorField(dimensions=settings.EMBEDDING_DIMENSIONS, null=True, blank=True)
    embedding_model = models.CharField(max_length=200, blank=True)
    # Set when a vector is stored in a space with a graph of its own, cleared when the
    # graph job has added it there (apps/retrieval/graph.py): until then searches read
    # the row exactly, so it is findable as soon as its vector is stored.
    graph_pending = models.BooleanField(default=False, db_default=False)
    content_hash = models.CharField(max_length=64)
    search_vector = models.GeneratedField(
        expression=SearchVector("content", config=TEXT_SEARCH_CONFIG),
        output_field=SearchVectorField(),
        db_persist=True,
    )
    source_episodes = models.ManyToManyField(Episode, blank=True, related_name="memories")
    # Set by attach_source_episode_ids, for a page of memories at once (not a column).
    source_episode_ids: list[uuid.UUID]

    objects = MemoryManager()

    class Meta:
        verbose_name_plural = "memories"
        # No HNSW index here: large spaces get their own partial one (and one of their
        # words) and small spaces are searched exactly (apps/retrieval/vector_indexes.py).
        indexes = [
            GinIndex(
                fields=["search_vector"],
                name="memory_search_vector",
                gin_pending_list_limit=GIN_PENDING_LIST_KB,
            ),
            GinIndex(
                fields=["tags"], name="memory_tags", gin_pending_list_limit=GIN_PENDING_LIST_KB
            ),
            models.Index(fields=["space", "status", "-created_at"], name="memory_status_created"),
            models.Index(fields=["space", "subject"], name="memory_subject"),
            models.Index(fields=["space", "agent"], name="memory_agent"),
            models.Index(fields=["space", "session"], name="memory_session"),
            models.Index(fields=["space", "kind"], name="memory_kind"),
            models.Index(fields=["space", "occurred_at"], name="memory_occurred"),
            # The timeline's moment (apps/memories/timeline.py), then the id for its
            # ordering: a span is two index probes, a range's first rows a short scan.
            # The included columns make its counts per bucket index-only scans
            # (Postgres needs the columns under an expression to skip the heap).
            models.Index(
                F("space"),
                Coalesce("occurred_at", "created_at"),
                F("id"),
                name="memory_moment",
                include=["kind", "status", "occurred_at", "created_at"],
            ),
            models.Index(
                fields=["space", "created_at"],
                name="memory_embedding_pending",
                condition=Q(embedding__isnull=True),
            ),
            models.Index(
                fields=["space"], name="memory_graph_pending", condition=Q(graph_pending=True)
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=Status.values), name="memory_status_valid"
            ),
            models.CheckConstraint(condition=Q(kind__in=Kind.values), name="memory_kind_valid"),
            models.CheckConstraint(condition=Q(version__gt=0), name="memory_version_positive"),
            models.CheckConstraint(
                condition=Q(valid_from__isnull=True)
                | Q(valid_to__isnull=True)
                | Q(valid_from__lt=F("valid_to")),
                name="memory_validity_ordered",
            ),
            models.CheckConstraint(
                condition=Q(
                    importance__gte=MemoryRules.SCORE_MIN, importance__lte=MemoryRules.SCORE_MAX
                ),
                name="memory_importance_range",
            ),
            models.CheckConstraint(
                condition=Q(
                    confidence__gte=MemoryRules.SCORE_MIN, confidence__lte=MemoryRules.SCORE_MAX
                ),
                name="memory_confidence_range",
            ),
            models.CheckConstraint(condition=Q(strength__gt=0), name="memory_strength_positive"),
            models.CheckConstraint(condition=~Q(content=""), name="memory_content_not_empty"),
        ]

    def __str__(self) -> str:
        return self.content[:80]

    # Fields copied into every MemoryVersion: the memory's state after a change.
    VERSIONED_FIELDS = (
        "content",
        "kind",
        "subject",
        "agent",
        "session",
        "tags",
        "metadata",
        "importance",
        "confidence",
        "pinned",
        "status",
        "occurred_at",
        "valid_from",
        "valid_to",
    )

    # Bookkeeping that changes without a new version's content (reads change usage).
    STATE_FIELDS = (
        "created_at",
        "updated_at",
        "version",
        "access_count",
        "last_accessed_at",
        "strength",
    )

    def snapshot(self) -> dict[str, object]:
        return {name: getattr(self, name) for name in self.VERSIONED_FIELDS}

    def retention(self, now: datetime) -> float:
        """MemoryBank retention R = exp(-t / S): t days since the last recall (or the
        creation), S the strength in days, which each recall raises."""
        last = self.last_accessed_at or self.created_at
        return math.exp(-days_between(last, now) / max(self.strength, 1e-6))

    def allowed_actions(self) -> list[str]:
        """The lifecycle actions (STATUS_TRANSITIONS) this memory's status allows."""
        return [
            action for action, (_, starts) in STATUS_TRANSITIONS.items() if self.status in starts
        ]


def attach_source_episode_ids(memories: Sequence[Memory]) -> None:
    """Set `source_episode_ids` on each memory: its episodes of its own space, in linking
    order, for all of them in one query.

    The query is led by the link table's memory index, and each episode's space is
    checked on the rows it returns. Naming the space in SQL let the planner start from
    the space's episodes instead: for a space newer than the table's statistics it
    expects a single one, and read every episode of the space on each call.
    """
    if not memories:
        return
    links = (
        Memory.source_episodes.through.objects.filter(memory_id__any_of=[m.pk for m in memories])
        .order_by("memory_id", "id")
        .values_list("memory_id", "episode_id", "episode__space_id")
    )
    space_of = {memory.pk: memory.space_id for memory in memories}
    found: dict[uuid.UUID, list[uuid.UUID]] = {}
    for memory_id, episode_id, episode_space_id in links:
        if episode_space_id == space_of[memory_id]:
            found.setdefault(memory_id, []).append(episode_id)
    for memory in memories:
        memory.source_episode_ids = found.get(memory.pk, [])


class MemoryVersion(models.Model):
    """Append-only snapshot of a memory after each change; updates are refused by a trigger."""

    # What a version shows outside the database: the API and the export.
    PUBLIC_FIELDS = (
        "version",
        "action",
        "reason",
        "actor_type",
        "actor_label",
        "created_at",
        *Memory.VERSIONED_FIELDS,
    )

    class Action(models.TextChoices):
        CREATE = "create", "Created"
        UPDATE = "update", "Edited"
        ARCHIVE = "archive", "Archived"
        RESTORE = "restore", "Restored"
        DELETE = "delete", "Deleted"
        SUPERSEDE = "supersede", "Superseded"
        MERGE = "merge", "Merged"
        REVERT = "revert", "Reverted"
        REDACT = "redact", "Redacted"

    space = models.ForeignKey(Space, on_delete=models.CASCADE, related_name="+")
    # Indexed by memoryversion_unique (memory, version); the actors by partial indexes
    # of the rows that have one (actor_indexes): every write adds a version.
    memory = models.ForeignKey(
        Memory, on_delete=models.CASCADE, related_name="versions", db_index=False
    )
    version = models.PositiveIntegerField()
    action = models.CharField(max_length=16, choices=Action.choices)
    reason = models.TextField(blank=True)
    actor_type = models.CharField(max_length=8, choices=ActorType.choices)
    actor_user, actor_token = actor_foreign_keys()
    actor_label = models.CharField(max_length=200)
    created_at = models.DateTimeField(default=timezone.now)

    content = models.TextField()
    kind = models.CharField(max_length=16, choices=Kind.choices)
    subject = models.CharField(max_length=MemoryRules.LABEL_MAX_LENGTH, blank=True)
    agent = models.CharField(max_length=MemoryRules.LABEL_MAX_LENGTH, blank=True)
    session = models.CharField(max_length=MemoryRules.LABEL_MAX_LENGTH, blank=True)
    tags = ArrayField(
        models.CharField(max_length=MemoryRules.TAG_MAX_LENGTH), default=list, blank=True
    )
    metadata = models.JSONField(default=dict, blank=True)
    importance = models.FloatField()
    confidence = models.FloatField()
    pinned = models.BooleanField()
    status = models.CharField(max_length=16, choices=Status.choices)
    occurred_at = models.DateTimeField(null=True, blank=True)
    valid_from = models.DateTimeField(null=True, blank=True)
    valid_to = models.DateTimeField(null=True, blank=True)

    objects = SpaceScopedManager["MemoryVersion"]()

    class Meta:
        ordering = ["memory", "version"]
        indexes = actor_indexes("memoryversion")
        constraints = [
            models.UniqueConstraint(fields=["memory", "version"], name="memoryversion_unique"),
            models.CheckConstraint(condition=Q(version__gt=0), name="memoryversion_positive"),
        ]

    def __str__(self) -> str:
        return f"v{self.version} {self.action} of {self.memory_id}"

    def snapshot(self) -> dict[str, object]:
        return {name: getattr(self, name) for name in Memory.VERSIONED_FIELDS}


class LinkType(models.TextChoices):
    DERIVED_FROM = "derived_from", "derived from"
    RELATED_TO = "related_to", "related to"
    SUPERSEDES = "supersedes", "supersedes"
    CONTRADICTS = "contradicts", "contradicts"
    SAME_ENTITY = "same_entity", "same entity"
    NEXT_IN_TIME = "next_in_time", "next in time"


class Link(models.Model):
    """A typed, directed edge between two memories of one space."""

    space = models.ForeignKey(Space, on_delete=models.CASCADE, related_name="+")
    source = models.ForeignKey(Memory, on_delete=models.CASCADE, related_name="outgoing_links")
    target = models.ForeignKey(Memory, on_delete=models.CASCADE, related_name="incoming_links")
    type = models.CharField(max_length=16, choices=LinkType.choices)
    weight = models.FloatField(default=1.0)
    created_by = models.CharField(max_length=200)
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = SpaceScopedManager["Link"]()

    class Meta:
        indexes = [models.Index(fields=["space", "type"], name="link_type")]
        constraints = [
            models.UniqueConstraint(fields=["source", "target", "type"], name="link_unique"),
            models.CheckConstraint(condition=~Q(source=F("target")), name="link_not_self"),
            models.CheckConstraint(condition=Q(type__in=LinkType.values), name="link_type_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.source_id} {self.type} {self.target_id}"


class MemoryInContext(models.Model):
    """A conversation memory read after the memory before it (its `next_in_time`
    predecessor): "I did!" as the answer to "Did you finish the race?".

    Search blends it into both candidate lists (`SEARCH_IN_CONTEXT_WEIGHT`,
    docs/search.md): the distance to `embedding`, the pair's text embedded together,
    and the BM25 score of `words`, the pair's words. Derived data, like the memory's
    vector: dropped whenever either text changes (services.embeddings.drop_vectors)
    and computed again by the embedding job. The vector is half precision: it only
    reorders near candidates, whatever MEMORYWEB_VECTOR_STORAGE says of the memory's
    own."""

    memory = models.OneToOneField(
        Memory, primary_key=True, on_delete=models.CASCADE, related_name="in_context"
    )
    space = models.ForeignKey(Space, on_delete=models.CASCADE, related_name="+")
    previous = models.ForeignKey(Memory, on_delete=models.CASCADE, related_name="+")
    embedding = HalfVectorField(dimensions=settings.EMBEDDING_DIMENSIONS)
    embedding_model = models.CharField(max_length=200)
    words = SearchVectorField()

    objects = SpaceScopedManager["MemoryInContext"]()

    class Meta:
        verbose_name_plural = "memories in context"

    def __str__(self) -> str:
        return f"{self.memory_id} after {self.previous_id}"


class Entity(models.Model):
    class EntityKind(models.TextChoices):
        PERSON = "person", "Person"
        PLACE = "place", "Place"
        ORGANISATION = "organisation", "Organisation"
        OBJECT = "object", "Object"
        TOPIC = "topic", "Topic"
        OTHER = "other", "Other"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    space = models.ForeignKey(Space, on_delete=models.CASCADE, related_name="entities")
    name = models.CharField(max_length=200)
    normalized_name = models.CharField(max_length=200)
    kind = models.CharField(max_length=16, choices=EntityKind.choices, default=EntityKind.OTHER)
    aliases = ArrayField(models.CharField(max_length=200), default=list, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    memories: models.ManyToManyField[Memory, Mention] = models.ManyToManyField(
        Memory, through="Mention", related_name="entities"
    )

    objects = SpaceScopedManager["Entity"]()

    class Meta:
        verbose_name_plural = "entities"
        constraints = [
            models.UniqueConstraint(
                fields=["space", "kind", "normalized_name"], name="entity_unique_name"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @staticmethod
    def normalize(name: str) -> str:
        return " ".join(name.casefold().split())

    def validate_constraints(self, exclude: Collection[str] | None = None) -> None:
        """The unique name, checked within the entity's space: Django's own check reads
        through the default manager, which refuses reads that name no space."""
        if self.space_id is None:
            return
        clash = (
            Entity.objects.for_space(self.space_id)
            .filter(kind=self.kind, normalized_name=Entity.normalize(self.name))
            .exclude(pk=self.pk)
        )
        if clash.exists():
            raise ValidationError(
                {"name": "this space already has an entity of this kind with this name"}
            )


class Mention(models.Model):
    space = models.ForeignKey(Space, on_delete=models.CASCADE, related_name="+")
    entity = models.ForeignKey(Entity, on_delete=models.CASCADE, related_name="mentions")
    memory = models.ForeignKey(Memory, on_delete=models.CASCADE, related_name="mentions")
    start = models.PositiveIntegerField(null=True, blank=True)
    end = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = SpaceScopedManager["Mention"]()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["entity", "memory"], name="mention_unique"),
            models.CheckConstraint(
                condition=Q(start__isnull=True) | Q(end__gt=F("start")), name="mention_span"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.entity_id} in {self.memory_id}"

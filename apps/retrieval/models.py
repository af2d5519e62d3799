"""What retrieval keeps besides the memories: word statistics for BM25, and the
recalls agents made with the feedback they gave on them.

Word statistics of a space's memories, for BM25's inverse document frequency.

Counting how many memories hold a word at query time costs a scan of the word's
whole posting list; for common words in a large space that was most of a text
search's time. These tables hold the counts, recomputed in the background when the
space has changed enough to move them.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from typing import Any, cast

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Count, F, Q
from django.utils import timezone
from pgvector.django import VectorField

from apps.audit.actors import ActorType
from apps.audit.redaction import holding_any, scrubbed
from apps.memories.models import Memory, Status
from apps.spaces.models import ApiToken, Space
from apps.spaces.scoping import SpaceScopedManager


class LexiconState(models.Model):
    space = models.OneToOneField(
        Space, on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    memories = models.PositiveIntegerField(help_text="memories in the space when counted")
    computed_at = models.DateTimeField()

    objects = SpaceScopedManager["LexiconState"]()

    def __str__(self) -> str:
        return f"lexicon of space {self.space_id}: {self.memories} memories"


class LexemeFrequency(models.Model):
    space = models.ForeignKey(Space, on_delete=models.CASCADE, related_name="+")
    lexeme = models.TextField()
    documents = models.PositiveIntegerField()

    objects = SpaceScopedManager["LexemeFrequency"]()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["space", "lexeme"], name="lexeme_unique_per_space")
        ]

    def __str__(self) -> str:
        return f"{self.lexeme}: {self.documents}"


class Recall(models.Model):
    """One search whose hits were recorded as recalled: what was asked, by whom, and the
    hits in rank order, so that feedback can name them and later searches can learn
    from it. Written with the search, one row per search; the access log's events carry
    its id."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    space = models.ForeignKey(Space, on_delete=models.CASCADE, related_name="+")
    actor_type = models.CharField(max_length=8, choices=ActorType.choices)
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_token = models.ForeignKey(
        ApiToken, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(max_length=200)
    query = models.TextField(blank=True)
    mode = models.CharField(max_length=16)
    # The query's embedding: feedback given on this recall counts for later queries
    # close to it in meaning (search.feedback_prior). Null for a text-only search.
    query_vector = VectorField(dimensions=settings.EMBEDDING_DIMENSIONS, null=True, blank=True)
    memory_ids = ArrayField(models.UUIDField(), help_text="the hits, best first")
    created_at = models.DateTimeField(default=timezone.now)
    # How long the search took (embedding the query and the database work), for the
    # latency percentiles of the health panel. Null for recalls recorded before it was.
    duration_ms = models.FloatField(null=True, blank=True)

    objects = SpaceScopedManager["Recall"]()

    class Meta:
        indexes = [models.Index(fields=["space", "-created_at"], name="recall_recent")]

    def __str__(self) -> str:
        return f"recall {self.pk}: {self.query[:60]!r}"

    @staticmethod
    def forget_words_about(space_id: int, memory_id: object, redacted: str) -> int:
        """For a purge: the recalls that returned the memory lose their query (worded to
        find it, it may quote it), its embedding, and the notes of their feedback; what
        was returned, when and by whom stays. Returns how many recalls changed."""
        recalls = Recall.objects.for_space(space_id).filter(memory_ids__contains=[memory_id])
        RecallFeedback.objects.for_space(space_id).filter(recall__in=recalls).exclude(
            note=""
        ).update(note=redacted)
        return recalls.update(query=redacted, query_vector=None)

    @staticmethod
    def scrub_words(space_id: int, replacements: Mapping[str, str]) -> int:
        """For a redaction: each redacted text is replaced in the queries and feedback
        notes that hold it; a query that changed loses its embedding, which encoded
        the text. Returns how many recalls and notes changed."""
        changed = 0
        recalls = Recall.objects.for_space(space_id).filter(holding_any(replacements, "query"))
        for recall in recalls:
            recall.query = scrubbed(recall.query, replacements)
            recall.query_vector = None
            recall.save(update_fields=["query", "query_vector"])
            changed += 1
        feedback = RecallFeedback.objects.for_space(space_id)
        for mark in feedback.filter(holding_any(replacements, "note")):
            mark.note = scrubbed(mark.note, replacements)
            mark.save(update_fields=["note"])
            changed += 1
        return changed


class Verdict(models.TextChoices):
    USEFUL = "useful", "Useful"
    NOT_USEFUL = "not_useful", "Not useful"


class RecallFeedbackQuerySet(models.QuerySet["RecallFeedback"]):
    def marked_not_useful(self, threshold: int) -> models.QuerySet[RecallFeedback, dict[str, Any]]:
        """One row per active memory marked not useful at least `threshold` times and
        more often than useful (space_id, memory_id, not_useful, useful): those the
        agents keep being handed and keep rejecting."""
        return (
            self.filter(memory__status=Status.ACTIVE)
            .values("space_id", "memory_id")
            .annotate(
                not_useful=Count("pk", filter=Q(verdict=Verdict.NOT_USEFUL)),
                useful=Count("pk", filter=Q(verdict=Verdict.USEFUL)),
            )
            .filter(not_useful__gte=threshold, not_useful__gt=F("useful"))
        )


class RecallFeedbackManager(SpaceScopedManager["RecallFeedback"]):
    _queryset_class = RecallFeedbackQuerySet

    def for_space(self, space: Space | int) -> RecallFeedbackQuerySet:
        return cast(RecallFeedbackQuerySet, super().for_space(space))

    def for_spaces(self, spaces: Iterable[Space | int]) -> RecallFeedbackQuerySet:
        return cast(RecallFeedbackQuerySet, super().for_spaces(spaces))


class RecallFeedback(models.Model):
    """Whether one hit of a recall was useful to whoever searched. One row per hit: a
    second mark of the same hit replaces the verdict and the note (the audit log keeps
    both marks)."""

    NOTE_MAX_LENGTH = 2000

    space = models.ForeignKey(Space, on_delete=models.CASCADE, related_name="+")
    recall = models.ForeignKey(Recall, on_delete=models.CASCADE, related_name="feedback")
    memory = models.ForeignKey(Memory, on_delete=models.CASCADE, related_name="recall_feedback")
    verdict = models.CharField(max_length=16, choices=Verdict.choices)
    note = models.TextField(blank=True)
    # Whether this hit's strength was raised: on its first useful mark, once, so
    # marking it again (or not useful, then useful) never counts a recall twice.
    strengthened = models.BooleanField(default=False)
    actor_type = models.CharField(max_length=8, choices=ActorType.choices)
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_token = models.ForeignKey(
        ApiToken, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(max_length=200)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    objects = RecallFeedbackManager()

    class Meta:
        indexes = [models.Index(fields=["space", "memory"], name="recallfeedback_memory")]
        constraints = [
            models.UniqueConstraint(fields=["recall", "memory"], name="recallfeedback_unique"),
            models.CheckConstraint(
                condition=Q(verdict__in=Verdict.values), name="recallfeedback_verdict_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.verdict} {self.memory_id} in {self.recall_id}"


class HealthSnapshot(models.Model):
    """One measurement of a space's vector recall@10: the nearest memories as its
    search finds them (through an HNSW index when the planner uses one) against an
    exact scan, averaged over a sample of queries. Kept for a few weeks, so the health
    panel can show the trend (apps/retrieval/health.py)."""

    space = models.ForeignKey(Space, on_delete=models.CASCADE, related_name="+")
    measured_at = models.DateTimeField(default=timezone.now)
    recall = models.FloatField(null=True, blank=True, help_text="null: nothing to measure")
    # The sample: recent search queries first, topped up with stored memories' vectors.
    from_queries = models.PositiveIntegerField(default=0)
    from_memories = models.PositiveIntegerField(default=0)
    # Whether the space was searched exactly then (its recall is 1.0 by construction).
    exact = models.BooleanField(default=False)
    embedded = models.PositiveIntegerField(default=0, help_text="embedded memories searched")
    job = models.ForeignKey(
        "jobs.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = SpaceScopedManager["HealthSnapshot"]()

    class Meta:
        indexes = [models.Index(fields=["space", "-measured_at"], name="healthsnapshot_recent")]

    def __str__(self) -> str:
        return f"recall@10 {self.recall} in space {self.space_id} at {self.measured_at}"

    @property
    def sample_size(self) -> int:
        return self.from_queries + self.from_memories

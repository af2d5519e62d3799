"""What needs a curator's attention: the figures the landing page shows for each of a
person's spaces and a space's home shows for one, and the short lists of memories a
space's home puts in front of the curator.

Every figure is counted for all of a person's spaces in one query per table, so the
landing page costs the same with two spaces or two hundred.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.postgres.aggregates import ArrayAgg
from django.db.models import (
    Count,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    UUIDField,
    Value,
)
from django.db.models.fields.json import KT
from django.db.models.functions import Cast, Coalesce, Left, TruncDate

from apps.audit.actors import ActorType
from apps.audit.models import AuditEvent
from apps.consolidation.models import Operation, Proposal
from apps.consolidation.services.forgetting import FORGET_BELOW
from apps.hygiene.models import Flag
from apps.jobs.models import Job
from apps.memories.models import Kind, Link, LinkType, Memory, MemoryQuerySet, MemoryVersion, Status
from apps.retrieval.embedding import get_backend
from apps.retrieval.health import is_low
from apps.retrieval.models import HealthSnapshot, RecallFeedback, Verdict
from apps.spaces.models import Membership, Space

# A failure stays on the front page for a week: long enough to be seen after a
# weekend, short enough that an old failure fixed by a later run drops off by itself.
FAILED_JOBS_WINDOW = timedelta(days=7)
# A memory younger than this has had little chance to be recalled yet.
NEVER_RECALLED_AFTER = timedelta(days=3)
ACTIVITY_WINDOW = timedelta(days=30)
SHORT_LIST = 5
SNIPPET_CHARS = 200
RECALL = "memory.recall"
# What an agent writes: each change that makes a new version of a memory.
WRITES = tuple(f"memory.{action}" for action in MemoryVersion.Action.values)
# Retention falls below the forgetting threshold when the days since the last recall
# exceed the strength S times this (R = exp(-t / S)).
FADED_AFTER_STRENGTHS = math.log(1 / FORGET_BELOW)


@dataclass
class Attention:
    """One space's figures, as one person sees them."""

    space: Space
    role: str
    # Memories created after this are new to the person (None: never visited).
    new_since: datetime | None
    memories: dict[str, int]
    new_memories: int
    embedding_backlog: int
    pending_proposals: int
    stale_proposals: int
    failed_jobs: int
    # Active memories agents marked not useful often enough (marked_not_useful).
    not_useful: int = 0
    # Open hygiene flags (secrets, personal data, prompt injection) on memories and episodes.
    open_flags: int = 0
    # The last measured vector recall@10 (apps/retrieval/health.py), None if never.
    recall: float | None = None
    # Active memories embedded by another model than the configured one.
    other_models: int = 0

    @property
    def recall_low(self) -> bool:
        return is_low(self.recall)

    @property
    def total(self) -> int:
        return sum(self.memories.values())

    @property
    def memory_parts(self) -> list[tuple[str, str, int]]:
        """(status, label, count): active always, the other statuses when there are any,
        so the figure says what it includes."""
        return [
            (status, label.lower(), self.memories.get(status, 0))
            for status, label in Status.choices
            if status == Status.ACTIVE or self.memories.get(status, 0)
        ]

    @property
    def needs_attention(self) -> bool:
        return bool(
            self.pending_proposals
            or self.stale_proposals
            or self.embedding_backlog
            or self.failed_jobs
            or self.new_memories
            or self.not_useful
            or self.open_flags
            or self.recall_low
            or self.other_models
        )


def _memory_counts() -> dict[str, Any]:
    memories = "space__memories"
    counts: dict[str, Any] = {
        f"memories_{status}": Count(memories, filter=Q(space__memories__status=status))
        for status in Status.values
    }
    counts["embedding_backlog"] = Count(memories, filter=Q(space__memories__embedding__isnull=True))
    counts["other_models"] = Count(
        memories,
        filter=Q(space__memories__status=Status.ACTIVE, space__memories__embedding__isnull=False)
        & ~Q(space__memories__embedding_model=get_backend().name),
    )
    counts["new_memories"] = Count(
        memories,
        filter=Q(space__memories__created_at__gt=F("new_since"))
        & ~Q(space__memories__status=Status.DELETED),
    )
    return counts


def attention_for(user: Any, now: datetime, space: Space | None = None) -> list[Attention]:
    """The figures of each of `user`'s spaces (or of `space` alone), by space name.

    Six queries whatever the number of spaces: the memberships with their memory
    counts, the open proposals, the recent failed jobs, the memories marked not useful,
    the open hygiene flags, the last recall measurements.
    """
    memberships = Membership.objects.filter(user_id=user.pk or 0).with_new_since(now)
    if space is not None:
        memberships = memberships.filter(space=space)
    rows = list(
        memberships.select_related("space")
        .defer("space__settings", "space__description")
        .annotate(**_memory_counts())
        .order_by("space__name", "space_id")
    )
    space_ids = [row.space_id for row in rows]
    proposals: dict[tuple[int, str], int] = {
        (space_id, status): n
        for space_id, status, n in Proposal.objects.for_spaces(space_ids)
        .filter(status__in=[Proposal.Status.PENDING, Proposal.Status.STALE])
        .values_list("space_id", "status")
        .annotate(n=Count("pk"))
        .order_by()
    }
    failed: dict[int, int] = dict(
        Job.objects.filter(
            space_id__in=space_ids,
            status=Job.Status.FAILED,
            finished_at__gte=now - FAILED_JOBS_WINDOW,
        )
        .values_list("space_id")
        .annotate(n=Count("pk"))
        .order_by()
        .values_list("space_id", "n")
    )
    not_useful = Counter(
        row["space_id"]
        for row in RecallFeedback.objects.for_spaces(space_ids).marked_not_useful(
            settings.RECALL_NOT_USEFUL_ATTENTION
        )
    )
    open_flags: dict[int, int] = dict(
        Flag.objects.for_spaces(space_ids)
        .open()
        .values_list("space_id")
        .annotate(n=Count("pk"))
        .order_by()
        .values_list("space_id", "n")
    )
    recall: dict[int, float | None] = dict(
        HealthSnapshot.objects.for_spaces(space_ids)
        .order_by("space_id", "-measured_at")
        .distinct("space_id")
        .values_list("space_id", "recall")
    )
    return [
        Attention(
            space=row.space,
            role=row.role,
            new_since=row.new_since,  # type: ignore[attr-defined]
            memories={
                status: getattr(row, f"memories_{status}")
                for status in Status.values
                if getattr(row, f"memories_{status}")
            },
            new_memories=row.new_memories,  # type: ignore[attr-defined]
            embedding_backlog=row.embedding_backlog,  # type: ignore[attr-defined]
            pending_proposals=proposals.get((row.space_id, Proposal.Status.PENDING), 0),
            stale_proposals=proposals.get((row.space_id, Proposal.Status.STALE), 0),
            failed_jobs=failed.get(row.space_id, 0),
            not_useful=not_useful[row.space_id],
            open_flags=open_flags.get(row.space_id, 0),
            recall=recall.get(row.space_id),
            other_models=row.other_models,  # type: ignore[attr-defined]
        )
        for row in rows
    ]


# ------------------------------------------------------------- short lists


def _short(memories: MemoryQuerySet[Memory, Memory]) -> MemoryQuerySet[Memory, Memory]:
    """A list's rows without the embedding and the full text: a snippet is enough."""
    return memories.defer("embedding", "search_vector", "content", "metadata").annotate(
        snippet=Left("content", SNIPPET_CHARS)
    )


def contradicted(space: Space) -> list[Memory]:
    """Active memories something newer contradicts: an open supersession proposal
    would replace them, or a "contradicts" link ties them to another active memory.
    Agents still recall them, so they are the first thing a curator should settle."""
    replaced = (
        Proposal.objects.for_space(space)
        .filter(
            operation=Operation.SUPERSEDE,
            status__in=[Proposal.Status.PENDING, Proposal.Status.STALE],
        )
        .annotate(old=Cast(KT("change__superseded"), UUIDField()))
        .values("old")
    )
    contradicts = Link.objects.for_space(space).filter(
        type=LinkType.CONTRADICTS, target__status=Status.ACTIVE, source__status=Status.ACTIVE
    )
    found = (
        Memory.objects.for_space(space)
        .active()
        .filter(
            Q(pk__in=replaced)
            | Exists(contradicts.filter(source=OuterRef("pk")))
            | Exists(contradicts.filter(target=OuterRef("pk")))
        )
        .order_by("-created_at", "-pk")
    )
    return list(_short(found)[: SHORT_LIST + 1])


def never_recalled(space: Space, now: datetime) -> list[Memory]:
    """Active memories older than a few days that no search has ever returned, oldest
    first: stored but of no use to the agents so far."""
    found = (
        Memory.objects.for_space(space)
        .active()
        .filter(access_count=0, created_at__lt=now - NEVER_RECALLED_AFTER)
        .order_by("created_at", "pk")
    )
    return list(_short(found)[: SHORT_LIST + 1])


def fading(space: Space, now: datetime) -> list[Memory]:
    """Active memories that were recalled once but not lately, whose MemoryBank
    retention has fallen below the forgetting threshold (so consolidation proposes to
    archive them), most faded first. Pinned memories and summaries never fade, as in
    apps.consolidation.services.forgetting; those never recalled are their own list."""
    found = (
        Memory.objects.for_space(space)
        .active()
        .filter(pinned=False, access_count__gt=0)
        .exclude(kind=Kind.SUMMARY)
        .annotate(
            # Time since the last recall per day of strength: t / S, as an interval.
            faded=ExpressionWrapper(
                (Value(now) - Coalesce("last_accessed_at", "created_at")) / F("strength"),
                output_field=DurationField(),
            )
        )
        .filter(faded__gt=timedelta(days=FADED_AFTER_STRENGTHS))
        .order_by("-faded", "pk")
    )
    rows = list(_short(found)[: SHORT_LIST + 1])
    for memory in rows:
        memory.retention_now = memory.retention(now)  # type: ignore[attr-defined]
    return rows


def marked_not_useful(space: Space) -> list[Memory]:
    """Active memories the agents marked not useful at least
    settings.RECALL_NOT_USEFUL_ATTENTION times, and more often than useful, most marked
    first, each with its counts and the queries it was not useful for: recalled again
    and again for questions it does not answer, so worth a rewrite, a link or archiving."""
    tallies = list(
        RecallFeedback.objects.for_space(space)
        .marked_not_useful(settings.RECALL_NOT_USEFUL_ATTENTION)
        .annotate(
            queries=ArrayAgg("recall__query", filter=Q(verdict=Verdict.NOT_USEFUL), distinct=True)
        )
        .order_by("-not_useful", "memory_id")[: SHORT_LIST + 1]
    )
    if not tallies:
        return []
    memories = {
        memory.pk: memory
        for memory in _short(
            Memory.objects.for_space(space).filter(pk__in=[t["memory_id"] for t in tallies])
        )
    }
    rows = []
    for tally in tallies:
        memory = memories[tally["memory_id"]]
        memory.not_useful = tally["not_useful"]  # type: ignore[attr-defined]
        memory.useful = tally["useful"]  # type: ignore[attr-defined]
        memory.not_useful_queries = [q for q in tally["queries"] if q]  # type: ignore[attr-defined]
        rows.append(memory)
    return rows


# ------------------------------------------------------------- agent activity


@dataclass(frozen=True)
class DayOfAgent:
    agent: str
    day: date
    writes: int
    recalls: int


def agent_activity(space: Space, now: datetime) -> list[DayOfAgent]:
    """Writes and recalls per agent (token or system job, not people) per day over
    the last ACTIVITY_WINDOW. A recall counts each memory a search returned."""
    rows = (
        AuditEvent.objects.for_space(space)
        .filter(created_at__gte=now - ACTIVITY_WINDOW, action__in=[*WRITES, RECALL])
        .exclude(actor_type=ActorType.USER)
        .annotate(day=TruncDate("created_at"))
        .values("actor_label", "day")
        .annotate(
            writes=Count("pk", filter=~Q(action=RECALL)),
            recalls=Count("pk", filter=Q(action=RECALL)),
        )
        .order_by("day", "actor_label")
    )
    return [
        DayOfAgent(row["actor_label"], row["day"], row["writes"], row["recalls"]) for row in rows
    ]


def recent_jobs(space: Space) -> list[Job]:
    return list(
        Job.objects.for_space(space)
        .defer("params", "error", "counts")
        .order_by("-created_at", "-pk")[:SHORT_LIST]
    )

"""Reads that leave a trace: the access log and the strength a recall adds, and the
feedback an agent gives on what a recall returned."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import F
from django.db.models.functions import Greatest
from django.utils import timezone

from apps.audit.actors import Actor
from apps.audit.services import record_events
from apps.memories.models import Memory
from apps.memories.services.errors import (
    InvalidFeedback,
    MemoryNotFound,
    NotInRecall,
    RecallNotFound,
)
from apps.memories.services.records import MemoryId
from apps.retrieval.models import Recall, RecallFeedback, Verdict
from apps.spaces.models import Space

# The query as the audit trail keeps it (the Recall row keeps all of it).
AUDITED_QUERY_CHARS = 500


@transaction.atomic
def record_recall(
    space: Space,
    actor: Actor,
    memory_ids: Sequence[MemoryId],
    *,
    at: datetime,
    query: str,
    mode: str,
    recall_id: MemoryId | None = None,
) -> int:
    """Note that these memories were returned by a search: the access log and the
    MemoryBank strength (S grows by one per recall). Reads write no version.
    `recall_id` names the search's Recall row, so the access log can show the
    feedback given on it."""
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
    extra = {"recall_id": str(recall_id)} if recall_id else {}
    record_events(
        space,
        actor,
        "memory.recall",
        [
            (
                "memory",
                memory_id,
                {"query": query[:AUDITED_QUERY_CHARS], "mode": mode, "rank": rank, **extra},
            )
            for rank, memory_id in enumerate(ids, start=1)
        ],
        at=at,
    )
    return updated


@dataclass
class FeedbackRecorded:
    recall: Recall
    marks: list[RecallFeedback]  # in the order the request named them
    strengths: dict[uuid.UUID, float]  # each marked memory's strength afterwards


def _memory_ids(values: Sequence[MemoryId], name: str) -> list[uuid.UUID]:
    ids: list[uuid.UUID] = []
    bad: list[str] = []
    for value in values:
        try:
            pk = value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
        except ValueError:
            bad.append(str(value)[:100])
            continue
        if pk not in ids:
            ids.append(pk)
    if bad:
        raise InvalidFeedback(f"{name} holds values that are not memory ids", details={name: bad})
    return ids


@transaction.atomic
def record_feedback(
    space: Space,
    actor: Actor,
    recall_id: MemoryId,
    *,
    useful: Sequence[MemoryId] = (),
    not_useful: Sequence[MemoryId] = (),
    note: str = "",
) -> FeedbackRecorded:
    """Mark hits of a recall useful or not useful, with an optional note for all of them.

    Every id must be a hit of that recall (else NotInRecall, and nothing is written).
    A hit marked again gets the new verdict and note (the audit log keeps every mark).
    A useful hit gains one strength, as a recall does (MemoryBank), on its first useful
    mark in this recall only: marking it useful again, or not useful and then useful,
    adds nothing more, and a later not-useful mark takes nothing back.
    """
    useful_ids = _memory_ids(useful, "useful")
    not_useful_ids = _memory_ids(not_useful, "not_useful")
    if not useful_ids and not not_useful_ids:
        raise InvalidFeedback(
            "name at least one hit as useful or not_useful",
            details={"useful": [], "not_useful": []},
        )
    both = [pk for pk in useful_ids if pk in not_useful_ids]
    if both:
        raise InvalidFeedback(
            "a hit cannot be both useful and not useful",
            details={"both": [str(pk) for pk in both]},
        )
    if len(note) > RecallFeedback.NOTE_MAX_LENGTH:
        raise InvalidFeedback(
            f"the note is longer than {RecallFeedback.NOTE_MAX_LENGTH} characters",
            details={"note": len(note)},
        )
    try:
        recall_pk = recall_id if isinstance(recall_id, uuid.UUID) else uuid.UUID(str(recall_id))
    except ValueError:
        raise RecallNotFound(
            f"no recall {recall_id}", details={"recall_id": str(recall_id)}
        ) from None
    # Locked, so that two requests marking the same recall at once cannot both count
    # a hit's first useful mark.
    recall = Recall.objects.for_space(space).select_for_update().filter(pk=recall_pk).first()
    if recall is None:
        raise RecallNotFound(f"no recall {recall_pk}", details={"recall_id": str(recall_pk)})
    verdicts = {pk: Verdict.USEFUL for pk in useful_ids} | {
        pk: Verdict.NOT_USEFUL for pk in not_useful_ids
    }
    hits = set(recall.memory_ids)
    strangers = [str(pk) for pk in verdicts if pk not in hits]
    if strangers:
        raise NotInRecall(
            f"{len(strangers)} of the memories named were not returned by this recall",
            details={"not_in_recall": strangers},
        )
    present = set(
        Memory.objects.for_space(space).filter(pk__in=list(verdicts)).values_list("pk", flat=True)
    )
    gone = [str(pk) for pk in verdicts if pk not in present]
    if gone:  # purged since the search
        raise MemoryNotFound(
            f"{len(gone)} of these memories no longer exist", details={"ids": gone}
        )

    now = timezone.now()
    earlier = {
        mark.memory_id: mark
        for mark in RecallFeedback.objects.for_space(space).filter(
            recall=recall, memory_id__in=list(verdicts)
        )
    }
    strengthen = [
        pk
        for pk, verdict in verdicts.items()
        if verdict == Verdict.USEFUL and not (pk in earlier and earlier[pk].strengthened)
    ]
    if strengthen:
        Memory.objects.for_space(space).filter(pk__in=strengthen).update(strength=F("strength") + 1)
    marks: list[RecallFeedback] = []
    changed: list[RecallFeedback] = []
    for pk, verdict in verdicts.items():
        mark = earlier.get(pk) or RecallFeedback(
            space=space, recall=recall, memory_id=pk, created_at=now
        )
        mark.verdict, mark.note, mark.updated_at = verdict, note, now
        mark.strengthened = mark.strengthened or pk in strengthen
        for name, value in actor.as_fields().items():
            setattr(mark, name, value)
        (changed if pk in earlier else marks).append(mark)
    RecallFeedback.objects.for_space(space).bulk_create(marks)
    if changed:
        RecallFeedback.objects.for_space(space).bulk_update(
            changed,
            ["verdict", "note", "updated_at", "strengthened", *actor.as_fields()],
        )
    record_events(
        space,
        actor,
        "memory.feedback",
        [
            (
                "memory",
                pk,
                {
                    "recall_id": str(recall.pk),
                    "verdict": verdict,
                    "query": recall.query[:AUDITED_QUERY_CHARS],
                    "note": note,
                    "strengthened": pk in strengthen,
                },
            )
            for pk, verdict in verdicts.items()
        ],
        at=now,
    )
    strengths = dict(
        Memory.objects.for_space(space).filter(pk__in=list(verdicts)).values_list("pk", "strength")
    )
    by_memory = {mark.memory_id: mark for mark in [*marks, *changed]}
    return FeedbackRecorded(
        recall=recall, marks=[by_memory[pk] for pk in verdicts], strengths=strengths
    )

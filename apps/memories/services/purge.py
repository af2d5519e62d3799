"""What purging a memory takes back besides its row: every copy of its words that
other rows hold. purge_memory (lifecycle) calls this, then deletes the row."""

from __future__ import annotations

from typing import Any

from django.contrib.admin.models import LogEntry
from django.db import transaction
from django.db.models import Q

from apps.audit.models import AuditEvent
from apps.audit.redaction import REDACTED, redact_events, redact_summary_key
from apps.memories.models import (
    Entity,
    Episode,
    Kind,
    Link,
    LinkType,
    Memory,
    MemoryVersion,
    Status,
)
from apps.memories.services.entities import forget_entities_of
from apps.memories.signals import memory_purging
from apps.retrieval.models import Verdict
from apps.retrieval.search import MODES
from apps.spaces.models import Space

# Values audit summaries hold that are this project's vocabulary, not anyone's words:
# they survive redaction so that a scrubbed event still reads "kind fact -> preference".
VOCABULARY = frozenset(
    [
        *Kind.values,
        *Status.values,
        *LinkType.values,
        *MemoryVersion.Action.values,
        *Entity.EntityKind.values,
        *Episode.Source.values,
        *MODES,
        *Verdict.values,
    ]
)

RECALL, FEEDBACK = "memory.recall", "memory.feedback"


@transaction.atomic
def scrub_everywhere(space: Space, memory: Memory) -> dict[str, Any]:
    """Take the memory's words out of every row that copied them, and return what was
    done, in counts, for the purge's audit event. The memory's own row, with its
    versions, links and mentions, goes after this, with the episodes it came from.

    - entities only it mentioned (their names are its words) and its mentions;
    - what other apps derived from it (memory_purging: word counts, proposals, stored
      API answers), each through its own app's public function;
    - the audit trail: the events about it, its episodes, its links and those entities,
      and every event naming it, keep action, actor, time, ids and numbers, and lose
      their reason and text values (a subject, tags, metadata keys, a session, a query);
      earlier purge events keep their reason, which is the purger's, not the memory's;
    - the query of every search that recalled it, in every memory's access log and
      feedback events: a search is worded to find what it found, and may quote it; and
      the notes of the feedback given on those searches (the Recall rows themselves
      are retrieval's, through memory_purging);
    - the admin's change log, whose entries name a memory by the start of its text.
    """
    pk = str(memory.pk)
    episodes = [str(e) for e in memory.source_episodes.values_list("pk", flat=True)]
    links = [
        str(link)
        for link in Link.objects.for_space(space)
        .filter(Q(source=memory) | Q(target=memory))
        .values_list("pk", flat=True)
    ]
    entities = [str(e) for e in forget_entities_of(space, [memory.pk])]
    memory_purging.send(sender=Memory, space=space, memory=memory)

    events = AuditEvent.objects.for_space(space)
    recalls = events.filter(action=RECALL, target_type="memory", target_id=pk)
    queries = [
        query
        for query in recalls.values_list("summary__query", flat=True).distinct()
        if query not in (None, "", REDACTED)
    ]
    recall_ids = [
        recall_id
        for recall_id in recalls.values_list("summary__recall_id", flat=True).distinct()
        if recall_id
    ]
    queries_redacted = redact_summary_key(
        space,
        events.filter(action__in=[RECALL, FEEDBACK], summary__query__in=queries),
        "query",
    )
    notes_redacted = redact_summary_key(
        space, events.filter(action=FEEDBACK, summary__recall_id__in=recall_ids), "note"
    )
    about = (
        Q(target_type="memory", target_id=pk)
        | Q(target_type="episode", target_id__in=episodes)
        | Q(target_type="link", target_id__in=links)
        | Q(target_type="entity", target_id__in=entities)
        | Q(summary__icontains=pk)
    )
    events_redacted = redact_events(
        space, events.filter(about).exclude(action="memory.purge"), keep=VOCABULARY
    )
    LogEntry.objects.filter(
        content_type__app_label="memories", object_id__in=[pk, *episodes, *entities]
    ).delete()
    return {
        "links_deleted": len(links),  # they go with the row
        "entities_deleted": len(entities),
        "events_redacted": events_redacted,
        "queries_redacted": queries_redacted,
        "notes_redacted": notes_redacted,
    }

"""Purge really removes content: after purging a memory its text is in no table of
the database, whatever had been derived from it (versions, episodes, word counts,
entities, proposals, summaries, stored API answers, the full-text index, the
embedding, the audit trail's summaries and the queries that recalled it)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.db import IntegrityError, connection, transaction
from rest_framework.test import APIClient

from apps.audit.models import AuditEvent
from apps.audit.redaction import REDACTED, redact_events
from apps.consolidation import entities
from apps.consolidation import services as consolidation
from apps.memories import services
from apps.memories.models import Entity, LinkType, Memory
from apps.retrieval import tasks
from apps.retrieval.lexical import refresh_lexicon
from apps.retrieval.models import LexemeFrequency, Recall, RecallFeedback
from apps.retrieval.search import search
from apps.spaces.models import ApiToken, Scope

# Column types whose values can hold words; everything else (numbers, times, vectors,
# booleans) cannot carry a copy of the text.
TEXT_TYPES = ("text", "character varying", "character", "json", "jsonb", "tsvector", "ARRAY")


def columns_holding(text: str) -> list[str]:
    """Every table.column of the public schema with a value holding `text` or one of
    its full-text lexemes, ignoring case; the columns are read from the catalogue so
    a table added later is scanned too."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tsvector_to_array(to_tsvector('english', %s)) || %s::text", [text, text]
        )
        (forms,) = cursor.fetchone()
        cursor.execute(
            "SELECT c.table_name, c.column_name FROM information_schema.columns c "
            "JOIN information_schema.tables t "
            "  ON t.table_schema = c.table_schema AND t.table_name = c.table_name "
            "WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE' "
            "  AND c.data_type = ANY(%s) "
            "ORDER BY c.table_name, c.column_name",
            [list(TEXT_TYPES)],
        )
        columns = cursor.fetchall()
        patterns = [f"%{form}%" for form in forms]
        found = []
        for table, column in columns:
            cursor.execute(
                f'SELECT 1 FROM public."{table}" WHERE "{column}"::text ILIKE ANY(%s) LIMIT 1',
                [patterns],
            )
            if cursor.fetchone():
                found.append(f"{table}.{column}")
    return found


@pytest.fixture
def marker() -> str:
    """A word found nowhere else, that the text parser keeps whole (letters and digits)."""
    return f"Zq7{uuid.uuid4().hex[:12]}"


def test_it_leaves_the_marker_in_no_column_of_any_table(
    space: Any, actor: Any, hashing_backend: Any, embed_now: Any, marker: str, monkeypatch: Any
) -> None:
    said = f"Maya said the vault code is {marker}; the Lisbon office opens at 9."
    _, raw = ApiToken.issue(
        space=space, name="agent", scopes=[Scope.MEMORIES_READ, Scope.MEMORIES_WRITE]
    )
    agent = APIClient()
    agent.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    # Written by an agent with an Idempotency-Key (its answer is stored for retries),
    # from a conversation turn (an episode) in a named session.
    turn = agent.post(
        "/api/v1/episodes",
        {
            "session": f"session-{marker}",
            "messages": [{"speaker": "Maya", "content": said, "metadata": {"tone": marker}}],
            "remember": True,
        },
        format="json",
        HTTP_IDEMPOTENCY_KEY="turn-1",
    )
    assert turn.status_code == 201, turn.content
    (memory,) = Memory.objects.for_space(space)
    # An edit of every free-text field, with a reason: the audit trail notes each.
    services.update_memory(
        space,
        actor,
        memory.pk,
        expected_version=1,
        reason=f"corrected after {marker}",
        content=memory.content + f" Noted by Zanzibar{marker}.",
        subject=f"Ines {marker}",
        agent=f"agent-{marker}",
        tags=[f"tag-{marker}"],
        metadata={f"key-{marker}": f"value-{marker}"},
    )
    memory.refresh_from_db()
    twin = services.create_memory(space, actor, content=memory.content)
    other = services.create_memory(space, actor, content="The Lisbon office has a red door.")
    services.link_memories(
        space, actor, memory.pk, other.pk, LinkType.RELATED_TO, metadata={"why": marker}
    )
    embed_now(space)
    refresh_lexicon(space.pk)
    entities.extract(space, actor)
    # The twin: a merge proposal quoting the text, turned down with a reason.
    (proposal,) = consolidation.propose_merges(space)
    consolidation.reject(proposal, actor, reason=f"keep both, {marker} matters")
    # The admin's change log names a memory by the start of its text.
    LogEntry.objects.log_actions(actor.user.pk, [memory], CHANGE, f"edited {marker}")
    summary = services.summarize_memories(
        space, actor, [memory.pk, other.pk], content=f"The vault code is {marker}."
    )
    # An agent's search, its recall row, and the worker's access log keep the query;
    # the agent's feedback on it keeps a note.
    monkeypatch.setattr(tasks.record_recall, "delay", tasks.record_recall)
    found = search(space, f"Lisbon vault {marker}", mode="hybrid", actor=actor)
    recalled = [hit.memory.pk for hit in found.hits]
    assert {memory.pk, other.pk} <= set(recalled)
    assert found.recall_id is not None
    services.record_feedback(
        space,
        actor,
        found.recall_id,
        useful=[other.pk],
        not_useful=[memory.pk],
        note=f"the {marker} code is wrong",
    )
    planted = set(columns_holding(marker))
    assert {
        "memories_memory.content",
        "memories_memory.subject",
        "memories_memory.agent",
        "memories_memory.session",
        "memories_memory.tags",
        "memories_memory.metadata",
        "memories_memory.search_vector",
        "memories_memoryversion.reason",
        "memories_episode.session",
        "memories_episode.metadata",
        "memories_link.metadata",
        "memories_entity.name",
        "memories_entity.normalized_name",
        "retrieval_lexemefrequency.lexeme",
        "consolidation_proposal.change",
        "api_idempotentrequest.response_body",
        "audit_auditevent.reason",
        "audit_auditevent.summary",
        "django_admin_log.object_repr",
        "retrieval_recall.query",
        "retrieval_recallfeedback.note",
    } <= planted
    counted = dict(LexemeFrequency.objects.for_space(space).values_list("lexeme", "documents"))
    assert counted["lisbon"] == 3

    services.purge_memory(space, actor, twin.pk, reason="duplicate of a leaked secret")
    # Whatever the first memory still holds stays: its episode, the name it mentions.
    assert "memories_episode.content" in columns_holding(marker)
    assert Entity.objects.for_space(space).filter(name=f"Zanzibar{marker}").exists()

    services.purge_memory(space, actor, memory.pk, reason="leaked secret")

    assert columns_holding(marker) == []
    remaining = set(Memory.objects.for_space(space).values_list("pk", flat=True))
    assert remaining == {other.pk}  # the summary that quoted it went too; the rest stays
    assert summary.pk not in remaining
    assert "memories_memory.content" in columns_holding("red door")  # the scan can see
    # Its words leave the counts: a shared word counts one memory fewer per purge.
    assert LexemeFrequency.objects.for_space(space).get(lexeme="lisbon").documents == 1
    # The trail still says what happened, by whom and why, without the text.
    events = AuditEvent.objects.for_space(space)
    purge = events.get(action="memory.purge", target_id=str(memory.pk))
    assert purge.actor_label == actor.label and purge.reason == "leaked secret"
    assert purge.summary["kind"] == "episodic" and purge.summary["versions_deleted"] == 2
    edit = events.get(action="memory.update", target_id=str(memory.pk))
    assert edit.summary["version"] == 2 and edit.reason == ""
    assert set(edit.summary["changed"]) == {"content", "subject", "agent", "tags", "metadata"}
    assert events.filter(action="memory.recall", target_id=str(memory.pk)).exists()
    # The search that found it is forgotten in the other memory's access log too.
    (also_found,) = events.filter(action="memory.recall", target_id=str(other.pk))
    assert also_found.summary == {
        "query": REDACTED,
        "mode": "hybrid",
        "rank": recalled.index(other.pk) + 1,
        "recall_id": str(found.recall_id),
    }
    # So is the feedback given on that search: the verdicts stay, the words go.
    (judged,) = events.filter(action="memory.feedback", target_id=str(other.pk))
    assert judged.summary["verdict"] == "useful"
    assert judged.summary["query"] == judged.summary["note"] == REDACTED
    recall = Recall.objects.for_space(space).get(pk=found.recall_id)
    assert recall.query == REDACTED and recall.query_vector is None
    assert recall.memory_ids == recalled
    assert RecallFeedback.objects.for_space(space).get(recall=recall).note == REDACTED


def test_it_keeps_an_entity_another_memory_still_mentions(space: Any, actor: Any) -> None:
    gone = services.create_memory(
        space, actor, content="Dinner with Tomás Reyes at Quinta Velha.", subject="Maya Okafor"
    )
    kept = services.create_memory(space, actor, content="In June we met Tomás Reyes again.")
    entities.extract(space, actor)

    services.purge_memory(space, actor, gone.pk, reason="asked to forget")

    names = set(Entity.objects.for_space(space).values_list("name", flat=True))
    assert names == {"Tomás Reyes"}
    tomas = Entity.objects.for_space(space).get(name="Tomás Reyes")
    assert list(tomas.memories.values_list("pk", flat=True)) == [kept.pk]
    purge = AuditEvent.objects.for_space(space).get(action="memory.purge")
    assert purge.summary["entities_deleted"] == 2


def test_a_redaction_may_rewrite_only_the_reason_and_summary_of_its_spaces_events(
    space: Any, outsider_space: Any, actor: Any, make_memory: Any
) -> None:
    make_memory()
    services.create_memory(outsider_space, actor, content="Somewhere else.")
    events = AuditEvent.objects.for_space(space)
    event = events.get(action="memory.create")
    outsider = AuditEvent.objects.for_space(outsider_space).get(action="memory.create")
    # Outside a redaction the trail is append-only, as before.
    with pytest.raises(IntegrityError), transaction.atomic():
        events.filter(pk=event.pk).update(reason="rewritten")
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT set_config('memoryweb.redacting_space', %s, true)", [str(space.pk)]
            )
        with pytest.raises(IntegrityError), transaction.atomic():
            events.filter(pk=event.pk).update(action="memory.delete")
        with pytest.raises(IntegrityError), transaction.atomic():
            AuditEvent.objects.for_space(outsider_space).filter(pk=outsider.pk).update(reason="x")
        with pytest.raises(IntegrityError), transaction.atomic():
            events.filter(pk=event.pk).delete()
        events.filter(pk=event.pk).update(reason="", summary={"chars": 1})

    event.refresh_from_db()
    assert (event.action, event.summary) == ("memory.create", {"chars": 1})
    outsider.refresh_from_db()
    assert outsider.summary["chars"] == len("Somewhere else.")


def test_it_redacts_text_but_keeps_ids_numbers_and_vocabulary(space: Any, actor: Any) -> None:
    memory = services.create_memory(space, actor, content="Tea.", subject="Maya", kind="fact")
    services.update_memory(
        space, actor, memory.pk, expected_version=1, reason="typo", kind="preference", pinned=True
    )
    edit = AuditEvent.objects.for_space(space).filter(action="memory.update")

    assert redact_events(space, edit, keep=["fact", "preference"]) == 1

    (event,) = edit
    assert event.reason == ""
    assert event.summary == {
        "version": 2,
        "changed": {
            "kind": {"from": "fact", "to": "preference"},
            "pinned": {"from": False, "to": True},
        },
    }
    create = AuditEvent.objects.for_space(space).filter(action="memory.create")
    redact_events(space, create)
    assert create.get().summary["subject"] == REDACTED

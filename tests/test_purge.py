"""Purge really removes content: after purging a memory its text is in no table of
the database, whatever had been derived from it (versions, episodes, word counts,
proposals, summaries, stored API answers, the full-text index, the embedding)."""

from __future__ import annotations

from typing import Any

from django.db import connection
from rest_framework.test import APIClient

from apps.consolidation import entities
from apps.consolidation import services as consolidation
from apps.memories import services
from apps.memories.models import Memory
from apps.retrieval.lexical import refresh_lexicon
from apps.retrieval.search import search
from apps.spaces.models import ApiToken, Scope

SECRET = "zqvault7731"
SAID = f"Maya said the vault code is {SECRET}; the Lisbon office opens at 9."


def tables_holding(text: str) -> list[str]:
    """Every table of the database with a row whose text form contains `text`."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT quote_ident(table_schema) || '.' || quote_ident(table_name) "
            "FROM information_schema.tables "
            "WHERE table_type = 'BASE TABLE' AND table_schema NOT IN "
            "('pg_catalog', 'information_schema')"
        )
        tables = [name for (name,) in cursor.fetchall()]
        found = []
        for table in tables:
            cursor.execute(
                f"SELECT 1 FROM {table} AS t WHERE t::text ILIKE %s LIMIT 1", [f"%{text}%"]
            )
            if cursor.fetchone():
                found.append(table)
    return found


def test_it_leaves_the_text_in_no_table(
    space: Any, actor: Any, hashing_backend: Any, embed_now: Any
) -> None:
    _, raw = ApiToken.issue(
        space=space, name="agent", scopes=[Scope.MEMORIES_READ, Scope.MEMORIES_WRITE]
    )
    agent = APIClient()
    agent.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    # Written by an agent with an Idempotency-Key (its answer is stored for retries),
    # from a conversation turn (an episode), then edited (a second version).
    said = agent.post(
        "/api/v1/episodes",
        {
            "session": "s1",
            "messages": [
                {
                    "speaker": "Maya",
                    "content": SAID,
                }
            ],
            "remember": True,
        },
        format="json",
        HTTP_IDEMPOTENCY_KEY="turn-1",
    )
    assert said.status_code == 201, said.content
    (memory,) = Memory.objects.for_space(space)
    services.update_memory(
        space, actor, memory.pk, expected_version=1, content=memory.content + " Noted."
    )
    twin = services.create_memory(
        space,
        actor,
        content=SAID,
    )
    other = services.create_memory(space, actor, content="The Lisbon office has a red door.")
    embed_now(space)
    refresh_lexicon(space.pk)
    entities.extract(space, actor)
    consolidation.propose_merges(space)  # the twin: a merge proposal quoting the text
    summary = services.summarize_memories(
        space, actor, [memory.pk, other.pk], content=f"The vault code is {SECRET}."
    )
    search(space, "vault code", mode="text", record_access=False)
    services.purge_memory(space, actor, twin.pk, reason="duplicate of a leaked secret")
    assert "public.memories_episode" in tables_holding(SECRET)  # still held by the first

    services.purge_memory(space, actor, memory.pk, reason="leaked secret")

    assert tables_holding(SECRET) == []
    remaining = set(Memory.objects.for_space(space).values_list("pk", flat=True))
    assert remaining == {other.pk}  # the summary that quoted it went too; the rest stays
    assert summary.pk not in remaining
    assert tables_holding("Lisbon office has a red door")  # the check can see text

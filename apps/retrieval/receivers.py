from __future__ import annotations

from typing import Any

from django.db import connection
from django.dispatch import receiver

from apps.memories.signals import memory_purging


@receiver(memory_purging, dispatch_uid="retrieval.forget_purged_words")
def forget_purged_words(sender: Any, space: Any, memory: Any, **kwargs: Any) -> None:
    """The purged memory's words leave BM25's counts; a word only it held is gone."""
    with connection.cursor() as cursor:
        # Counts lag the memories (recounted in the background), so a word may be
        # counted for fewer memories than hold it: never below zero.
        cursor.execute(
            "SELECT coalesce(array_agg(DISTINCT word.lexeme), '{}') FROM memories_memory m "
            "CROSS JOIN LATERAL unnest(m.search_vector) AS word WHERE m.id = %s",
            [memory.pk],
        )
        (words,) = cursor.fetchone()
        cursor.execute(
            "DELETE FROM retrieval_lexemefrequency "
            "WHERE space_id = %s AND lexeme = ANY(%s) AND documents <= 1",
            [space.pk, words],
        )
        cursor.execute(
            "UPDATE retrieval_lexemefrequency SET documents = documents - 1 "
            "WHERE space_id = %s AND lexeme = ANY(%s)",
            [space.pk, words],
        )

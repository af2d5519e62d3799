from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from apps.memories.signals import memory_purging
from apps.retrieval.lexical import forget_words_of


@receiver(memory_purging, dispatch_uid="retrieval.forget_purged_words")
def forget_purged_words(sender: Any, space: Any, memory: Any, **kwargs: Any) -> None:
    """The purged memory's words leave BM25's counts."""
    forget_words_of(space.pk, memory.pk)

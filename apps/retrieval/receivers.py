from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from apps.audit.redaction import REDACTED
from apps.memories.signals import memory_purging, text_redacting
from apps.retrieval.lexical import forget_redacted_words, forget_words_of
from apps.retrieval.models import Recall


@receiver(memory_purging, dispatch_uid="retrieval.forget_purged_words")
def forget_purged_words(sender: Any, space: Any, memory: Any, **kwargs: Any) -> None:
    """The purged memory's words leave BM25's counts."""
    forget_words_of(space.pk, memory.pk)


@receiver(memory_purging, dispatch_uid="retrieval.forget_purged_recalls")
def forget_purged_recalls(sender: Any, space: Any, memory: Any, **kwargs: Any) -> None:
    """The searches that found the purged memory forget their words."""
    Recall.forget_words_about(space.pk, memory.pk, REDACTED)


@receiver(text_redacting, dispatch_uid="retrieval.scrub_redacted_recalls")
def scrub_redacted_recalls(
    sender: Any, space: Any, replacements: dict[str, str], **kwargs: Any
) -> None:
    """The searches that quoted a redacted text, and the notes given on them, lose it."""
    Recall.scrub_words(space.pk, replacements)


@receiver(text_redacting, dispatch_uid="retrieval.forget_redacted_words")
def forget_redacted_lexemes(
    sender: Any, space: Any, replacements: dict[str, str], **kwargs: Any
) -> None:
    """The redacted words that no memory holds any more leave BM25's counts."""
    forget_redacted_words(space.pk, replacements)

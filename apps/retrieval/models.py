"""Word statistics of a space's memories, for BM25's inverse document frequency.

Counting how many memories hold a word at query time costs a scan of the word's
whole posting list; for common words in a large space that was most of a text
search's time. These tables hold the counts, recomputed in the background when the
space has changed enough to move them.
"""

from __future__ import annotations

from django.db import models

from apps.spaces.models import Space
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

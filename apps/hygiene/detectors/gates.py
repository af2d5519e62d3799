"""Cheap checks that let a detector skip a memory before its regular expressions run.

Python's `re` tries every branch of a large case-insensitive alternation at every
position of the text; a substring test over the lower-cased text is a hundred times
cheaper. Each gate lists words that every match of its detector must contain, so a
gate that says no never loses a finding.
"""

from __future__ import annotations

import re
from functools import lru_cache

# A secret in a vendor format, a JWT or a URL is one long run of token characters.
_LONG_TOKEN = re.compile(r"[\w\-.+/:=~]{20,}")


@lru_cache(maxsize=8)
def lowered(text: str) -> str:
    return text.lower()


def mentions(text: str, words: tuple[str, ...]) -> bool:
    """True when the lower-cased `text` contains one of `words` (given in lower case)."""
    low = lowered(text)
    return any(word in low for word in words)


def long_tokens(text: str) -> list[tuple[int, int]]:
    """Spans of runs of token characters at least 20 long."""
    return [match.span() for match in _LONG_TOKEN.finditer(text)]


class PhraseSet:
    """Patterns, each with the words (lower case) that every one of its matches
    contains. One scan of the text for all the words tells which patterns can match."""

    def __init__(self, rules: list[tuple[tuple[str, ...], re.Pattern[str]]]) -> None:
        self.rules = rules
        # Substring tests, not one alternation: Python's `re` tries each word at each
        # position, which for some eighty words costs five times more.
        self._words = tuple({word for group, _ in rules for word in group})

    def candidates(self, text: str) -> list[re.Pattern[str]]:
        """The patterns whose words appear in `text`."""
        low = lowered(text)
        found = {word for word in self._words if word in low}
        if not found:
            return []
        return [pattern for group, pattern in self.rules if not found.isdisjoint(group)]

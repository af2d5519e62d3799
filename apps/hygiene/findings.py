"""What a detector reports: one typed span of a memory's text."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Category = Literal["secret", "pii", "injection"]
CATEGORIES: tuple[Category, ...] = ("secret", "pii", "injection")


@dataclass(frozen=True)
class Finding:
    """`text[start:end]` is the flagged span: code-point offsets, end exclusive.

    `type` uses the names of shared/datasets/hygiene (aws_key, email, override, ...);
    `detector` names the rule or library check that fired, for curators and tests.
    """

    category: Category
    type: str
    start: int
    end: int
    detector: str = ""
    confidence: float = 1.0

    def span(self, text: str) -> str:
        return text[self.start : self.end]

"""Pair judgement for consolidation: merge, supersede or neither, without a model
beyond the embeddings (see verdict.py)."""

from apps.consolidation.judging.verdict import (
    MERGE,
    SUPERSEDE,
    Statement,
    Verdict,
    judge,
    relatives_named,
)

__all__ = ["MERGE", "SUPERSEDE", "Statement", "Verdict", "judge", "relatives_named"]

"""What every operation shares: the proposal record, its errors and the vectors
it compares."""

import re
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import numpy as np
from django.db import IntegrityError, transaction

from apps.audit.actors import Actor
from apps.consolidation.models import Proposal
from apps.maps.services import load_vectors
from apps.spaces.models import Space

BLOCK = 2048  # rows per block of the similarity matrix
JOB_ACTOR = Actor.system("consolidation")
_NOT_WORDS = re.compile(r"[^\w]+")


class ProposalError(ValueError):
    def __init__(self, message: str, status: int = 409) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass
class Report:
    proposed: dict[str, int] = field(default_factory=dict)
    applied: dict[str, int] = field(default_factory=dict)
    rechecked: dict[str, int] = field(default_factory=dict)


def normalized(text: str) -> str:
    return " ".join(_NOT_WORDS.sub(" ", text.casefold()).split())


def unit_vectors(space: Space, wanted: set[str]) -> tuple[list[str], np.ndarray]:
    """(ids, unit-length vectors) of the `wanted` memories that have an embedding."""
    ids, vectors = load_vectors(space)
    keep = [i for i, pk in enumerate(ids) if pk in wanted]
    chosen = vectors[keep] if keep else np.zeros((0, 0), dtype=np.float32)
    norms = np.maximum(np.linalg.norm(chosen, axis=1, keepdims=True), 1e-12) if keep else 1.0
    return [ids[i] for i in keep], chosen / norms


def propose(
    space: Space,
    operation: str,
    members: list[str],
    versions: list[int],
    change: dict[str, Any],
    evidence: dict[str, Any],
    score: float,
    fingerprint: str | None = None,
) -> Proposal | None:
    """Store a proposal unless the same one exists (in any state): None then.

    The fingerprint defaults to the operation and the (unordered) memories; an
    operation whose identity is not its memories (an entity's name) passes its own.
    """
    fingerprint = fingerprint or Proposal.fingerprint_of(operation, members)
    try:
        with transaction.atomic():
            return Proposal.objects.for_space(space).create(
                space=space,
                operation=operation,
                memory_ids=[UUID(m) for m in members],
                memory_versions=versions,
                fingerprint=fingerprint,
                change=change,
                evidence=evidence,
                score=score,
            )
    except IntegrityError:
        return None  # proposed before: pending, applied or rejected, it is not repeated


@dataclass
class Recheck:
    """An operation's judgement of a proposal against its memories' current versions:
    whether it still holds, and the change, evidence and score it would now have."""

    holds: bool
    change: dict[str, Any]
    evidence: dict[str, Any]
    score: float
    reason: str

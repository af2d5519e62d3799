"""Keeping the review queue alive: a proposal whose memories changed since it was made
is judged again, by its own operation, against the memories as they are now.

It goes back to pending with fresh evidence when it still holds, and is retired when
it does not; either way its card says what changed and what the re-check found. A
proposal that cannot be judged (an operation without a re-check, an embedding backend
that failed) stays stale, and says why it is stale.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np
from django.db import transaction
from django.utils import timezone

from apps.audit.actors import Actor
from apps.audit.services import record_event
from apps.consolidation.models import Operation, Proposal
from apps.consolidation.services.proposals import JOB_ACTOR, Recheck
from apps.memories.models import Memory, MemoryVersion
from apps.spaces.models import Space

LABEL_CHARS = 40  # of a memory's text, to name it on a card

# What a version's action did to a memory, as a card says it.
_DONE: dict[str, str] = {
    MemoryVersion.Action.UPDATE: "edited",
    MemoryVersion.Action.ARCHIVE: "archived",
    MemoryVersion.Action.RESTORE: "restored",
    MemoryVersion.Action.DELETE: "deleted",
    MemoryVersion.Action.SUPERSEDE: "superseded",
    MemoryVersion.Action.MERGE: "merged into another memory",
    MemoryVersion.Action.REVERT: "reverted to an earlier version",
}
# Fields whose change a card names; status is said by the actions.
_NAMED_FIELDS = [name for name in Memory.VERSIONED_FIELDS if name != "status"]


def label(content: str) -> str:
    """A memory named by the start of its text, cut at a word: “Maya runs every…”."""
    text = " ".join(content.split())
    if len(text) > LABEL_CHARS:
        text = text[: LABEL_CHARS + 1].rsplit(" ", 1)[0].rstrip(" ,;:") + "…"
    return f"“{text}”"


def _joined(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def staleness(space: Space, proposal: Proposal) -> str:
    """What happened to the proposal's memories since it was proposed, in words, from
    their version rows: 'Memory “Maya runs…” was edited (v2 → v3: content changed)'.
    Empty when every memory is still at the version proposed."""
    expected = dict(zip(proposal.memory_ids, proposal.memory_versions, strict=False))
    current = {
        memory.pk: memory
        for memory in Memory.objects.for_space(space)
        .filter(pk__in=proposal.memory_ids)
        .only("pk", "version", "content")
    }
    rows: dict[Any, list[MemoryVersion]] = {}
    for row in (
        MemoryVersion.objects.for_space(space)
        .filter(memory_id__in=list(current), version__gte=min(proposal.memory_versions, default=1))
        .order_by("memory_id", "version")
    ):
        rows.setdefault(row.memory_id, []).append(row)
    said = []
    for pk in proposal.memory_ids:
        was = expected.get(pk)
        memory = current.get(pk)
        if memory is None:
            said.append(f"Memory {str(pk)[:8]} no longer exists")
            continue
        if was is None or memory.version == was:
            continue
        history = rows.get(pk, [])
        before = next((row for row in history if row.version == was), None)
        since = [row for row in history if was < row.version <= memory.version]
        name = label(before.content if before else memory.content)
        done = list(dict.fromkeys(_DONE.get(row.action, row.action) for row in since))
        changed = []
        if before is not None and since:
            after = since[-1].snapshot()
            changed = [f for f in _NAMED_FIELDS if before.snapshot()[f] != after[f]]
        detail = f"v{was} → v{memory.version}"
        if changed:
            detail += f": {_joined(changed)} changed"
        said.append(f"Memory {name} was {_joined(done or ['changed'])} ({detail})")
    return "; ".join(said)


def current_versions(space: Space, memory_ids: list[Any]) -> list[int]:
    """The memories' versions now, in the proposal's order (0 for one that is gone)."""
    now = dict(
        Memory.objects.for_space(space).filter(pk__in=memory_ids).values_list("pk", "version")
    )
    return [now.get(pk, 0) for pk in memory_ids]


def current_vectors(space: Space, memory_ids: list[str]) -> dict[str, np.ndarray]:
    """Unit vectors of these memories' current text. A memory edited since its last
    embedding has none stored until the embedding job runs: its text is embedded here,
    so that a re-check judges what the memory says now (and stores nothing)."""
    from apps.retrieval.embedding import get_backend

    vectors: dict[str, np.ndarray] = {}
    missing: dict[str, str] = {}
    for memory_id, embedding, content in (
        Memory.objects.for_space(space)
        .filter(pk__in=memory_ids)
        .values_list("pk", "embedding", "content")
    ):
        if embedding is None:
            missing[str(memory_id)] = content
        else:
            vectors[str(memory_id)] = np.asarray(embedding, dtype=np.float32)
    if missing:
        fresh = get_backend().embed(list(missing.values()))
        for pk, vector in zip(missing, fresh, strict=True):
            vectors[pk] = np.asarray(vector, dtype=np.float32)
    return {pk: v / max(float(np.linalg.norm(v)), 1e-12) for pk, v in vectors.items()}


def _judge_of(operation: str) -> Callable[[Space, Proposal], Recheck | None] | None:
    # Imported when called: the operation modules use this module's helpers.
    from apps.consolidation.services import (
        forgetting,
        links,
        merges,
        summaries,
        supersessions,
    )

    modules: dict[str, ModuleType] = {
        Operation.ARCHIVE: forgetting,
        Operation.LINK: links,
        Operation.MERGE: merges,
        Operation.SUMMARY: summaries,
        Operation.SUPERSEDE: supersessions,
    }
    module = modules.get(operation)
    return getattr(module, "recheck", None) if module is not None else None


def recheck_proposal(proposal: Proposal, actor: Actor = JOB_ACTOR) -> Proposal:
    """Judge a stale proposal (or a pending one whose memories changed since) again.

    Still holds: pending, with fresh change, evidence, score and versions. No longer
    holds: retired. Cannot be judged: stale. The reason says which and why, and a
    `proposal.recheck` event records it. A pending proposal whose memories are as
    proposed, and any decided one, is left as it is.
    """
    if proposal.operation != Operation.ARCHIVE and _judge_of(proposal.operation):
        from apps.retrieval.embedding import get_backend

        # The judges compare meanings: a model loads now, not while the row is locked.
        get_backend().prepare()
    with transaction.atomic():
        locked = (
            Proposal.objects.for_space(proposal.space_id)
            .select_for_update()
            .select_related("space")
            .get(pk=proposal.pk)
        )
        if locked.status not in (Proposal.Status.PENDING, Proposal.Status.STALE):
            return locked
        space = locked.space
        what = staleness(space, locked)
        if locked.status == Proposal.Status.PENDING and not what:
            return locked  # as proposed: nothing to re-check
        judge = _judge_of(locked.operation)
        verdict = None
        if judge is not None:
            from apps.retrieval.embedding import EmbeddingError

            try:
                verdict = judge(space, locked)
            except EmbeddingError as exc:
                what = f"{what or 'Its memories changed'}; not re-checked yet ({exc})"
        before = locked.status
        after = "re-checked after " + what[:1].lower() + what[1:] if what else "re-checked"
        if verdict is None:
            if before == Proposal.Status.PENDING:
                return locked  # this operation cannot judge it: approving it will say
            reason = what or "its memories changed since it was proposed"
            if locked.status_reason == reason:
                return locked
            locked.status_reason = reason
            locked.save(update_fields=["status_reason"])
        elif verdict.holds:
            locked.status = Proposal.Status.PENDING
            locked.change = verdict.change
            locked.evidence = verdict.evidence
            locked.score = verdict.score
            locked.memory_versions = current_versions(space, locked.memory_ids)
            locked.status_reason = f"{after}: still holds"
            locked.decided_at = None
            locked.decided_by = ""
            locked.save(
                update_fields=[
                    "status",
                    "change",
                    "evidence",
                    "score",
                    "memory_versions",
                    "status_reason",
                    "decided_at",
                    "decided_by",
                ]
            )
        else:
            locked.status = Proposal.Status.RETIRED
            locked.status_reason = f"{after}: {verdict.reason}"
            locked.decided_at = timezone.now()
            locked.decided_by = actor.label
            locked.save(update_fields=["status", "status_reason", "decided_at", "decided_by"])
        record_event(
            space,
            actor,
            "proposal.recheck",
            target_type="proposal",
            target_id=locked.pk,
            # The reason quotes memories' text: redacted with them if they are purged.
            reason=locked.status_reason,
            summary={"operation": locked.operation, "from": before, "to": locked.status},
        )
    return locked


def changed_since_proposed(space: Space) -> list[Proposal]:
    """The space's stale proposals, and its pending ones whose memories changed since."""
    pending = list(
        Proposal.objects.for_space(space)
        .filter(status=Proposal.Status.PENDING)
        .only(
            "pk",
            "space_id",
            "operation",
            "memory_ids",
            "memory_versions",
            "status",
            "status_reason",
        )
    )
    wanted = {pk for proposal in pending for pk in proposal.memory_ids}
    now = dict(Memory.objects.for_space(space).filter(pk__in=wanted).values_list("pk", "version"))
    moved = [
        proposal
        for proposal in pending
        if any(
            now.get(pk) != version
            for pk, version in zip(proposal.memory_ids, proposal.memory_versions, strict=False)
        )
    ]
    stale = list(Proposal.objects.for_space(space).filter(status=Proposal.Status.STALE))
    return sorted([*stale, *moved], key=lambda proposal: proposal.pk)


def recheck_stale(space: Space, actor: Actor = JOB_ACTOR) -> dict[str, int]:
    """Re-check every proposal of the space whose memories changed since it was made.
    Returns how many it changed, and how many of those ended pending, retired or stale."""
    counts = {"rechecked": 0, "pending": 0, "retired": 0, "stale": 0}
    for proposal in changed_since_proposed(space):
        before = (proposal.status, proposal.status_reason)
        decided = recheck_proposal(proposal, actor)
        if (decided.status, decided.status_reason) == before:
            continue  # one this run could not judge, as the last run left it
        counts["rechecked"] += 1
        counts[decided.status] += 1
    return counts

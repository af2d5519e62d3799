"""Consolidation ("sleep time"): find what should change, propose it, apply what a
person approves or the space's policy allows, always through the domain layer.

Operations so far: near-duplicate merges (cosine similarity of the embeddings, or the
same text once case, spacing and punctuation are ignored) and forgetting (MemoryBank
retention R = exp(-t/S) below a threshold proposes archiving; pinned memories and
summaries never fade). Every operation is idempotent: a change already proposed, in
any state, is not proposed again.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import numpy as np
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.audit.actors import Actor
from apps.audit.models import AuditEvent
from apps.audit.redaction import redact_events
from apps.audit.services import record_event
from apps.consolidation import entities
from apps.consolidation.models import Operation, Proposal
from apps.maps.services import load_vectors
from apps.memories import services as memories
from apps.memories.models import Kind, Link, LinkType, Memory, Status
from apps.spaces.models import Space

DUPLICATE_SIMILARITY = 0.95
LINK_SIMILARITY = 0.75
SUPERSEDE_SIMILARITY = 0.7
SUPERSEDE_NEIGHBOURS = 5
# What happened stays true when something else happens later: only statements of how
# things are can be superseded, never episodes (nor summaries, which follow members).
SUPERSEDABLE_KINDS = (Kind.FACT, Kind.PREFERENCE, Kind.PROCEDURAL)
SUMMARY_MIN_CLUSTER = 3
SUMMARY_DISTANCE = 0.75  # average cosine distance within which memories share a topic
SUMMARY_SENTENCES = 3
SUMMARY_MAX_MEMBERS = 5000
LINK_NEIGHBOURS = 5
FORGET_BELOW = 0.05  # retention
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


def auto_applied(space: Space) -> set[str]:
    """The operations this space applies without review (its settings' "auto_apply")."""
    return set(space.setting("consolidation", "auto_apply"))


def _normalized(text: str) -> str:
    return " ".join(_NOT_WORDS.sub(" ", text.casefold()).split())


def _unit_vectors(space: Space, wanted: set[str]) -> tuple[list[str], np.ndarray]:
    """(ids, unit-length vectors) of the `wanted` memories that have an embedding."""
    ids, vectors = load_vectors(space)
    keep = [i for i, pk in enumerate(ids) if pk in wanted]
    chosen = vectors[keep] if keep else np.zeros((0, 0), dtype=np.float32)
    norms = np.maximum(np.linalg.norm(chosen, axis=1, keepdims=True), 1e-12) if keep else 1.0
    return [ids[i] for i in keep], chosen / norms


@dataclass
class DuplicateGroup:
    members: list[str]
    versions: list[int]
    longest: str  # the most complete text of the group
    evidence: dict[str, Any]


def duplicate_groups(space: Space, threshold: float = DUPLICATE_SIMILARITY) -> list[DuplicateGroup]:
    """Groups of active memories that say the same thing, with their evidence."""
    active = {
        str(pk): (content, version)
        for pk, content, version in Memory.objects.for_space(space)
        .active()
        .values_list("pk", "content", "version")
    }
    parent = {pk: pk for pk in active}

    def root(pk: str) -> str:
        while parent[pk] != pk:
            parent[pk] = parent[parent[pk]]
            pk = parent[pk]
        return pk

    best: dict[frozenset[str], float] = {}
    by_text: dict[str, str] = {}
    for pk, (content, _) in active.items():
        key = _normalized(content)
        if key in by_text:
            parent[root(pk)] = root(by_text[key])
            best[frozenset((pk, by_text[key]))] = 1.0
        else:
            by_text[key] = pk
    ids, unit = _unit_vectors(space, set(active))
    if len(ids) > 1:
        for start in range(0, len(ids), BLOCK):
            similar = unit[start : start + BLOCK] @ unit.T
            rows, cols = np.nonzero(similar >= threshold)
            for row, col in zip(rows.tolist(), cols.tolist(), strict=True):
                a, b = start + row, col
                # Close in meaning but not in value ("on the 11th" / "on the 18th"): a
                # supersession candidate, never a merge that would lose the difference.
                if a < b and not differing_values(active[ids[a]][0], active[ids[b]][0]):
                    parent[root(ids[a])] = root(ids[b])
                    pair = frozenset((ids[a], ids[b]))
                    best[pair] = max(best.get(pair, 0.0), float(similar[row, col]))
    groups: dict[str, list[str]] = {}
    for pk in active:
        groups.setdefault(root(pk), []).append(pk)
    found = []
    for members in groups.values():
        if len(members) < 2:
            continue
        members.sort()
        pairs = {pair: s for pair, s in best.items() if pair <= set(members)}
        evidence = {
            "similarities": [
                {"a": a, "b": b, "similarity": round(s, 4)}
                for (a, b), s in ((tuple(sorted(p)), s) for p, s in pairs.items())
            ],
            "same_text": len({_normalized(active[m][0]) for m in members}) == 1,
        }
        found.append(
            DuplicateGroup(
                members,
                [active[m][1] for m in members],
                max((active[m][0] for m in members), key=len),
                evidence,
            )
        )
    return found


def _propose(
    space: Space,
    operation: str,
    members: list[str],
    versions: list[int],
    change: dict[str, Any],
    evidence: dict[str, Any],
    score: float,
) -> Proposal | None:
    """Store a proposal unless the same one exists (in any state): None then."""
    fingerprint = Proposal.fingerprint_of(operation, members)
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


def propose_merges(space: Space, threshold: float = DUPLICATE_SIMILARITY) -> list[Proposal]:
    made = []
    for group in duplicate_groups(space, threshold):
        similarities = [pair["similarity"] for pair in group.evidence["similarities"]] or [1.0]
        proposal = _propose(
            space,
            Operation.MERGE,
            group.members,
            group.versions,
            {"content": group.longest},
            group.evidence,
            score=round(sum(similarities) / len(similarities), 4),
        )
        if proposal:
            made.append(proposal)
    return made


def propose_links(
    space: Space, k: int = LINK_NEIGHBOURS, threshold: float = LINK_SIMILARITY
) -> list[Proposal]:
    """For each active memory not yet considered, its `k` nearest active memories at or
    above `threshold` (A-MEM's note links), as one `related_to` proposal per memory.
    Only memories without a link proposal are looked at: new memories, incrementally."""
    versions = {
        str(pk): version
        for pk, version in Memory.objects.for_space(space).active().values_list("pk", "version")
    }
    considered = {
        str(ids[0])
        for ids in Proposal.objects.for_space(space)
        .filter(operation=Operation.LINK)
        .values_list("memory_ids", flat=True)
    }
    ids, unit = _unit_vectors(space, set(versions))
    fresh = [i for i, pk in enumerate(ids) if pk not in considered]
    linked = set(
        Link.objects.for_space(space)
        .filter(type=LinkType.RELATED_TO)
        .values_list("source_id", "target_id")
    )
    made = []
    for start in range(0, len(fresh), BLOCK):
        rows = fresh[start : start + BLOCK]
        similar = unit[rows] @ unit.T
        similar[np.arange(len(rows)), rows] = -1.0  # not itself
        # The k best of each row without sorting the whole row (100k columns).
        best = np.argpartition(-similar, min(k, similar.shape[1] - 1), axis=1)[:, :k]
        for offset, row in enumerate(rows):
            nearest = best[offset][np.argsort(-similar[offset, best[offset]])]
            neighbours = [
                (ids[j], round(float(similar[offset, j]), 4))
                for j in nearest
                if similar[offset, j] >= threshold
                and (UUID(ids[row]), UUID(ids[j])) not in linked
                and (UUID(ids[j]), UUID(ids[row])) not in linked
            ]
            if not neighbours:
                continue
            proposal = _propose(
                space,
                Operation.LINK,
                [ids[row]],
                [versions[ids[row]]],
                {"related_to": [pk for pk, _ in neighbours]},
                {"similarities": dict(neighbours)},
                score=max(similarity for _, similarity in neighbours),
            )
            if proposal:
                made.append(proposal)
    return made


# Whole numbers only: the digits inside a name or code ("w123", "B2") are not values.
_NUMBER = re.compile(r"\b\d+(?:[.,:]\d+)*\b")
_NEGATION = re.compile(r"\b(?:not|no|never|none|nobody|nothing|n't|cannot|stopped|quit)\b|n't\b")
_NAME = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-ZÀ-Ý][\w-]+")


def differing_values(older: str, newer: str) -> dict[str, Any]:
    """What two similar statements disagree on: numbers (and dates, times), negation,
    or the names they mention. Empty when they agree on all three."""
    found: dict[str, Any] = {}
    old_numbers, new_numbers = _NUMBER.findall(older), _NUMBER.findall(newer)
    if old_numbers != new_numbers and (old_numbers or new_numbers):
        found["numbers"] = {"before": old_numbers, "after": new_numbers}
    if bool(_NEGATION.search(older.casefold())) != bool(_NEGATION.search(newer.casefold())):
        found["negation"] = {"before": bool(_NEGATION.search(older.casefold()))}
    old_names, new_names = set(_NAME.findall(older)), set(_NAME.findall(newer))
    if old_names != new_names and old_names and new_names:
        found["names"] = {
            "before": sorted(old_names - new_names),
            "after": sorted(new_names - old_names),
        }
    return found


def propose_supersessions(space: Space, low: float = SUPERSEDE_SIMILARITY) -> list[Proposal]:
    """Pairs of active statements (not episodes) about the same subject that say nearly
    the same thing (similarity at least `low`) and differ in a value, the later one (by when it
    happened, else when it was recorded) replacing the earlier."""
    rows = {
        str(pk): (subject, content, version, occurred or created)
        for pk, subject, content, version, occurred, created in Memory.objects.for_space(space)
        .active()
        .filter(kind__in=SUPERSEDABLE_KINDS)
        .exclude(subject="")
        .values_list("pk", "subject", "content", "version", "occurred_at", "created_at")
    }
    ids, unit = _unit_vectors(space, set(rows))
    made = []
    for start in range(0, len(ids), BLOCK):
        similar = unit[start : start + BLOCK] @ unit.T
        block = np.arange(similar.shape[0])
        similar[block, start + block] = -1.0  # not itself
        # Each memory's few nearest only: a dense topic would otherwise pair everyone.
        nearest = np.argpartition(
            -similar, min(SUPERSEDE_NEIGHBOURS, similar.shape[1] - 1), axis=1
        )[:, :SUPERSEDE_NEIGHBOURS]
        pairs = [
            (row, int(col))
            for row in block.tolist()
            for col in nearest[row]
            if similar[row, col] >= low
        ]
        for row, col in pairs:
            a, b = ids[start + row], ids[col]
            if rows[a][0] != rows[b][0]:
                continue  # only the same subject
            older, newer = sorted((a, b), key=lambda pk: (rows[pk][3], pk))
            values = differing_values(rows[older][1], rows[newer][1])
            if not values:
                continue
            proposal = _propose(
                space,
                Operation.SUPERSEDE,
                [older, newer],
                [rows[older][2], rows[newer][2]],
                {"superseded": older, "by": newer},
                {"similarity": round(float(similar[row, col]), 4), "differs": values},
                score=round(float(similar[row, col]), 4),
            )
            if proposal:
                made.append(proposal)
    return made


def _central_sentences(texts: list[str], unit: np.ndarray, count: int) -> str:
    """An extractive summary: the members nearest the cluster's centre, in order."""
    centre = unit.mean(axis=0)
    nearest = sorted(np.argsort(-(unit @ centre))[:count].tolist())
    return " ".join(texts[i].strip() for i in nearest)


def propose_summaries(space: Space) -> list[Proposal]:
    """Per subject, clusters of its memories by topic, each summarised by its most
    central sentences; clusters of those summaries make the next level."""
    from sklearn.cluster import AgglomerativeClustering

    made = []
    for level, kinds in ((1, "memories"), (2, "summaries")):
        rows = Memory.objects.for_space(space).active().exclude(subject="")
        if kinds == "memories":
            rows = rows.exclude(kind=Kind.SUMMARY)
        else:
            rows = rows.filter(kind=Kind.SUMMARY, metadata__level=level - 1)
        by_subject: dict[str, dict[str, tuple[str, int]]] = {}
        # The newest SUMMARY_MAX_MEMBERS of a subject: clustering is quadratic in them.
        for pk, subject, content, version in rows.order_by("-created_at").values_list(
            "pk", "subject", "content", "version"
        ):
            members = by_subject.setdefault(subject, {})
            if len(members) < SUMMARY_MAX_MEMBERS:
                members[str(pk)] = (content, version)
        for subject, members in by_subject.items():
            if len(members) < SUMMARY_MIN_CLUSTER * 2:
                continue  # too few to be worth a summary
            ids, unit = _unit_vectors(space, set(members))
            if len(ids) < SUMMARY_MIN_CLUSTER * 2:
                continue
            labels = AgglomerativeClustering(
                n_clusters=None,
                distance_threshold=SUMMARY_DISTANCE,
                metric="cosine",
                linkage="average",
            ).fit_predict(unit)
            for label in sorted(set(labels.tolist())):
                chosen = [i for i, value in enumerate(labels.tolist()) if value == label]
                if len(chosen) < SUMMARY_MIN_CLUSTER:
                    continue
                cluster_ids = [ids[i] for i in chosen]
                texts = [members[pk][0] for pk in cluster_ids]
                vectors = unit[chosen]
                cohesion = float((vectors @ vectors.mean(axis=0)).mean())
                proposal = _propose(
                    space,
                    Operation.SUMMARY,
                    cluster_ids,
                    [members[pk][1] for pk in cluster_ids],
                    {
                        "content": _central_sentences(texts, vectors, SUMMARY_SENTENCES),
                        "subject": subject,
                        "level": level,
                    },
                    {"members": len(cluster_ids), "cohesion": round(cohesion, 4)},
                    score=round(cohesion, 4),
                )
                if proposal:
                    made.append(proposal)
    return made


def propose_forgetting(space: Space, below: float = FORGET_BELOW) -> list[Proposal]:
    now = timezone.now()
    fading = (
        Memory.objects.for_space(space)
        .active()
        .filter(pinned=False)
        .exclude(kind=Kind.SUMMARY)
        .only("pk", "version", "strength", "last_accessed_at", "created_at")
    )
    made = []
    for memory in fading.iterator(chunk_size=2000):
        kept = memory.retention(now)
        if kept >= below:
            continue
        proposal = _propose(
            space,
            Operation.ARCHIVE,
            [str(memory.pk)],
            [memory.version],
            {"status": Status.ARCHIVED},
            {
                "retention": round(kept, 5),
                "strength": memory.strength,
                "last_accessed_at": (memory.last_accessed_at or memory.created_at).isoformat(),
            },
            score=round(1.0 - kept, 5),
        )
        if proposal:
            made.append(proposal)
    return made


OPERATIONS: dict[str, Callable[[Space], list[Proposal]]] = {
    Operation.MERGE.value: propose_merges,
    Operation.LINK.value: propose_links,
    Operation.SUPERSEDE.value: propose_supersessions,
    Operation.SUMMARY.value: propose_summaries,
    Operation.ARCHIVE.value: propose_forgetting,
}
ENTITIES = "entities"
ALL_OPERATIONS = [*OPERATIONS, ENTITIES]


def consolidate(space: Space, only: Iterable[str] | None = None, dry_run: bool = False) -> Report:
    """Run the operations (all, or `only`), then apply what the space's policy allows.

    With `dry_run` nothing is stored: the report counts what would be proposed.
    """
    report = Report()
    chosen = list(only or ALL_OPERATIONS)
    for operation in chosen:
        if operation == ENTITIES:
            # Entities and mentions change no memory: they are written, not proposed.
            with transaction.atomic():
                found = entities.extract(space, JOB_ACTOR)
                transaction.set_rollback(dry_run)
            report.proposed[ENTITIES] = found
            if not dry_run:
                report.applied[ENTITIES] = found
            continue
        if dry_run:
            with transaction.atomic():
                report.proposed[operation] = len(OPERATIONS[operation](space))
                transaction.set_rollback(True)
            continue
        made = OPERATIONS[operation](space)
        report.proposed[operation] = len(made)
        if operation in auto_applied(space):
            applied = 0
            for proposal in made:
                try:
                    apply(proposal, JOB_ACTOR)
                    applied += 1
                except ProposalError:
                    continue  # stale by now: left for a person to look at
            report.applied[operation] = applied
    return report


def _still_as_proposed(space: Space, proposal: Proposal) -> bool:
    current = dict(
        Memory.objects.for_space(space)
        .filter(pk__in=proposal.memory_ids)
        .values_list("pk", "version")
    )
    expected = dict(zip(proposal.memory_ids, proposal.memory_versions, strict=True))
    return len(current) == len(expected) and all(
        current.get(pk) == version for pk, version in expected.items()
    )


def apply(proposal: Proposal, actor: Actor, content: str | None = None) -> Proposal:
    """Carry out a pending proposal (with `content` edited by the approver, for a merge).

    A proposal whose memories changed since is marked stale, and nothing is applied.
    """
    with transaction.atomic():
        locked = (
            Proposal.objects.for_space(proposal.space_id).select_for_update().get(pk=proposal.pk)
        )
        if locked.status != Proposal.Status.PENDING:
            raise ProposalError(f"this proposal is already {locked.status}")
        if _still_as_proposed(locked.space, locked):
            return _carry_out(locked, actor, content)
        locked.status = Proposal.Status.STALE
        locked.decided_at = timezone.now()
        locked.save(update_fields=["status", "decided_at"])
    # Raised once the stale mark is stored.
    raise ProposalError("the memories changed since this was proposed; nothing was applied")


def _carry_out(locked: Proposal, actor: Actor, content: str | None) -> Proposal:
    space = locked.space
    reason = f"consolidation proposal {locked.pk}"
    if locked.operation == Operation.MERGE:
        merged = memories.merge_memories(
            space,
            actor,
            locked.memory_ids,
            reason=reason,
            content=content if content is not None else locked.change["content"],
        )
        locked.result = {"merged": str(merged.pk)}
    elif locked.operation == Operation.SUMMARY:
        summary = memories.summarize_memories(
            space,
            actor,
            locked.memory_ids,
            content=content if content is not None else locked.change["content"],
            level=int(locked.change.get("level", 1)),
            reason=reason,
        )
        locked.result = {"summary": str(summary.pk)}
    elif locked.operation == Operation.SUPERSEDE:
        memories.supersede_memory(
            space, actor, locked.change["superseded"], locked.change["by"], reason=reason
        )
        locked.result = {"superseded": locked.change["superseded"], "by": locked.change["by"]}
    elif locked.operation == Operation.LINK:
        source = locked.memory_ids[0]
        weights = locked.change.get("weights") or locked.evidence.get("similarities", {})
        targets = locked.change["related_to"]
        still_active = {
            str(pk)
            for pk in Memory.objects.for_space(space)
            .active()
            .filter(pk__in=targets)
            .values_list("pk", flat=True)
        }
        created = []
        for target in targets:
            if target not in still_active:
                continue  # gone since: the other links still stand
            link = memories.link_memories(
                space, actor, source, target, LinkType.RELATED_TO, weight=weights.get(target, 1.0)
            )
            created.append(link.pk)
        locked.result = {"links": created}
    else:
        memories.archive_memory(space, actor, locked.memory_ids[0], reason=reason)
        locked.result = {"archived": str(locked.memory_ids[0])}
    locked.status = Proposal.Status.APPLIED
    locked.decided_at = timezone.now()
    locked.decided_by = actor.label
    locked.save(update_fields=["status", "decided_at", "decided_by", "result"])
    record_event(
        space,
        actor,
        "proposal.apply",
        target_type="proposal",
        target_id=locked.pk,
        summary={"operation": locked.operation, **locked.result},
    )
    return locked


@transaction.atomic
def reject(proposal: Proposal, actor: Actor, reason: str = "") -> Proposal:
    locked = Proposal.objects.for_space(proposal.space_id).select_for_update().get(pk=proposal.pk)
    if locked.status != Proposal.Status.PENDING:
        raise ProposalError(f"this proposal is already {locked.status}")
    locked.status = Proposal.Status.REJECTED
    locked.decided_at = timezone.now()
    locked.decided_by = actor.label
    locked.save(update_fields=["status", "decided_at", "decided_by"])
    record_event(
        locked.space,
        actor,
        "proposal.reject",
        target_type="proposal",
        target_id=locked.pk,
        reason=reason,
        summary={"operation": locked.operation},
    )
    return locked


@transaction.atomic
def forget_proposals_about(space: Space, memory_id: object) -> int:
    """Delete the proposals naming a memory being purged (a merge's content, a summary
    and the evidence quote its text), and redact their audit events (a rejection's
    reason may quote it too). Returns how many proposals went."""
    proposals = Proposal.objects.for_space(space).filter(memory_ids__contains=[memory_id])
    ids = [str(pk) for pk in proposals.values_list("pk", flat=True)]
    redact_events(
        space,
        AuditEvent.objects.for_space(space).filter(target_type="proposal", target_id__in=ids),
        keep=[*Operation.values, *Proposal.Status.values],
    )
    deleted, _ = proposals.delete()
    return deleted


def start_consolidation(space: Space, only: list[str] | None = None) -> Any:
    """Create a consolidation job and queue it once the transaction commits."""
    from apps.consolidation.tasks import consolidate_space
    from apps.jobs.models import Job

    job = Job.objects.create(kind="consolidate", space=space, params={"only": only or []})
    transaction.on_commit(lambda: consolidate_space.delay(job.pk))
    return job

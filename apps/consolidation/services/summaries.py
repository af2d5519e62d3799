"""Topic summaries: clusters of a subject's memories, summarised extractively."""

import numpy as np

from apps.consolidation.models import Operation, Proposal
from apps.consolidation.services.proposals import propose, unit_vectors
from apps.memories.models import Kind, Memory
from apps.spaces.models import Space

SUMMARY_MIN_CLUSTER = 3
SUMMARY_DISTANCE = 0.75  # average cosine distance within which memories share a topic
SUMMARY_SENTENCES = 3
SUMMARY_MAX_MEMBERS = 5000


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
            ids, unit = unit_vectors(space, set(members))
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
                proposal = propose(
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

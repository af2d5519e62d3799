"""Topic summaries: clusters of a subject's memories, summarised extractively.

A summary is the members' own sentences, chosen to cover the whole cluster (each
member close to some chosen sentence), not the few nearest its centre: an odd member
out (the marathon among the runs) is what a centre-only summary drops. Each sentence
names the members it came from, and a member that another member supersedes is left
out, so that a summary never repeats an outdated fact beside its correction.

Memories are clustered by what they say about their subject, not by the subject: each
is embedded with the subject's name taken out, since every memory of a person names
the person, and the name alone made one grab-bag cluster of all of them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from apps.consolidation.models import Operation, Proposal
from apps.consolidation.services.proposals import Recheck, normalized, propose, unit_vectors
from apps.consolidation.services.recheck import current_vectors, label
from apps.memories.models import Kind, Link, LinkType, Memory, Status
from apps.spaces.models import Space

SUMMARY_MIN_CLUSTER = 3
# A topic's members are within this average distance of each other: cosine distance of
# their texts without the subject's name, blended with their tags' Jaccard distance
# when both have tags (SUMMARY_TAG_WEIGHT of it). A cluster is split in two until it
# is at most SUMMARY_MAX_CLUSTER members, has a cohesion (mean cosine similarity to
# its centre) of at least SUMMARY_MIN_COHESION, and every member is within
# SUMMARY_DISTANCE of the others on average: a summary of six sentences cannot cover
# a whole life, nor a loose one say anything.
SUMMARY_DISTANCE = 0.65
SUMMARY_TAG_WEIGHT = 0.5
SUMMARY_MAX_CLUSTER = 12
SUMMARY_MIN_COHESION = 0.45
SUMMARY_MAX_MEMBERS = 5000
# A member is covered once a chosen sentence is its own or this similar to it: close
# enough in MiniLM's space to say the same kind of thing about the subject.
SUMMARY_COVERED = 0.7
# A sentence this similar to one already chosen would only repeat it.
SUMMARY_REDUNDANT = 0.9
# The summary's length: it is read on a card and recalled as one memory. A cluster one
# sentence covers says one thing several times: merging it is the merge proposal's job.
SUMMARY_MIN_SENTENCES = 2
SUMMARY_MAX_SENTENCES = 6
SUMMARY_MAX_CHARS = 1000

# A sentence ends at . ! or ? followed by space and a capital, digit or quote; or at a
# line break. Abbreviations ("Dr. Lee") split wrongly, and cost one odd sentence.
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"“'(\[A-ZÀ-Ý0-9])|\n+")


def sentences_of(text: str) -> list[str]:
    parts = [part.strip() for part in _SENTENCE_END.split(text) if len(part.strip()) > 1]
    return parts or ([text.strip()] if text.strip() else [])


@dataclass
class Member:
    pk: str
    content: str
    version: int
    when: datetime
    tags: Sequence[str] = ()


def without_subject(text: str, subject: str) -> str:
    """`text` with the subject's name taken out: each word of it ("Maya" and "Okafor"
    of "Maya Okafor") and its possessive ("Maya's"). As written, capitals
    and all, so that a first name that is also a word ("May", "Will") stays a word
    elsewhere. The text itself when nothing else is left."""
    names = sorted(set(re.findall(r"\w[\w'\u2019.-]*\w", subject)), key=len, reverse=True)
    if not names:
        return text
    possessive = r"(?:['\u2019]s\b|['\u2019](?!\w))?"
    name = re.compile(rf"\b(?:{'|'.join(map(re.escape, names))}){possessive}")
    left = re.sub(r"\s+", " ", name.sub("", text)).strip(" ,;:")
    return left if re.search(r"\w", left) else text


def topic_vectors(stored: dict[str, np.ndarray], members: list[Member], subject: str) -> np.ndarray:
    """Unit vectors of the members' texts without the subject's name: embedded here,
    in one batch, for those that name it; the stored vector for the others."""
    from apps.retrieval.embedding import get_backend

    texts = {m.pk: without_subject(m.content, subject) for m in members}
    masked = [m.pk for m in members if texts[m.pk] != m.content or m.pk not in stored]
    fresh = _unit(get_backend().embed([texts[pk] for pk in masked])) if masked else []
    vectors = {**stored, **dict(zip(masked, fresh, strict=True))}
    return np.stack([vectors[m.pk] for m in members])


def topic_distances(vectors: np.ndarray, members: list[Member]) -> np.ndarray:
    """The members' pairwise distances: cosine, blended with the tags' Jaccard distance
    where both members have tags (a person's own word for the topic)."""
    distances = np.clip(1.0 - vectors @ vectors.T, 0.0, 2.0)
    vocabulary = sorted({tag for m in members for tag in m.tags})
    if vocabulary:
        column = {tag: i for i, tag in enumerate(vocabulary)}
        tagged = np.zeros((len(members), len(vocabulary)), dtype=np.float32)
        for row, member in enumerate(members):
            tagged[row, [column[tag] for tag in member.tags]] = 1.0
        shared = tagged @ tagged.T
        counts = tagged.sum(axis=1)
        union = counts[:, None] + counts[None, :] - shared
        both = (counts[:, None] > 0) & (counts[None, :] > 0)
        jaccard = 1.0 - shared / np.maximum(union, 1.0)
        blended = (1 - SUMMARY_TAG_WEIGHT) * distances + SUMMARY_TAG_WEIGHT * jaccard
        distances = np.where(both, blended, distances)
    np.fill_diagonal(distances, 0.0)
    return distances


def cohesion_of(vectors: np.ndarray) -> float:
    """Mean cosine similarity of unit vectors to their centre."""
    return float((vectors @ vectors.mean(axis=0)).mean())


def off_topic(distances: np.ndarray) -> int | None:
    """The member farthest from the others on average, if beyond SUMMARY_DISTANCE."""
    average = distances.sum(axis=1) / max(len(distances) - 1, 1)
    farthest = int(average.argmax())
    return farthest if average[farthest] > SUMMARY_DISTANCE else None


def topics(vectors: np.ndarray, distances: np.ndarray) -> list[list[int]]:
    """Clusters of at least SUMMARY_MIN_CLUSTER members (as row numbers), each one topic:
    agglomerative (average linkage) within SUMMARY_DISTANCE, then any cluster too big,
    too loose or with a member off its topic split in two, and again."""
    from sklearn.cluster import AgglomerativeClustering

    labels = AgglomerativeClustering(
        n_clusters=None,
        distance_threshold=SUMMARY_DISTANCE,
        metric="precomputed",
        linkage="average",
    ).fit_predict(distances)
    waiting = [np.flatnonzero(labels == value).tolist() for value in sorted(set(labels.tolist()))]
    found = []
    while waiting:
        rows = waiting.pop()
        if len(rows) < SUMMARY_MIN_CLUSTER:
            continue
        within = distances[np.ix_(rows, rows)]
        if (
            len(rows) <= SUMMARY_MAX_CLUSTER
            and cohesion_of(vectors[rows]) >= SUMMARY_MIN_COHESION
            and off_topic(within) is None
        ):
            found.append(rows)
            continue
        halves = AgglomerativeClustering(
            n_clusters=2, metric="precomputed", linkage="average"
        ).fit_predict(within)
        waiting += [[rows[i] for i in np.flatnonzero(halves == half)] for half in (0, 1)]
    return sorted(found)


def superseded_within(space: Space, member_ids: list[str]) -> dict[str, str]:
    """The members another member of the same set supersedes: by a `supersedes` link,
    or by a supersede proposal still pending. {older: newer}."""
    wanted = set(member_ids)
    found = {
        str(old): str(new)
        for new, old in Link.objects.for_space(space)
        .filter(type=LinkType.SUPERSEDES, source_id__in=wanted, target_id__in=wanted)
        .values_list("source_id", "target_id")
    }
    for change in (
        Proposal.objects.for_space(space)
        .filter(
            operation=Operation.SUPERSEDE,
            status=Proposal.Status.PENDING,
            memory_ids__overlap=list(wanted),
        )
        .values_list("change", flat=True)
    ):
        old, new = str(change.get("superseded")), str(change.get("by"))
        if old in wanted and new in wanted:
            found.setdefault(old, new)
    return found


def summarize(
    members: list[Member], left_out: dict[str, str], subject: str = ""
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The sentences that cover `members` best, in the order they happened, as the
    change's "content" and "sentences", and the evidence of how well they cover them.

    Greedy maximum coverage (a facility-location objective): each step takes the
    sentence that most raises the sum, over the members, of their best similarity to a
    chosen sentence, so that a sentence like one already chosen gains little; one nearly
    the same is skipped outright. It stops once every member is covered, or at the
    length cap.
    """
    from apps.retrieval.embedding import get_backend

    when = {m.pk: (m.when, m.pk) for m in members}
    candidates: dict[str, dict[str, Any]] = {}  # normalized text -> sentence
    for member in sorted(members, key=lambda m: when[m.pk]):
        for position, text in enumerate(sentences_of(member.content)):
            key = normalized(text)
            if key:
                # The same sentence in two members is one sentence with two sources.
                sentence = candidates.setdefault(
                    key, {"text": text, "sources": [], "at": (*when[member.pk], position)}
                )
                sentence["sources"].append(member.pk)
    pool = list(candidates.values())
    if not pool:
        return {"content": "", "sentences": []}, {"members": len(members), "coverage": 0.0}
    # Compared without the subject's name, as they were clustered: with it, "allergic
    # to latex" would cover "allergic to penicillin" (the same person, allergic).
    texts = list(dict.fromkeys([s["text"] for s in pool] + [m.content for m in members]))
    masked = [without_subject(text, subject) for text in texts]
    vector = dict(zip(texts, _unit(get_backend().embed(masked)), strict=True))
    sentence_vectors = np.stack([vector[s["text"]] for s in pool])
    similar = np.stack([vector[m.content] for m in members]) @ sentence_vectors.T
    row = {m.pk: i for i, m in enumerate(members)}
    for column, sentence in enumerate(pool):
        for pk in sentence["sources"]:
            similar[row[pk], column] = 1.0  # a member's own sentence speaks for it
    sizes = np.array([len(s["text"]) + 1 for s in pool])
    best = np.zeros(len(members), dtype=np.float32)
    closest = np.full(len(pool), -1.0, dtype=np.float32)  # to a chosen sentence
    chosen: list[int] = []
    while len(chosen) < SUMMARY_MAX_SENTENCES and (best < SUMMARY_COVERED).any():
        gains = np.maximum(similar - best[:, None], 0.0).sum(axis=0)
        fits = sizes + sizes[chosen].sum() <= SUMMARY_MAX_CHARS if chosen else True
        gains[~(fits & (closest < SUMMARY_REDUNDANT))] = -1.0
        gains[chosen] = -1.0
        pick = int(gains.argmax())
        if gains[pick] <= 0.0:
            break
        chosen.append(pick)
        best = np.maximum(best, similar[:, pick])
        closest = np.maximum(closest, sentence_vectors @ sentence_vectors[pick])
    picked = sorted((pool[i] for i in chosen), key=lambda s: s["at"])
    uncovered = [m.pk for m in members if best[row[m.pk]] < SUMMARY_COVERED]
    change = {
        "content": " ".join(s["text"] for s in picked),
        "sentences": [{"text": s["text"], "sources": s["sources"]} for s in picked],
    }
    evidence = {
        "members": len(members),
        "coverage": round(1.0 - len(uncovered) / len(members), 4),
        "uncovered": uncovered,
        "left_out": [
            {"id": old, "reason": "superseded", "by": new} for old, new in sorted(left_out.items())
        ],
    }
    return change, evidence


def _unit(vectors: list[list[float]]) -> list[np.ndarray]:
    return [np.asarray(v, dtype=np.float32) / max(float(np.linalg.norm(v)), 1e-12) for v in vectors]


def _summary(
    members: list[Member], left_out: dict[str, str], subject: str, level: int, cohesion: float
) -> tuple[dict[str, Any], dict[str, Any], float]:
    """A summary proposal's change, evidence and score (its cohesion)."""
    change, evidence = summarize(members, left_out, subject)
    score = round(cohesion, 4)
    return {**change, "subject": subject, "level": level}, {**evidence, "cohesion": score}, score


def propose_summaries(space: Space) -> list[Proposal]:
    """Per subject, clusters of its memories by topic, each summarised by the sentences
    that cover it; clusters of those summaries make the next level."""
    made = []
    # Choosing sentences embeds them: a cluster already proposed (in any state) is not
    # summarised again only to be found a duplicate.
    proposed = set(
        Proposal.objects.for_space(space)
        .filter(operation=Operation.SUMMARY)
        .values_list("fingerprint", flat=True)
    )
    for level, kinds in ((1, "memories"), (2, "summaries")):
        rows = Memory.objects.for_space(space).active().exclude(subject="")
        if kinds == "memories":
            rows = rows.exclude(kind=Kind.SUMMARY)
        else:
            rows = rows.filter(kind=Kind.SUMMARY, metadata__level=level - 1)
        by_subject: dict[str, dict[str, Member]] = {}
        # The newest SUMMARY_MAX_MEMBERS of a subject: clustering is quadratic in them.
        for pk, subject, content, version, occurred, created, tags in rows.order_by(
            "-created_at"
        ).values_list("pk", "subject", "content", "version", "occurred_at", "created_at", "tags"):
            members = by_subject.setdefault(subject, {})
            if len(members) < SUMMARY_MAX_MEMBERS:
                members[str(pk)] = Member(str(pk), content, version, occurred or created, tags)
        for subject, members in by_subject.items():
            if len(members) < SUMMARY_MIN_CLUSTER * 2:
                continue  # too few to be worth a summary
            ids, unit = unit_vectors(space, set(members))
            if len(ids) < SUMMARY_MIN_CLUSTER * 2:
                continue
            embedded = [members[pk] for pk in ids]
            vectors = topic_vectors(dict(zip(ids, unit, strict=True)), embedded, subject)
            for chosen in topics(vectors, topic_distances(vectors, embedded)):
                cluster_ids = [ids[i] for i in chosen]
                left_out = superseded_within(space, cluster_ids)
                kept = [i for i in chosen if ids[i] not in left_out]
                if len(kept) < SUMMARY_MIN_CLUSTER:
                    continue
                included = [members[ids[i]] for i in kept]
                fingerprint = Proposal.fingerprint_of(Operation.SUMMARY, [m.pk for m in included])
                if fingerprint in proposed:
                    continue
                cohesion = cohesion_of(vectors[kept])
                change, evidence, score = _summary(included, left_out, subject, level, cohesion)
                if len(change["sentences"]) < SUMMARY_MIN_SENTENCES:
                    continue
                proposal = propose(
                    space,
                    Operation.SUMMARY,
                    [m.pk for m in included],
                    [m.version for m in included],
                    change,
                    evidence,
                    score=score,
                    fingerprint=fingerprint,
                )
                if proposal:
                    made.append(proposal)
    return made


def recheck(space: Space, proposal: Proposal) -> Recheck:
    """A summary against its members as they are now. It holds while every member is
    active, about the same subject, superseded by none of them, and they still make one
    topic as the clustering judges it (each within SUMMARY_DISTANCE of the others on
    average, cohesion at least SUMMARY_MIN_COHESION); its sentences are then chosen
    afresh. Otherwise the cluster changed, and the next run proposes a summary of the
    cluster as it is."""
    ids = [str(pk) for pk in proposal.memory_ids]
    subject = proposal.change.get("subject", "")
    level = int(proposal.change.get("level", 1))
    rows = {
        str(memory.pk): memory
        for memory in Memory.objects.for_space(space)
        .filter(pk__in=ids)
        .only("pk", "status", "subject", "content", "version", "occurred_at", "created_at", "tags")
    }
    unchanged = Recheck(False, proposal.change, proposal.evidence, proposal.score, "")

    def changed(why: str) -> Recheck:
        unchanged.reason = f"the cluster changed: {why}"
        return unchanged

    for pk in ids:
        if pk not in rows:
            return changed(f"memory {pk[:8]} no longer exists")
        memory = rows[pk]
        if memory.status != Status.ACTIVE:
            return changed(f"memory {label(memory.content)} is {memory.status}")
        if memory.subject != subject:
            about = memory.subject or "no one"
            return changed(f"memory {label(memory.content)} is about {about} now")
    left_out = superseded_within(space, ids)
    if left_out:
        old, new = next(iter(left_out.items()))
        older, newer = label(rows[old].content), label(rows[new].content)
        return changed(f"memory {older} is superseded by {newer}")
    members = [
        Member(pk, m.content, m.version, m.occurred_at or m.created_at, m.tags)
        for pk, m in ((pk, rows[pk]) for pk in ids)
    ]
    vectors = topic_vectors(current_vectors(space, ids), members, subject)
    farthest = off_topic(topic_distances(vectors, members))
    if farthest is not None:
        return changed(f"memory {label(members[farthest].content)} is no longer on the topic")
    cohesion = cohesion_of(vectors)
    if cohesion < SUMMARY_MIN_COHESION:
        return changed(f"its members no longer share a topic (cohesion {cohesion:.2f})")
    change, evidence, score = _summary(members, {}, subject, level, cohesion)
    if not change["content"]:
        unchanged.reason = "its members have nothing left to say"
        return unchanged
    if len(change["sentences"]) < SUMMARY_MIN_SENTENCES:
        unchanged.reason = "its members say one thing now: a merge, not a summary"
        return unchanged
    return Recheck(True, change, evidence, score, reason="")

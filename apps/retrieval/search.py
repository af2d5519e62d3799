"""The one search service, used by the API, the dashboard and the evaluation.

Modes: `vector` (pgvector HNSW, cosine), `text` (Postgres full text, ranked) and
`hybrid` (reciprocal-rank fusion of both). Filters are applied inside the database
query, and vector queries use pgvector's iterative index scan so a selective filter
still yields k results; a small space's vectors are all read instead (exact).
Results can be re-scored by recency, importance and retention (MemoryBank:
R = exp(-t / S)), and by the feedback given on earlier recalls of similar queries.
Every hit carries the components of its score, so `explain` can show why it ranked
where it did.
"""

from __future__ import annotations

import json
import logging
import re
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from django.conf import settings
from django.db import connections, transaction
from django.db.models import Case, Exists, F, OuterRef, Q, QuerySet, Sum, When
from django.utils import timezone
from pgvector import Vector
from pgvector.django import CosineDistance

from apps.audit.actors import Actor
from apps.core.replicas import PRIMARY
from apps.core.ttl import TtlCache
from apps.hygiene.models import open_flags_of
from apps.memories.models import Kind, Link, LinkType, Memory, Status, days_between
from apps.retrieval import expansion, storage, subject_indexes, vector_indexes
from apps.retrieval.embedding import get_backend
from apps.retrieval.lexical import (
    STATS,
    AlsoRead,
    bm25_steps,
    in_context_steps,
    widest_step,
)
from apps.retrieval.models import Recall, RecallFeedback, Verdict
from apps.retrieval.scope import TABLE, SqlScope, column
from apps.retrieval.vector_indexes import has_words_index, searches_exactly
from apps.spaces.models import Space

logger = logging.getLogger(__name__)

MODES = ("vector", "text", "hybrid")
MAX_K = 200
# Feedback given on an earlier recall counts for a query only when the two queries are
# this close in meaning (cosine similarity of their embeddings): with MiniLM, 0.5 and
# above is a rewording or a question about the same thing.
FEEDBACK_SIMILARITY = 0.5


class InvalidSearch(ValueError):
    """A search request that cannot be answered as asked; `details` names the field."""

    def __init__(self, message: str, details: dict[str, Any]) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


@dataclass
class Filters:
    subject: str | None = None
    agent: str | None = None
    session: str | None = None
    kinds: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    # Empty means "active only", or, with as_of, what was active or later superseded.
    statuses: list[str] = field(default_factory=list)
    occurred_after: datetime | None = None
    occurred_before: datetime | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    as_of: datetime | None = None
    # Leave out memories with an open hygiene flag (apps.hygiene).
    exclude_flagged: bool = False

    def validate(self) -> None:
        bad_kinds = [k for k in self.kinds if k not in Kind.values]
        if bad_kinds:
            raise InvalidSearch(f"unknown kinds {bad_kinds}", {"kind": bad_kinds})
        bad_statuses = [s for s in self.statuses if s not in Status.values]
        if bad_statuses:
            raise InvalidSearch(f"unknown statuses {bad_statuses}", {"status": bad_statuses})

    def narrows(self) -> bool:
        """Whether these filters may leave only a small part of a space's memories
        (anything beyond the default of active memories at any time)."""
        defaults = Filters()
        return any(
            getattr(self, name) != getattr(defaults, name)
            for name in self.__dataclass_fields__
            if name != "statuses"
        ) or self.statuses not in ([], [Status.ACTIVE])

    def apply(self, queryset: QuerySet[Memory]) -> QuerySet[Memory]:
        self.validate()
        q = Q()
        for name in ("subject", "agent", "session"):
            value = getattr(self, name)
            if value:
                q &= Q(**{name: value})
        if self.kinds:
            q &= Q(kind__in=self.kinds)
        if self.tags:
            q &= Q(tags__overlap=self.tags)
        if self.occurred_after:
            q &= Q(occurred_at__gte=self.occurred_after)
        if self.occurred_before:
            q &= Q(occurred_at__lt=self.occurred_before)
        if self.created_after:
            q &= Q(created_at__gte=self.created_after)
        if self.created_before:
            q &= Q(created_at__lt=self.created_before)
        if self.as_of:
            # Time travel: valid at that moment and already recorded by then.
            q &= Q(created_at__lte=self.as_of)
            q &= Q(valid_from__isnull=True) | Q(valid_from__lte=self.as_of)
            q &= Q(valid_to__isnull=True) | Q(valid_to__gt=self.as_of)
            statuses = self.statuses or [Status.ACTIVE, Status.SUPERSEDED]
        else:
            statuses = self.statuses or [Status.ACTIVE]
        q &= Q(status__in=statuses)
        if self.exclude_flagged:
            q &= Q(~Exists(open_flags_of(OuterRef("pk"))))
        return queryset.filter(q)


@dataclass
class Weights:
    vector: float = 1.0
    text: float = 1.0
    rrf_k: int = 60
    recency: float = 0.0
    importance: float = 0.0
    strength: float = 0.0
    recency_half_life_days: float = 30.0
    context_next: float = 0.0
    context_previous: float = 0.0
    # Both lists re-ordered by a blend with each conversation memory read after the one
    # before it (memories.MemoryInContext; _blended_in_context, _blended_text).
    in_context: float = 0.0
    # Personalized PageRank over consolidation's links and entities (expansion.py).
    graph: float = 0.0
    # The prior from feedback on earlier recalls of similar queries (feedback_prior).
    feedback: float = 0.0
    # Conversation awareness (_apply_session_and_subject): a share of the session's best
    # scores, and a boost for memories about someone the query names.
    session: float = 0.0
    subject: float = 0.0

    @classmethod
    def from_settings(cls) -> Weights:
        return cls(
            vector=settings.SEARCH_VECTOR_WEIGHT,
            text=settings.SEARCH_TEXT_WEIGHT,
            rrf_k=settings.SEARCH_RRF_K,
            context_next=settings.SEARCH_CONTEXT_NEXT,
            context_previous=settings.SEARCH_CONTEXT_PREVIOUS,
            in_context=settings.SEARCH_IN_CONTEXT_WEIGHT,
            graph=settings.SEARCH_GRAPH_WEIGHT,
            feedback=settings.SEARCH_FEEDBACK_WEIGHT,
            session=settings.SEARCH_SESSION_WEIGHT,
            subject=settings.SEARCH_SUBJECT_WEIGHT,
        )


@dataclass
class Hit:
    memory: Memory
    score: float
    components: dict[str, Any] = field(default_factory=dict)

    @property
    def similarity(self) -> float | None:
        """The cosine similarity to the query, when the vector side ranked this memory."""
        vector = self.components.get("vector")
        return float(vector["score"]) if vector else None

    def is_weak(self, floor: float | None = None) -> bool:
        """Found by meaning alone, and by little of it: no word of the query matched and
        the similarity is under `floor` (settings.SEARCH_WEAK_SIMILARITY). A vector
        search always returns its k nearest, however far; these are the far ones."""
        if floor is None:
            floor = settings.SEARCH_WEAK_SIMILARITY
        similarity = self.similarity
        return "text" not in self.components and similarity is not None and similarity < floor


@dataclass
class SearchResult:
    query: str
    mode: str
    hits: list[Hit]
    embed_ms: float = 0.0
    db_ms: float = 0.0
    notice: str = ""
    # With `below_cut`: the candidates ranked just after the k hits, best first.
    below_cut: list[Hit] = field(default_factory=list)
    # The Recall row this search wrote, for feedback on its hits; None when the search
    # was not recorded (record_access=False, or no hits).
    recall_id: UUID | None = None


def _hit_columns(queryset: QuerySet[Memory]) -> QuerySet[Memory]:
    # Vectors are large and never shown; full rows are fetched only for the final hits.
    return queryset.defer("embedding", "search_vector")


def _candidate_lists(
    scoped: QuerySet[Memory],
    space: Space,
    query: str,
    vector: list[float] | None,
    limit: int,
    *,
    narrowed: bool,
    subject: str | None = None,
    in_context: float = 0.0,
) -> tuple[list[tuple[UUID, float]], list[tuple[UUID, float]]]:
    """The nearest memories and the best BM25 matches, each as (id, score), from one
    statement: one round trip and one plan for both lists, ids only (the rows of the
    final hits are loaded once they are known). `in_context` > 0 reads both lists
    CONTEXT_POOL times deeper and re-orders them by a blend of each memory's own score
    and its reading in context (_blended_in_context, _blended_text), then cuts them.
    `subject`: the subject the scope is filtered on, if any."""
    scope = SqlScope.of(scoped)
    ctes: list[str] = []
    params: list[Any] = []
    parts: list[str] = []
    exact = vector is not None and searches_exactly(space.pk, scoped.db)
    # Both lists are read deeper when they are re-ordered in context, then cut to `limit`.
    read = limit * CONTEXT_POOL if in_context else limit
    vector_text = Vector(vector).to_text() if vector is not None else ""
    # A space without an HNSW index of its own (apps/retrieval/vector_indexes.py) is
    # searched exactly, whatever the planner estimates; so is a few rows' filter of a
    # very large one, whose rows BM25 may read too: then both read them once. A subject
    # with indexes of its own (apps/retrieval/subject_indexes.py) is searched through
    # them, as a space of its own would be.
    own_subject = subject_indexes.has_indexes(space.pk, subject, scoped.db) if subject else False
    filtered_rows = _filtered_rows_estimate(space, scoped) if narrowed and not exact else None
    sorts_filtered = (
        vector is not None
        and not own_subject
        and filtered_rows is not None
        and filtered_rows <= FILTERED_EXACT_MAX
    )
    steps = (
        bm25_steps(
            scope,
            space.pk,
            query,
            limit,
            narrowed=narrowed,
            depth=read,
            own_index=has_words_index(space.pk, scoped.db),
            expected_rows=filtered_rows,
            indexed_subset=own_subject,
            also_read=_distance_read(vector_text) if sorts_filtered else None,
        )
        if query
        else None
    )
    shares_read = sorts_filtered and steps is not None and steps.scans
    if steps is not None and shares_read:
        # The nearest list reads the steps' `scanned` rows, defined before it.
        ctes += steps.ctes
        params += steps.params
    if vector is not None:
        if sorts_filtered:
            nearest, nearest_params = _filtered_nearest(scope, vector_text, read, shares_read)
        else:
            listed, nearest_params = nearest_sql(scope, vector_text, read, exactly=exact)
            nearest = f"nearest AS MATERIALIZED ({listed})"
        ctes.append(nearest)
        params += nearest_params
        if in_context:
            blended, blended_params = _blended_in_context(vector_text, in_context, limit)
            ctes.append(blended)
            params += blended_params
            parts.append("SELECT 'vector', 0, * FROM in_context")
        else:
            parts.append("SELECT 'vector', 0, * FROM nearest")
    if steps is not None:
        if not shares_read:
            ctes += steps.ctes
            params += steps.params
        parts += [f"SELECT 'text', * FROM {name}" for name in steps.names]
        if in_context:
            rescored, rescored_params = in_context_steps(steps)
            ctes.append(rescored)
            params += rescored_params
            parts.append("SELECT 'text in context', * FROM text_in_context")
    if not parts:
        return [], []
    statement = f"WITH {', '.join(ctes)} {' UNION ALL '.join(parts)}"
    # Every connection has iterative scans on and ef_search = HNSW_EF_SEARCH
    # (settings.py); a deep candidate list needs a larger ef_search for good recall,
    # set for this statement's transaction only.
    deep = vector is not None and not exact and read * 2 > settings.HNSW_EF_SEARCH
    using = scoped.db
    with (
        transaction.atomic(using=using) if deep else nullcontext(),
        connections[using].cursor() as cursor,
    ):
        if deep:
            cursor.execute(
                "SELECT set_config('hnsw.ef_search', %s, true)", [str(min(1000, read * 2))]
            )
        cursor.execute(statement, params)
        rows = cursor.fetchall()
    # relaxed_order may return the nearest rows slightly out of order.
    nearest_rows = sorted((float(d), pk) for side, _, pk, d in rows if side == "vector")
    vector_hits = [(pk, 1.0 - distance) for distance, pk in nearest_rows]
    text_rows = [(step, pk, score) for side, step, pk, score in rows if side == "text"]
    text_hits = [(UUID(pk), score) for pk, score in widest_step(text_rows)]
    if in_context:
        widest = max((step for step, _, _ in text_rows), default=0)
        in_context_scores = {
            str(pk): float(score)
            for side, step, pk, score in rows
            if side == "text in context" and step == widest
        }
        text_hits = _blended_text(text_hits, in_context_scores, in_context)[:limit]
    return vector_hits, text_hits


def _blended_text(
    text_hits: list[tuple[UUID, float]], in_context_scores: dict[str, float], weight: float
) -> list[tuple[UUID, float]]:
    """The BM25 hits re-ordered by (s + w * s_context) / (1 + w), s_context being a hit's
    score on its words read after the memory before it, or s itself without one."""
    blended = [
        (pk, (score + weight * in_context_scores.get(str(pk), score)) / (1 + weight))
        for pk, score in text_hits
    ]
    blended.sort(key=lambda hit: (-hit[1], str(hit[0])))
    return blended


# A filter that leaves at most FILTERED_EXACT_MAX rows of a space of at least
# settings.VERY_LARGE_SPACE memories is searched exactly. At a million memories, sorting the
# 10,000 rows of a 1% filter took 15.5 / 16.3 ms (median / p95), the graph's walk past
# the other rows 41.9 / 75.6 ms: its graph (1.1 GB) no longer fit in memory. At 100k,
# whose graph does, the walk was the faster by 1-2 ms (7.0 / 8.6 ms against 7.5 / 9.7).
FILTERED_EXACT_MAX = 20_000


def _filtered_rows_estimate(space: Space, scoped: QuerySet[Memory]) -> int | None:
    """How many rows the planner expects the filters to leave, if the space is that
    large (planning only: a fraction of a millisecond); None for a smaller space."""
    size, _ = STATS.get(space.pk, [])
    if size < settings.VERY_LARGE_SPACE:
        return None
    plan = json.loads(scoped.only("pk").explain(format="json"))
    return int(plan[0]["Plan"]["Plan Rows"])


def _distance(*, exactly: bool) -> str:
    """The cosine distance to the query vector; `exactly`, written so that no index can
    serve it ("+ 0"): the plan reads the rows and sorts them."""
    distance = f"({column('embedding')} <=> {storage.query_param()})"
    return f"{distance} + 0" if exactly else distance


def nearest_sql(
    scope: SqlScope, vector: str, limit: int, *, exactly: bool
) -> tuple[str, list[Any]]:
    """The `limit` nearest rows of the scope (id, distance), sorted exactly, or by the
    HNSW walk together with an exact sort of the rows whose vectors wait for the graph
    job (apps/retrieval/graph.py: a few, read through an index of only them)."""
    if exactly:
        return _sorted(scope, vector, limit, exactly=True, condition="TRUE")
    walked, walked_params = _sorted(
        scope, vector, limit, exactly=False, condition=vector_indexes.GRAPH_PREDICATE
    )
    waiting, waiting_params = _sorted(
        scope, vector, limit, exactly=True, condition=column("graph_pending")
    )
    return (
        f"""SELECT id, distance FROM (({walked}) UNION ALL ({waiting})) AS both_parts
            ORDER BY distance LIMIT %s""",
        [*walked_params, *waiting_params, limit],
    )


def _sorted(
    scope: SqlScope, vector: str, limit: int, *, exactly: bool, condition: str
) -> tuple[str, list[Any]]:
    return (
        f"""SELECT {column("id")} AS id, {_distance(exactly=exactly)} AS distance
            FROM "{TABLE}" WHERE {scope.condition} AND {condition}
            AND {column("embedding")} IS NOT NULL ORDER BY distance LIMIT %s""",
        [vector, *scope.params, limit],
    )


def _distance_read(vector: str) -> AlsoRead:
    """Each filtered row's distance, read with BM25's `scanned` rows (NULL for a row
    without a vector)."""
    return AlsoRead(f"{_distance(exactly=True)} AS distance", [vector], FILTERED_EXACT_MAX + 1)


def _filtered_nearest(
    scope: SqlScope, vector: str, limit: int, shares_read: bool
) -> tuple[str, list[Any]]:
    """The nearest list of filtered rows the planner expects to be few: sorted exactly
    in one read that also counts them, up to FILTERED_EXACT_MAX + 1, so a wrong
    estimate costs that read and no more; if there are more, the graph's walk.
    `shares_read`: BM25's `scanned` rows hold their distances (_distance_read); reading
    the 10,000 rows of a 1% filter of a million memories took 10-14 ms, twice."""
    walked, walked_params = nearest_sql(scope, vector, limit, exactly=False)
    if shares_read:
        capped, capped_params = "SELECT id, distance FROM scanned WHERE distance IS NOT NULL", []
    else:
        capped = f"""SELECT {column("id")} AS id, {_distance(exactly=True)} AS distance
                FROM "{TABLE}" WHERE {scope.condition} AND {column("embedding")} IS NOT NULL
                LIMIT %s"""
        capped_params = [vector, *scope.params, FILTERED_EXACT_MAX + 1]
    return (
        f"""filtered AS MATERIALIZED (
            SELECT id, distance, count(*) OVER () AS rows FROM ({capped}) AS capped
            ORDER BY distance LIMIT %s
        ), nearest AS MATERIALIZED (
            SELECT id, distance FROM filtered WHERE rows <= %s
            UNION ALL
            SELECT * FROM ({walked}) AS walked WHERE (SELECT max(rows) FROM filtered) > %s
        )""",
        [
            *capped_params,
            limit,
            FILTERED_EXACT_MAX,
            *walked_params,
            FILTERED_EXACT_MAX,
        ],
    )


# Both candidate lists are read this many times deeper when they are re-ordered in
# context. On LoCoMo (75 candidates, replayed) hybrid R@10 was 78.0 at 2, 78.6 at 3
# and 78.6 at 4, the gain on both halves of the dev set, mostly from BM25: a turn whose
# own words rank it deep can hold the answer to the turn before it.
CONTEXT_POOL = 3


def _blended_in_context(vector: str, weight: float, limit: int) -> tuple[str, list[Any]]:
    """The `nearest` rows re-ordered by (d + w * d_context) / (1 + w), where d_context is
    the distance to the memory's context vector (memories.MemoryInContext: its text read
    after the memory before it), or d itself for a memory without one. A turn such as
    "Yes, last Sunday!" is then found by the question its predecessor asked. Dividing
    by 1 + w keeps the scale of a plain cosine distance."""
    return (
        """in_context AS MATERIALIZED (
            SELECT n.id, (n.distance + %s * coalesce(c.embedding <=> %s::halfvec, n.distance))
                / (1 + %s) AS distance
            FROM nearest AS n LEFT JOIN memories_memoryincontext AS c ON c.memory_id = n.id
            ORDER BY distance LIMIT %s
        )""",
        [weight, vector, weight, limit],
    )


@dataclass
class _Candidate:
    score: float = 0.0
    components: dict[str, Any] = field(default_factory=dict)


# space id -> whether it has next_in_time links; a space without links is asked again
# after a minute (it may be a conversation still being written), one with links after
# an hour (links are rarely all removed).
_LINKED_SPACES: TtlCache[tuple[int, str], bool] = TtlCache(60)


def _has_conversation_links(space_id: int, using: str = PRIMARY) -> bool:
    """Whether the space has any next_in_time link, remembered per process: spaces of
    standalone facts then skip the context lookup on every query."""
    return _LINKED_SPACES.get(
        (space_id, using),
        lambda: (
            Link.objects.for_space(space_id)
            .using(using)
            .filter(type=LinkType.NEXT_IN_TIME)
            .exists()
        ),
        seconds=lambda linked: 3600 if linked else 60,
    )


def _in_context_weight(space: Space, using: str, weights: Weights) -> float:
    """The weight of memories read in context, for a space that has conversations."""
    if not weights.in_context or not _has_conversation_links(space.pk, using):
        return 0.0
    return weights.in_context


def _fuse(
    vector_hits: list[tuple[UUID, float]],
    text_hits: list[tuple[UUID, float]],
    weights: Weights,
) -> dict[UUID, _Candidate]:
    fused: dict[UUID, _Candidate] = {}
    for source, hits, weight in (
        ("vector", vector_hits, weights.vector),
        ("text", text_hits, weights.text),
    ):
        for rank, (pk, score) in enumerate(hits, start=1):
            candidate = fused.setdefault(pk, _Candidate())
            share = weight / (weights.rrf_k + rank)
            candidate.components[source] = {
                "rank": rank,
                "score": round(score, 6),
                "fused": round(share, 6),
            }
            candidate.score += share
    return fused


def _expand_context(
    space: Space, scoped: QuerySet[Memory], fused: dict[UUID, _Candidate], weights: Weights
) -> None:
    """Give the memories just before and after a hit in its conversation a share of the
    hit's score, following next_in_time links: the answer to a question often sits in
    the turn after the one that repeats the question's words."""
    if not (weights.context_next or weights.context_previous) or not fused:
        return
    if not _has_conversation_links(space.pk, scoped.db):
        return
    hit_ids = list(fused)
    links = (
        Link.objects.for_space(space)
        .using(scoped.db)
        .filter(type=LinkType.NEXT_IN_TIME)
        .filter(Q(source_id__any_of=hit_ids) | Q(target_id__any_of=hit_ids))
        .values_list("source_id", "target_id")
    )
    shares: list[tuple[UUID, UUID, float, str]] = []
    for earlier, later in links:
        if earlier in fused and weights.context_next:
            shares.append((earlier, later, weights.context_next, "next"))
        if later in fused and weights.context_previous:
            shares.append((later, earlier, weights.context_previous, "previous"))
    newcomers = {neighbour for _, neighbour, _, _ in shares if neighbour not in fused}
    allowed = (
        set(scoped.filter(pk__any_of=newcomers).values_list("pk", flat=True))
        if newcomers
        else set()
    )
    base = {pk: candidate.score for pk, candidate in fused.items()}
    for origin, neighbour, share, direction in shares:
        if neighbour not in fused and neighbour not in allowed:
            continue  # excluded by the filters
        added = share * base[origin]
        candidate = fused.setdefault(neighbour, _Candidate())
        candidate.score += added
        candidate.components.setdefault("context", []).append(
            {"from": str(origin), "as": direction, "score": round(added, 6)}
        )


# A session counts by the sum of its best few candidates' scores: one strong turn, or
# several fair ones, mark the conversation the question is about.
SESSION_BEST = 5


def _apply_session_and_subject(
    space: Space,
    scoped: QuerySet[Memory],
    fused: dict[UUID, _Candidate],
    query: str,
    weights: Weights,
) -> None:
    """Conversation awareness, for spaces of conversations (next_in_time links).

    Session: a question about a conversation is answered by turns of the same
    session, and a turn that shares none of the question's words still sits among
    turns that do. Each candidate gains `session` times the summed scores of its
    session's best SESSION_BEST candidates.

    Subject: a question that names someone ("what did Maya say about...") is mostly
    answered by memories about that person (a conversation's memories have its
    speaker as subject). A candidate whose subject the query names, as a whole word,
    is scaled by 1 + `subject`. The names are the candidates' own subjects: no list
    of people is kept. One statement for both."""
    if not (weights.session or weights.subject) or not fused:
        return
    if not _has_conversation_links(space.pk, scoped.db):
        return
    rows = (
        Memory.objects.for_space(space)
        .using(scoped.db)
        .filter(pk__any_of=list(fused))
        .values_list("pk", "session", "subject")
    )
    labels = {pk: (session, subject) for pk, session, subject in rows}
    if weights.session:
        by_session: dict[str, list[float]] = {}
        for pk, (session, _) in labels.items():
            if session:
                by_session.setdefault(session, []).append(fused[pk].score)
        strength = {
            session: sum(sorted(scores, reverse=True)[:SESSION_BEST])
            for session, scores in by_session.items()
        }
        for pk, (session, _) in labels.items():
            if session:
                added = weights.session * strength[session]
                fused[pk].score += added
                fused[pk].components["session"] = {"name": session, "score": round(added, 6)}
    if weights.subject:
        named = _named_subjects(query, {subject for _, subject in labels.values() if subject})
        for pk, (_, subject) in labels.items():
            if subject in named:
                added = weights.subject * fused[pk].score
                fused[pk].score += added
                fused[pk].components["subject"] = {"name": subject, "score": round(added, 6)}


def _named_subjects(query: str, subjects: set[str]) -> set[str]:
    """The subjects the query names as whole words, in any case."""
    return {
        subject
        for subject in subjects
        if re.search(rf"(?<!\w){re.escape(subject)}(?!\w)", query, re.IGNORECASE)
    }


def _expand_graph(
    space: Space, scoped: QuerySet[Memory], fused: dict[UUID, _Candidate], weights: Weights
) -> None:
    if not weights.graph or not fused:
        return
    seed_scores = {pk: candidate.score for pk, candidate in fused.items()}
    shares = expansion.expand(space, scoped, seed_scores)
    if not shares:
        return
    top = sorted(seed_scores.values(), reverse=True)[: expansion.SEEDS]
    scale = weights.graph * sum(top)
    for pk, share in shares.items():
        added = scale * share
        candidate = fused.setdefault(pk, _Candidate())
        candidate.score += added
        candidate.components["graph"] = {"share": round(share, 6), "score": round(added, 6)}


def feedback_prior(space: Space, vector: list[float], memory_ids: list[UUID]) -> dict[UUID, float]:
    """Per memory, what earlier feedback says about it for a query meaning `vector`: the
    sum over its marks of +1 (useful) or -1 (not useful) times the cosine similarity
    between this query and the query of the marked recall, counting only recalls of
    queries at least FEEDBACK_SIMILARITY alike. A memory marked not useful for
    "when does the gym open" is pushed down for "gym opening hours", not for "who
    is Maya's coach". One statement."""
    similarity = 1 - CosineDistance("recall__query_vector", Vector(vector))
    rows = (
        RecallFeedback.objects.for_space(space)
        .filter(memory_id__any_of=memory_ids, recall__query_vector__isnull=False)
        .annotate(similarity=similarity)
        .filter(similarity__gte=FEEDBACK_SIMILARITY)
        .values("memory_id")
        .annotate(
            prior=Sum(
                Case(
                    When(verdict=Verdict.USEFUL, then=F("similarity")),
                    default=-F("similarity"),
                )
            )
        )
        .order_by()
        .values_list("memory_id", "prior")
    )
    return {memory_id: float(prior) for memory_id, prior in rows}


def _apply_feedback(
    space: Space, fused: dict[UUID, _Candidate], vector: list[float] | None, weights: Weights
) -> None:
    """Add weight * feedback_prior to each candidate's score. No new candidates: the
    prior reorders what the query found, it does not bring in what it did not."""
    if not weights.feedback or vector is None or not fused:
        return
    for pk, prior in feedback_prior(space, vector, list(fused)).items():
        added = weights.feedback * prior
        candidate = fused[pk]
        candidate.score += added
        candidate.components["feedback"] = {"prior": round(prior, 6), "score": round(added, 6)}


def _recency(memory: Memory, now: datetime, half_life_days: float) -> float:
    when = memory.occurred_at or memory.created_at
    return 0.5 ** (days_between(when, now) / half_life_days)


def _rescore(hits: list[Hit], weights: Weights, now: datetime) -> None:
    if not (weights.recency or weights.importance or weights.strength) or not hits:
        for hit in hits:
            hit.components["base"] = round(hit.score, 6)
        return
    top = max(hit.score for hit in hits) or 1.0
    for hit in hits:
        base = hit.score / top
        recency = _recency(hit.memory, now, weights.recency_half_life_days)
        retention = hit.memory.retention(now)
        hit.components.update(
            base=round(base, 6),
            recency=round(recency, 6),
            importance=hit.memory.importance,
            retention=round(retention, 6),
        )
        hit.score = (
            base
            + weights.recency * recency
            + weights.importance * hit.memory.importance
            + weights.strength * retention
        )


def search(
    space: Space,
    query: str,
    *,
    mode: str = "hybrid",
    k: int = 10,
    filters: Filters | None = None,
    weights: Weights | None = None,
    actor: Actor | None = None,
    record_access: bool = True,
    vector: list[float] | None = None,
    below_cut: int = 0,
    using: str = PRIMARY,
) -> SearchResult:
    """Search one space. An empty query lists the matching memories, newest first.

    `vector` replaces the query's embedding (a caller with its own embedding of the
    query); the text side still uses `query`. `below_cut` also returns, in
    `result.below_cut`, up to that many candidates ranked just after the k hits, with
    their components: what nearly made it, for explaining a ranking. They are never
    recorded as recalled. The fused modes take them from the candidates they ranked
    (at least 3k), so there may be fewer than asked.

    `using` is the database the memories are read from (apps/core/replicas.py: a
    replica for a caller who may see a moment-old state); the Recall row and the
    access log are written to the primary whatever it is.
    """
    if mode not in MODES:
        raise InvalidSearch(f"mode must be one of {', '.join(MODES)}", {"mode": mode})
    if not isinstance(k, int) or not 1 <= k <= MAX_K:
        raise InvalidSearch(f"k must be an integer from 1 to {MAX_K}", {"k": k})
    if not isinstance(below_cut, int) or not 0 <= below_cut <= MAX_K:
        raise InvalidSearch(
            f"below_cut must be an integer from 0 to {MAX_K}", {"below_cut": below_cut}
        )
    filters = filters or Filters()
    weights = weights or Weights.from_settings()
    scoped = filters.apply(Memory.objects.for_space(space).using(using))
    query = (query or "").strip()
    now = timezone.now()
    result = SearchResult(query=query, mode=mode, hits=[])

    if not query and vector is None:
        started = time.perf_counter()
        rows = _hit_columns(scoped).order_by(F("occurred_at").desc(nulls_last=True), "-created_at")[
            :k
        ]
        result.hits = [Hit(memory=m, score=0.0) for m in rows]
        result.db_ms = (time.perf_counter() - started) * 1000
        result.notice = "No query: the most recent matching memories are listed."
        return result

    reranked = mode == "hybrid" or any(
        (
            weights.recency,
            weights.importance,
            weights.strength,
            weights.context_next,
            weights.context_previous,
            weights.graph,
            weights.feedback,
            weights.session,
            weights.subject,
        )
    )
    # Fusion and re-scoring look a little deeper than k; 30 deep was as good as 100 on LoCoMo.
    # What falls below the cut comes from these same candidates, so asking for it never
    # changes the hits (see _ranked_below for the modes that read exactly k).
    candidates = max(k * 3, 30) if reranked else k
    if mode in ("vector", "hybrid") and vector is None:
        started = time.perf_counter()
        vector = get_backend().embed([query])[0]
        result.embed_ms = (time.perf_counter() - started) * 1000

    started = time.perf_counter()
    vector_hits, text_hits = _candidate_lists(
        scoped,
        space,
        query if mode in ("text", "hybrid") else "",
        vector if mode in ("vector", "hybrid") else None,
        candidates,
        narrowed=filters.narrows(),
        subject=filters.subject,
        in_context=_in_context_weight(space, using, weights),
    )
    result.db_ms += (time.perf_counter() - started) * 1000

    started = time.perf_counter()
    hits = _ranked_hits(
        space,
        scoped,
        vector_hits,
        text_hits,
        weights,
        now,
        k + below_cut,
        vector=vector,
        query=query,
    )
    result.db_ms += (time.perf_counter() - started) * 1000
    result.hits = hits[:k]
    if below_cut:
        result.below_cut = (
            hits[k:]
            if reranked
            else _ranked_below(space, scoped, result, vector, filters, weights, now, below_cut)
        )
    if not result.hits:
        result.notice = (
            "This space has no memories yet."
            if not Memory.objects.for_space(space).using(using).exists()
            else "Nothing matched."
        )
    if record_access and result.hits:
        _record_access(space, result, actor or Actor.system("search"), now, vector)
    return result


def _ranked_hits(
    space: Space,
    scoped: QuerySet[Memory],
    vector_hits: list[tuple[UUID, float]],
    text_hits: list[tuple[UUID, float]],
    weights: Weights,
    now: datetime,
    depth: int,
    *,
    vector: list[float] | None = None,
    query: str = "",
) -> list[Hit]:
    """The best `depth` candidates as hits, best first, each with its components and
    its final score. `vector`, the query's embedding, is what feedback is weighed by."""
    fused = _fuse(vector_hits, text_hits, weights)
    _expand_context(space, scoped, fused, weights)
    _apply_session_and_subject(space, scoped, fused, query, weights)
    _expand_graph(space, scoped, fused, weights)
    _apply_feedback(space, fused, vector, weights)
    ranked = sorted(fused, key=lambda pk: fused[pk].score, reverse=True)
    rescoring = bool(weights.recency or weights.importance or weights.strength)
    # Only the memories that can still make the top k are loaded, vectors left out.
    # Every candidate already passed the filters; testing them again made the planner
    # combine the filters' indexes with the primary key instead of reading ten rows.
    wanted = ranked if rescoring else ranked[:depth]
    loaded = (
        {
            m.pk: m
            for m in _hit_columns(Memory.objects.for_space(space).using(scoped.db)).filter(
                pk__any_of=wanted
            )
        }
        if wanted
        else {}
    )
    hits = [
        Hit(memory=loaded[pk], score=fused[pk].score, components=fused[pk].components)
        for pk in ranked
        if pk in loaded
    ]
    _rescore(hits, weights, now)
    hits.sort(key=lambda h: h.score, reverse=True)
    hits = hits[:depth]
    for hit in hits:
        hit.components["final"] = round(hit.score, 6)
    return hits


def _ranked_below(
    space: Space,
    scoped: QuerySet[Memory],
    result: SearchResult,
    vector: list[float] | None,
    filters: Filters,
    weights: Weights,
    now: datetime,
    below_cut: int,
) -> list[Hit]:
    """What ranks after the hits of a plain vector or text search. Those read exactly
    k candidates, and a text search widens its match when it finds fewer than it asks
    for: reading deeper could change the hits themselves, so this is a second look,
    kept apart from the answer."""
    depth = len(result.hits) + below_cut
    vector_hits, text_hits = _candidate_lists(
        scoped,
        space,
        result.query if result.mode == "text" else "",
        vector if result.mode == "vector" else None,
        depth,
        narrowed=filters.narrows(),
        subject=filters.subject,
        in_context=_in_context_weight(space, scoped.db, weights),
    )
    shown = {hit.memory.pk for hit in result.hits}
    deeper = _ranked_hits(
        space,
        scoped,
        vector_hits,
        text_hits,
        weights,
        now,
        depth,
        vector=vector,
        query=result.query,
    )
    return [hit for hit in deeper if hit.memory.pk not in shown][:below_cut]


def new_recall(
    space: Space, result: SearchResult, actor: Actor, vector: list[float] | None, at: datetime
) -> Recall:
    """Write the Recall row of a search's hits (one INSERT) and name it in `result`.
    `vector` is the query's embedding, kept for the feedback prior."""
    recall = Recall(
        space=space,
        query=result.query,
        mode=result.mode,
        query_vector=vector,
        memory_ids=[hit.memory.pk for hit in result.hits],
        created_at=at,
        duration_ms=result.embed_ms + result.db_ms,
        **actor.as_fields(),
    )
    recall.save(force_insert=True, using=PRIMARY)
    result.recall_id = recall.pk
    return recall


def _record_access(
    space: Space, result: SearchResult, actor: Actor, now: datetime, vector: list[float] | None
) -> None:
    from apps.retrieval.tasks import record_recall

    # The recall itself is one INSERT, made now so that the answer can name it and
    # feedback can follow at once; the access log and the strengths are the worker's.
    recall = new_recall(space, result, actor, vector, now)
    ids = [str(pk) for pk in recall.memory_ids]
    try:
        # Deferred to a worker so the query does not wait on the write.
        record_recall.delay(
            space.pk,
            ids,
            now.isoformat(),
            result.query,
            result.mode,
            actor.to_payload(),
            recall_id=str(recall.pk),
        )
    except Exception:  # the broker being down must not fail a read
        logger.warning("could not queue the access log for %d memories", len(ids), exc_info=True)

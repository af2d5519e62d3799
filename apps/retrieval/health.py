"""A space's retrieval health: whether its vector search finds what an exact scan
finds, whether its memories have vectors and from which model, how much room it takes,
and how fast its searches answer.

Recall@10 is measured by a job (weekly, or on request) and kept as HealthSnapshot
rows; the other figures are read when the panel is shown.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NamedTuple

import numpy as np
from django.contrib.postgres.fields import ArrayField
from django.db import connection, transaction
from django.db.models import Aggregate, Count, FloatField, Q
from django.utils import timezone
from pgvector import Vector

from apps.jobs.models import Job
from apps.memories.models import Memory, Status
from apps.retrieval import storage, subject_indexes, vector_indexes
from apps.retrieval.embedding import get_backend
from apps.retrieval.models import HealthSnapshot, Recall
from apps.retrieval.scope import TABLE, SqlScope
from apps.retrieval.search import Filters, nearest_sql
from apps.spaces.models import Space

JOB_KIND = "retrieval_health"
K = 10
SAMPLE_SIZE = 200
# Below this recall@10 (or with memories from another model) the space's attention
# counts send the curator to the panel: one of the ten nearest missed in every other
# search. A sample of 200 measures recall to within about a percentage point.
ATTENTION_BELOW = 0.95
HISTORY = timedelta(weeks=8)
LATENCY_WINDOW = timedelta(days=7)
# A memory without a vector is being embedded for this long after its last change (the
# job runs within seconds and the sweep every minute); after that its vector is missing.
PENDING_FOR = timedelta(minutes=5)
PERCENTILES = (0.5, 0.95, 0.99)
# Distances this close to the exact 10th count as ties: two memories with the same
# vector (or the same text) are equally right answers, whichever of them a list holds.
TIE = 1e-6


def start_measurement(space: Space, reason: str) -> Job:
    """Create a recall measurement job for `space` and queue it once the transaction
    commits; a measurement already waiting to start is reused."""
    from apps.retrieval.tasks import measure_health

    waiting = Job.objects.for_space(space).filter(kind=JOB_KIND, status=Job.Status.QUEUED).first()
    if waiting is not None:
        return waiting
    job = Job.objects.create(kind=JOB_KIND, space=space, params={"reason": reason})
    transaction.on_commit(lambda: measure_health.delay(job.pk))
    return job


def _nearest(scope: SqlScope, vector: str, *, exact: bool) -> tuple[str, list[Any]]:
    # The distances of search's nearest list: the rows an HNSW walk finds when the
    # planner picks one, or, with `exact`, every vector of the space sorted.
    listed, params = nearest_sql(scope, vector, K, exactly=exact)
    return f"SELECT distance FROM ({listed}) AS nearest", params


def recall_at_k(found: list[float], exact: list[float]) -> float | None:
    """The share of the exact k nearest that `found` holds, both given as distances:
    a found memory counts when it is no farther than the exact k-th (ties included)."""
    if not exact:
        return None
    farthest = max(exact) + TIE
    return min(len(exact), sum(1 for d in found if d <= farthest)) / len(exact)


def sample_queries(
    space: Space, size: int = SAMPLE_SIZE, *, recorded: bool = True
) -> tuple[list[Any], int]:
    """Up to `size` query vectors: the space's most recent distinct recorded search
    queries (unless not `recorded`), topped up with stored memories' vectors picked at
    random. Returns the vectors and how many of them are recorded queries."""
    vectors: list[Any] = []
    seen: set[bytes] = set()
    recent = (
        Recall.objects.for_space(space)
        .filter(query_vector__isnull=False)
        .order_by("-created_at")
        .values_list("query_vector", flat=True)[: size * 3 if recorded else 0]
    )
    for vector in recent:
        key = np.asarray(vector, dtype=np.float32).tobytes()
        if key not in seen:
            seen.add(key)
            vectors.append(vector)
        if len(vectors) == size:
            break
    from_queries = len(vectors)
    if from_queries < size:
        stored = (
            Memory.objects.for_space(space)
            .active()
            .embedded()
            .order_by("?")
            .values_list("embedding", flat=True)[: size - from_queries]
        )
        vectors += list(stored)
    return vectors, from_queries


def measure(space: Space, job: Job | None = None, size: int = SAMPLE_SIZE) -> HealthSnapshot:
    """Measure the space's vector recall@10 over a sample of queries, store it as a
    snapshot and forget snapshots older than HISTORY."""
    snapshot = measure_recall(space, job, size)
    snapshot.save()
    HealthSnapshot.objects.for_space(space).filter(
        measured_at__lt=snapshot.measured_at - HISTORY
    ).delete()
    return snapshot


def measure_recall(
    space: Space, job: Job | None = None, size: int = SAMPLE_SIZE, *, recorded: bool = True
) -> HealthSnapshot:
    """The measurement as an unsaved snapshot (benchmarks/retrieval_health.py reads
    other people's spaces without writing to them)."""
    now = timezone.now()
    scope = SqlScope.of(Filters().apply(Memory.objects.for_space(space)))
    exact = vector_indexes.searches_exactly(space.pk)
    vectors, from_queries = sample_queries(space, size, recorded=recorded)
    if job is not None:
        job.done, job.counts = 0, {}  # a redelivered job starts over
        job.start(total=len(vectors))
    recalls: list[float] = []
    # The connection's own hnsw settings (iterative scan, ef_search), as a search has.
    with connection.cursor() as cursor:
        for done, vector in enumerate(vectors, start=1):
            text = Vector(vector).to_text()
            cursor.execute(*_nearest(scope, text, exact=exact))
            found = [float(d) for (d,) in cursor.fetchall()]
            if exact:  # the search's own statement is the exact one
                truth = found
            else:
                cursor.execute(*_nearest(scope, text, exact=True))
                truth = [float(d) for (d,) in cursor.fetchall()]
            value = recall_at_k(found, truth)
            if value is not None:
                recalls.append(value)
            if job is not None and (done % 20 == 0 or done == len(vectors)):
                job.advance(20 if done % 20 == 0 else done % 20)
    return HealthSnapshot(
        space=space,
        measured_at=now,
        recall=sum(recalls) / len(recalls) if recalls else None,
        from_queries=from_queries,
        from_memories=len(vectors) - from_queries,
        exact=exact,
        embedded=Memory.objects.for_space(space).active().embedded().count(),
        job=job,
    )


# ------------------------------------------------------------- the panel's figures


class Percentiles(Aggregate):
    """PostgreSQL's percentile_cont over several fractions at once, as a float array."""

    function = "percentile_cont"
    template = (
        "%(function)s(ARRAY[%(fractions)s]::float8[]) WITHIN GROUP (ORDER BY %(expressions)s)"
    )
    output_field = ArrayField(FloatField())

    def __init__(self, expression: str, fractions: tuple[float, ...]) -> None:
        super().__init__(expression, fractions=", ".join(str(f) for f in fractions))


@dataclass(frozen=True)
class SpaceIndex:
    name: str
    bytes: int
    # The space's own partial index, or one shared by every space.
    own: bool
    # For an index of one subject's memories (apps/retrieval/subject_indexes.py).
    subject: str | None = None


@dataclass
class RetrievalHealth:
    space: Space
    model: str
    latest: HealthSnapshot | None
    history: list[HealthSnapshot]
    searched_exactly: bool
    active: int
    embedded: int
    pending: int
    missing: int
    # Embedded, and read exactly by searches until the graph job adds them (graph.py).
    waiting_for_graph: int
    # embedding_model -> active memories it embedded, the configured model first.
    models: dict[str, int]
    rows: int
    table_bytes: int
    table_rows_estimate: int
    indexes: list[SpaceIndex]  # HNSW
    words_indexes: list[SpaceIndex]
    buffer_bytes: int  # the server's shared_buffers
    latency_ms: dict[str, float | None]
    searches: int
    measuring: Job | None = None
    checked_at: datetime = field(default_factory=timezone.now)

    @property
    def other_models(self) -> int:
        return sum(n for name, n in self.models.items() if name != self.model)

    @property
    def recall_low(self) -> bool:
        return is_low(self.latest.recall if self.latest else None)

    @property
    def table_rows(self) -> int:
        """The table's rows by the planner's estimate (pg_class.reltuples, updated by
        ANALYZE), never fewer than this space's own."""
        return max(self.table_rows_estimate, self.rows)

    @property
    def share(self) -> float:
        """The space's share of the table's rows."""
        return self.rows / max(1, self.table_rows)

    @property
    def table_share_bytes(self) -> int:
        return round(self.table_bytes * self.share)

    @property
    def own_index(self) -> bool:
        return any(index.own for index in self.indexes)

    @property
    def searched_bytes(self) -> int:
        """What the space's searches read, by estimate: its share of the table, its own
        indexes, and its share of those every space shares."""
        return self.table_share_bytes + sum(
            index.bytes if index.own else round(index.bytes * self.share)
            for index in [*self.indexes, *self.words_indexes]
        )

    @property
    def fits_in_buffers(self) -> bool:
        return self.searched_bytes <= self.buffer_bytes

    def as_json(self) -> dict[str, Any]:
        def index_json(index: SpaceIndex) -> dict[str, Any]:
            return {
                "name": index.name,
                "bytes": index.bytes,
                "shared": not index.own,
                "subject": index.subject,
            }

        def snapshot(s: HealthSnapshot) -> dict[str, Any]:
            return {
                "recall_at_10": s.recall,
                "sample_size": s.sample_size,
                "from_queries": s.from_queries,
                "from_memories": s.from_memories,
                "searched_exactly": s.exact,
                "embedded": s.embedded,
                "measured_at": s.measured_at.isoformat(),
            }

        return {
            "space": self.space.slug,
            "recall": snapshot(self.latest) if self.latest else None,
            "recall_low": self.recall_low,
            "history": [snapshot(s) for s in self.history],
            "searched_exactly": self.searched_exactly,
            "vectors": {
                "active_memories": self.active,
                "embedded": self.embedded,
                "pending": self.pending,
                "missing": self.missing,
                "waiting_for_graph": self.waiting_for_graph,
            },
            "models": {
                "configured": self.model,
                "by_model": self.models,
                "other_models": self.other_models,
            },
            "sizes": {
                "table_bytes": self.table_bytes,
                "table_rows_estimate": self.table_rows,
                "space_rows": self.rows,
                "space_share_bytes_estimate": self.table_share_bytes,
                "hnsw_indexes": [index_json(i) for i in self.indexes],
                "words_indexes": [index_json(i) for i in self.words_indexes],
                "searched_bytes_estimate": self.searched_bytes,
                "buffer_bytes": self.buffer_bytes,
                "fits_in_buffers": self.fits_in_buffers,
            },
            "latency_ms": {**self.latency_ms, "searches": self.searches, "days": 7},
            "measuring": self.measuring is not None,
        }


def is_low(recall: float | None) -> bool:
    return recall is not None and recall < ATTENTION_BELOW


class _Sizes(NamedTuple):
    table_bytes: int
    table_rows_estimate: int
    indexes: list[SpaceIndex]
    words_indexes: list[SpaceIndex]
    buffer_bytes: int


def _sizes(space: Space) -> _Sizes:
    """The table's size (heap and TOAST, not its indexes) and planner row estimate, the
    HNSW and words (GIN) indexes this space's search may use: its own partial ones when
    it has them, else those every space shares (another space's partial index is none
    of its business), and the server's shared buffers."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_table_size(c.oid), c.reltuples::bigint,"
            " pg_size_bytes(current_setting('shared_buffers'))"
            " FROM pg_class c WHERE c.oid = %s::regclass",
            [TABLE],
        )
        table_bytes, estimate, buffer_bytes = cursor.fetchone()
    found = storage.table_indexes(connection, "hnsw", "gin")

    def serving(method: str, own_name: str, column: str) -> list[SpaceIndex]:
        of_column = [i for i in found if i.method == method and f"({column}" in i.definition]
        own = [
            SpaceIndex(i.name, i.bytes, True, subject_indexes.subject_of(i))
            for i in of_column
            if i.name == own_name or subject_indexes.belongs_to(i.name, space.pk)
        ]
        shared = [SpaceIndex(i.name, i.bytes, False) for i in of_column if not i.partial]
        return own or shared

    return _Sizes(
        int(table_bytes),
        max(0, int(estimate)),
        serving("hnsw", vector_indexes.index_name(space.pk), "embedding"),
        serving("gin", vector_indexes.words_index_name(space.pk), "search_vector"),
        int(buffer_bytes),
    )


def health_of(space: Space, now: datetime | None = None) -> RetrievalHealth:
    """Every figure of the panel; about seven queries whatever the space's size."""
    now = now or timezone.now()
    model = get_backend().name
    history = list(HealthSnapshot.objects.for_space(space).order_by("-measured_at", "-pk")[:12])[
        ::-1
    ]
    active = Q(status=Status.ACTIVE)
    vectorless = active & Q(embedding__isnull=True)
    recent = Q(updated_at__gte=now - PENDING_FOR)
    by_model = list(
        Memory.objects.for_space(space)
        .values("embedding_model")
        .annotate(
            rows=Count("pk"),
            embedded=Count("pk", filter=active & Q(embedding__isnull=False)),
            pending=Count("pk", filter=vectorless & recent),
            missing=Count("pk", filter=vectorless & ~recent),
            waiting=Count("pk", filter=active & Q(embedding__isnull=False, graph_pending=True)),
            active=Count("pk", filter=active),
        )
        .order_by()
    )
    models = {model: 0}
    for row in sorted(by_model, key=lambda r: -r["embedded"]):
        if row["embedded"]:
            models[row["embedding_model"]] = models.get(row["embedding_model"], 0) + row["embedded"]
    if not models[model] and len(models) > 1:
        del models[model]
    latency = (
        Recall.objects.for_space(space)
        .filter(created_at__gte=now - LATENCY_WINDOW, duration_ms__isnull=False)
        .aggregate(p=Percentiles("duration_ms", PERCENTILES), n=Count("pk"))
    )
    sizes = _sizes(space)
    figures = latency["p"] or [None] * len(PERCENTILES)
    return RetrievalHealth(
        space=space,
        model=model,
        latest=history[-1] if history else None,
        history=history,
        searched_exactly=vector_indexes.searches_exactly(space.pk),
        active=sum(r["active"] for r in by_model),
        embedded=sum(r["embedded"] for r in by_model),
        pending=sum(r["pending"] for r in by_model),
        missing=sum(r["missing"] for r in by_model),
        waiting_for_graph=sum(r["waiting"] for r in by_model),
        models=models,
        rows=sum(r["rows"] for r in by_model),
        table_bytes=sizes.table_bytes,
        table_rows_estimate=sizes.table_rows_estimate,
        indexes=sizes.indexes,
        words_indexes=sizes.words_indexes,
        buffer_bytes=sizes.buffer_bytes,
        latency_ms={
            f"p{round(f * 100)}": (round(v, 1) if v is not None else None)
            for f, v in zip(PERCENTILES, figures, strict=True)
        },
        searches=latency["n"],
        measuring=Job.objects.for_space(space).filter(kind=JOB_KIND).running().first(),
        checked_at=now,
    )

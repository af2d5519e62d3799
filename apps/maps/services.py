"""Projecting a space's embeddings to 2-D: UMAP (after PCA for large spaces, fitted on
a sample for the largest), HDBSCAN clusters, and each memory's similarity to its
nearest neighbour (near-duplicates, computed meanwhile in a child process:
apps/maps/neighbours.py).

The numbers are fixed by a random state, so projecting the same vectors again draws
the same map. Memories without a vector, or deleted, are left out; the map page says
how many memories the newest projection does not show.
"""

from __future__ import annotations

import io
import logging
import os
import struct
import threading
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from apps.audit.actors import Actor
from apps.audit.services import record_event
from apps.jobs.models import Job
from apps.maps.models import MapPoint, Projection
from apps.maps.neighbours import RANDOM_STATE, NearestSimilarityInChild
from apps.memories.models import Memory, Status
from apps.spaces.models import Space

logger = logging.getLogger(__name__)

PCA_ABOVE = 5000  # memories; larger spaces go through PCA first, to PCA_DIMENSIONS
PCA_DIMENSIONS = 50
# Larger spaces fit UMAP on a fixed-seed sample of FIT_SAMPLE memories and place the
# rest with `transform`: the fit's cost grows with the points it lays out together,
# the transform's only with the points it places. Transform runs in fixed-size chunks
# in id order, each from the same seed, so the same vectors give the same map.
SAMPLE_ABOVE = 30_000
FIT_SAMPLE = 20_000
TRANSFORM_CHUNK = 10_000
NEIGHBOURS = 15
MIN_DIST = 0.1
# Below this many points UMAP has too few neighbours to work with: PCA alone.
UMAP_MIN_POINTS = 10
STORE_CHUNK = 20_000


@dataclass
class Layout:
    ids: list[str]
    xy: np.ndarray  # (n, 2)
    clusters: np.ndarray  # (n,) ints, -1 for noise
    nearest_similarity: np.ndarray  # (n,)
    params: dict[str, Any]


def mappable(space: Space) -> QuerySet[Memory]:
    """The memories a map can show: embedded and not deleted."""
    return Memory.objects.for_space(space).embedded().exclude(status=Status.DELETED)


def start_projection(space: Space) -> Job:
    """Create a projection job for the space and queue it once the transaction commits."""
    from apps.maps.tasks import project_space

    job = Job.objects.create(kind="project", space=space, params={"stage": "queued"})
    transaction.on_commit(lambda: project_space.delay(job.pk))
    return job


def load_vectors(space: Space) -> tuple[list[str], np.ndarray]:
    """(ids, float32 matrix) of the mappable memories, read in pgvector's binary form:
    parsing 100k vectors from text would take longer than projecting them. Cast to
    `vector` first: exact from halfvec storage too (apps/retrieval/storage.py)."""
    sql, params = mappable(space).order_by("pk").values_list("pk").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT m.id::text, vector_send(m.embedding::vector) FROM memories_memory m"
            f" WHERE m.id IN ({sql}) ORDER BY m.id",
            params,
        )
        rows = cursor.fetchall()
    if not rows:
        return [], np.zeros((0, 0), dtype=np.float32)
    (dimensions,) = struct.unpack(">H", bytes(rows[0][1][:2]))
    # vector_send: int16 dimensions, int16 unused, then big-endian float32 values.
    matrix = np.frombuffer(b"".join(bytes(raw)[4:] for _, raw in rows), dtype=">f4")
    return [pk for pk, _ in rows], matrix.reshape(len(rows), dimensions).astype(np.float32)


def compute_layout(ids: list[str], vectors: np.ndarray, fit_sample: int | None = None) -> Layout:
    """The map of these vectors. UMAP is fitted on `fit_sample` of them (by default
    FIT_SAMPLE above SAMPLE_ABOVE points, else all of them) and places the others."""
    params: dict[str, Any] = {"random_state": RANDOM_STATE, "metric": "cosine"}
    normalized = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    # The near-duplicate score does not depend on the layout: a child process computes
    # it on the other core while this one lays out and clusters the map.
    with NearestSimilarityInChild(normalized) as nearest_in_child:
        xy, sample = lay_out(normalized, params, fit_sample)
        clusters, cluster_settings = find_clusters(xy, sample)
        nearest = nearest_in_child.result()
    params.update(cluster_settings)
    if sample is not None:
        params["clustered_sample"] = len(sample)
    return Layout(ids, np.asarray(xy, dtype=np.float64), clusters, nearest, params)


def lay_out(
    normalized: np.ndarray, params: dict[str, Any], fit_sample: int | None
) -> tuple[np.ndarray, np.ndarray | None]:
    """The 2-D points of these unit rows and, when UMAP was fitted on a sample, the
    sample's rows. Records the method in `params`."""
    from sklearn.decomposition import PCA

    count = len(normalized)
    reduced = normalized
    if count > PCA_ABOVE:
        reduced = PCA(n_components=PCA_DIMENSIONS, random_state=RANDOM_STATE).fit_transform(
            normalized
        )
        params["pca_dimensions"] = PCA_DIMENSIONS
    if count >= UMAP_MIN_POINTS:
        neighbours = min(NEIGHBOURS, count - 1)
        reducer = _umap(neighbours)
        params.update(method="umap", n_neighbors=neighbours, min_dist=MIN_DIST)
        if fit_sample is None:
            fit_sample = FIT_SAMPLE if count > SAMPLE_ABOVE else count
        with _KERNELS:
            if fit_sample < count:
                sample = sample_rows(count, fit_sample)
                params["fit_sample"] = fit_sample
                return fit_on_sample(reducer, reduced, sample), sample
            return reducer.fit_transform(reduced), None
    if count >= 2:
        params["method"] = "pca"
        return PCA(n_components=2).fit_transform(normalized), None
    params["method"] = "single point"
    return np.zeros((count, 2)), None


def _umap(neighbours: int, **options: Any) -> Any:
    import umap

    return umap.UMAP(
        n_components=2,
        n_neighbors=neighbours,
        min_dist=MIN_DIST,
        metric="cosine",
        random_state=RANDOM_STATE,
        transform_seed=RANDOM_STATE,
        **options,
    )


# Held while UMAP runs: the warm-up's thread and a job must not run numba's parallel
# kernels at once (its default threading layer does not allow it).
_KERNELS = threading.Lock()
# More rows than UMAP lays out by exact distances, so the warm-up compiles the
# nearest-neighbour descent a large map uses.
WARM_UP_ROWS = 4200
# How the warm-up's log line begins (tests wait for it).
WARMED_UP = "projection kernels compiled in"


def warm_up() -> None:
    """Compile UMAP's kernels now, at a worker process's start: numba compiles them in
    each process, about 40 s of CPU, which a process's first map would otherwise wait
    for (a 100k map took 91 s in a fresh process, 40 s after this)."""
    started = time.monotonic()
    rows = np.random.default_rng(RANDOM_STATE).normal(size=(WARM_UP_ROWS, PCA_DIMENSIONS))
    with _KERNELS:
        # The layout barely matters: a few epochs compile the same kernels as many.
        reducer = _umap(NEIGHBOURS, n_epochs=5)
        fit_on_sample(reducer, rows.astype(np.float32), np.arange(WARM_UP_ROWS - 100))
    logger.info("%s %.1f s (pid %d)", WARMED_UP, time.monotonic() - started, os.getpid())


def sample_rows(count: int, size: int) -> np.ndarray:
    """`size` of `count` row numbers, in order, drawn with the fixed seed."""
    return np.sort(np.random.default_rng(RANDOM_STATE).choice(count, size, replace=False))


def fit_on_sample(reducer: Any, vectors: np.ndarray, sample: np.ndarray) -> np.ndarray:
    """UMAP fitted on the `sample` rows; every other row placed by `transform`, chunk
    by chunk in row order. Deterministic: the chunks and each chunk's seed (umap's
    transform_seed; with a random_state it runs on one thread) depend only on the
    rows."""
    count = len(vectors)
    rest = np.setdiff1d(np.arange(count), sample)
    xy = np.empty((count, 2), dtype=np.float32)
    xy[sample] = reducer.fit_transform(vectors[sample])
    for start in range(0, len(rest), TRANSFORM_CHUNK):
        chunk = rest[start : start + TRANSFORM_CHUNK]
        xy[chunk] = reducer.transform(vectors[chunk])
    return xy


def find_clusters(
    xy: np.ndarray, sample: np.ndarray | None = None
) -> tuple[np.ndarray, dict[str, int]]:
    """HDBSCAN leaf clusters of the points (-1 for noise) and the settings used. With a
    `sample` (the rows UMAP was fitted on), only the sample is clustered and every
    other point takes its nearest sample point's cluster, or noise: sklearn builds
    HDBSCAN's spanning tree with Prim's algorithm over all pairs, so clustering 20k of
    100k points does about 25 times less work."""
    from sklearn.cluster import HDBSCAN

    count = len(xy)
    # A cluster is at least 1% of a small space; a large one may hold many small
    # topics, so the floor stops at 50 memories.
    min_cluster = max(5, min(count // 100, 50))
    min_samples = min_cluster
    clustered = xy if sample is None else xy[sample]
    if sample is not None:
        share = len(sample) / count
        # A topic of `min_cluster` memories shows that share of them in the sample:
        # the same floor in memories, so a sampled map finds as many topics.
        min_cluster = max(5, round(min_cluster * share))
        # min_samples sets the density's scale (the radius holding that many points,
        # which wants it scaled by the share) and its noise (about 1/sqrt(points),
        # which wants it kept): scaled fully, leaf selection shatters the sample into
        # specks; kept, it merges neighbouring topics. The geometric mean between
        # the two agreed best with clustering every point on synthetic topic maps.
        min_samples = max(min_cluster, round(min_samples * share**0.5))
    settings = {"min_cluster_size": min_cluster, "min_samples": min_samples}
    if len(clustered) < min_cluster * 2:
        return np.full(count, -1), settings
    # Leaf clusters: the finest stable ones, which is what a curator looking for
    # topics and duplicates wants; the default merges neighbouring topics.
    labels = HDBSCAN(
        min_cluster_size=min_cluster,
        min_samples=min_samples,
        cluster_selection_method="leaf",
        copy=True,
    ).fit_predict(clustered)
    if sample is None:
        return labels, settings
    return label_from_sample(xy, sample, labels, min_samples), settings


def label_from_sample(
    xy: np.ndarray, sample: np.ndarray, sample_labels: np.ndarray, min_samples: int
) -> np.ndarray:
    """Every point's cluster from the clustered `sample`: its own label for a sample
    point; for any other point, the label of its nearest sample point if the point
    lies within that sample point's core distance (the distance to its `min_samples`-th
    nearest sample point, itself included, as HDBSCAN counts it), else noise.

    HDBSCAN's own bound: it links two points at their mutual reachability distance,
    the larger of their distance and their core distances. Within the sample point's
    core distance, the point is as close to it as its `min_samples` nearest neighbours
    are, so as dense a place: it belongs where the sample point does. Farther out, it
    would link to the sample point only at a lower density than the sample point's
    own, and past a cluster's edge that is where HDBSCAN leaves points as noise."""
    from scipy.spatial import cKDTree

    sample_xy = xy[sample]
    tree = cKDTree(sample_xy)
    core_distances, _ = tree.query(sample_xy, k=min(min_samples, len(sample)))
    core_distance = core_distances.reshape(len(sample), -1)[:, -1]
    labels = np.full(len(xy), -1)
    labels[sample] = sample_labels
    rest = np.setdiff1d(np.arange(len(xy)), sample)
    distances, nearest = tree.query(xy[rest], k=1)
    near_enough = distances <= core_distance[nearest]
    labels[rest] = np.where(near_enough, sample_labels[nearest], -1)
    return labels


def _store(projection: Projection, layout: Layout, job: Job) -> None:
    """Write the points with COPY, in chunks, advancing the job as they go."""
    for start in range(0, len(layout.ids), STORE_CHUNK):
        end = min(start + STORE_CHUNK, len(layout.ids))
        buffer = io.StringIO()
        for i in range(start, end):
            x, y = layout.xy[i]
            buffer.write(
                f"{projection.pk}\t{projection.space_id}\t{layout.ids[i]}\t{i}\t{x:.6f}\t{y:.6f}"
                f"\t{int(layout.clusters[i])}\t{float(layout.nearest_similarity[i]):.6f}\n"
            )
        with connection.cursor() as cursor:
            raw = cursor.cursor  # psycopg's own cursor, for COPY
            with raw.copy(
                "COPY maps_mappoint (projection_id, space_id, memory_id, ordinal, x, y,"
                " cluster, nearest_similarity) FROM STDIN"
            ) as copy:
                copy.write(buffer.getvalue())
        job.advance(end - start)


def project(job: Job) -> Projection | None:
    """Run one projection job to the end. Safe to re-run: a redelivered job starts its
    projection over, and a finished one is left alone."""
    if job.status in (Job.Status.SUCCEEDED, Job.Status.FAILED) or job.space is None:
        return None
    space = job.space
    ids, vectors = load_vectors(space)
    job.params["stage"] = "projecting"
    job.save(update_fields=["params"])
    job.start(total=len(ids))
    layout = compute_layout(ids, vectors)
    with transaction.atomic():
        # A redelivered job replaces what its first attempt stored.
        Projection.objects.for_space(space).filter(job=job).delete()
        projection = Projection.objects.for_space(space).create(
            space=space,
            job=job,
            embedding_model=_model_of(space),
            params=layout.params,
            points=len(ids),
            clusters=len(set(layout.clusters.tolist()) - {-1}),
        )
        job.done = 0
        _store(projection, layout, job)
        projection.finished_at = timezone.now()
        projection.save(update_fields=["finished_at"])
        with connection.cursor() as cursor:
            # Fresh statistics: the map page's first visit must not plan over a table
            # that autovacuum has not looked at since 100k rows arrived.
            cursor.execute("ANALYZE maps_mappoint")
        # Only the newest map is shown: older points would only take room.
        Projection.objects.for_space(space).exclude(pk=projection.pk).delete()
        record_event(
            space,
            Actor.system("projection"),
            "space.project",
            target_type="space",
            target_id=space.pk,
            summary={"points": projection.points, "clusters": projection.clusters},
        )
        job.params["stage"] = "done"
        job.counts = {"points": projection.points, "clusters": projection.clusters}
        job.save(update_fields=["params", "counts"])
        job.finish()
    return projection


def _model_of(space: Space) -> str:
    models = list(mappable(space).values_list("embedding_model", flat=True).distinct()[:2])
    return models[0] if len(models) == 1 else ", ".join(sorted(models))


def latest(space: Space) -> Projection | None:
    return (
        Projection.objects.for_space(space)
        .filter(finished_at__isnull=False)
        .order_by("-finished_at")
        .first()
    )


def points_of(projection: Projection) -> QuerySet[MapPoint]:
    return MapPoint.objects.for_space(projection.space_id).filter(projection=projection)

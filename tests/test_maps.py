"""Embedding maps: the projection job on real MiniLM embeddings, in process and in a
real worker; clusters, near-duplicates, what is left out, idempotence."""

from __future__ import annotations

import numpy as np
import pytest

from apps.audit.models import AuditEvent
from apps.jobs.models import Job
from apps.maps import neighbours
from apps.maps import services as maps
from apps.maps.models import MapPoint, Projection
from apps.maps.tasks import project_space
from apps.memories import services
from apps.spaces.models import Space
from tests.conftest import worker_env
from tests.test_pipeline import wait_until
from tests.worker_process import start_worker_process, stop_worker_process

pytestmark = pytest.mark.slow

TOPICS = {
    "running": [
        "Maya ran ten kilometres along the river this morning.",
        "The marathon training plan adds a long run every Sunday.",
        "Her running shoes are worn out after five hundred kilometres.",
        "Interval sprints on the track left Maya's legs sore.",
        "She wants to finish the Lisbon marathon in under four hours.",
        "A slow recovery jog after the race loosened her calves.",
        "Maya logs every run and her pace in a notebook.",
        "Hill repeats make the half marathon feel easier.",
        "She stretches her hamstrings after each training run.",
        "The running club meets at six on Tuesday evenings.",
        "Maya bought energy gels for the long training runs.",
        "Her fastest five kilometre race took twenty-four minutes.",
    ],
    "cooking": [
        "Tomás slow-roasted the lamb shoulder with garlic and rosemary.",
        "The restaurant's new menu has a saffron seafood rice.",
        "He makes the tomato sauce from scratch every morning.",
        "Tomás sharpened his chef's knife before dinner service.",
        "The sourdough starter needs feeding twice a day.",
        "He braised the short ribs in red wine for six hours.",
        "Fresh basil and olive oil finish the pasta dish.",
        "Tomás tasted the soup and added more salt and lemon.",
        "The kitchen prepped two hundred dumplings for the weekend.",
        "He grilled sardines over charcoal for the lunch special.",
        "The dessert is a burnt Basque cheesecake.",
        "Tomás pickles red onions for the tacos.",
    ],
    "finance": [
        "The quarterly tax payment is due on the fifteenth.",
        "Maya moved her savings into a fixed-rate account.",
        "The mortgage interest rate rises next spring.",
        "She set a monthly budget for groceries and rent.",
        "The invoice for the design project was paid late.",
        "Her pension contributions increased this year.",
        "The bank charged a fee for the international transfer.",
        "She compared index funds with low management fees.",
        "The accountant needs last year's receipts by Friday.",
        "Maya paid off the credit card balance in full.",
        "The electricity bill doubled over the winter.",
        "She is saving for a deposit on a flat.",
    ],
}


def seed(space, actor):
    rows = [{"content": text, "tags": [topic]} for topic, texts in TOPICS.items() for text in texts]
    rows.append({"content": TOPICS["cooking"][0], "tags": ["cooking", "copy"]})
    return services.create_memories(space, actor, rows)


def test_it_maps_every_embedded_memory_with_clusters_and_near_duplicates(space, actor, embed_now):
    memories = seed(space, actor)
    deleted = memories[1]
    services.delete_memory(space, actor, deleted.pk)
    embed_now(space)  # the real MiniLM model
    waiting = services.create_memory(space, actor, content="Not embedded yet.")

    job = maps.start_projection(space)
    projection = maps.project(job)
    assert projection is not None
    points = {p.memory_id: p for p in maps.points_of(projection)}
    expected = {m.pk for m in memories} - {deleted.pk}
    assert set(points) == expected and waiting.pk not in points
    assert projection.points == len(expected) and projection.params["method"] == "umap"

    # Sentences of one topic land together: on the map, nearly every memory's nearest
    # neighbour is about the same topic.
    tags = {m.pk: m.tags[0] for m in memories}
    placed = list(points)
    xy = np.array([(points[pk].x, points[pk].y) for pk in placed])
    distances = np.linalg.norm(xy[:, None, :] - xy[None, :, :], axis=2)
    np.fill_diagonal(distances, np.inf)
    nearest = distances.argmin(axis=1)
    same = sum(tags[placed[i]] == tags[placed[j]] for i, j in enumerate(nearest))
    assert same >= 0.85 * len(placed), same
    # And the clusters follow the topics, far better than chance (the layout, and so
    # its clusters, depends on the order of the points, which their random ids set).
    from sklearn.metrics import adjusted_rand_score

    clusters = [points[pk].cluster for pk in placed]
    assert projection.clusters == len(set(clusters) - {-1}) >= 2
    assert adjusted_rand_score([tags[pk] for pk in placed], clusters) > 0.3

    copy, original = memories[-1], memories[12]
    assert points[copy.pk].nearest_similarity > 0.99
    assert points[original.pk].nearest_similarity > 0.99
    assert points[memories[20].pk].nearest_similarity < 0.95

    job.refresh_from_db()
    assert (job.status, job.done, job.total) == ("succeeded", len(expected), len(expected))
    assert job.counts["clusters"] == projection.clusters
    assert AuditEvent.objects.for_space(space).filter(action="space.project").count() == 1
    assert maps.project(job) is None  # a finished job is left alone


def test_projecting_again_draws_the_same_map_and_keeps_only_the_newest(space, actor, embed_now):
    seed(space, actor)
    embed_now(space)
    first = maps.project(maps.start_projection(space))
    assert first is not None
    first_map = {p.memory_id: (p.x, p.y, p.cluster) for p in maps.points_of(first)}
    second = maps.project(maps.start_projection(space))
    assert second is not None
    second_map = {p.memory_id: (p.x, p.y, p.cluster) for p in maps.points_of(second)}
    assert second_map == first_map  # a fixed random state: the same vectors, the same map
    assert maps.latest(space) == second
    assert list(Projection.objects.for_space(space)) == [second]
    assert MapPoint.objects.for_space(space).count() == second.points


def test_a_large_space_fitted_on_a_sample_gets_the_same_map_every_time(
    space, actor, embed_now, monkeypatch
):
    # The sampled path at a size a test can afford: fit on 24, place the rest 5 at a time.
    monkeypatch.setattr(maps, "SAMPLE_ABOVE", 20)
    monkeypatch.setattr(maps, "FIT_SAMPLE", 24)
    monkeypatch.setattr(maps, "TRANSFORM_CHUNK", 5)
    memories = seed(space, actor)
    embed_now(space)
    first = maps.project(maps.start_projection(space))
    assert first is not None and first.params["fit_sample"] == 24
    first_map = {p.memory_id: (p.x, p.y, p.cluster) for p in maps.points_of(first)}
    second = maps.project(maps.start_projection(space))
    assert second is not None
    second_map = {p.memory_id: (p.x, p.y, p.cluster) for p in maps.points_of(second)}
    assert second_map == first_map and len(first_map) == len(memories)
    # The placed memories land beside their topic too.
    tags = {m.pk: m.tags[0] for m in memories}
    placed = list(first_map)
    xy = np.array([first_map[pk][:2] for pk in placed])
    distances = np.linalg.norm(xy[:, None, :] - xy[None, :, :], axis=2)
    np.fill_diagonal(distances, np.inf)
    same = sum(tags[placed[i]] == tags[placed[j]] for i, j in enumerate(distances.argmin(axis=1)))
    assert same >= 0.8 * len(placed), same


def test_a_tiny_space_still_gets_a_map(space, actor, hashing_backend, embed_now):
    services.create_memories(space, actor, [{"content": "one"}, {"content": "two"}])
    embed_now(space)
    projection = maps.project(maps.start_projection(space))
    assert projection is not None and projection.points == 2
    assert projection.params["method"] == "pca"


@pytest.fixture
def prefork_worker(transactional_db):
    """A real Celery worker with the prefork pool, as deployed: the job runs in one of
    its daemonic pool processes, which multiprocessing would not let have children."""
    process, hostname = start_worker_process(
        worker_env(), options=["--pool=prefork", "--concurrency=1"]
    )
    try:
        yield hostname
    finally:
        stop_worker_process(process)


def test_a_prefork_worker_runs_the_projection_job_and_its_near_duplicate_process(
    transactional_db, prefork_worker, actor
):
    space = Space.objects.create(slug="mapped", name="Mapped")
    from apps.retrieval.tasks import embed_all_pending

    memories = seed(space, actor)
    embed_all_pending(space)
    job = maps.start_projection(space)  # queued on commit (autocommit here)
    wait_until(lambda: Job.objects.get(pk=job.pk).status in ("succeeded", "failed"), timeout=240)
    job.refresh_from_db()
    assert job.status == "succeeded", job.error
    latest = maps.latest(space)
    assert latest is not None and latest.points == 37
    # The scores came back from the child process: the copy and its original.
    points = {p.memory_id: p for p in maps.points_of(latest)}
    assert points[memories[-1].pk].nearest_similarity > 0.99
    assert points[memories[12].pk].nearest_similarity > 0.99


def test_a_failing_near_duplicate_process_fails_the_job_and_stores_nothing(
    space, actor, embed_now, monkeypatch
):
    seed(space, actor)
    embed_now(space)
    job = maps.start_projection(space)

    def child_given_one_column(rows: np.ndarray) -> neighbours.NearestSimilarityInChild:
        return neighbours.NearestSimilarityInChild(rows[:, 0])  # not a matrix: it fails

    monkeypatch.setattr(maps, "NearestSimilarityInChild", child_given_one_column)
    with pytest.raises(neighbours.NeighbourProcessFailed, match="Expected 2D array"):
        project_space(job.pk)
    job.refresh_from_db()
    assert job.status == "failed" and "Expected 2D array" in job.error
    assert not Projection.objects.for_space(space).exists()
    assert not MapPoint.objects.for_space(space).exists()
    assert not AuditEvent.objects.for_space(space).filter(action="space.project").exists()


def test_clustering_a_sample_finds_the_clusters_that_clustering_every_point_finds():
    # Six separate blobs of 1,000 points and one point far from all of them. The blobs
    # are the clear answer, so the two clusterings may disagree only at blob edges,
    # where a labelled point beyond its nearest sample point's core distance is noise:
    # an adjusted Rand index above 0.9 allows a few percent of such points, and a
    # sampled clustering that merged or split a blob would fall well below it.
    from sklearn.metrics import adjusted_rand_score

    rng = np.random.default_rng(0)
    centres = [(x, y) for x in (0.0, 40.0, 80.0) for y in (0.0, 40.0)]
    xy = np.vstack([centre + rng.standard_normal((1000, 2)) for centre in centres])
    xy = np.vstack([xy, [(500.0, 500.0)]])
    blobs = np.repeat(np.arange(len(centres)), 1000)
    sample = maps.sample_rows(len(xy), len(xy) // 5)

    every_point, _ = maps.find_clusters(xy)
    sampled, settings = maps.find_clusters(xy, sample)
    far = len(xy) - 1

    # 50 memories, in the fifth that is clustered; min_samples 50 scaled by sqrt(1/5).
    assert settings == {"min_cluster_size": 10, "min_samples": 22}
    assert len(set(sampled.tolist()) - {-1}) == len(centres)
    assert adjusted_rand_score(every_point, sampled) > 0.9
    assert adjusted_rand_score(blobs, sampled[:far]) > 0.9
    assert far not in sample and sampled[far] == -1  # labelled, and far from every cluster
    assert np.array_equal(maps.find_clusters(xy, sample)[0], sampled)

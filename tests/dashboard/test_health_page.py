"""The retrieval health page, its Measure now button, and the attention counts that
send a curator there."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from apps.jobs.models import Job
from apps.memories import services
from apps.memories.models import Memory
from apps.retrieval import graph, health, vector_indexes
from apps.retrieval.health import JOB_KIND
from apps.retrieval.models import HealthSnapshot


def page(space):
    return reverse("dashboard:health", args=[space.slug])


def snapshot(space, recall, ago=timedelta(0), **fields):
    row = HealthSnapshot(
        space=space, recall=recall, measured_at=timezone.now() - ago, from_memories=200, **fields
    )
    row.save()
    return row


@pytest.fixture
def embedded(space, actor, hashing_backend, embed_now):
    memories = services.create_memories(
        space, actor, [{"content": f"note number {i} about gardens"} for i in range(6)]
    )
    embed_now(space)
    return memories


def test_it_shows_the_figures_to_a_viewer(viewer, space, embedded):
    snapshot(space, 0.97, ago=timedelta(days=7))
    snapshot(space, 0.991, from_queries=12)

    response = viewer.get(page(space))

    assert response.status_code == 200
    html = " ".join(response.content.decode().split())
    assert "<strong>0.991</strong>" in html
    assert "Over 212 queries (12 recent searches, 200 stored memories)" in html
    assert "6 of 6 active memories have a vector" in html
    assert "Recall@10 over time" in html  # two measurements: the trend table
    assert "Measure now" not in html  # a viewer may look, not start a job
    assert "exactly" in html  # six memories are searched exactly
    assert "Words index <code>memory_search_vector</code>" in html  # no index of its own
    assert "fits in the database's 256.0 MB of buffers" in html  # the test server's


def test_it_is_not_there_for_an_outsider_or_a_stranger(outsider, client, space):
    assert outsider.get(page(space)).status_code == 404
    response = client.get(page(space))
    assert response.status_code == 302 and "/login" in response["Location"]


def test_it_shows_an_admin_the_button(admin, space):
    response = admin.get(page(space))
    assert response.status_code == 200
    assert "Measure now" in response.content.decode()
    assert "Not measured yet" in response.content.decode()


def test_it_names_memories_of_another_model(viewer, space, embedded):
    Memory.objects.for_space(space).filter(pk=embedded[0].pk).update(embedding_model="old-model")

    html = viewer.get(page(space)).content.decode()

    assert "old-model" in html
    assert "1 memory embedded by another model than hashing-384" in html


def test_measure_now_queues_a_job(editor, space, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        response = editor.post(reverse("dashboard:health_measure", args=[space.slug]))

    assert response.status_code == 302
    assert response["Location"] == page(space)
    [job] = Job.objects.for_space(space).filter(kind=JOB_KIND)
    assert job.status == Job.Status.QUEUED
    assert len(callbacks) == 1
    again = editor.post(reverse("dashboard:health_measure", args=[space.slug]))
    assert again.status_code == 302
    assert Job.objects.for_space(space).filter(kind=JOB_KIND).count() == 1  # reused
    html = editor.get(page(space)).content.decode()
    assert f"Measuring: job #{job.pk}" in html


def test_measure_now_needs_an_editor_and_a_post(viewer, outsider, editor, space):
    url = reverse("dashboard:health_measure", args=[space.slug])
    assert viewer.post(url).status_code == 403
    assert outsider.post(url).status_code == 404
    assert editor.get(url).status_code == 405
    assert not Job.objects.for_space(space).filter(kind=JOB_KIND).exists()


def test_the_page_reads_a_fixed_number_of_queries(
    viewer, space, actor, hashing_backend, embed_now, django_assert_max_num_queries
):
    services.create_memories(space, actor, [{"content": "small"}] * 3)
    embed_now(space)
    snapshot(space, 1.0)
    with CaptureQueriesContext(connection) as small:
        assert viewer.get(page(space)).status_code == 200
    services.create_memories(space, actor, [{"content": f"more {i}"} for i in range(40)])
    embed_now(space)
    for days in range(1, 8):
        snapshot(space, 0.99, ago=timedelta(days=days))

    with django_assert_max_num_queries(12):
        assert viewer.get(page(space)).status_code == 200
    with CaptureQueriesContext(connection) as large:
        viewer.get(page(space))
    # The first view counted the space's vectors (remembered for a minute after).
    assert len(large) <= len(small)


def test_the_space_nav_links_the_health_page(viewer, space):
    html = viewer.get(reverse("dashboard:home", args=[space.slug])).content.decode()
    assert f'href="{page(space)}"' in html


# ------------------------------------------------------------- attention


def test_low_recall_needs_attention_on_the_home_and_landing_pages(editor, space, embedded):
    snapshot(space, 0.99, ago=timedelta(days=7))
    snapshot(space, 0.9)

    home = editor.get(reverse("dashboard:home", args=[space.slug])).content.decode()
    landing = editor.get("/").content.decode()

    for html in (home, landing):
        assert 'data-figure="recall-low"' in html
        assert f'href="{page(space)}#recall"' in html
        assert "Vector recall@10 of 0.90" in html


def test_a_recall_at_the_threshold_or_an_older_low_one_needs_none(editor, space, embedded):
    snapshot(space, 0.5, ago=timedelta(days=7))
    snapshot(space, 0.95)  # the latest counts, and 0.95 is not below 0.95

    home = editor.get(reverse("dashboard:home", args=[space.slug])).content.decode()

    assert 'data-figure="recall-low"' not in home
    assert 'data-figure="other-models"' not in home


def test_a_mixed_model_needs_attention(editor, space, embedded):
    Memory.objects.for_space(space).filter(pk__in=[m.pk for m in embedded[:2]]).update(
        embedding_model="old-model"
    )

    home = editor.get(reverse("dashboard:home", args=[space.slug])).content.decode()
    landing = editor.get("/").content.decode()

    for html in (home, landing):
        assert 'data-figure="other-models"' in html
        assert "2 memories embedded by another model" in html


def test_a_finished_measurement_reads_as_sentences_on_the_jobs_page(viewer, space):
    Job.objects.create(
        kind=JOB_KIND, space=space, status=Job.Status.SUCCEEDED,
        counts={"sampled": 200},
    )  # fmt: skip

    html = viewer.get(reverse("dashboard:jobs", args=[space.slug])).content.decode()

    assert "200 queries sampled" in html


def test_it_counts_the_vectors_waiting_for_the_graph(viewer, space, actor, embed_now, embedded):
    vector_indexes.build_index(space.pk)
    services.create_memories(space, actor, [{"content": f"a later note {i}"} for i in range(3)])
    embed_now(space)

    response = viewer.get(page(space))
    html = " ".join(response.content.decode().split())
    assert response.status_code == 200
    assert "3 waiting for the graph" in html
    assert health.health_of(space).as_json()["vectors"]["waiting_for_graph"] == 3

    graph.add_pending(space.pk)

    html = " ".join(viewer.get(page(space)).content.decode().split())
    assert "0 waiting for the graph" in html

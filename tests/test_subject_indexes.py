"""A very large space's largest subjects get an HNSW graph and a words index of their
own, and a search filtered on such a subject reads them (apps/retrieval/subject_indexes.py)."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.audit.actors import Actor
from apps.memories import services
from apps.memories.models import Memory
from apps.retrieval import health, lexical, subject_indexes, vector_indexes
from apps.retrieval import search as search_module
from apps.retrieval.search import Filters, search
from apps.retrieval.tasks import sync_vector_indexes
from apps.spaces.models import Role, Space
from apps.spaces.services import purge_space
from tests.conftest import worker_env
from tests.dashboard.conftest import member
from tests.test_exact_search import exact_ranking_of, fill, nearest_statement_plan, prefer_the_index
from tests.test_pipeline import wait_until
from tests.worker_process import start_worker_process, stop_worker_process

ACTOR = Actor.system("test")
QUOTED = "o'brien"


def subject_notes(space: Space, subject: str, count: int) -> None:
    services.create_memories(
        space,
        ACTOR,
        [{"content": f"{subject} note {i}: kaa loe", "subject": subject} for i in range(count)],
    )


def definitions(space: Space) -> dict[str, str]:
    """The subject indexes of the space, by name."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'memories_memory'"
            " AND (indexname LIKE %s OR indexname LIKE %s)",
            [
                f"{subject_indexes.VECTORS_PREFIX}{space.pk}\\_%",
                f"{subject_indexes.WORDS_PREFIX}{space.pk}\\_%",
            ],
        )
        return dict(cursor.fetchall())


@pytest.fixture
def very_large_space(space, actor, hashing_backend, embed_now, settings, monkeypatch):
    """A space of 100 memories taken for a very large one: 10 about the harbour, 8 about
    o'brien (a quote to write into SQL) and 2 about the mill; with its own indexes."""
    settings.VERY_LARGE_SPACE = 50
    settings.SUBJECT_INDEX_MIN_ROWS = 5
    monkeypatch.setattr(subject_indexes, "MAX_SHARE", 0.12)
    fill(space, actor, 80, seed=11)
    subject_notes(space, "harbour", 10)
    subject_notes(space, QUOTED, 8)
    subject_notes(space, "mill", 2)
    embed_now(space)
    vector_indexes.build_index(space.pk)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE memories_memory")
    return space


def test_it_lists_the_largest_subjects_of_a_very_large_space(
    very_large_space, outsider_space, settings, monkeypatch, embed_now
):
    subject_notes(outsider_space, "harbour", 10)
    embed_now(outsider_space)
    # The mill has too few memories; the outsider's space is not very large.
    assert subject_indexes.subjects_needing_indexes() == [
        (very_large_space.pk, "harbour"),
        (very_large_space.pk, QUOTED),
    ]
    monkeypatch.setattr(subject_indexes, "MAX_PER_SPACE", 1)
    assert subject_indexes.subjects_needing_indexes() == [(very_large_space.pk, "harbour")]
    # A subject with more than MAX_SHARE of the space is walked by the space's graph.
    monkeypatch.setattr(subject_indexes, "MAX_SHARE", 0.09)
    assert subject_indexes.subjects_needing_indexes() == [(very_large_space.pk, QUOTED)]
    monkeypatch.setattr(subject_indexes, "MAX_SHARE", 0.12)
    settings.SUBJECT_INDEX_MIN_ROWS = 0  # turned off
    assert subject_indexes.subjects_needing_indexes() == []
    settings.SUBJECT_INDEX_MIN_ROWS = 5
    settings.VERY_LARGE_SPACE = 101
    assert subject_indexes.subjects_needing_indexes() == []


def test_it_builds_indexes_over_the_subjects_rows_alone(very_large_space):
    space = very_large_space
    assert not subject_indexes.has_indexes(space.pk, "harbour")
    assert subject_indexes.build_indexes(space.pk, "harbour")
    assert subject_indexes.build_indexes(space.pk, QUOTED)
    found = definitions(space)
    assert set(found) == {
        subject_indexes.vectors_index_name(space.pk, "harbour"),
        subject_indexes.words_index_name(space.pk, "harbour"),
        subject_indexes.vectors_index_name(space.pk, QUOTED),
        subject_indexes.words_index_name(space.pk, QUOTED),
    }
    harbour = f"WHERE ((space_id = {space.pk}) AND ((subject)::text = 'harbour'::text))"
    graph = harbour.removesuffix(")") + " AND (NOT graph_pending))"
    assert graph in found[subject_indexes.vectors_index_name(space.pk, "harbour")]
    assert "USING hnsw" in found[subject_indexes.vectors_index_name(space.pk, "harbour")]
    assert harbour in found[subject_indexes.words_index_name(space.pk, "harbour")]
    assert "'o''brien'::text" in found[subject_indexes.vectors_index_name(space.pk, QUOTED)]
    assert subject_indexes.has_indexes(space.pk, "harbour")
    assert not subject_indexes.has_indexes(space.pk, "mill")
    assert subject_indexes.subjects_needing_indexes() == []
    assert not subject_indexes.build_indexes(space.pk, "harbour")  # already there


def test_it_builds_again_over_an_invalid_index(very_large_space):
    space = very_large_space
    subject_indexes.build_indexes(space.pk, "harbour")
    name = subject_indexes.vectors_index_name(space.pk, "harbour")
    with connection.cursor() as cursor:
        # As a concurrent build that died leaves it.
        cursor.execute(
            "UPDATE pg_index SET indisvalid = false WHERE indexrelid = %s::regclass", [name]
        )
    subject_indexes.forget()
    assert not subject_indexes.has_indexes(space.pk, "harbour")
    assert (space.pk, "harbour") in subject_indexes.subjects_needing_indexes()
    assert subject_indexes.build_indexes(space.pk, "harbour")
    assert subject_indexes.has_indexes(space.pk, "harbour")


@pytest.mark.parametrize("subject", ["harbour", QUOTED])
def test_a_subject_search_walks_the_subjects_own_graph_and_ranks_exactly(
    very_large_space, hashing_backend, subject
):
    space = very_large_space
    subject_indexes.build_indexes(space.pk, subject)
    prefer_the_index()
    filters = Filters(subject=subject)
    plan = nearest_statement_plan(space, "kaa loe mii", mode="vector", filters=filters)
    assert subject_indexes.vectors_index_name(space.pk, subject) in plan
    assert "CTE filtered" not in plan  # not the exact sort of the filtered rows

    result = search(space, "kaa loe mii", mode="vector", k=5, filters=filters, record_access=False)
    rows = Memory.objects.for_space(space).filter(subject=subject)
    expected = exact_ranking_of(rows, hashing_backend.embed(["kaa loe mii"])[0], 5)
    assert [hit.similarity for hit in result.hits] == pytest.approx(
        [similarity for _, similarity in expected], abs=1e-5
    )


def text_candidates(space: Space, query: str, subject: str) -> tuple[list[Any], str]:
    """The best two BM25 candidates of the subject's memories, and the plan of the
    statement that found them."""
    scoped = Filters(subject=subject).apply(Memory.objects.for_space(space))
    with CaptureQueriesContext(connection) as queries:
        _, text = search_module._candidate_lists(
            scoped, space, query, None, 2, narrowed=True, subject=subject
        )
    (statement,) = [q["sql"] for q in queries.captured_queries if "step0 AS" in q["sql"]]
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN ANALYZE {statement}")
        plan = "\n".join(row[0] for row in cursor.fetchall())
    return text, plan


def test_a_subject_text_search_widens_through_its_words_index_and_ranks_as_before(
    very_large_space, monkeypatch
):
    # No row budget beyond ten per candidate: the rarest word, "mii", is tried alone
    # first; no harbour note holds it, so matching must widen to find them.
    monkeypatch.setattr(lexical, "MATCH_ROW_BUDGET", 0)
    space = very_large_space
    before, read_plan = text_candidates(space, "kaa loe mii", "harbour")
    assert "CTE scanned" in read_plan  # without its index, the subject's rows are read

    subject_indexes.build_indexes(space.pk, "harbour")
    with connection.cursor() as cursor:
        # As on a large table, where reading the space's rows costs more than the index.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_indexscan = off")
    after, plan = text_candidates(space, "kaa loe mii", "harbour")
    assert "CTE scanned" not in plan
    # The rarest word's step asked the subject's own index; the widest step ran.
    assert subject_indexes.words_index_name(space.pk, "harbour") in plan.split("CTE step1")[0]
    assert "never executed" not in plan.split("CTE step")[-1].split("\n")[1]
    harbour = set(
        Memory.objects.for_space(space).filter(subject="harbour").values_list("pk", flat=True)
    )
    assert len(after) == 2 and {pk for pk, _ in after} <= harbour
    assert [pk for pk, _ in after] == [pk for pk, _ in before]
    assert [score for _, score in after] == pytest.approx([score for _, score in before])


def test_the_panel_lists_a_spaces_subject_indexes_as_its_own(very_large_space):
    space = very_large_space
    subject_indexes.build_indexes(space.pk, QUOTED)
    sizes = health.health_of(space).as_json()["sizes"]
    graphs = {i["name"]: i for i in sizes["hnsw_indexes"]}
    assert set(graphs) == {
        vector_indexes.index_name(space.pk),
        subject_indexes.vectors_index_name(space.pk, QUOTED),
    }
    assert graphs[subject_indexes.vectors_index_name(space.pk, QUOTED)]["subject"] == QUOTED
    assert graphs[vector_indexes.index_name(space.pk)]["subject"] is None
    assert not any(i["shared"] for i in graphs.values())
    words = {i["name"]: i for i in sizes["words_indexes"]}
    assert words[subject_indexes.words_index_name(space.pk, QUOTED)]["subject"] == QUOTED

    viewer = member(space, "victor", Role.VIEWER)
    response = viewer.get(reverse("dashboard:health", args=[space.slug]))
    assert response.status_code == 200
    html = " ".join(response.content.decode().split())
    assert "of this space's memories about <q>o&#x27;brien</q>" in html


def test_it_drops_the_subject_indexes_of_a_deleted_space(
    very_large_space, outsider_space, embed_now
):
    subject_notes(outsider_space, "harbour", 10)
    embed_now(outsider_space)
    subject_indexes.build_indexes(very_large_space.pk, "harbour")
    subject_indexes.build_indexes(outsider_space.pk, "harbour")
    gone = very_large_space.pk
    purge_space(very_large_space, ACTOR, reason="test")
    assert subject_indexes.drop_orphaned_indexes() == [gone]
    assert not definitions(Space(pk=gone))
    assert len(definitions(outsider_space)) == 2
    assert subject_indexes.drop_orphaned_indexes() == []


@pytest.mark.slow
@pytest.mark.services
def test_the_hourly_job_has_a_worker_build_the_indexes_of_a_grown_subject(
    transactional_db: Any, space: Space, outsider_space: Space, settings: Any
) -> None:
    settings.VERY_LARGE_SPACE = 50
    settings.SUBJECT_INDEX_MIN_ROWS = 5
    env = worker_env(
        MEMORYWEB_EMBEDDING_BACKEND="hashing",
        MEMORYWEB_EXACT_SEARCH_BELOW="50",
        MEMORYWEB_VERY_LARGE_SPACE="50",
        MEMORYWEB_SUBJECT_INDEX_MIN_ROWS="5",
    )
    worker, _ = start_worker_process(env, quiet=True, timeout=180)
    try:
        fill(space, ACTOR, 100, seed=12)
        subject_notes(space, "harbour", 10)
        subject_notes(outsider_space, "harbour", 10)
        embedded = Memory.objects.for_space(space).embedded()
        wait_until(lambda: embedded.count() == 110, timeout=60)
        queued = sync_vector_indexes()  # as beat runs it; the worker builds
        assert queued["queued_subjects"] == [[space.pk, "harbour"]]
        wait_until(lambda: len(definitions(space)) == 2, timeout=60)
        subject_indexes.forget()
        assert subject_indexes.has_indexes(space.pk, "harbour")
        assert not definitions(outsider_space)
    finally:
        stop_worker_process(worker)
        # Emptying the tables between transactional tests leaves indexes standing.
        with connection.cursor() as cursor:
            for name in [*definitions(space), vector_indexes.index_name(space.pk)]:
                cursor.execute(f"DROP INDEX IF EXISTS {name}")
            cursor.execute(f"DROP INDEX IF EXISTS {vector_indexes.words_index_name(space.pk)}")

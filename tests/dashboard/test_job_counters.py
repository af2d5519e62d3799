"""Job counters in words: every counter the jobs record reads as a sentence on the
jobs pages, not as its field name ("entities_applied 4")."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from django.conf import settings

from apps.consolidation.services import ALL_OPERATIONS
from apps.consolidation.services.recheck import recheck_stale
from apps.dashboard.templatetags.dashboard import COUNTER_SENTENCES, counter_sentences
from apps.jobs.models import Job

pytestmark = pytest.mark.django_db


def counters_named_in_code() -> set[str]:
    """The counter names the code spells out: keywords of `job.advance(...)` and the
    keys of a dict assigned to `job.counts`, in every module of apps/."""
    names: set[str] = set()
    for path in (Path(settings.BASE_DIR) / "apps").rglob("*.py"):
        if "tests" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "advance":
                names |= {kw.arg for kw in node.keywords if kw.arg is not None}
            if (
                isinstance(node, ast.Assign)
                and any(getattr(t, "attr", "") == "counts" for t in node.targets)
                and isinstance(node.value, ast.Dict)
            ):
                names |= {str(k.value) for k in node.value.keys if isinstance(k, ast.Constant)}
    return names


def counters_built_at_run_time(space) -> set[str]:
    """The names the consolidation job builds: one per re-check outcome, and a
    proposed and an applied count per operation (see consolidate_space)."""
    rechecked = recheck_stale(space)
    return (
        {"rechecked"}
        | {f"recheck_{outcome}" for outcome in rechecked if outcome != "rechecked"}
        | {f"{op}_{outcome}" for op in ALL_OPERATIONS for outcome in ("proposed", "applied")}
    )


def test_the_code_names_the_counters_this_test_expects():
    # If this fails, a job counts something new: give it a sentence in COUNTER_SENTENCES.
    assert {"embedded", "points", "clusters"} <= counters_named_in_code()


def test_every_counter_the_jobs_record_has_a_sentence(space):
    emitted = counters_named_in_code() | counters_built_at_run_time(space)
    assert emitted - set(COUNTER_SENTENCES) == set()
    for name in emitted:
        for value in (1, 4):
            (sentence,) = counter_sentences({name: value})
            assert sentence.startswith(f"{value} ") and "_" not in sentence, (name, sentence)


@pytest.mark.parametrize(
    ("counts", "sentences"),
    [
        ({"entities_applied": 4}, ["4 entities applied by policy"]),
        ({"merge_proposed": 1, "merge_applied": 0}, ["1 merge proposed"]),
        ({"embedded": 1}, ["1 memory embedded"]),
        ({"points": 120, "clusters": 7}, ["120 memories placed on the map", "7 clusters found"]),
        (
            {"rechecked": 2, "recheck_retired": 2},
            ["2 changed proposals re-checked", "2 re-checked proposals retired"],
        ),
        ({"something_new": 3}, ["3 something new"]),
        # Proposed before applied, whatever order the stored object's keys come in.
        (
            {"entities_applied": 4, "something_new": 1, "entities_proposed": 5},
            ["5 entities proposed", "4 entities applied by policy", "1 something new"],
        ),
        ({}, []),
        (None, []),
    ],
)
def test_counters_read_as_sentences(counts, sentences):
    assert counter_sentences(counts) == sentences


def test_the_jobs_pages_show_the_sentences_not_the_field_names(viewer, space):
    job = Job.objects.create(
        kind="consolidate",
        space=space,
        status=Job.Status.SUCCEEDED,
        counts={"rechecked": 0, "entities_proposed": 5, "entities_applied": 4, "link_proposed": 0},
    )
    for url in ("/s/home/jobs/", f"/s/home/jobs/{job.pk}/"):
        response = viewer.get(url)
        html = response.content.decode()
        assert response.status_code == 200
        assert "5 entities proposed" in html and "4 entities applied by policy" in html
        assert "entities_applied" not in html and "link_proposed" not in html


def test_a_finished_job_that_counted_nothing_says_so(viewer, space):
    Job.objects.create(
        kind="reembed", space=space, status=Job.Status.SUCCEEDED, counts={"embedded": 0}
    )
    assert "nothing to report" in viewer.get("/s/home/jobs/").content.decode()

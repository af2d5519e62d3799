"""The review queue: previews, approve (with an edited text), reject, bulk approve
with a confirmation, roles and isolation."""

from __future__ import annotations

import pytest

from apps.consolidation import services as consolidation
from apps.consolidation.models import Proposal
from apps.jobs.models import Job
from apps.memories import services
from apps.memories.models import Memory
from apps.spaces.models import Role
from tests.dashboard.conftest import member

pytestmark = pytest.mark.django_db


@pytest.fixture
def proposed(space, actor, hashing_backend, embed_now):
    services.create_memories(
        space,
        actor,
        [
            {"content": "Maya likes green tea."},
            {"content": "maya likes green tea!"},
            {"content": "Tomás cooks octopus."},
            {"content": "tomás cooks OCTOPUS"},
        ],
    )
    embed_now(space)
    made = consolidation.propose_merges(space)
    assert len(made) == 2
    return made


def test_it_lists_pending_proposals_with_a_word_diff_preview(viewer, proposed):
    html = viewer.get("/s/home/review/").content.decode()
    assert "merge near-duplicates: 2" in html.lower()
    assert html.count('class="card proposal"') == 2
    assert "<del>" in html or "<ins>" in html
    assert 'name="content"' not in html  # a viewer gets no approve form


def test_approving_applies_the_merge_with_the_edited_text(editor, space, proposed):
    proposal = proposed[0]
    response = editor.post(
        f"/s/home/review/{proposal.pk}/approve/",
        {"content": "Maya drinks green tea."},
        HTTP_HX_REQUEST="true",
    )
    html = response.content.decode()
    assert response.status_code == 200 and "<html" not in html  # the card, swapped in place
    assert "applied" in html
    stored = Proposal.objects.for_space(space).get(pk=proposal.pk)
    merged = Memory.objects.for_space(space).get(pk=stored.result["merged"])
    assert merged.content == "Maya drinks green tea."


def test_an_empty_merged_text_is_refused(editor, space, proposed):
    proposal = proposed[0]
    editor.post(f"/s/home/review/{proposal.pk}/approve/", {"content": "  "})
    assert Proposal.objects.for_space(space).get(pk=proposal.pk).status == "pending"


def test_rejecting_is_remembered(editor, space, proposed):
    proposal = proposed[1]
    response = editor.post(f"/s/home/review/{proposal.pk}/reject/")
    assert response.status_code == 302
    assert Proposal.objects.for_space(space).get(pk=proposal.pk).status == "rejected"
    assert consolidation.propose_merges(space) == []


def test_bulk_approve_asks_first_then_applies(editor, space, proposed):
    ask = editor.post(
        "/s/home/review/approve/",
        {"operation": "merge", "min_score": "0.5"},
        HTTP_HX_REQUEST="true",
    ).content.decode()
    assert "Approve 2 proposals?" in ask
    assert set(Proposal.objects.for_space(space).values_list("status", flat=True)) == {"pending"}
    done = editor.post(
        "/s/home/review/approve/",
        {"operation": "merge", "min_score": "0.5", "confirmed": "1"},
        follow=True,
    ).content.decode()
    assert "Applied 2 of 2." in done
    assert set(Proposal.objects.for_space(space).values_list("status", flat=True)) == {"applied"}


def test_viewers_cannot_decide_and_outsiders_see_nothing(space, outsider_space, proposed):
    viewer = member(space, "vic", Role.VIEWER)
    assert viewer.post(f"/s/home/review/{proposed[0].pk}/approve/").status_code == 403
    assert viewer.post("/s/home/review/run/").status_code == 403
    outsider = member(outsider_space, "ola", Role.ADMIN)
    assert outsider.get("/s/home/review/").status_code == 404
    own = f"/s/{outsider_space.slug}/review/{proposed[0].pk}/approve/"
    assert outsider.post(own).status_code == 404
    assert set(Proposal.objects.for_space(space).values_list("status", flat=True)) == {"pending"}


def test_consolidate_now_starts_a_job(editor, space):
    response = editor.post("/s/home/review/run/")
    job = Job.objects.for_space(space).get()
    assert job.kind == "consolidate"
    # Back to the review page, whose panel follows the job (never a bare job row).
    assert response["Location"] == f"/s/home/review/?job={job.pk}"


def test_a_link_proposal_lists_the_related_memories(viewer, space, actor, embed_now):
    from apps.consolidation.models import Proposal as P

    first, second = services.create_memories(
        space, actor, [{"content": "Maya runs marathons."}, {"content": "Maya trains on Sundays."}]
    )
    P.objects.for_space(space).create(
        space=space,
        operation="link",
        memory_ids=[first.pk],
        memory_versions=[1],
        fingerprint=P.fingerprint_of("link", [str(first.pk)]),
        change={"related_to": [str(second.pk)]},
        evidence={"similarities": {str(second.pk): 0.81}},
        score=0.81,
    )
    html = viewer.get("/s/home/review/?operation=link").content.decode()
    assert "Link related memories" in html and "similarity 0.810" in html
    assert f"/s/home/memories/{second.pk}/" in html


def _refuse(job_id: int) -> None:
    from kombu.exceptions import OperationalError

    raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")


@pytest.mark.parametrize(
    ("task", "url", "back"),
    [
        ("apps.consolidation.tasks.consolidate_space", "/s/home/review/run/", "/s/home/review/"),
        ("apps.maps.tasks.project_space", "/s/home/map/project/", "/s/home/map/"),
    ],
)
def test_an_unreachable_broker_is_explained_and_the_job_marked_failed(
    transactional_db, editor, space, monkeypatch, task, url, back
):
    import importlib

    module, name = task.rsplit(".", 1)
    monkeypatch.setattr(getattr(importlib.import_module(module), name), "delay", _refuse)
    response = editor.post(url)
    assert response.status_code == 302 and response["Location"] == back
    page = editor.get(back).content.decode()
    assert "task queue (broker) is unreachable" in page
    job = Job.objects.for_space(space).get()
    assert job.status == "failed" and "Could not reach the task queue" in job.error

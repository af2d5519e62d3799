"""/api/v1/proposals and /api/v1/consolidate."""

from __future__ import annotations

import pytest

from apps.consolidation import services as consolidation
from apps.consolidation.models import Proposal
from apps.jobs.models import Job
from apps.memories import services
from apps.memories.models import Memory
from tests.api.conftest import error_of


@pytest.fixture
def proposal(space, actor, hashing_backend, embed_now):
    services.create_memories(
        space, actor, [{"content": "Maya likes tea."}, {"content": "maya likes TEA"}]
    )
    embed_now(space)
    (made,) = consolidation.propose_merges(space)
    return made


def test_it_lists_and_shows_proposals(reader, proposal):
    listed = reader.get("/api/v1/proposals?status=pending&operation=merge")
    assert listed.status_code == 200
    (item,) = listed.json()["results"]
    assert item["id"] == proposal.pk and item["operation"] == "merge"
    assert sorted(item["memory_ids"]) == sorted(str(i) for i in proposal.memory_ids)
    assert reader.get(f"/api/v1/proposals/{proposal.pk}").json()["score"] == 1.0
    assert reader.get("/api/v1/proposals?status=maybe").status_code == 400


def test_an_agent_approves_a_merge_with_its_own_text(writer, space, proposal):
    response = writer.post(
        f"/api/v1/proposals/{proposal.pk}/approve", {"content": "Maya drinks tea."}, format="json"
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "applied"
    merged = Memory.objects.for_space(space).get(pk=body["result"]["merged"])
    assert merged.content == "Maya drinks tea."
    again = writer.post(f"/api/v1/proposals/{proposal.pk}/approve", {}, format="json")
    assert again.status_code == 409 and error_of(again)["code"] == "proposal_not_pending"


def test_rejecting_needs_write_scope_and_is_remembered(reader, writer, space, proposal):
    assert (
        reader.post(f"/api/v1/proposals/{proposal.pk}/reject", {}, format="json").status_code == 403
    )
    rejected = writer.post(
        f"/api/v1/proposals/{proposal.pk}/reject", {"reason": "not the same"}, format="json"
    )
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    assert consolidation.propose_merges(space) == []


def test_bad_bodies_and_other_spaces_change_nothing(writer, outsider, space, proposal):
    empty = writer.post(
        f"/api/v1/proposals/{proposal.pk}/approve", {"content": "  "}, format="json"
    )
    assert empty.status_code == 400
    unknown = writer.post(f"/api/v1/proposals/{proposal.pk}/approve", {"text": "x"}, format="json")
    assert unknown.status_code == 400
    assert outsider.get(f"/api/v1/proposals/{proposal.pk}").status_code == 404
    assert (
        outsider.post(f"/api/v1/proposals/{proposal.pk}/approve", {}, format="json").status_code
        == 404
    )
    assert Proposal.objects.for_space(space).get().status == "pending"


def test_consolidate_queues_a_job(writer, space):
    response = writer.post("/api/v1/consolidate", {"only": ["archive"]}, format="json")
    assert response.status_code == 202
    job = Job.objects.for_space(space).get(pk=response.json()["id"])
    assert (job.kind, job.params["only"]) == ("consolidate", ["archive"])
    assert writer.post("/api/v1/consolidate", {"only": ["dream"]}, format="json").status_code == 400


def test_consolidate_answers_503_when_the_queue_is_away(
    transactional_db, writer, space, monkeypatch
):
    from kombu.exceptions import OperationalError

    from apps.consolidation import tasks

    def refuse(job_id):
        raise OperationalError("Connection refused.")

    monkeypatch.setattr(tasks.consolidate_space, "delay", refuse)
    response = writer.post("/api/v1/consolidate", {}, format="json")
    assert response.status_code == 503
    assert error_of(response)["code"] == "queue_unavailable"
    assert Job.objects.for_space(space).get().status == "failed"

"""POST /api/v1/proposals/{id}/undo, approving an undone proposal again, and what
POST /api/v1/memories/{id}/revert says it restored."""

from __future__ import annotations

import pytest

from apps.consolidation.models import Operation, Proposal
from apps.jobs.models import Job
from apps.memories import services
from apps.memories.models import Link, LinkType, Memory, Status
from apps.spaces.models import Scope
from tests.api.conftest import error_of
from tests.conftest import events_for, proposal_of, versions_of
from tests.test_pipeline import wait_until


@pytest.fixture
def merge(space, make_memory):
    tea, copy = make_memory("Maya likes tea."), make_memory("maya likes TEA")
    change, evidence = {"content": "Maya likes tea."}, {"same_text": True}
    return proposal_of(space, Operation.MERGE, [tea, copy], change, evidence, score=1.0)


def statuses(space, proposal):
    return {
        str(pk): status
        for pk, status in Memory.objects.for_space(space)
        .filter(pk__in=proposal.memory_ids)
        .values_list("pk", "status")
    }


def test_it_undoes_an_applied_merge_and_approving_it_again_reapplies_it(writer, space, merge):
    applied = writer.post(f"/api/v1/proposals/{merge.pk}/approve", {}, format="json")
    assert applied.status_code == 200, applied.content
    first = applied.json()["result"]["merged"]

    undone = writer.post(f"/api/v1/proposals/{merge.pk}/undo", format="json")

    assert undone.status_code == 200, undone.content
    body = undone.json()
    assert body["status"] == "undone"
    assert body["status_reason"].startswith(f"undone by token:{writer.token.name}")
    assert body["result"]["undone"]["deleted"] == first
    assert body["memory_versions"] == [3, 3]
    assert set(statuses(space, merge).values()) == {Status.ACTIVE}
    assert Memory.objects.for_space(space).get(pk=first).status == Status.DELETED
    assert events_for(space, merge.pk, "proposal")[-1] == "proposal.undo"

    again = writer.post(f"/api/v1/proposals/{merge.pk}/approve", {}, format="json")
    assert again.status_code == 200, again.content
    assert again.json()["status"] == "applied" and again.json()["status_reason"] == ""
    assert again.json()["result"]["merged"] != first
    assert set(statuses(space, merge).values()) == {Status.SUPERSEDED}


def test_it_answers_409_with_what_changed_since_the_apply(writer, space, merge):
    applied = writer.post(f"/api/v1/proposals/{merge.pk}/approve", {}, format="json")
    merged = applied.json()["result"]["merged"]
    edited = writer.patch(
        f"/api/v1/memories/{merged}", {"content": "Maya drinks tea."}, format="json"
    )
    assert edited.status_code == 200

    refused = writer.post(f"/api/v1/proposals/{merge.pk}/undo", format="json")

    assert refused.status_code == 409
    error = error_of(refused)
    assert error["code"] == "changed_since_apply"
    assert error["details"]["id"] == merge.pk
    (change,) = error["details"]["changed"]
    assert change["id"] == merged
    assert (change["version_at_apply"], change["version_now"]) == (1, 2)
    (edit,) = change["changes"]
    assert (edit["action"], edit["fields"]) == ("update", ["content"])
    assert "Maya drinks tea." not in refused.content.decode()  # field names, never the text
    assert Proposal.objects.for_space(space).get(pk=merge.pk).status == "applied"
    assert set(statuses(space, merge).values()) == {Status.SUPERSEDED}


def test_it_refuses_to_undo_what_was_not_applied(writer, space, merge):
    refused = writer.post(f"/api/v1/proposals/{merge.pk}/undo", format="json")
    assert refused.status_code == 409
    assert error_of(refused)["code"] == "proposal_not_applied"
    assert Proposal.objects.for_space(space).get(pk=merge.pk).status == "pending"


def test_another_space_and_a_reader_cannot_undo(writer, reader, outsider, space, merge):
    writer.post(f"/api/v1/proposals/{merge.pk}/approve", {}, format="json")
    assert outsider.post(f"/api/v1/proposals/{merge.pk}/undo", format="json").status_code == 404
    forbidden = reader.post(f"/api/v1/proposals/{merge.pk}/undo", format="json")
    assert forbidden.status_code == 403 and error_of(forbidden)["code"] == "forbidden"
    assert Proposal.objects.for_space(space).get(pk=merge.pk).status == "applied"
    assert set(statuses(space, merge).values()) == {Status.SUPERSEDED}


def test_a_write_only_token_gets_a_receipt_without_the_memories_text(agent_for, space, merge):
    write_only = agent_for(space, [Scope.MEMORIES_WRITE])
    assert (
        write_only.post(f"/api/v1/proposals/{merge.pk}/approve", {}, format="json").status_code
        == 200
    )

    undone = write_only.post(f"/api/v1/proposals/{merge.pk}/undo", format="json")

    assert undone.status_code == 200
    body = undone.json()
    assert body["status"] == "undone" and "change" not in body and "evidence" not in body
    assert "tea" not in undone.content.decode().casefold()


def test_reverting_a_superseded_memory_says_status_and_validity_came_back(
    writer, space, actor, make_memory
):
    old, new = make_memory("Maya lives in Lisbon."), make_memory("Maya lives in Porto.")
    services.supersede_memory(space, actor, old.pk, new.pk)

    response = writer.post(f"/api/v1/memories/{old.pk}/revert", {"version": 1}, format="json")

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["status"], body["valid_to"], body["version"]) == ("active", None, 3)
    assert body["revert"]["lifecycle_restored"] is True
    assert response["Revert-Lifecycle"] == "restored"
    assert response["Revert-Outcome"] == body["revert"]["outcome"]
    assert body["revert"]["outcome"].startswith("restored text, status active and validity")
    assert not Link.objects.for_space(space).filter(type=LinkType.SUPERSEDES).exists()
    assert versions_of(old)[-1] == (3, "revert")


def test_reverting_a_merged_memory_says_only_its_text_came_back(writer, space, actor, make_memory):
    tea, copy = make_memory("Maya likes green tea."), make_memory("maya likes tea")
    services.update_memory(space, actor, tea.pk, expected_version=1, content="Maya likes tea.")
    services.merge_memories(space, actor, [tea.pk, copy.pk])

    response = writer.post(f"/api/v1/memories/{tea.pk}/revert", {"version": 1}, format="json")

    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["content"]) == ("superseded", "Maya likes green tea.")
    assert body["revert"]["lifecycle_restored"] is False
    assert body["revert"]["outcome"].startswith("restored text only; status kept superseded")
    assert response["Revert-Lifecycle"] == "kept"


def test_a_write_only_token_learns_what_a_revert_restored_from_the_headers(
    agent_for, space, actor, make_memory
):
    old, new = make_memory("Maya lives in Lisbon."), make_memory("Maya lives in Porto.")
    services.supersede_memory(space, actor, old.pk, new.pk)
    write_only = agent_for(space, [Scope.MEMORIES_WRITE])

    response = write_only.post(f"/api/v1/memories/{old.pk}/revert", {"version": 1}, format="json")

    assert response.status_code == 200
    assert set(response.json()) == {"id", "version", "status", "created_at", "updated_at"}
    assert response.json()["status"] == "active"
    assert response["Revert-Lifecycle"] == "restored"
    assert response["Revert-Outcome"].startswith("restored text, status active and validity")


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_worker_proposes_a_merge_that_is_approved_undone_and_reapplied_over_the_api(
    celery_worker_process, writer, space, actor, hashing_backend, embed_now
):
    tea, copy = services.create_memories(
        space, actor, [{"content": "Maya likes tea."}, {"content": "maya likes TEA"}]
    )
    embed_now(space)
    queued = writer.post("/api/v1/consolidate", {"only": ["merge"]}, format="json")
    assert queued.status_code == 202
    job_id = queued.json()["id"]
    wait_until(lambda: Job.objects.get(pk=job_id).status in ("succeeded", "failed"), timeout=120)
    job = Job.objects.get(pk=job_id)
    assert job.status == "succeeded", job.error
    (proposal,) = Proposal.objects.for_space(space).filter(operation=Operation.MERGE)
    url = f"/api/v1/proposals/{proposal.pk}"

    applied = writer.post(f"{url}/approve", {}, format="json")
    assert applied.status_code == 200, applied.content
    first = applied.json()["result"]["merged"]
    assert set(statuses(space, proposal).values()) == {Status.SUPERSEDED}
    assert Memory.objects.for_space(space).get(pk=first).status == Status.ACTIVE

    undone = writer.post(f"{url}/undo", format="json")
    assert undone.status_code == 200, undone.content
    assert set(statuses(space, proposal).values()) == {Status.ACTIVE}
    assert Memory.objects.for_space(space).get(pk=first).status == Status.DELETED
    assert Proposal.objects.for_space(space).get(pk=proposal.pk).status == "undone"
    assert versions_of(tea) == [(1, "create"), (2, "merge"), (3, "restore")]

    reapplied = writer.post(f"{url}/approve", {}, format="json")
    assert reapplied.status_code == 200, reapplied.content
    second = reapplied.json()["result"]["merged"]
    assert second != first
    assert set(statuses(space, proposal).values()) == {Status.SUPERSEDED}
    assert Memory.objects.for_space(space).get(pk=second).status == Status.ACTIVE
    assert versions_of(copy)[-1] == (4, "merge")
    stored = Proposal.objects.for_space(space).get(pk=proposal.pk)
    assert stored.status == "applied" and stored.result["versions_after"][second] == 1
    assert events_for(space, proposal.pk, "proposal") == [
        "proposal.apply",
        "proposal.undo",
        "proposal.apply",
    ]

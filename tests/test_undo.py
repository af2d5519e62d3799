"""Undoing applied consolidation proposals, and reverts that keep a memory consistent.

Every undo goes through the domain layer (versions, audit events), refuses to
overwrite a later change (409 with what changed), and leaves the proposal ready to
be applied again.
"""

from __future__ import annotations

import importlib
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.audit.actors import Actor
from apps.consolidation import services as consolidation
from apps.consolidation.models import Operation, Proposal
from apps.memories import services
from apps.memories.models import Entity, Link, LinkType, Memory, MemoryVersion, Mention, Status
from tests.conftest import events_for, fresh, proposal_of, versions_of

CURATOR = Actor.system("curator-test")
UNDOER = Actor.system("undoer-test")


def lifecycle(memory):
    stored = fresh(memory)
    return (stored.status, stored.valid_from, stored.valid_to)


@pytest.fixture
def moments():
    now = timezone.now().replace(microsecond=0)
    return now - timedelta(days=30), now + timedelta(days=30)


# ----------------------------------------------------------------- merge


def test_it_undoes_a_merge_restoring_the_originals_as_they_were(space, actor, make_memory, moments):
    start, end = moments
    tea = make_memory("Maya likes green tea.", valid_from=start, valid_to=end)
    copy = make_memory("maya likes green tea!")
    services.archive_memory(space, actor, copy.pk)
    copy = fresh(copy)
    before = {m.pk: lifecycle(m) for m in (tea, copy)}
    proposal = proposal_of(space, Operation.MERGE, [tea, copy], {"content": "Maya likes tea."})
    applied = consolidation.apply(proposal, CURATOR)
    merged_id = applied.result["merged"]
    assert applied.result["versions_after"] == {str(tea.pk): 2, str(copy.pk): 3, merged_id: 1}

    undone = consolidation.undo(applied, UNDOER)

    assert {m.pk: lifecycle(m) for m in (tea, copy)} == before
    assert Memory.objects.for_space(space).get(pk=merged_id).status == Status.DELETED
    assert versions_of(tea) == [(1, "create"), (2, "merge"), (3, "restore")]
    assert versions_of(copy)[-2:] == [(3, "merge"), (4, "restore")]
    stored = Proposal.objects.for_space(space).get(pk=proposal.pk)
    assert stored.status == Proposal.Status.UNDONE == undone.status
    assert stored.status_reason.startswith(f"undone by {UNDOER.label} at ")
    assert stored.memory_versions == [3, 4]  # the memories as the undo left them
    assert stored.result["undone"]["deleted"] == merged_id
    assert events_for(space, proposal.pk, "proposal")[-1] == "proposal.undo"
    assert events_for(space, tea.pk, "memory")[-1] == "memory.restore"


def test_an_undone_merge_can_be_applied_again(space, make_memory):
    tea, copy = make_memory("Maya likes tea."), make_memory("maya likes tea")
    proposal = proposal_of(space, Operation.MERGE, [tea, copy], {"content": "Maya likes tea."})
    first = consolidation.apply(proposal, CURATOR).result["merged"]
    consolidation.undo(proposal, UNDOER)

    again = consolidation.apply(proposal, CURATOR)

    assert again.status == Proposal.Status.APPLIED and again.status_reason == ""
    second = again.result["merged"]
    assert second != first  # merged again: a new merged memory, the old one stays deleted
    assert Memory.objects.for_space(space).get(pk=second).status == Status.ACTIVE
    assert lifecycle(tea)[0] == lifecycle(copy)[0] == Status.SUPERSEDED
    assert versions_of(tea) == [(1, "create"), (2, "merge"), (3, "restore"), (4, "merge")]
    # ...and undone again.
    consolidation.undo(again, UNDOER)
    assert lifecycle(tea)[0] == Status.ACTIVE
    assert Memory.objects.for_space(space).get(pk=second).status == Status.DELETED


def test_it_refuses_to_undo_a_merge_whose_result_was_edited_and_says_what_changed(
    space, actor, make_memory
):
    tea, copy = make_memory("Maya likes tea."), make_memory("maya likes tea")
    proposal = proposal_of(space, Operation.MERGE, [tea, copy], {"content": "Maya likes tea."})
    merged_id = consolidation.apply(proposal, CURATOR).result["merged"]
    services.update_memory(
        space, actor, merged_id, expected_version=1, content="Maya likes oolong.", tags=["tea"]
    )

    with pytest.raises(consolidation.UndoConflict) as refused:
        consolidation.undo(proposal, UNDOER)

    assert refused.value.status == 409
    (change,) = refused.value.details["changed"]
    assert change["id"] == merged_id
    assert (change["version_at_apply"], change["version_now"], change["purged"]) == (1, 2, False)
    (edit,) = change["changes"]
    assert (edit["version"], edit["action"], edit["fields"]) == (2, "update", ["content", "tags"])
    assert edit["by"] == actor.label
    # Nothing was undone.
    assert Proposal.objects.for_space(space).get(pk=proposal.pk).status == Proposal.Status.APPLIED
    assert lifecycle(tea)[0] == Status.SUPERSEDED
    assert Memory.objects.for_space(space).get(pk=merged_id).status == Status.ACTIVE
    assert "proposal.undo" not in events_for(space, proposal.pk, "proposal")


def test_a_proposal_applied_before_versions_were_recorded_is_checked_by_its_version_rows(
    space, actor, make_memory
):
    def applied_the_old_way(first, second):
        proposal = proposal_of(space, Operation.MERGE, [first, second], {"content": "Tea."})
        merged_id = consolidation.apply(proposal, CURATOR).result["merged"]
        Proposal.objects.for_space(space).filter(pk=proposal.pk).update(
            result={"merged": merged_id}  # as an apply stored it before versions_after
        )
        return Proposal.objects.for_space(space).get(pk=proposal.pk)

    tea, copy = make_memory("Maya likes tea."), make_memory("maya likes tea")
    untouched = applied_the_old_way(tea, copy)
    assert consolidation.undo(untouched, UNDOER).status == Proposal.Status.UNDONE
    assert lifecycle(tea)[0] == lifecycle(copy)[0] == Status.ACTIVE

    mate, copy = make_memory("Tomás likes mate."), make_memory("tomas likes mate")
    edited = applied_the_old_way(mate, copy)
    services.update_memory(space, actor, mate.pk, expected_version=2, tags=["drinks"])
    with pytest.raises(consolidation.UndoConflict) as refused:
        consolidation.undo(edited, UNDOER)
    (change,) = refused.value.details["changed"]
    assert (change["id"], change["version_at_apply"], change["version_now"]) == (
        str(mate.pk),
        2,
        3,
    )


def test_an_error_midway_through_an_undo_leaves_everything_as_it_was(
    space, make_memory, monkeypatch
):
    tea, copy = make_memory("Maya likes tea."), make_memory("maya likes tea")
    proposal = proposal_of(space, Operation.MERGE, [tea, copy], {"content": "Maya likes tea."})
    merged_id = consolidation.apply(proposal, CURATOR).result["merged"]
    versions_before = MemoryVersion.objects.for_space(space).count()

    def failing_record_event(space, actor, action, **fields):
        raise RuntimeError("the audit log is unavailable")

    # The memories are restored by then: the failure must take that back too.
    undo_module = importlib.import_module("apps.consolidation.services.undo")
    monkeypatch.setattr(undo_module, "record_event", failing_record_event)
    with pytest.raises(RuntimeError):
        consolidation.undo(proposal, UNDOER)

    assert MemoryVersion.objects.for_space(space).count() == versions_before
    assert lifecycle(tea)[0] == lifecycle(copy)[0] == Status.SUPERSEDED
    assert Memory.objects.for_space(space).get(pk=merged_id).status == Status.ACTIVE
    stored = Proposal.objects.for_space(space).get(pk=proposal.pk)
    assert (stored.status, stored.status_reason) == (Proposal.Status.APPLIED, "")
    assert "memory.restore" not in events_for(space, tea.pk, "memory")


def test_only_an_applied_proposal_can_be_undone(space, make_memory):
    tea, copy = make_memory("Maya likes tea."), make_memory("maya likes tea")
    proposal = proposal_of(space, Operation.MERGE, [tea, copy], {"content": "Maya likes tea."})
    with pytest.raises(consolidation.ProposalError, match="this one is pending"):
        consolidation.undo(proposal, UNDOER)
    consolidation.apply(proposal, CURATOR)
    consolidation.undo(proposal, UNDOER)
    with pytest.raises(consolidation.ProposalError, match="this one is undone"):
        consolidation.undo(proposal, UNDOER)
    assert events_for(space, proposal.pk, "proposal").count("proposal.undo") == 1


# ----------------------------------------------------------------- supersede


def test_it_undoes_a_supersession_restoring_status_and_validity(space, actor, make_memory, moments):
    start, end = moments
    old = make_memory("Maya lives in Lisbon.", subject="maya", valid_from=start, valid_to=end)
    new = make_memory("Maya lives in Porto.", subject="maya")
    proposal = proposal_of(
        space, Operation.SUPERSEDE, [old, new], {"superseded": str(old.pk), "by": str(new.pk)}
    )
    consolidation.apply(proposal, CURATOR)
    superseded = fresh(old)
    assert superseded.status == Status.SUPERSEDED and superseded.valid_to < end
    link = Link.objects.for_space(space).get(type=LinkType.SUPERSEDES)

    consolidation.undo(proposal, UNDOER)

    assert lifecycle(old) == (Status.ACTIVE, start, end)
    assert not Link.objects.for_space(space).filter(type=LinkType.SUPERSEDES).exists()
    assert "link.delete" in events_for(space, link.pk, "link")
    assert versions_of(old) == [(1, "create"), (2, "supersede"), (3, "restore")]
    # Applied again, it supersedes again.
    consolidation.apply(proposal, CURATOR)
    assert lifecycle(old)[0] == Status.SUPERSEDED
    assert Link.objects.for_space(space).filter(type=LinkType.SUPERSEDES).count() == 1


def test_unsupersede_refuses_a_memory_the_other_does_not_supersede(space, actor, make_memory):
    old, new, other = make_memory("A is 1."), make_memory("A is 2."), make_memory("A is 3.")
    with pytest.raises(services.InvalidTransition, match="not superseded"):
        services.unsupersede_memory(space, actor, old.pk, new.pk)
    services.supersede_memory(space, actor, old.pk, new.pk)
    with pytest.raises(services.InvalidTransition, match="is not superseded by"):
        services.unsupersede_memory(space, actor, old.pk, other.pk)
    assert lifecycle(old)[0] == Status.SUPERSEDED


# ----------------------------------------------------------------- summary, link, archive


def test_undoing_a_summary_archives_it_and_keeps_its_lineage(space, make_memory):
    members = [make_memory(f"Maya ran {n} km.", subject="maya") for n in (5, 10, 21)]
    proposal = proposal_of(space, Operation.SUMMARY, members, {"content": "Maya runs.", "level": 1})
    summary_id = consolidation.apply(proposal, CURATOR).result["summary"]

    consolidation.undo(proposal, UNDOER)

    summary = Memory.objects.for_space(space).get(pk=summary_id)
    assert summary.status == Status.ARCHIVED
    assert versions_of(summary) == [(1, "create"), (2, "archive")]
    assert Link.objects.for_space(space).filter(source=summary, type="derived_from").count() == 3
    assert {fresh(m).version for m in members} == {1}  # the members are untouched
    # Applied again: a new summary.
    again = consolidation.apply(proposal, CURATOR).result["summary"]
    assert again != summary_id
    assert Memory.objects.for_space(space).get(pk=again).status == Status.ACTIVE


def test_undoing_links_removes_only_the_links_it_made(space, actor, make_memory):
    run, marathon, sunday = (
        make_memory("Maya runs."),
        make_memory("Maya trains for a marathon."),
        make_memory("Maya runs on Sundays."),
    )
    # Linked by someone between the proposal and its approval: not the proposal's link.
    theirs = services.link_memories(space, actor, run.pk, sunday.pk, LinkType.RELATED_TO)
    proposal = proposal_of(
        space, Operation.LINK, [run], {"related_to": [str(marathon.pk), str(sunday.pk)]}
    )
    applied = consolidation.apply(proposal, CURATOR)
    (made,) = applied.result["links"]
    assert made != theirs.pk

    undone = consolidation.undo(proposal, UNDOER)

    assert list(Link.objects.for_space(space).values_list("pk", flat=True)) == [theirs.pk]
    assert undone.result["undone"] == {"unlinked": [made]}
    assert events_for(space, made, "link") == ["link.create", "link.delete"]


def test_undoing_an_archive_restores_the_memory(space, make_memory):
    fading = make_memory("An old detail.")
    proposal = proposal_of(space, Operation.ARCHIVE, [fading], {"status": "archived"})
    consolidation.apply(proposal, CURATOR)
    assert lifecycle(fading)[0] == Status.ARCHIVED

    consolidation.undo(proposal, UNDOER)

    assert lifecycle(fading)[0] == Status.ACTIVE
    assert versions_of(fading) == [(1, "create"), (2, "archive"), (3, "restore")]
    assert Proposal.objects.for_space(space).get(pk=proposal.pk).memory_versions == [3]


def test_undoing_an_archive_of_a_memory_restored_since_is_refused(space, actor, make_memory):
    fading = make_memory("An old detail.")
    proposal = proposal_of(space, Operation.ARCHIVE, [fading], {"status": "archived"})
    consolidation.apply(proposal, CURATOR)
    services.restore_memory(space, actor, fading.pk)
    with pytest.raises(consolidation.UndoConflict) as refused:
        consolidation.undo(proposal, UNDOER)
    (change,) = refused.value.details["changed"]
    assert [edit["action"] for edit in change["changes"]] == ["restore"]
    assert versions_of(fading)[-1] == (3, "restore")


def test_the_memory_page_finds_the_proposals_that_changed_a_memory(space, make_memory):
    tea, copy, other = make_memory("Tea."), make_memory("tea"), make_memory("Coffee.")
    members = [tea, copy, other]
    merge = proposal_of(space, Operation.MERGE, [tea, copy], {"content": "Tea."})
    summary = proposal_of(space, Operation.SUMMARY, members, {"content": "Drinks.", "level": 1})
    consolidation.apply(summary, CURATOR)  # its members are not changed by it
    merged_id = consolidation.apply(merge, CURATOR).result["merged"]
    merged = Memory.objects.for_space(space).get(pk=merged_id)
    assert consolidation.proposals_changing(space, tea) == [merge]
    assert consolidation.proposals_changing(space, merged) == [merge]
    assert consolidation.proposals_changing(space, other) == []


# ----------------------------------------------------------------- revert


def test_reverting_a_superseded_memory_to_v1_restores_status_and_validity_together(
    space, actor, make_memory, moments
):
    start, _ = moments
    old = make_memory("Maya lives in Lisbon.", valid_from=start)
    new = make_memory("Maya lives in Porto.")
    services.supersede_memory(space, actor, old.pk, new.pk)
    assert lifecycle(old)[2] is not None

    reverted = services.revert_to_version(space, actor, old.pk, to_version=1)

    assert lifecycle(old) == (Status.ACTIVE, start, None)
    assert reverted.lifecycle_restored and reverted.changed
    assert reverted.outcome.startswith("restored text, status active and validity")
    assert str(new.pk) in reverted.outcome  # no longer superseded by it
    assert not Link.objects.for_space(space).filter(type=LinkType.SUPERSEDES).exists()
    assert versions_of(old) == [(1, "create"), (2, "supersede"), (3, "revert")]
    assert events_for(space, old.pk, "memory")[-1] == "memory.revert"


def test_reverting_a_merged_memory_restores_its_text_only_and_says_why(space, actor, make_memory):
    tea = make_memory("Maya likes green tea.")
    copy = make_memory("maya likes tea")
    services.update_memory(space, actor, tea.pk, expected_version=1, content="Maya likes tea.")
    merged = services.merge_memories(space, actor, [tea.pk, copy.pk])
    superseded = lifecycle(tea)

    reverted = services.revert_to_version(space, actor, tea.pk, to_version=1)

    assert fresh(tea).content == "Maya likes green tea."
    assert lifecycle(tea) == superseded  # status and validity both kept
    assert not reverted.lifecycle_restored
    assert reverted.outcome == (
        "restored text only; status kept superseded (and its validity) because it was "
        f"merged into memory {merged.pk}: undo the merge to bring it back"
    )


def test_reverting_never_deletes_nor_resurrects(space, actor, make_memory):
    memory = make_memory("One.")
    services.delete_memory(space, actor, memory.pk)
    services.restore_memory(space, actor, memory.pk)
    services.update_memory(space, actor, memory.pk, expected_version=3, content="Two.")
    to_deleted = services.revert_to_version(space, actor, memory.pk, to_version=2)
    assert lifecycle(memory)[0] == Status.ACTIVE and fresh(memory).content == "One."
    assert "deleting has its own action" in to_deleted.outcome
    services.delete_memory(space, actor, memory.pk)
    from_deleted = services.revert_to_version(space, actor, memory.pk, to_version=4)
    assert lifecycle(memory)[0] == Status.DELETED
    assert "it is deleted: restore it first" in from_deleted.outcome


def test_undoing_an_entity_takes_back_its_mentions_and_the_entity_it_made(space, make_memory):
    first, second = make_memory("Lunch with Tomás."), make_memory("Tomás cooked.")
    change = {
        "name": "Tomás",
        "kind": "person",
        "mentions": [
            {"memory": str(first.pk), "start": 11, "end": 16},
            {"memory": str(second.pk), "start": 0, "end": 5},
        ],
    }
    proposal = proposal_of(space, Operation.ENTITY, [first, second], change)
    applied = consolidation.apply(proposal, CURATOR)
    entity_id = applied.result["entity"]
    assert Mention.objects.for_space(space).filter(entity_id=entity_id).count() == 2

    undone = consolidation.undo(proposal, UNDOER)

    assert not Mention.objects.for_space(space).exists()
    assert not Entity.objects.for_space(space).filter(pk=entity_id).exists()
    assert undone.status == Proposal.Status.UNDONE
    assert {fresh(m).version for m in (first, second)} == {1}  # no memory was rewritten
    # Applied again: the entity and its mentions come back.
    again = consolidation.apply(proposal, CURATOR)
    assert Mention.objects.for_space(space).filter(entity_id=again.result["entity"]).count() == 2

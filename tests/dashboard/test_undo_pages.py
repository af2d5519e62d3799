"""Undo on the dashboard: the Undo button of an applied proposal (on the review
queue and on the memories it changed), undoing a supersession from the memory's
page, and a revert that says what it restored."""

from __future__ import annotations

import pytest
from django.urls import reverse

from apps.audit.actors import Actor
from apps.consolidation import services as consolidation
from apps.consolidation.models import Operation, Proposal
from apps.memories import services
from apps.memories.models import Link, LinkType, Status
from tests.conftest import fresh, proposal_of, versions_of
from tests.dashboard.conftest import messages_of

CURATOR = Actor.system("curator-test")


def page(memory):
    return reverse("dashboard:memory", args=[memory.space.slug, memory.pk])


def undo_url(proposal):
    return reverse("dashboard:review_undo", args=[proposal.space.slug, proposal.pk])


@pytest.fixture
def applied_merge(space, make_memory):
    tea, copy = make_memory("Maya likes tea."), make_memory("maya likes tea")
    proposal = proposal_of(space, Operation.MERGE, [tea, copy], {"content": "Maya likes tea."})
    consolidation.apply(proposal, CURATOR)
    return proposal, tea, copy


def test_a_memory_changed_by_a_proposal_offers_its_undo(editor, applied_merge):
    proposal, tea, _ = applied_merge
    html = editor.get(page(tea)).content.decode()
    assert f'action="{undo_url(proposal)}"' in html
    assert f'name="memory" value="{tea.pk}"' in html
    assert "Undo merge near-duplicates" in html


def test_undoing_from_a_memory_page_comes_back_to_it(editor, space, applied_merge):
    proposal, tea, copy = applied_merge

    response = editor.post(undo_url(proposal), {"memory": str(tea.pk)})

    assert response.status_code == 302 and response["Location"] == page(tea)
    assert "Undone: merge near-duplicates. It can be applied again." in messages_of(response)
    assert fresh(tea).status == fresh(copy).status == Status.ACTIVE
    assert Proposal.objects.for_space(space).get(pk=proposal.pk).status == "undone"
    # Nothing left to undo on the page.
    assert f'action="{undo_url(proposal)}"' not in editor.get(page(tea)).content.decode()


def test_undoing_from_the_queue_returns_to_it_and_says_what_changed(
    editor, space, actor, applied_merge
):
    proposal, tea, _ = applied_merge
    merged = Proposal.objects.for_space(space).get(pk=proposal.pk).result["merged"]
    services.update_memory(space, actor, merged, expected_version=1, content="Maya drinks tea.")

    response = editor.post(undo_url(proposal))

    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard:review", args=[space.slug])
    (message,) = messages_of(response)
    assert message.startswith("Not undone: the memories changed since it was applied")
    assert f"memory {merged[:8]} is at version 2, not 1: v2 update by {actor.label}" in message
    assert fresh(tea).status == Status.SUPERSEDED


def test_a_viewer_and_another_space_cannot_undo(viewer, outsider, space, applied_merge):
    proposal, tea, _ = applied_merge
    assert viewer.post(undo_url(proposal), {"memory": str(tea.pk)}).status_code == 403
    assert "Undo merge" not in viewer.get(page(tea)).content.decode()
    foreign = reverse("dashboard:review_undo", args=["outsider", proposal.pk])
    assert outsider.post(foreign).status_code == 404
    assert Proposal.objects.for_space(space).get(pk=proposal.pk).status == "applied"


def test_a_superseded_memory_offers_to_undo_its_supersession(editor, space, actor, make_memory):
    old, new = make_memory("Maya lives in Lisbon."), make_memory("Maya lives in Porto.")
    services.supersede_memory(space, actor, old.pk, new.pk)
    action = reverse("dashboard:memory_unsupersede", args=[space.slug, old.pk])
    assert f'action="{action}"' in editor.get(page(old)).content.decode()

    response = editor.post(action, {"by": str(new.pk)})

    assert response.status_code == 302 and response["Location"] == page(old) + "#undo"
    assert (fresh(old).status, fresh(old).valid_to) == (Status.ACTIVE, None)
    assert not Link.objects.for_space(space).filter(type=LinkType.SUPERSEDES).exists()
    assert messages_of(response)[0].startswith("Supersession undone: the memory is active again")
    again = editor.post(action, {"by": str(new.pk)})
    assert messages_of(again)[-1].startswith("Not undone:")
    assert versions_of(old)[-1] == (3, "restore")


def test_reverting_a_superseded_memory_restores_it_consistently_and_says_so(
    editor, space, actor, make_memory
):
    old, new = make_memory("Maya lives in Lisbon."), make_memory("Maya lives in Porto.")
    services.supersede_memory(space, actor, old.pk, new.pk)
    revert = reverse("dashboard:memory_revert", args=[space.slug, old.pk])

    response = editor.post(revert, {"to_version": "1", "version": "2"})

    assert response.status_code == 302
    stored = fresh(old)
    assert (stored.status, stored.valid_to, stored.version) == (Status.ACTIVE, None, 3)
    assert messages_of(response) == [
        "Reverted to version 1: saved as version 3.",
        f"Restored text, status active and validity; no longer superseded by {new.pk}.",
    ]


def test_reverting_a_merged_memory_says_its_status_was_kept_and_why(
    editor, space, actor, make_memory
):
    tea, copy = make_memory("Maya likes green tea."), make_memory("maya likes tea")
    services.update_memory(space, actor, tea.pk, expected_version=1, content="Maya likes tea.")
    services.merge_memories(space, actor, [tea.pk, copy.pk])
    revert = reverse("dashboard:memory_revert", args=[space.slug, tea.pk])

    response = editor.post(revert, {"to_version": "1", "version": "3"})

    stored = fresh(tea)
    assert (stored.status, stored.content) == (Status.SUPERSEDED, "Maya likes green tea.")
    assert messages_of(response)[0] == "Reverted to version 1: saved as version 4."
    assert messages_of(response)[1].startswith(
        "Restored text only; status kept superseded (and its validity) because it was merged"
    )


def test_a_memory_superseded_by_an_approved_proposal_offers_that_proposals_undo(
    editor, space, make_memory
):
    old, new = make_memory("Maya lives in Lisbon."), make_memory("Maya lives in Porto.")
    change = {"superseded": str(old.pk), "by": str(new.pk)}
    proposal = proposal_of(space, Operation.SUPERSEDE, [old, new], change)
    consolidation.apply(proposal, CURATOR)

    html = editor.get(page(old)).content.decode()

    assert f'action="{undo_url(proposal)}"' in html
    assert "Undo replace an outdated fact" in html
    # One way back, the one that also marks the proposal undone.
    assert reverse("dashboard:memory_unsupersede", args=[space.slug, old.pk]) not in html
    response = editor.post(undo_url(proposal), {"memory": str(old.pk)})
    assert response["Location"] == page(old)
    assert (fresh(old).status, fresh(old).valid_to) == (Status.ACTIVE, None)
    assert Proposal.objects.for_space(space).get(pk=proposal.pk).status == "undone"

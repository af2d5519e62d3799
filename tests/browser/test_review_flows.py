"""The review queue in a real browser: edit a proposed merge's text and approve it;
walk a supersession and a merge through propose → approve → undo → reapply; decide
from the keyboard; run "Consolidate now" and watch it in place."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from apps.audit.actors import Actor
from apps.consolidation import services as consolidation
from apps.consolidation.models import Proposal
from apps.memories import services
from apps.memories.models import Memory
from apps.retrieval.tasks import embed_all_pending
from apps.spaces.models import Space
from tests.browser.conftest import assert_in_one_row
from tests.conftest import proposal_of

pytestmark = pytest.mark.slow

ACTOR = Actor.system("seed")
SHOTS = Path("/tmp")


def _shot(page: Page, name: str) -> None:
    page.screenshot(path=str(SHOTS / f"review_{name}.png"), full_page=True)


def _status(space: Space, memory: Memory) -> str:
    return Memory.objects.for_space(space).get(pk=memory.pk).status


def _supersession(space: Space) -> tuple[Proposal, Memory, Memory]:
    older, newer = services.create_memories(
        space,
        ACTOR,
        [
            {
                "content": "Ana lives in Lisbon.",
                "subject": "Ana",
                "occurred_at": datetime(2024, 1, 10, tzinfo=UTC),
            },
            {
                "content": "Ana moved to Porto.",
                "subject": "Ana",
                "occurred_at": datetime(2025, 3, 1, tzinfo=UTC),
            },
        ],
    )
    # Made directly, so the walk does not depend on how supersessions are found.
    proposal = proposal_of(
        space,
        "supersede",
        [older, newer],
        {"superseded": str(older.pk), "by": str(newer.pk)},
        {
            "similarity": 0.83,
            "reason": "the newer one says it changed: moved",
            "differs": [
                {
                    "kind": "place",
                    "before": [{"text": "Lisbon", "span": [13, 19]}],
                    "after": [{"text": "Porto", "span": [13, 18]}],
                }
            ],
            "change_cues": [{"text": "moved", "span": [4, 9]}],
        },
        score=0.83,
    )
    return proposal, older, newer


def _found_merge(space: Space, text: str, copy: str) -> tuple[Proposal, Memory, Memory]:
    """Two memories that say the same thing, and the merge consolidation proposes for them."""
    first, second = services.create_memories(space, ACTOR, [{"content": text}, {"content": copy}])
    embed_all_pending(space)
    (proposal,) = consolidation.propose_merges(space)
    return proposal, first, second


def test_edit_and_approve_a_merge(logged_in, live_server, curator_space, shot, hashing_backend):
    page = logged_in
    proposal, _, _ = _found_merge(curator_space, "Maya likes green tea.", "maya likes GREEN tea")
    page.goto(f"{live_server.url}/s/lab/")
    page.get_by_role("navigation", name="Space").get_by_role("link", name="Review").click()
    card = page.get_by_role("article", name="Merge near-duplicates")
    expect(card).to_contain_text("2 memories say the same thing")
    expect(card).to_contain_text("Approve: the 2 memories become one with the text below")
    shot(page, "review")
    assert_in_one_row(
        page.get_by_role("button", name="Consolidate now"),
        page.get_by_label("Decide every pending"),
        page.get_by_label("with a score of at least"),
        page.get_by_role("button", name="Approve…"),
        page.get_by_role("button", name="Reject…"),
    )
    card.get_by_role("textbox", name="Merged text").fill("Maya drinks green tea every morning.")
    card.get_by_role("button", name="Approve").click()
    expect(page.locator(f"#proposal-{proposal.pk}")).to_contain_text("Applied by user:curator")
    merged = Memory.objects.for_space(curator_space).get(
        content="Maya drinks green tea every morning."
    )
    assert merged.status == "active"
    page.get_by_role("link", name="The merged memory").click()
    expect(page).to_have_url(f"{live_server.url}/s/lab/memories/{merged.pk}/")


def test_a_supersession_goes_through_approve_undo_and_reapply(
    logged_in, live_server, curator_space
):
    page = logged_in
    proposal, older, newer = _supersession(curator_space)
    page.goto(f"{live_server.url}/s/lab/review/")
    card = page.locator(f"#proposal-{proposal.pk}")
    # The evidence: both texts with the values marked, subjects, times, what approve does.
    expect(card.locator("mark.differs", has_text="Lisbon")).to_be_visible()
    expect(card.locator("mark.differs", has_text="Porto")).to_be_visible()
    expect(card.locator("mark.cue", has_text="moved")).to_be_visible()
    expect(card).to_contain_text("2024-01-10")
    expect(card).to_contain_text("2025-03-01")
    expect(card).to_contain_text(
        "Approve: “Ana lives in Lisbon.” is marked superseded by “Ana moved to Porto.” "
        "from 2025-03-01"
    )
    _shot(page, "supersede_pending")

    card.get_by_role("button", name="Approve").click()
    expect(card).to_contain_text("Applied: replace an outdated fact.")
    expect(card.get_by_role("button", name="Undo")).to_be_visible()
    assert _status(curator_space, older) == "superseded"
    _shot(page, "supersede_applied")

    card.get_by_role("button", name="Undo").click()
    expect(card).to_contain_text("Why undone:")
    expect(card.get_by_role("button", name="Reapply")).to_be_visible()
    assert _status(curator_space, older) == "active"
    _shot(page, "supersede_undone")

    card.get_by_role("button", name="Reapply").click()
    expect(card.get_by_role("button", name="Undo")).to_be_visible()
    assert _status(curator_space, older) == "superseded"
    assert _status(curator_space, newer) == "active"
    assert Proposal.objects.for_space(curator_space).get(pk=proposal.pk).status == "applied"
    expect(page.get_by_role("heading", name="Review queue")).to_be_visible()  # same page


def test_a_merge_goes_through_approve_undo_and_reapply(
    logged_in, live_server, curator_space, hashing_backend
):
    page = logged_in
    proposal, first, second = _found_merge(
        curator_space, "Tomás cooks octopus.", "tomás cooks OCTOPUS"
    )
    page.goto(f"{live_server.url}/s/lab/review/")
    card = page.locator(f"#proposal-{proposal.pk}")
    card.get_by_role("button", name="Approve").click()
    expect(card.get_by_role("button", name="Undo")).to_be_visible()
    assert {_status(curator_space, first), _status(curator_space, second)} == {"superseded"}
    merged_id = Proposal.objects.for_space(curator_space).get(pk=proposal.pk).result["merged"]

    card.get_by_role("button", name="Undo").click()
    expect(card.get_by_role("button", name="Reapply")).to_be_visible()
    assert {_status(curator_space, first), _status(curator_space, second)} == {"active"}
    assert Memory.objects.for_space(curator_space).get(pk=merged_id).status == "deleted"
    _shot(page, "merge_undone")

    card.get_by_role("button", name="Reapply").click()
    expect(card.get_by_role("button", name="Undo")).to_be_visible()
    assert {_status(curator_space, first), _status(curator_space, second)} == {"superseded"}
    assert Proposal.objects.for_space(curator_space).get(pk=proposal.pk).status == "applied"


def test_proposals_are_decided_from_the_keyboard(logged_in, live_server, curator_space):
    page = logged_in
    first, older, _ = _supersession(curator_space)
    a, b = services.create_memories(
        curator_space,
        ACTOR,
        [
            {"content": "Rui plays chess on Fridays.", "subject": "Rui"},
            {"content": "Rui plays chess on Mondays.", "subject": "Rui"},
        ],
    )
    change = {"superseded": str(a.pk), "by": str(b.pk)}
    second = proposal_of(curator_space, "supersede", [a, b], change, {"similarity": 0.8}, score=0.8)
    page.goto(f"{live_server.url}/s/lab/review/")
    page.keyboard.press("?")
    expect(page.get_by_role("dialog", name="Keyboard shortcuts")).to_be_visible()
    _shot(page, "keys")
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog", name="Keyboard shortcuts")).to_be_hidden()

    page.keyboard.press("j")
    expect(page.locator(f"#proposal-{first.pk}")).to_be_focused()
    page.keyboard.press("a")
    expect(page.locator(f"#proposal-{first.pk}")).to_contain_text("Applied")
    expect(page.locator(f"#proposal-{first.pk}")).to_be_focused()  # still here, for u
    assert _status(curator_space, older) == "superseded"
    page.keyboard.press("u")
    expect(page.locator(f"#proposal-{first.pk}")).to_contain_text("Why undone:")
    assert _status(curator_space, older) == "active"

    page.keyboard.press("j")
    expect(page.locator(f"#proposal-{second.pk}")).to_be_focused()
    _shot(page, "keyboard_focus")
    page.keyboard.press("r")
    expect(page.locator(f"#proposal-{second.pk}")).to_contain_text("Rejected")
    assert Proposal.objects.for_space(curator_space).get(pk=second.pk).status == "rejected"

    # Typing in a field is typing, not a shortcut.
    page.get_by_label("Score at least").press("a")
    assert Proposal.objects.for_space(curator_space).get(pk=first.pk).status == "undone"


def test_selected_proposals_are_approved_after_a_confirmation(
    logged_in, live_server, curator_space
):
    page = logged_in
    proposal, older, _ = _supersession(curator_space)
    page.goto(f"{live_server.url}/s/lab/review/")
    page.get_by_label(f"Select proposal {proposal.pk}").check()
    expect(page.locator("#selected-count")).to_have_text("1 selected")
    page.get_by_role("button", name="Approve selected…").click()
    dialog = page.get_by_role("alertdialog", name="Approve 1 proposal?")
    expect(dialog).to_be_visible()
    _shot(page, "bulk_confirm")
    dialog.get_by_role("button", name="Approve 1").click()
    expect(page.get_by_role("status")).to_contain_text("Applied 1 of 1.")
    assert _status(curator_space, older) == "superseded"


def test_consolidate_now_shows_its_progress_in_place(
    logged_in, live_server, curator_space, hashing_backend, celery_worker_process
):
    page = logged_in
    services.create_memories(
        curator_space,
        ACTOR,
        [{"content": "Maya likes green tea."}, {"content": "maya likes GREEN tea"}],
    )
    embed_all_pending(curator_space)
    page.goto(f"{live_server.url}/s/lab/review/")
    expect(page.locator("[data-proposal]")).to_have_count(0)
    page.get_by_role("button", name="Consolidate now").click()
    panel = page.locator("#consolidation-panel")
    expect(panel).to_contain_text("Consolidation job #")
    _shot(page, "consolidate_running")
    expect(panel).to_contain_text("succeeded", timeout=60_000)
    expect(panel).to_contain_text("merge near-duplicates: 1 proposed")
    # The card list reloaded itself with what the job found; the page stayed.
    expect(page.get_by_role("article", name="Merge near-duplicates")).to_be_visible()
    expect(page).to_have_url(f"{live_server.url}/s/lab/review/")
    expect(page.get_by_role("heading", name="Review queue")).to_be_visible()
    _shot(page, "consolidate_done")

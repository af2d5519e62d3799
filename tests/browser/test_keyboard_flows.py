"""The dashboard from the keyboard: / to search, j/k and Enter through a list, e to edit,
Ctrl+Enter to save, ? for the list of keys; and the review queue's own keys beside them
(approve, undo and reject are walked in test_review_flows.py)."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from playwright.sync_api import Page, expect

from apps.audit.actors import Actor
from apps.consolidation import services as consolidation
from apps.consolidation.models import Proposal
from apps.jobs.models import Job
from apps.memories import services
from apps.memories.models import Memory
from apps.retrieval.tasks import embed_all_pending
from apps.spaces.models import Space
from tests.conftest import proposal_of

pytestmark = pytest.mark.slow

ACTOR = Actor.system("seed")


def blur(page: Page) -> None:
    page.evaluate("document.activeElement.blur()")


def supersession(space: Space, earlier: str, later: str) -> tuple[int, Memory]:
    """A pending proposal that `later` replaces `earlier`: its id and the memory replaced."""
    older, newer = services.create_memories(
        space, ACTOR, [{"content": earlier, "subject": "Rui"}, {"content": later, "subject": "Rui"}]
    )
    change = {"superseded": str(older.pk), "by": str(newer.pk)}
    proposal = proposal_of(space, "supersede", [older, newer], change, {"similarity": 0.8})
    return proposal.pk, older


def test_slash_searches_and_j_k_enter_open_a_memory(logged_in, live_server, curator_space, shot):
    page = logged_in
    services.create_memories(
        curator_space,
        ACTOR,
        [{"content": text} for text in ("Ana runs.", "Ana swims.", "Ana cycles.")],
    )
    page.goto(live_server.url + reverse("dashboard:browse", args=[curator_space.slug]))
    search = page.get_by_role("searchbox", name="Search")
    page.keyboard.press("/")
    expect(search).to_be_focused()
    page.keyboard.type("jk")  # typing in a field is typing
    expect(search).to_have_value("jk")
    search.fill("")
    blur(page)

    rows = page.get_by_role("table", name="Memories").locator("tbody tr")
    expect(rows).to_have_count(3)
    page.keyboard.press("j")
    expect(rows.nth(0)).to_be_focused()
    page.keyboard.press("j")
    page.keyboard.press("j")
    page.keyboard.press("j")  # stays on the last row
    expect(rows.nth(2)).to_be_focused()
    page.keyboard.press("k")
    expect(rows.nth(1)).to_be_focused()
    ring = rows.nth(1).evaluate("row => getComputedStyle(row).outlineStyle")
    assert ring == "solid", "the focused row shows no ring"
    shot(page, "keyboard-list")

    href = rows.nth(1).get_by_role("link").first.get_attribute("href")
    page.keyboard.press("Enter")
    expect(page).to_have_url(live_server.url + str(href))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Memory")


def test_e_opens_the_edit_form_and_ctrl_enter_saves_it(logged_in, live_server, curator_space, shot):
    page = logged_in
    memory = services.create_memory(curator_space, ACTOR, content="Ana runs on Sundays.")
    page.goto(live_server.url + reverse("dashboard:memory", args=[curator_space.slug, memory.pk]))
    content = page.get_by_role("region", name="Edit").get_by_label("Content")
    expect(content).to_be_hidden()
    page.keyboard.press("e")
    expect(content).to_be_focused()
    content.fill("Ana runs on Saturdays.")
    # Ctrl+Enter is the one key that works while typing; an e typed there is text.
    content.press("e")
    expect(content).to_have_value("Ana runs on Saturdays.e")
    content.fill("Ana runs on Saturdays.")
    shot(page, "keyboard-edit")
    content.press("Control+Enter")
    expect(page.get_by_role("status")).to_contain_text("Saved version 2.")
    expect(page.locator(".memory-content")).to_have_text("Ana runs on Saturdays.")
    stored = Memory.objects.for_space(curator_space).get(pk=memory.pk)
    assert (stored.version, stored.content) == (2, "Ana runs on Saturdays.")


def test_j_k_walk_the_jobs_and_the_audit_log(logged_in, live_server, curator_space):
    page = logged_in
    older, newer = (
        Job.objects.create(kind="reembed", space=curator_space, status=Job.Status.SUCCEEDED)
        for _ in range(2)
    )
    page.goto(live_server.url + reverse("dashboard:jobs", args=[curator_space.slug]))
    page.keyboard.press("j")
    page.keyboard.press("j")
    focused = page.locator("tbody tr:focus")
    expect(focused).to_have_count(1)
    job_id = focused.get_attribute("id")
    assert job_id in {f"job-{older.pk}", f"job-{newer.pk}"}
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(rf"/jobs/{job_id.removeprefix('job-')}/$"))

    memory = services.create_memory(curator_space, ACTOR, content="Ana runs on Sundays.")
    page.goto(live_server.url + reverse("dashboard:audit", args=[curator_space.slug]))
    page.keyboard.press("j")
    expect(page.locator("tbody tr").first).to_be_focused()
    # Enter opens the event's target, not the actor filter that comes first in the row.
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(rf"/memories/{memory.pk}/$"))


def test_question_mark_lists_the_keys(logged_in, live_server, curator_space, shot):
    page = logged_in
    page.goto(live_server.url + reverse("dashboard:jobs", args=[curator_space.slug]))
    dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(dialog).to_be_hidden()
    page.keyboard.press("?")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("save the form you are typing in")
    shot(page, "keyboard-help")
    page.keyboard.press("?")
    expect(dialog).to_be_hidden()
    page.get_by_role("button", name="Keyboard shortcuts").click()
    expect(dialog).to_be_visible()


def test_the_review_queue_keeps_its_keys_beside_the_shared_ones(
    logged_in, live_server, curator_space
):
    page = logged_in
    replaced = dict(
        supersession(curator_space, earlier, later)
        for earlier, later in (
            ("Rui plays chess.", "Rui plays go."),
            ("Rui lives in Braga.", "Rui moved to Faro."),
        )
    )
    page.goto(live_server.url + reverse("dashboard:review", args=[curator_space.slug]))

    # ? opens the queue's own list, and only that one.
    page.keyboard.press("?")
    expect(page.locator("#review-keys")).to_be_visible()
    expect(page.locator("#shortcuts")).to_be_hidden()
    page.keyboard.press("Escape")

    page.keyboard.press("/")
    expect(page.locator("#queue-filters").locator("select, input").first).to_be_focused()
    blur(page)

    cards = page.locator("[data-proposal]")
    page.keyboard.press("j")
    page.keyboard.press("j")
    expect(cards.nth(1)).to_be_focused()
    page.keyboard.press("k")
    expect(cards.nth(0)).to_be_focused()
    rejected, approved = (int(str(card.get_attribute("id"))[9:]) for card in cards.all())
    page.keyboard.press("r")
    expect(page.locator(f"#proposal-{rejected}")).to_contain_text("Rejected")
    page.keyboard.press("j")
    expect(page.locator(f"#proposal-{approved}")).to_be_focused()
    page.keyboard.press("a")
    expect(page.locator(f"#proposal-{approved}")).to_contain_text("Applied")

    status = {p.pk: p.status for p in Proposal.objects.for_space(curator_space)}
    assert status == {rejected: "rejected", approved: "applied"}
    assert Memory.objects.for_space(curator_space).get(pk=replaced[rejected].pk).status == "active"
    superseded = Memory.objects.for_space(curator_space).get(pk=replaced[approved].pk)
    assert superseded.status == "superseded"


def test_ctrl_enter_in_the_merged_text_approves_the_merge_with_it(
    logged_in, live_server, curator_space, hashing_backend
):
    page = logged_in
    services.create_memories(
        curator_space,
        ACTOR,
        [{"content": "Maya likes green tea."}, {"content": "maya likes GREEN tea"}],
    )
    embed_all_pending(curator_space)
    (proposal,) = consolidation.propose_merges(curator_space)
    page.goto(live_server.url + reverse("dashboard:review", args=[curator_space.slug]))
    merged = page.locator(f"#proposal-{proposal.pk}").get_by_role("textbox", name="Merged text")
    merged.fill("Maya drinks green tea every morning.")
    merged.press("Control+Enter")
    expect(page.locator(f"#proposal-{proposal.pk}")).to_contain_text("Applied")
    expect(page).to_have_url(
        live_server.url + reverse("dashboard:review", args=[curator_space.slug])
    )
    stored = Memory.objects.for_space(curator_space).get(
        content="Maya drinks green tea every morning."
    )
    assert stored.status == "active"
    assert Proposal.objects.for_space(curator_space).get(pk=proposal.pk).status == "applied"

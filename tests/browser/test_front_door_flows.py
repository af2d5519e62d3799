"""The front door as a curator meets it: the landing page's link to a space, the
space's home with what needs attention, at a desktop width and a phone's."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from playwright.sync_api import expect

from apps.audit.actors import Actor
from apps.consolidation.models import Operation
from apps.jobs.models import Job
from apps.memories import services
from apps.memories.models import Memory
from apps.spaces.models import ApiToken, Membership, Scope, Space
from tests.conftest import proposal_of

CURATOR = Actor.system("seed")


def seed(space: Space) -> None:
    """Memories of every status, an open supersession, a failed job, an agent that
    writes and recalls, and two memories added since the curator's last visit."""
    token, _ = ApiToken.issue(space=space, name="assistant", scopes=[Scope.MEMORIES_WRITE])
    agent = Actor.for_token(token)
    week_ago = timezone.now() - timedelta(days=7)
    made = [
        services.create_memory(space, agent, content=text, subject="Maya")
        for text in (
            "Maya lives in Lisbon.",
            "Maya runs the Lisbon marathon every October.",
            "Maya keeps a cat called Figo.",
            "Maya moved to Porto.",
            "Maya's old phone number ends in 42.",
        )
    ]
    Memory.objects.for_space(space).update(created_at=week_ago)
    services.archive_memory(space, CURATOR, made[4].pk)
    proposal_of(
        space,
        Operation.SUPERSEDE,
        [made[0], made[3]],
        {"superseded": str(made[0].pk), "by": str(made[3].pk)},
    )
    for days_ago in (1, 2, 5):
        services.record_recall(
            space,
            agent,
            [made[1].pk],
            at=timezone.now() - timedelta(days=days_ago),
            query="marathon",
            mode="hybrid",
        )
    Job.objects.create(
        kind="reembed",
        space=space,
        status=Job.Status.FAILED,
        error="the embedding service did not answer",
        finished_at=timezone.now(),
    )
    Membership.objects.filter(space=space).update(visited_at=timezone.now() - timedelta(days=2))
    services.create_memory(space, agent, content="Maya started learning Portuguese.")
    services.create_memory(space, agent, content="Maya's cat Figo is twelve.")


def test_the_landing_link_opens_a_space_home_with_its_counts(
    logged_in, live_server, curator_space, shot
):
    page = logged_in
    seed(curator_space)
    page.reload()
    row = page.locator("#space-lab")
    expect(row).to_contain_text("6 active · 1 archived")
    expect(row).to_contain_text("2 new memories since your last visit")
    shot(page, "front-door-landing")

    row.get_by_role("link", name="Lab", exact=True).click()

    expect(page).to_have_url(f"{live_server.url}/s/lab/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Lab")
    nav = page.get_by_role("navigation", name="Space")
    expect(nav.get_by_role("link", name="Overview")).to_have_attribute("aria-current", "page")
    attention = page.get_by_role("list", name="Needs attention in Lab")
    expect(attention.get_by_role("link", name="1 pending proposal")).to_be_visible()
    expect(attention.get_by_role("link", name="1 failed job in the last 7 days")).to_be_visible()
    expect(attention).to_contain_text("2 new memories since your last visit")
    expect(page.locator("#overview-memories")).to_contain_text("6 active · 1 archived")
    expect(page.locator("#contradicted")).to_contain_text("Maya lives in Lisbon.")
    expect(page.locator("[data-plotly] .main-svg").first).to_be_visible()
    page.get_by_text("The same activity as a table").click()
    expect(page.get_by_role("table", name="Agent activity per day")).to_contain_text(
        "token:assistant"
    )
    shot(page, "front-door-overview")

    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    expect(page.get_by_role("heading", level=1)).to_have_text("Lab")
    # Read again, the figure has not dropped to zero: the visit is still under way.
    expect(attention).to_contain_text("2 new memories since your last visit")
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    shot(page, "front-door-overview-phone")
    page.goto(f"{live_server.url}/")
    shot(page, "front-door-landing-phone")

    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{live_server.url}/s/lab/")
    page.get_by_role("link", name="1 failed job in the last 7 days").click()
    expect(page).to_have_url(f"{live_server.url}/s/lab/jobs/?status=failed")
    expect(page.get_by_role("heading", name="Failed jobs")).to_be_visible()
    expect(page.get_by_role("table", name="Recent jobs")).to_contain_text("reembed")

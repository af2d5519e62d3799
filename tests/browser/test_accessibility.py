"""Every dashboard page, at 1280 px and on a 390x844 phone, checked by axe-core.

axe-core comes from the axe-playwright-python package (its bundled axe.min.js, run in
the page through Playwright, so no CDN and no script tag the CSP would block). A
serious or critical violation fails the page's test, named with the elements it found.
No page scrolls sideways, even on the phone: tables become cards and long words wrap.

To cover a new page, add a line to PAGES.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import Page

from apps.audit.actors import Actor
from apps.consolidation import entities
from apps.jobs.models import Job
from apps.memories import services
from apps.memories.models import Entity, Memory
from apps.spaces.models import ApiToken, Scope, Space
from tests.conftest import proposal_of
from tests.dashboard.test_map_page import draw_map

pytestmark = pytest.mark.slow

ACTOR = Actor.system("seed")
WIDE = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
FAILING_IMPACTS = {"serious", "critical"}


@dataclass(frozen=True)
class Seeded:
    space: Space
    memory: Memory
    entity: Entity
    job: Job
    session: str


@dataclass(frozen=True)
class Dashboard:
    url_name: str
    args: Callable[[Seeded], list[Any]]
    query: str = ""


def in_space(seeded: Seeded) -> list[Any]:
    return [seeded.space.slug]


def on_memory(seeded: Seeded) -> list[Any]:
    return [seeded.space.slug, seeded.memory.pk]


PAGES: dict[str, Dashboard] = {
    "landing": Dashboard("home", lambda seeded: []),
    "login": Dashboard("login", lambda seeded: []),
    "home": Dashboard("dashboard:home", in_space),
    "memories": Dashboard("dashboard:browse", in_space),
    "memory": Dashboard("dashboard:memory", on_memory),
    "versions": Dashboard("dashboard:memory_versions", on_memory, query="?a=1&b=2"),
    "sessions": Dashboard("dashboard:sessions", in_space),
    "session": Dashboard("dashboard:session", lambda seeded: [seeded.space.slug, seeded.session]),
    "timeline": Dashboard("dashboard:timeline", in_space),
    "entities": Dashboard("dashboard:entities", in_space),
    "entity": Dashboard("dashboard:entity", lambda seeded: [seeded.space.slug, seeded.entity.pk]),
    "graph": Dashboard("dashboard:graph", in_space, query="?center=memory:{memory}&hops=2"),
    "map": Dashboard("dashboard:map", in_space),
    "review": Dashboard("dashboard:review", in_space),
    "audit": Dashboard("dashboard:audit", in_space),
    "jobs": Dashboard("dashboard:jobs", in_space),
    "job": Dashboard("dashboard:job", lambda seeded: [seeded.space.slug, seeded.job.pk]),
    "tokens": Dashboard("dashboard:tokens", in_space),
    "settings": Dashboard("dashboard:settings", in_space),
    "recall": Dashboard("dashboard:recall", in_space, query="?q=marathon"),
    "then": Dashboard("dashboard:then", in_space),
}


def seed(space: Space) -> Seeded:
    """A little of everything the pages show: a conversation and the memories drawn from
    it, an edit, links, entities, a pending proposal, a map, a job and a token."""
    start = timezone.now() - timedelta(days=3)
    said, _reply = services.record_episodes(
        space,
        ACTOR,
        [
            {
                "session": "run-club",
                "speaker": "Maya",
                "content": "I signed up for the Lisbon marathon!",
                "occurred_at": start,
            },
            {
                "session": "run-club",
                "speaker": "Coach",
                "content": "Great, training starts on Monday.",
                "occurred_at": start + timedelta(minutes=1),
            },
        ],
    )
    memory = services.create_memory(
        space,
        ACTOR,
        content="Maya is training for the Lisbon marathon.",
        subject="Maya Okafor",
        tags=["running", "goals"],
        source_episodes=[said.pk],
    )
    services.update_memory(
        space,
        ACTOR,
        memory.pk,
        expected_version=1,
        content="Maya is training for the Lisbon marathon in October.",
        reason="the date came up",
    )
    older, newer, other = services.create_memories(
        space,
        ACTOR,
        [
            {"content": "Maya trains twice a week.", "subject": "Maya Okafor"},
            {"content": "Maya trains four times a week.", "subject": "Maya Okafor"},
            # A long unbroken word, as agents write them: it must wrap, not widen the page.
            {"content": "Tomás's build id is " + "0123456789abcdef" * 6 + ".", "kind": "fact"},
        ],
    )
    services.link_memories(space, ACTOR, memory.pk, newer.pk, "related_to")
    entities.extract(space, ACTOR)
    proposal_of(
        space,
        "supersede",
        [older, newer],
        {"superseded": str(older.pk), "by": str(newer.pk)},
        {"similarity": 0.81, "reason": "the newer one says it changed"},
        score=0.81,
    )
    draw_map(space, [memory, older, newer, other], clusters=[0, 0, 0, -1])
    job = Job.objects.create(
        kind="reembed", space=space, status=Job.Status.SUCCEEDED, total=4, done=4,
        counts={"embedded": 4}, started_at=start, finished_at=start + timedelta(minutes=1),
    )  # fmt: skip
    ApiToken.issue(space=space, name="support-bot", scopes=[Scope.MEMORIES_READ])
    entity = Entity.objects.for_space(space).order_by("name").first()
    assert entity is not None, "the seed mentions no entity"
    return Seeded(space=space, memory=memory, entity=entity, job=job, session="run-club")


def serious_violations(page: Page) -> list[str]:
    results = Axe().run(page)
    return [
        f"{violation['id']} ({violation['impact']}): {violation['help']} at "
        + ", ".join(" ".join(node["target"]) for node in violation["nodes"][:5])
        for violation in results.response["violations"]
        if violation["impact"] in FAILING_IMPACTS
    ]


def overflow(page: Page) -> int:
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


@pytest.mark.parametrize("name", list(PAGES))
def test_it_has_no_serious_violations_at_either_width(
    name, logged_in, live_server, curator_space, shot, hashing_backend
):
    page = logged_in
    seeded = seed(curator_space)
    dashboard = PAGES[name]
    query = dashboard.query.format(memory=seeded.memory.pk)
    url = live_server.url + reverse(dashboard.url_name, args=dashboard.args(seeded)) + query
    if name == "login":
        page.context.clear_cookies()
    found = {}
    for label, viewport in (("1280", WIDE), ("390", PHONE)):
        page.set_viewport_size(viewport)
        response = page.goto(url)
        assert response is not None and response.status == 200, f"{name} answered {response}"
        page.wait_for_load_state("networkidle")
        shot(page, f"a11y-{name}-{label}")
        found[label] = serious_violations(page)
        assert overflow(page) <= 0, f"{name} scrolls sideways by {overflow(page)}px at {label}"
    assert not found["1280"] and not found["390"], found


def test_it_reports_a_serious_violation(logged_in, live_server, curator_space):
    """The check above can fail: an image with no text alternative is a critical one."""
    page = logged_in
    page.goto(live_server.url + reverse("dashboard:browse", args=[curator_space.slug]))
    page.evaluate("document.querySelector('main').append(document.createElement('img'))")
    assert any(found.startswith("image-alt (critical)") for found in serious_violations(page))


def test_the_phone_check_sees_a_page_that_scrolls_sideways(logged_in, live_server, curator_space):
    page = logged_in
    page.set_viewport_size(PHONE)
    page.goto(live_server.url + reverse("dashboard:browse", args=[curator_space.slug]))
    assert overflow(page) <= 0
    page.evaluate("document.querySelector('main').style.minWidth = '600px'")
    assert overflow(page) > 0

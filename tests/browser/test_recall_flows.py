"""Why was this recalled? From a memory's access log to the recall simulator, in a real
browser: the query comes filled in, the memory is among the hits with its score taken
apart, and a hit can be pinned without leaving the simulation."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from apps.audit.actors import Actor
from apps.audit.models import AuditEvent
from apps.memories import services
from apps.memories.models import Memory
from apps.retrieval import tasks
from apps.retrieval.search import search
from apps.spaces.models import ApiToken, Scope
from tests.browser.conftest import SCREENSHOTS

pytestmark = pytest.mark.slow

SEED = Actor.system("seed")
QUESTION = "What pet does Priya have?"
CAT = "Priya has a nine-year-old cat called Miso."
OTHERS = (
    "Priya has a three-year-old dog called Pepper.",
    "Maya is running the Lisbon marathon in December; it is her first marathon.",
    "Tomás is opening Brasa, a wood-fired restaurant in Porto.",
    "Daniel teaches physics at Hillside Academy in Leeds.",
    "Aiko is allergic to peanuts.",
    "Lena's father Klaus has cardiology check-ups at the Charité in Berlin.",
    "Maya lives in Lisbon, in Alfama, near the river.",
    "Tomás's sister Inês runs front of house at Brasa.",
    "Daniel's son Kofi has a serious peanut allergy.",
    "Priya spoke on queue back-pressure at the SRE conference in Berlin.",
    "Aiko is learning to make sourdough bread at weekends.",
    "Lena cycles to work along the Spree every day.",
    "Maya's long run is every Sunday morning along the coast.",
)


def no_horizontal_scroll(page):
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], f"scrollWidth {width}"


def test_from_an_access_log_row_to_the_simulator(
    logged_in, live_server, curator_space, shot, embed_now, monkeypatch
):
    page = logged_in
    cat = services.create_memory(curator_space, SEED, content=CAT, subject="Priya Raman")
    for text in OTHERS:
        services.create_memory(curator_space, SEED, content=text)
    embed_now(curator_space)
    token, _ = ApiToken.issue(space=curator_space, name="assistant", scopes=[Scope.MEMORIES_READ])
    # The agent's recall, as the API runs it; its access log task runs right here.
    monkeypatch.setattr(tasks.record_recall, "delay", tasks.record_recall)
    recalled = search(curator_space, QUESTION, k=3, actor=Actor.for_token(token))
    assert cat.pk in [hit.memory.pk for hit in recalled.hits]
    logged = AuditEvent.objects.for_space(curator_space).filter(action="memory.recall")
    assert logged.filter(target_id=str(cat.pk), actor_label="token:assistant").exists()

    page.goto(f"{live_server.url}/s/lab/memories/{cat.pk}/")
    access = page.get_by_role("table", name="Latest reads and recalls")
    expect(access).to_contain_text(f"search for “{QUESTION}”")
    access.get_by_role("link", name="Why was it recalled?").click()

    expect(page).to_have_url(re.compile(r"/s/lab/recall/\?q=What"))
    expect(page.get_by_role("searchbox", name="Query")).to_have_value(QUESTION)
    expect(page.get_by_label("Run as")).to_have_value("token:assistant")
    expect(page.get_by_label("As of")).not_to_have_value("")
    hits = page.get_by_role("table", name="Returned hits, best first")
    row = hits.locator(f"#hit-{cat.pk}")
    expect(row).to_contain_text("the memory you came from")
    expect(row.locator("td[data-label=Vector]")).to_have_text(re.compile(r"#\d+ · 0\.\d{3}"))
    expect(row.locator("td[data-label=Text]")).to_have_text(re.compile(r"#\d+ · \d+\.\d{2}"))
    expect(row.locator("td[data-label=Final]")).to_have_text(re.compile(r"0\.\d{4}"))
    expect(page.get_by_role("heading", name="Just below the cut")).to_be_visible()
    expect(page.get_by_role("table", name="Candidates just below the cut")).to_be_visible()
    # A simulation is not a recall: still the one row the agent's search wrote.
    assert logged.filter(target_id=str(cat.pk)).count() == 1
    shot(page, "recall-simulator")

    page.set_viewport_size({"width": 390, "height": 844})
    no_horizontal_scroll(page)
    shot(page, "recall-simulator-390")
    page.screenshot(path=str(SCREENSHOTS / "recall-simulator-390-top.png"))
    page.set_viewport_size({"width": 1280, "height": 900})

    row.get_by_role("button", name=re.compile(r"^Pin memory")).click()
    row = page.locator(f"#hit-{cat.pk}")
    expect(row).to_contain_text("Pinned: now version 2.")
    expect(page).to_have_url(re.compile(r"/s/lab/recall/\?q=What.*#hit-"))
    expect(page.get_by_role("searchbox", name="Query")).to_have_value(QUESTION)
    assert Memory.objects.for_space(curator_space).get(pk=cat.pk).pinned
    shot(page, "recall-simulator-pinned")


def test_the_memory_list_marks_its_weak_tail(
    logged_in, live_server, curator_space, shot, embed_now
):
    page = logged_in
    services.create_memory(curator_space, SEED, content=CAT)
    for text in OTHERS:
        services.create_memory(curator_space, SEED, content=text)
    embed_now(curator_space)
    page.goto(f"{live_server.url}/s/lab/memories/?q=cat&mode=vector")
    expect(page.get_by_role("status").filter(has_text="match")).to_contain_text(
        "weak matches hidden"
    )
    rows = page.get_by_role("table", name="Memories").locator("tbody tr")
    expect(rows.first).to_contain_text(re.compile(r"score 0\.\d{3} · similarity 0\.\d\d"))
    shot(page, "memories-search-scores")
    page.get_by_role("link", name="show them").click()
    expect(page.locator(".badge.weak").first).to_be_visible()
    page.set_viewport_size({"width": 390, "height": 844})
    no_horizontal_scroll(page)
    shot(page, "memories-search-scores-390")

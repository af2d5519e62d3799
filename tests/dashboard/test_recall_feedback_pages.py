"""Recall feedback on the dashboard: memories agents keep marking not useful need
attention (with the queries), and a memory's access log shows each recall's verdict."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.audit.actors import Actor
from apps.memories import services
from apps.memories.models import Memory
from apps.retrieval.models import Recall
from apps.spaces.models import Space

AGENT = Actor.system("assistant")


def recalled(space: Space, query: str, *memories: Memory) -> Recall:
    """A search that returned `memories`, as search() records it (the Recall row and
    the access log naming it)."""
    recall = Recall.objects.for_space(space).create(
        space=space,
        query=query,
        mode="hybrid",
        memory_ids=[m.pk for m in memories],
        **AGENT.as_fields(),
    )
    services.record_recall(
        space,
        AGENT,
        [m.pk for m in memories],
        at=timezone.now(),
        query=query,
        mode="hybrid",
        recall_id=recall.pk,
    )
    return recall


def mark(space: Space, recall: Recall, verdict: str, memory: Memory, note: str = "") -> None:
    services.record_feedback(space, AGENT, recall.pk, note=note, **{verdict: [memory.pk]})


def section(html: str, element_id: str) -> str:
    found = re.search(rf'<section [^>]*id="{element_id}"[^>]*>(.*?)</section>', html, re.S)
    assert found, f"no section {element_id}"
    return found.group(1)


@pytest.fixture
def marked(space: Space, actor: Actor, make_memory: Callable[..., Memory]) -> dict[str, Memory]:
    """`stale` marked not useful twice; `mixed` once each way; `even` twice each way;
    `archived` twice not useful but no longer active."""
    made = {
        name: make_memory(f"{name} memory about Brasa")
        for name in ("stale", "mixed", "even", "archived")
    }
    for query in ("when does Brasa open", "Brasa opening hours"):
        recall = recalled(space, query, *made.values())
        mark(space, recall, "not_useful", made["stale"])
        mark(space, recall, "not_useful", made["even"])
        mark(space, recall, "not_useful", made["archived"])
    recall = recalled(space, "who runs Brasa", made["mixed"], made["even"])
    mark(space, recall, "not_useful", made["mixed"])
    mark(space, recall, "useful", made["even"])
    recall = recalled(space, "Brasa staff", made["mixed"], made["even"])
    mark(space, recall, "useful", made["mixed"])
    mark(space, recall, "useful", made["even"])
    services.archive_memory(space, actor, made["archived"].pk)
    return made


def test_it_lists_memories_marked_not_useful_with_their_queries(
    editor: Client, marked: dict[str, Memory]
) -> None:
    html = editor.get("/s/home/").content.decode()
    listed = section(html, "not-useful")

    assert "stale memory about Brasa" in listed
    assert f"/s/home/memories/{marked['stale'].pk}/#access" in listed
    assert "not useful 2 times" in listed
    assert "“Brasa opening hours”" in listed and "“when does Brasa open”" in listed
    for name in ("mixed", "even", "archived"):
        assert f"{name} memory" not in listed
    assert re.search(
        r'<a href="/s/home/#not-useful" data-figure="not-useful">1 memory marked not useful</a>',
        html,
    )


def test_it_counts_them_on_the_landing_page(editor: Client, marked: dict[str, Memory]) -> None:
    html = editor.get("/").content.decode()
    assert re.search(r'data-figure="not-useful">1 memory marked not useful</a>', html)


def test_it_follows_the_configured_number_of_marks(
    editor: Client, marked: dict[str, Memory], settings: Any
) -> None:
    settings.RECALL_NOT_USEFUL_ATTENTION = 3
    html = editor.get("/s/home/").content.decode()
    assert "stale memory" not in section(html, "not-useful")
    assert 'data-figure="not-useful"' not in html


def test_it_says_when_nothing_was_marked_not_useful(editor: Client, space: Space) -> None:
    html = editor.get("/s/home/").content.decode()
    assert "No memory has been marked not useful that often." in section(html, "not-useful")


def test_the_list_costs_the_same_queries_for_more_marked_memories(
    editor: Client, space: Space, make_memory: Callable[..., Memory]
) -> None:
    def flag(memory: Memory) -> None:
        for query in ("first question", "second question"):
            mark(space, recalled(space, query, memory), "not_useful", memory)

    flag(make_memory("the first one"))
    editor.get("/s/home/")
    with CaptureQueriesContext(connection) as one:
        editor.get("/s/home/")
    for n in range(6):
        flag(make_memory(f"another one {n}"))
    with CaptureQueriesContext(connection) as seven:
        html = editor.get("/s/home/").content.decode()

    assert section(html, "not-useful").count("<li>") == 5
    assert len(seven) == len(one)


def test_it_shows_the_feedback_with_each_recall_in_the_access_log(
    editor: Client, space: Space, make_memory: Callable[..., Memory]
) -> None:
    memory = make_memory("Brasa opens at noon.")
    judged = recalled(space, "when does Brasa open", memory)
    mark(space, judged, "not_useful", memory, note="it opens at eleven now")
    recalled(space, "Brasa lunch", memory)  # no feedback on this one

    html = editor.get(f"/s/home/memories/{memory.pk}/").content.decode()
    access = section(html, "access")
    rows = re.findall(r"<tr>(.*?)</tr>", access, re.S)
    judged_row = next(row for row in rows if "when does Brasa open" in row)
    plain_row = next(row for row in rows if "Brasa lunch" in row)

    assert 'data-verdict="not_useful"' in judged_row
    assert "Marked not useful by system:assistant" in judged_row
    assert "“it opens at eleven now”" in judged_row
    assert "data-verdict" not in plain_row


def test_the_access_log_costs_the_same_queries_for_more_judged_recalls(
    editor: Client, space: Space, make_memory: Callable[..., Memory]
) -> None:
    memory = make_memory("Brasa opens at noon.")
    mark(space, recalled(space, "first", memory), "useful", memory)
    url = f"/s/home/memories/{memory.pk}/"
    editor.get(url)
    with CaptureQueriesContext(connection) as one:
        editor.get(url)
    for n in range(5):
        mark(space, recalled(space, f"question {n}", memory), "not_useful", memory)
    with CaptureQueriesContext(connection) as six:
        html = editor.get(url).content.decode()

    assert section(html, "access").count("data-verdict") == 6
    assert len(six) == len(one)

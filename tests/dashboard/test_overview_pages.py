"""The front door: the landing page's spaces with what needs attention in each, and a
space's home (its overview). Figures are checked against the rows they count."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.audit.actors import Actor
from apps.consolidation.models import Operation, Proposal
from apps.jobs.models import Job
from apps.memories import services
from apps.memories.models import Memory
from apps.spaces.models import VISIT_GAP, ApiToken, Membership, Role, Scope, Space
from tests.conftest import proposal_of
from tests.dashboard.conftest import figure_in, member


def figure(html: str, name: str, within: str = "") -> str:
    """The text of the link marked data-figure=`name` (inside the element `within`)."""
    if within:
        found = re.search(rf'<tr id="{within}">(.*?)</tr>', html, re.S)
        assert found, f"no row {within}"
        html = found.group(1)
    link = re.search(rf'<a href="([^"]*)" data-figure="{name}"[^>]*>(.*?)</a>', html, re.S)
    assert link, f"no {name} figure"
    return f"{link.group(2)} -> {link.group(1)}"


def age(memory: Memory, days: float) -> None:
    """Make `memory` look created `days` ago (bookkeeping, not a versioned change)."""
    Memory.objects.for_space(memory.space_id).filter(pk=memory.pk).update(
        created_at=timezone.now() - timedelta(days=days)
    )


def visit_long_ago(user: Any, space: Space, hours: float = 2) -> None:
    """A finished visit to `space`'s home, `hours` ago."""
    Membership.objects.filter(user=user, space=space).update(
        visited_at=timezone.now() - timedelta(hours=hours)
    )


@pytest.fixture
def statuses(space: Space, actor: Actor, make_memory: Any) -> dict[str, Memory]:
    """Two active memories, and one of each other status."""
    made = {name: make_memory(f"{name} memory about tea") for name in ("a", "b", "c", "d", "e")}
    services.archive_memory(space, actor, made["c"].pk)
    services.supersede_memory(space, actor, made["d"].pk, made["a"].pk)
    services.delete_memory(space, actor, made["e"].pk)
    return made


# ------------------------------------------------------------------ landing page


def test_it_links_each_space_to_its_home(editor: Client, alice: Any, outsider_space: Space) -> None:
    Membership.objects.create(space=outsider_space, user=alice, role=Role.VIEWER)

    html = editor.get("/").content.decode()

    assert '<a href="/s/home/">Home</a>' in html
    assert '<a href="/s/outsider/">Outsider</a>' in html


def test_it_says_what_the_memory_count_includes(editor: Client, statuses: Any) -> None:
    response = editor.get("/")

    assert response.status_code == 200
    html = response.content.decode()
    assert figure(html, "active", "space-home") == "2 active -> /s/home/memories/"
    assert figure(html, "archived", "space-home") == (
        "1 archived -> /s/home/memories/?status=archived"
    )
    assert figure(html, "superseded", "space-home") == (
        "1 superseded -> /s/home/memories/?status=superseded"
    )
    assert figure(html, "deleted", "space-home") == (
        "1 deleted -> /s/home/memories/?status=deleted"
    )


def test_its_status_links_list_as_many_memories_as_they_say(
    editor: Client, statuses: dict[str, Memory]
) -> None:
    for query, count in (("", 2), ("?status=archived", 1), ("?status=superseded", 1)):
        html = editor.get(f"/s/home/memories/{query}").content.decode()
        assert html.count("data-row-check") == count, query


def test_it_counts_pending_and_stale_proposals(
    editor: Client, space: Space, make_memory: Any
) -> None:
    old, new, other = (
        make_memory("Ann lives in Oslo."),
        make_memory("Ann lives in Rome."),
        make_memory("x"),
    )
    proposal_of(
        space, Operation.SUPERSEDE, [old, new], {"superseded": str(old.pk), "by": str(new.pk)}
    )
    stale = proposal_of(space, Operation.ARCHIVE, [other], {"status": "archived"})
    Proposal.objects.for_space(space).filter(pk=stale.pk).update(status=Proposal.Status.STALE)
    applied = proposal_of(space, Operation.ARCHIVE, [new], {"status": "archived"})
    Proposal.objects.for_space(space).filter(pk=applied.pk).update(status=Proposal.Status.APPLIED)

    html = editor.get("/").content.decode()

    assert figure(html, "pending", "space-home") == (
        "1 pending proposal -> /s/home/review/?status=pending"
    )
    assert figure(html, "stale", "space-home") == "1 stale proposal -> /s/home/review/?status=stale"
    stale_queue = editor.get("/s/home/review/?status=stale").content.decode()
    assert f'id="proposal-{stale.pk}"' in stale_queue


def test_it_counts_failed_jobs_of_the_last_week_only(
    editor: Client, space: Space, outsider_space: Space
) -> None:
    now = timezone.now()
    Job.objects.create(kind="reembed", space=space, status=Job.Status.FAILED, finished_at=now)
    Job.objects.create(
        kind="reembed", space=space, status=Job.Status.FAILED, finished_at=now - timedelta(days=8)
    )
    Job.objects.create(kind="reembed", space=space, status=Job.Status.SUCCEEDED, finished_at=now)
    Job.objects.create(
        kind="reembed", space=outsider_space, status=Job.Status.FAILED, finished_at=now
    )

    html = editor.get("/").content.decode()

    assert figure(html, "failed", "space-home") == (
        "1 failed job in the last 7 days -> /s/home/jobs/?status=failed"
    )


def test_it_counts_the_embedding_backlog(
    editor: Client, space: Space, make_memory: Any, hashing_backend: Any, embed_now: Any
) -> None:
    make_memory("embedded already")
    embed_now(space)
    make_memory("waiting one")
    make_memory("waiting two")
    assert Memory.objects.for_space(space).pending_embedding().count() == 2

    html = editor.get("/").content.decode()

    assert figure(html, "backlog", "space-home") == (
        "2 memories waiting for an embedding -> /s/home/jobs/"
    )


def test_it_counts_memories_new_since_the_last_visit(
    editor: Client, alice: Any, space: Space, make_memory: Any
) -> None:
    age(make_memory("seen before"), 1)
    assert "No earlier visit to count new memories from" in editor.get("/").content.decode()
    editor.get("/s/home/")
    visit_long_ago(alice, space)
    make_memory("added while away")
    make_memory("also added while away")
    services.delete_memory(space, Actor.for_user(alice), make_memory("deleted while away").pk)

    html = editor.get("/").content.decode()

    day = (timezone.localtime() - timedelta(hours=2)).date().isoformat()
    assert figure(html, "new", "space-home") == (
        "2 new memories since your last visit"
        f" -> /s/home/audit/?action=memory.create&amp;since={day}"
    )


def test_an_outsider_neither_sees_nor_opens_a_space(outsider: Client, space: Space) -> None:
    html = outsider.get("/").content.decode()

    assert "/s/home/" not in html
    assert '<a href="/s/outsider/">Outsider</a>' in html
    assert outsider.get("/s/home/").status_code == 404
    assert outsider.get("/s/home/memories/").status_code == 404


def test_the_landing_page_costs_the_same_queries_for_more_spaces(
    editor: Client, alice: Any, space: Space, make_memory: Any
) -> None:
    make_memory()
    editor.get("/")  # sessions and caches warm
    with CaptureQueriesContext(connection) as one_space:
        editor.get("/")
    for n in range(4):
        more = Space.objects.create(slug=f"more-{n}", name=f"More {n}")
        Membership.objects.create(space=more, user=alice, role=Role.EDITOR)
        make_memory(f"memory {n}", space=more)
        Job.objects.create(
            kind="reembed", space=more, status=Job.Status.FAILED, finished_at=timezone.now()
        )
    with CaptureQueriesContext(connection) as five_spaces:
        html = editor.get("/").content.decode()

    assert html.count('data-figure="failed"') == 4
    assert len(five_spaces) == len(one_space)


# ------------------------------------------------------------------ visits


def test_a_visit_keeps_its_new_since_moment_until_a_gap(
    editor: Client, alice: Any, space: Space
) -> None:
    editor.get("/s/home/")
    first = Membership.objects.get(user=alice, space=space)
    assert first.visited_at is not None and first.previous_visit_at is None

    editor.get("/s/home/")
    within = Membership.objects.get(user=alice, space=space)
    assert within.previous_visit_at is None
    assert within.visited_at is not None and within.visited_at > first.visited_at

    visit_long_ago(alice, space, hours=1)
    ended = Membership.objects.get(user=alice, space=space).visited_at
    editor.get("/s/home/")
    after_gap = Membership.objects.get(user=alice, space=space)
    assert ended is not None and after_gap.visited_at is not None
    assert after_gap.previous_visit_at == ended
    assert after_gap.visited_at - ended > VISIT_GAP


def test_opening_the_home_does_not_zero_the_figure_being_read(
    editor: Client, alice: Any, space: Space, make_memory: Any
) -> None:
    editor.get("/s/home/")
    visit_long_ago(alice, space)
    make_memory("added while away")

    for _ in range(2):  # the first view starts a visit; the second is part of it
        html = editor.get("/s/home/").content.decode()
        assert "1 new memory since your last visit" in html
    assert "1 new memory since your last visit" in editor.get("/").content.decode()


# ------------------------------------------------------------------ a space's home


def test_the_switcher_lands_on_the_space_home(editor: Client) -> None:
    response = editor.get("/switch/?space=home")

    assert response.status_code == 302
    assert response["Location"] == "/s/home/"


def test_the_home_shows_the_counts_as_links(editor: Client, statuses: Any) -> None:
    response = editor.get("/s/home/")

    assert response.status_code == 200
    html = response.content.decode()
    assert 'aria-current="page">Overview</a>' in html
    assert figure(html, "active") == "2 active -> /s/home/memories/"
    assert figure(html, "superseded") == "1 superseded -> /s/home/memories/?status=superseded"
    assert "5 in all" in html


def test_it_lists_contradicted_memories(editor: Client, space: Space, make_memory: Any) -> None:
    old, new = make_memory("Ann lives in Oslo."), make_memory("Ann lives in Rome.")
    proposal_of(
        space, Operation.SUPERSEDE, [old, new], {"superseded": str(old.pk), "by": str(new.pk)}
    )

    html = editor.get("/s/home/").content.decode()

    section = html.split('id="contradicted"')[1].split("</section>")[0]
    assert f"/s/home/memories/{old.pk}/" in section
    assert f"/s/home/memories/{new.pk}/" not in section
    assert "/s/home/review/?operation=supersede&amp;status=pending" in section


def test_it_lists_memories_never_recalled_and_fading(
    editor: Client, space: Space, make_memory: Any
) -> None:
    never = make_memory("Nobody ever asked about this.")
    young = make_memory("Said an hour ago.")
    faded = make_memory("Recalled once, long ago.")
    fresh = make_memory("Recalled yesterday.")
    for memory in (never, faded, fresh):
        age(memory, 40)
    agent = Actor.system("assistant")
    now = timezone.now()
    services.record_recall(
        space, agent, [faded.pk], at=now - timedelta(days=30), query="q", mode="text"
    )
    services.record_recall(
        space, agent, [fresh.pk], at=now - timedelta(days=1), query="q", mode="text"
    )

    html = editor.get("/s/home/").content.decode()

    never_list = html.split('id="never-recalled"')[1].split("</section>")[0]
    fading_list = html.split('id="fading"')[1].split("</section>")[0]
    assert str(never.pk) in never_list
    assert str(young.pk) not in never_list and str(faded.pk) not in never_list
    assert str(faded.pk) in fading_list
    assert str(fresh.pk) not in fading_list and str(never.pk) not in fading_list
    assert "retention 0.00" in fading_list


def test_it_plots_writes_and_recalls_per_agent(
    editor: Client, space: Space, make_memory: Any
) -> None:
    token, _ = ApiToken.issue(space=space, name="helper", scopes=[Scope.MEMORIES_WRITE])
    written = services.create_memory(space, Actor.for_token(token), content="From the agent.")
    make_memory("From a person.")
    services.record_recall(
        space, Actor.system("assistant"), [written.pk], at=timezone.now(), query="q", mode="text"
    )

    html = editor.get("/s/home/").content.decode()

    plotted = figure_in(html, "activity-figure")
    named = {(trace["name"], sum(trace["y"])) for trace in plotted["data"]}
    assert ("token:helper", 1) in named
    assert ("system:assistant", 1) in named
    assert not any(name.startswith("user:") for name, _ in named)
    table = html.split('<details class="activitytable">')[1].split("</details>")[0]
    assert "token:helper" in table and "system:assistant" in table


def test_it_shows_the_last_five_jobs(editor: Client, space: Space) -> None:
    made = [Job.objects.create(kind=f"kind{n}", space=space) for n in range(6)]

    html = editor.get("/s/home/").content.decode()

    jobs = html.split('id="last-jobs"')[1].split("</section>")[0]
    assert [f"kind{n} #{made[n].pk}" in jobs for n in range(6)] == [False] + [True] * 5


def test_the_jobs_page_filters_to_failed_jobs(editor: Client, space: Space) -> None:
    failed = Job.objects.create(kind="broken", space=space, status=Job.Status.FAILED, error="boom")
    fine = Job.objects.create(kind="fine", space=space, status=Job.Status.SUCCEEDED)

    html = editor.get("/s/home/jobs/?status=failed").content.decode()

    assert f"broken #{failed.pk}" in html
    assert f"fine #{fine.pk}" not in html
    assert f"fine #{fine.pk}" in editor.get("/s/home/jobs/?status=nonsense").content.decode()


def test_the_home_costs_the_same_queries_with_more_data(
    editor: Client, space: Space, make_memory: Any
) -> None:
    make_memory("one")
    editor.get("/s/home/")
    with CaptureQueriesContext(connection) as small:
        editor.get("/s/home/")
    agent = Actor.system("assistant")
    for n in range(12):
        memory = make_memory(f"memory number {n}")
        age(memory, 40)
        services.record_recall(
            space, agent, [memory.pk], at=timezone.now() - timedelta(days=n), query="q", mode="text"
        )
        Job.objects.create(
            kind="reembed", space=space, status=Job.Status.FAILED, finished_at=timezone.now()
        )
    with CaptureQueriesContext(connection) as large:
        editor.get("/s/home/")

    assert len(large) == len(small)
    memory_reads = [q["sql"] for q in large if 'FROM "memories_memory"' in q["sql"]]
    assert memory_reads
    assert not any('"memories_memory"."embedding"' in sql for sql in memory_reads)
    # Only a snippet of the text is read, never the whole of it.
    whole_text = '"memories_memory"."content"'
    assert not any(whole_text in sql.replace(f"LEFT({whole_text}", "") for sql in memory_reads)


def test_a_viewer_may_open_the_home(space: Space) -> None:
    viewer = member(space, "vic", Role.VIEWER)

    assert viewer.get("/s/home/").status_code == 200
    assert Membership.objects.get(user__username="vic").visited_at is not None


def test_the_home_needs_a_login(client: Client, space: Space) -> None:
    response = client.get("/s/home/")

    assert response.status_code == 302
    assert response["Location"].startswith("/login/")

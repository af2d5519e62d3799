"""The audit log as a curator reads it: their own page views hidden unless asked,
targets named by their words, a bulk action's Undo that outlives its message, and a
page whose queries do not grow with its rows."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from apps.audit.actors import Actor
from apps.audit.models import AuditEvent
from apps.dashboard.services import BULK_EVENT, BULK_UNDO_EVENT, apply_bulk
from apps.memories import services
from apps.memories.models import Memory, Status
from tests.conftest import fresh
from tests.dashboard.conftest import messages_of

pytestmark = pytest.mark.django_db


def audit(space):
    return reverse("dashboard:audit", args=[space.slug])


def undo_url(space):
    return reverse("dashboard:undo", args=[space.slug])


def rows_of(html: str) -> str:
    return html[html.index('aria-label="Audit events"') :]


def bulk_archive(client: Client, space, memories) -> AuditEvent:
    client.post(
        reverse("dashboard:bulk", args=[space.slug]),
        {"action": "archive", "ids": [m.pk for m in memories], "confirmed": "1"},
        follow=True,  # the page it returns to shows, and so uses up, its message
    )
    return AuditEvent.objects.for_space(space).get(action=BULK_EVENT)


def reads_by(html: str, label: str) -> int:
    """How many rows of the log are page views by `label`."""
    rows = rows_of(html).split("<tr")[1:]
    return sum(1 for row in rows if f">{label}</a>" in row and "memory.read" in row)


def undo_buttons(html: str) -> list[str]:
    """The event ids the page's Undo buttons name."""
    return re.findall(
        r'<form method="post" action="[^"]*/bulk/undo/" class="inline bulk-undo">.*?'
        r'name="token" value="(\d+)"',
        html,
        re.S,
    )


# ----------------------------------------------------------------- page views


def test_it_hides_the_curators_own_page_views_unless_asked(editor, viewer, space, make_memory):
    memory = make_memory("Maya runs marathons.")
    editor.get(reverse("dashboard:memory", args=[space.slug, memory.pk]))
    viewer.get(reverse("dashboard:memory", args=[space.slug, memory.pk]))

    hidden = editor.get(audit(space)).content.decode()
    shown = editor.get(audit(space), {"mine": "on"}).content.decode()

    assert (reads_by(hidden, "user:alice"), reads_by(hidden, "user:victor")) == (0, 1)
    assert (reads_by(shown, "user:alice"), reads_by(shown, "user:victor")) == (1, 1)
    # Both reads are stored: hiding is a view of the log, not a change to it.
    assert AuditEvent.objects.for_space(space).filter(action="memory.read").count() == 2


def test_the_page_views_checkbox_says_what_is_hidden(editor, space):
    html = editor.get(audit(space)).content.decode()
    assert 'name="mine"' in html and "Show my page views" in html
    assert "Your own visits to memory pages are hidden." in html
    ticked = editor.get(audit(space), {"mine": "on"}).content.decode()
    assert "Your own visits to memory pages are hidden." not in ticked


def test_it_keeps_the_curators_other_reads(editor, space, actor, make_memory):
    memory = make_memory("Maya runs.")
    services.record_recall(
        space, actor, [memory.pk], at=timezone.now(), query="who runs", mode="text"
    )

    html = rows_of(editor.get(audit(space)).content.decode())

    assert "memory.recall" in html and "“who runs” (text)" in html


# ----------------------------------------------------------------- targets by text


def test_it_names_targets_by_their_words_and_links_them(editor, space, actor, make_memory):
    memory = make_memory("Maya Okafor moved to Porto in May, after ten years in Lisbon with Ana.")
    gone = make_memory("Something to forget.")
    services.purge_memory(space, actor, gone.pk, reason="asked")

    html = rows_of(editor.get(audit(space)).content.decode())

    page = reverse("dashboard:memory", args=[space.slug, memory.pk])
    words = "“Maya Okafor moved to Porto in May, after ten years…”"
    assert f'<a href="{page}" title="memory {memory.pk}">{words}</a>' in html
    assert "Something to forget" not in html  # a purge leaves no words behind
    assert "a memory no longer here" in html and "purged" in html
    assert f"<code>{str(memory.pk)[:13]}" not in html  # no cut-off ids


def test_it_names_an_episode(editor, space, actor):
    services.record_episode(space, actor, content="I signed up for the Lisbon marathon!")

    html = rows_of(editor.get(audit(space)).content.decode())

    assert "“I signed up for the Lisbon marathon!”" in html


def test_the_audit_page_answers_in_the_same_number_of_queries_for_many_rows(
    editor, space, actor, make_memory
):
    def load() -> int:
        with CaptureQueriesContext(connection) as queries:
            response = editor.get(audit(space), {"mine": "on"})
        assert response.status_code == 200
        return len(queries)

    first = make_memory("One.")
    services.record_episode(space, actor, content="Hello.")
    few = load()
    for i in range(15):
        memory = make_memory(f"Memory {i}.")
        services.update_memory(space, actor, memory.pk, expected_version=1, subject="S")
        services.record_episode(space, actor, content=f"Turn {i}.")
    services.link_memories(space, actor, first.pk, memory.pk, "related_to")
    bulk_archive(editor, space, [first, memory])
    many = load()

    # One more, once, for a bulk action on the page: which of them were undone.
    assert many == few + 1


# ----------------------------------------------------------------- bulk undo


def test_a_bulk_action_is_one_audit_event_with_what_undo_needs(editor, space, make_memory):
    picked = [make_memory("a"), make_memory("b")]

    event = bulk_archive(editor, space, picked)

    assert event.actor_label == "user:alice" and event.summary["count"] == 2
    assert event.summary["action"] == "archive"
    assert {item["id"] for item in event.summary["items"]} == {str(m.pk) for m in picked}
    assert all(item["version"] == 2 for item in event.summary["items"])
    # The flash message's Undo names the same event.
    response = editor.post(
        reverse("dashboard:bulk", args=[space.slug]),
        {"action": "restore", "ids": [m.pk for m in picked], "confirmed": "1"},
    )
    restore = AuditEvent.objects.for_space(space).filter(action=BULK_EVENT).latest("pk")
    message = next(iter(response.wsgi_request._messages))
    assert message.extra_tags == f"undo:{restore.pk}"


def test_the_audit_entry_undoes_a_bulk_action_after_leaving_the_page(
    editor, alice, space, make_memory
):
    picked = [make_memory("a"), make_memory("b"), make_memory("c")]
    event = bulk_archive(editor, space, picked)
    later = Client()  # another visit: the message and its Undo are long gone
    later.force_login(alice)

    html = later.get(audit(space)).content.decode()
    assert undo_buttons(html) == [str(event.pk)]
    assert "bulk archive of 3 memories" in html

    response = later.post(undo_url(space), {"token": str(event.pk), "return_to": audit(space)})

    assert response.status_code == 302 and response["Location"] == audit(space)
    assert messages_of(response) == ["Undone for 3 memories."]
    assert {fresh(m).status for m in picked} == {Status.ACTIVE}
    assert {fresh(m).version for m in picked} == {3}
    undo = AuditEvent.objects.for_space(space).get(action=BULK_UNDO_EVENT)
    assert (undo.target_id, undo.summary["count"]) == (str(event.pk), 3)
    assert AuditEvent.objects.for_space(space).filter(action="memory.restore").count() == 3
    html = later.get(audit(space)).content.decode()
    assert undo_buttons(html) == []
    assert "undid a bulk archive for 3 memories" in html


def test_it_undoes_a_bulk_action_once(editor, space, make_memory):
    picked = [make_memory("a")]
    event = bulk_archive(editor, space, picked)
    editor.post(undo_url(space), {"token": str(event.pk)}, follow=True)

    again = editor.post(undo_url(space), {"token": str(event.pk)})

    (message,) = messages_of(again)
    assert message.startswith("There is nothing to undo any more: user:alice undid this bulk")
    assert fresh(picked[0]).version == 3  # archived, restored; nothing more
    assert AuditEvent.objects.for_space(space).filter(action=BULK_UNDO_EVENT).count() == 1


def test_it_says_what_changed_since_and_leaves_it(editor, space, actor, make_memory):
    a, b = make_memory("Maya runs."), make_memory("Maya swims every morning.")
    event = bulk_archive(editor, space, [a, b])
    services.update_memory(space, actor, b.pk, expected_version=2, content="Maya swims daily.")

    response = editor.post(undo_url(space), {"token": str(event.pk)})

    (message,) = messages_of(response)
    assert message == (
        "Undone for 1 memory. 1 changed since and were left as they are: "
        "“Maya swims daily.” is now version 3 (edited by user:alice)."
    )
    assert (fresh(a).status, fresh(b).status) == (Status.ACTIVE, Status.ARCHIVED)
    assert fresh(b).content == "Maya swims daily."


def test_it_says_when_a_memory_was_purged_since(editor, space, actor, make_memory):
    a = make_memory("Maya runs.")
    event = bulk_archive(editor, space, [a])
    services.purge_memory(space, actor, a.pk, reason="asked")

    (message,) = messages_of(editor.post(undo_url(space), {"token": str(event.pk)}))

    assert message == (
        f"Undone for 0 memories. 1 changed since and were left as they are: "
        f"memory {str(a.pk)[:8]} is gone."
    )


def test_a_viewer_sees_no_undo_and_cannot_undo(editor, viewer, space, make_memory):
    picked = [make_memory("a")]
    event = bulk_archive(editor, space, picked)

    assert undo_buttons(viewer.get(audit(space)).content.decode()) == []
    assert viewer.post(undo_url(space), {"token": str(event.pk)}).status_code == 403
    assert fresh(picked[0]).status == Status.ARCHIVED


def test_another_spaces_bulk_action_cannot_be_undone_from_here(
    editor, space, outsider_space, make_memory
):
    foreign = make_memory("theirs", space=outsider_space)
    services.archive_memory(outsider_space, Actor.system("t"), foreign.pk)
    outcome = apply_bulk(outsider_space, Actor.system("t"), "restore", [str(foreign.pk)])
    assert outcome.event is not None

    response = editor.post(undo_url(space), {"token": str(outcome.event.pk)})

    assert messages_of(response) == ["There is nothing to undo any more."]
    assert Memory.objects.for_space(outsider_space).get().status == Status.ACTIVE


def test_a_mangled_undo_token_changes_nothing(editor, space, make_memory):
    picked = [make_memory("a")]
    bulk_archive(editor, space, picked)

    response = editor.post(undo_url(space), {"token": "not-a-number"})

    assert messages_of(response) == ["There is nothing to undo any more."]
    assert fresh(picked[0]).status == Status.ARCHIVED

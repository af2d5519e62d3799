"""Page state and flow on the memory pages: an action's result is shown next to the
form that was used and the page comes back at that form; a curator creates a memory
and edits its subject; the memory list's Subject filter offers the space's subjects
and matches part of a name."""

from __future__ import annotations

import json
import re

import pytest
from django.urls import reverse

from apps.audit.models import AuditEvent
from apps.dashboard.forms import MemoryEditForm
from apps.memories import services
from apps.memories.models import Memory, MemoryVersion
from apps.retrieval.search import Filters
from tests.conftest import edit_data, fresh, versions_of
from tests.dashboard.conftest import messages_of

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def url(memory, name="memory"):
    return reverse(f"dashboard:{name}", args=[memory.space.slug, memory.pk])


def new_url(space):
    return reverse("dashboard:memory_new", args=[space.slug])


def browse(space):
    return reverse("dashboard:browse", args=[space.slug])


def section(html: str, section_id: str) -> str:
    """The HTML of <section id=section_id>, up to the next section's start."""
    start = html.index(f'<section id="{section_id}"')
    following = html.find("<section ", start + 1)
    return html[start : following if following != -1 else len(html)]


def top_messages(html: str) -> str:
    """What the page shows above its content: the list of messages before the first
    heading, if any."""
    main = html[html.index('<main id="content">') :]
    return main[: main.index("<h1")]


# ----------------------------------------------------------------- the result in view


def test_it_shows_a_saved_edit_in_the_edit_section_and_comes_back_there(editor, make_memory):
    memory = make_memory("Maya runs.")

    response = editor.post(url(memory, "memory_edit"), edit_data(memory, content="Maya swims."))

    assert response.status_code == 302 and response["Location"] == url(memory) + "#edit"
    html = editor.get(response["Location"]).content.decode()
    assert "Saved version 2." in section(html, "edit")
    assert "Saved version 2." not in top_messages(html)
    assert fresh(memory).content == "Maya swims."


def test_an_htmx_save_swaps_the_page_in_at_the_edit_form(editor, make_memory):
    memory = make_memory("Maya runs.")

    response = editor.post(
        url(memory, "memory_edit"), edit_data(memory, content="Maya swims."), **HTMX
    )

    # htmx scrolls to the path's anchor once the page is swapped in.
    assert response.status_code == 200
    assert json.loads(response["HX-Location"]) == {"path": url(memory) + "#edit", "target": "body"}


def test_it_shows_a_status_change_by_the_status_buttons(editor, make_memory):
    memory = make_memory()

    response = editor.post(url(memory, "memory_status"), {"action": "archive"}, follow=True)

    html = response.content.decode()
    assert response.redirect_chain == [(url(memory) + "#status", 302)]
    assert "Archived: now version 2." in section(html, "status")
    assert "Archived" not in top_messages(html)


def test_it_shows_a_revert_and_its_refusal_above_the_versions(editor, space, actor, make_memory):
    memory = make_memory("One.")
    services.update_memory(space, actor, memory.pk, expected_version=1, content="Two.")

    reverted = editor.post(
        url(memory, "memory_revert"), {"to_version": "1", "version": "2"}, follow=True
    )
    refused = editor.post(
        url(memory, "memory_revert"), {"to_version": "1", "version": "2"}, follow=True
    )

    assert reverted.redirect_chain == [(url(memory) + "#versions", 302)]
    versions = section(reverted.content.decode(), "versions")
    assert versions.index("Reverted to version 1: saved as version 3.") < versions.index("<table")
    assert "changed since you opened it" in section(refused.content.decode(), "versions")
    assert (fresh(memory).content, fresh(memory).version) == ("One.", 3)


def test_messages_from_elsewhere_stay_at_the_top(editor, space, actor, make_memory):
    memory = make_memory()
    editor.post(
        reverse("dashboard:bulk", args=[space.slug]),
        {"action": "tag", "bulk_tag": "seen", "ids": [memory.pk], "confirmed": "1"},
    )

    html = editor.get(url(memory)).content.decode()

    assert "Add tag: 1 of 1 memories." in top_messages(html)


def test_a_version_diff_scrolls_into_view_when_it_opens(editor, space, actor, make_memory):
    memory = make_memory("One.")
    services.update_memory(space, actor, memory.pk, expected_version=1, content="Two.")

    html = editor.get(url(memory)).content.decode()

    swaps = re.findall(r'hx-target="#version-diff" hx-swap="([^"]+)"', html)
    assert swaps and all(swap == "outerHTML show:top" for swap in swaps)


# ----------------------------------------------------------------- a new memory


def test_the_memory_list_links_editors_to_a_new_memory(editor, viewer, space):
    assert f'href="{new_url(space)}"' in editor.get(browse(space)).content.decode()
    assert new_url(space) not in viewer.get(browse(space)).content.decode()
    assert viewer.get(new_url(space)).status_code == 403
    assert viewer.post(new_url(space), {"content": "Sneaky."}).status_code == 403
    assert not Memory.objects.for_space(space).exists()


def test_it_offers_the_new_memory_form_with_the_spaces_subjects(editor, space, make_memory):
    make_memory("About Maya.", subject="Maya Okafor")

    response = editor.get(new_url(space))

    html = response.content.decode()
    assert response.status_code == 200
    for name in ("content", "subject", "kind", "tags", "occurred_at", "valid_from", "valid_to"):
        assert f'name="{name}"' in html
    assert '<datalist id="space-subjects"><option value="Maya Okafor">' in html


def test_it_creates_a_memory_through_the_service_layer(editor, space):
    response = editor.post(
        new_url(space),
        {
            "content": "Maya Okafor moved to Porto.\r\nIn May.",
            "subject": "  Maya Okafor ",
            "kind": "episodic",
            "tags": "moves, porto, moves",
            "importance": "0.7",
            "confidence": "0.9",
            "occurred_at": "2026-05-03T10:00",
            "valid_from": "2026-05-01T00:00",
            "valid_to": "",
            "reason": "told in person",
        },
    )

    memory = Memory.objects.for_space(space).get()
    assert response.status_code == 302 and response["Location"] == url(memory)
    assert messages_of(response) == ["Memory created (version 1)."]
    assert (memory.content, memory.subject, memory.kind) == (
        "Maya Okafor moved to Porto.\nIn May.",
        "Maya Okafor",
        "episodic",
    )
    assert memory.tags == ["moves", "porto"]
    assert (memory.importance, memory.confidence, memory.pinned) == (0.7, 0.9, False)
    assert memory.occurred_at is not None
    assert memory.occurred_at.isoformat().startswith("2026-05-03T10:00")
    assert memory.valid_from is not None and memory.valid_to is None
    assert versions_of(memory) == [(1, "create")]
    version = MemoryVersion.objects.for_space(space).get(memory_id=memory.pk)
    assert (version.actor_label, version.reason) == ("user:alice", "told in person")
    event = AuditEvent.objects.for_space(space).get(action="memory.create")
    assert (event.target_id, event.actor_label) == (str(memory.pk), "user:alice")


@pytest.mark.parametrize(
    ("changes", "field", "error"),
    [
        ({"content": "   "}, "content", "A memory cannot be empty."),
        ({"kind": "rumour"}, "kind", "Select a valid choice."),
        ({"importance": "2"}, "importance", "less than or equal to 1"),
        ({"subject": "x" * 201}, "subject", "at most 200 characters"),
        ({"tags": ", ".join(f"t{i}" for i in range(101))}, "tags", "at most 100 tags"),
        ({"occurred_at": "someday"}, "occurred_at", ""),
        (
            {"valid_from": "2026-05-02T00:00", "valid_to": "2026-05-01T00:00"},
            "valid_to",
            "must be after",
        ),
    ],
)
def test_it_refuses_bad_input_with_the_form_and_stores_nothing(
    editor, space, changes, field, error
):
    data = {"content": "Fine.", "kind": "fact", "importance": "0.5", "confidence": "1"}

    response = editor.post(new_url(space), {**data, **changes})

    html = response.content.decode()
    assert response.status_code == 400
    assert "Nothing was stored" in html
    assert f'id="new_{field}-error"' in html and error in html
    assert 'name="content"' in html  # the form again, with what was typed
    assert not Memory.objects.for_space(space).exists()
    assert not AuditEvent.objects.for_space(space).exists()


def test_it_refuses_a_new_memory_too_long_for_the_space(editor, space, settings):
    settings.MEMORY_MAX_CONTENT_CHARS = 10

    response = editor.post(
        new_url(space),
        {"content": "Far longer than ten.", "kind": "fact", "importance": "0.5", "confidence": "1"},
    )

    assert response.status_code == 400 and "a memory holds at most 10" in response.content.decode()
    assert not Memory.objects.for_space(space).exists()


# ----------------------------------------------------------------- its subject


def test_it_edits_the_subject_with_a_version_and_an_audit_event(editor, space, make_memory):
    memory = make_memory("Runs every morning.", subject="Maya")

    response = editor.post(url(memory, "memory_edit"), edit_data(memory, subject="Maya Okafor"))

    assert response.status_code == 302
    assert (fresh(memory).subject, fresh(memory).version) == ("Maya Okafor", 2)
    assert versions_of(memory) == [(1, "create"), (2, "update")]
    event = AuditEvent.objects.for_space(space).get(action="memory.update")
    assert "subject" in event.summary["changed"]


def test_the_edit_form_shows_the_subject_and_offers_the_spaces_subjects(editor, make_memory):
    make_memory("Other.", subject="Tomás")
    memory = make_memory("Runs.", subject="Maya")

    edit = section(editor.get(url(memory)).content.decode(), "edit")

    assert 'name="subject"' in edit and 'value="Maya"' in edit
    assert 'list="space-subjects"' in edit and '<option value="Tomás">' in edit
    assert "subject" in MemoryEditForm.EDITED


def test_a_subject_too_long_is_a_form_error_and_changes_nothing(editor, make_memory):
    memory = make_memory("Runs.", subject="Maya")

    response = editor.post(url(memory, "memory_edit"), edit_data(memory, subject="x" * 201))

    assert response.status_code == 422 and "at most 200 characters" in response.content.decode()
    assert (fresh(memory).subject, fresh(memory).version) == ("Maya", 1)


# ----------------------------------------------------------------- the Subject filter


@pytest.fixture
def people(make_memory):
    return {
        "maya": make_memory("Maya runs marathons.", subject="Maya Okafor"),
        "diana": make_memory("Diana paints.", subject="Diana"),
        "ana": make_memory("Ana bakes.", subject="ana silva"),
    }


def listed(client, space, **params) -> set[str]:
    html = client.get(browse(space), params).content.decode()
    table = html[html.find('aria-label="Memories"') :]
    return {text for text in ("Maya runs", "Diana paints", "Ana bakes") if text in table}


def test_the_subject_filter_matches_the_start_of_any_word_ignoring_case(editor, space, people):
    assert listed(editor, space, subject="Maya") == {"Maya runs"}
    assert listed(editor, space, subject="oka") == {"Maya runs"}
    assert listed(editor, space, subject="Maya Okafor") == {"Maya runs"}
    # A word's start, not anywhere in it: "ana" is not in the middle of "Diana".
    assert listed(editor, space, subject="ANA") == {"Ana bakes"}
    assert listed(editor, space, subject="kafor") == set()


def test_the_subject_filter_applies_to_a_search_too(editor, space, make_memory, hashing_backend):
    make_memory("Maya drinks green tea.", subject="Maya Okafor")
    make_memory("Diana drinks black tea.", subject="Diana")

    def found(**params):
        html = editor.get(browse(space), {"q": "tea", "mode": "text", **params}).content.decode()
        return {name for name in ("Maya drinks", "Diana drinks") if name in html}

    assert found() == {"Maya drinks", "Diana drinks"}
    assert found(subject="maya") == {"Maya drinks"}


def test_the_subject_filter_takes_text_that_is_not_a_word(editor, space, make_memory):
    make_memory("Tagged.", subject="(unknown) caller")
    html = editor.get(browse(space), {"subject": "(unk"}).content.decode()
    assert "Tagged." in html


def test_the_subject_filter_offers_the_spaces_subjects(editor, space, people, make_memory):
    make_memory("Another.", subject="Maya Okafor", space=space)

    html = editor.get(browse(space)).content.decode()

    found = re.search(r'<datalist id="space-subjects">(.*?)</datalist>', html)
    assert found and re.findall(r'value="([^"]+)"', found.group(1)) == [
        "Diana",
        "Maya Okafor",
        "ana silva",
    ]
    assert 'list="space-subjects"' in html


def test_the_apis_subject_filter_stays_exact(space, people):
    memories = Memory.objects.for_space(space)
    assert not Filters(subject="Maya").apply(memories).exists()
    assert Filters(subject="Maya Okafor").apply(memories).get() == people["maya"]


def test_bulk_all_matching_uses_the_same_subject_match(editor, space, people):
    editor.post(
        reverse("dashboard:bulk", args=[space.slug]),
        {"action": "archive", "all_matching": "1", "subject": "maya", "confirmed": "1"},
    )

    statuses = dict(Memory.objects.for_space(space).values_list("subject", "status"))
    assert statuses == {"Maya Okafor": "archived", "Diana": "active", "ana silva": "active"}

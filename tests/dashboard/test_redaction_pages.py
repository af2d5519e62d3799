"""Redacting a span from a memory's page: editors only, a form error for bad input,
and back to the page with a message once the text is gone from its history."""

from __future__ import annotations

import pytest
from django.urls import reverse

from apps.audit.models import AuditEvent
from apps.memories import services
from apps.memories.models import MemoryVersion
from tests.dashboard.conftest import messages_of

# The secrets these tests plant must get past the default policy (redact on write).
pytestmark = pytest.mark.usefixtures("secrets_allowed")

CONTENT = "Deploy with token ghp_aB3dE5fG7hJ9kL1mN3pQ5rS7tV9wX1yZ3bC5 on Fridays."
TOKEN = "ghp_aB3dE5fG7hJ9kL1mN3pQ5rS7tV9wX1yZ3bC5"


def redact_url(memory):
    return reverse("dashboard:memory_redact", args=["home", memory.pk])


def page_url(memory):
    return reverse("dashboard:memory", args=["home", memory.pk])


def form(**overrides):
    return {"text": TOKEN, "type": "secret", "reason": "leaked token", "version": 1, **overrides}


def test_it_shows_editors_the_redact_form_and_viewers_nothing(editor, viewer, make_memory):
    memory = make_memory(CONTENT)

    assert "data-redact-form" in editor.get(page_url(memory)).content.decode()
    html = viewer.get(page_url(memory)).content.decode()
    assert "data-redact-form" not in html and "data-redact-source" not in html


def test_it_redacts_the_typed_text_and_returns_to_the_page(editor, space, make_memory):
    memory = make_memory(CONTENT)

    response = editor.post(redact_url(memory), form())

    assert response.status_code == 302
    assert response["Location"] == page_url(memory) + "#redact"
    memory.refresh_from_db()
    assert memory.content == "Deploy with token [REDACTED:secret] on Fridays."
    assert memory.version == 2
    versions = MemoryVersion.objects.for_space(space).filter(memory=memory)
    assert not any(TOKEN in version.content for version in versions)
    assert messages_of(response) == [
        "Redacted: saved as version 2; the text is gone from its history."
    ]
    event = AuditEvent.objects.for_space(space).get(action="memory.redact")
    assert (event.actor_label, event.reason) == ("user:alice", "leaked token")


def test_it_takes_the_span_a_selection_gave_when_it_still_points_at_the_text(editor, make_memory):
    memory = make_memory("Call 555-0199, or 555-0199 at night.")

    editor.post(redact_url(memory), form(text="555-0199", start=18, end=26, type="phone"))

    memory.refresh_from_db()
    # Every occurrence goes, whichever one was selected.
    assert memory.content == "Call [REDACTED:phone], or [REDACTED:phone] at night."


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (form(text=""), "Say which text to redact"),
        (form(text="not in it"), "This text is not in the memory"),
        (form(reason=""), "Say why this text is redacted."),
        (form(type="everything"), "Select a valid choice"),
        (form(text="on"), "at least 3 characters"),
        (form(version=7), "The memory changed since you opened it"),
        (form(start=18, end=400), "The selection is not within the content (70 characters)"),
        (form(start=30, end=20), "The selection is not within the content"),
    ],
    ids=[
        "empty",
        "text-not-found-when-typed",
        "no-reason",
        "unknown-type-word",
        "too-short",
        "stale-version",
        "span-outside-content",
        "span-ending-before-it-starts",
    ],
)
def test_it_shows_a_form_error_and_changes_nothing(editor, space, make_memory, body, error):
    memory = make_memory(CONTENT)

    response = editor.post(redact_url(memory), body)

    assert response.status_code == 422
    assert error in response.content.decode()
    memory.refresh_from_db()
    assert memory.version == 1 and memory.content == CONTENT
    assert not AuditEvent.objects.for_space(space).filter(action="memory.redact").exists()


def test_it_shows_a_form_error_when_the_redacted_content_would_be_too_long(
    editor, space, make_memory, settings
):
    memory = make_memory(CONTENT)
    settings.MEMORY_MAX_CONTENT_CHARS = len(CONTENT)

    response = editor.post(redact_url(memory), form(text="Fridays", type="secret"))

    assert response.status_code == 422
    html = response.content.decode()
    assert (
        f"once redacted the content would have {len(CONTENT) + 10} characters; "
        f"the limit is {len(CONTENT)}"
    ) in html
    memory.refresh_from_db()
    assert memory.version == 1 and memory.content == CONTENT
    assert not AuditEvent.objects.for_space(space).filter(action="memory.redact").exists()


def test_it_refuses_viewers_and_outsiders(viewer, outsider, space, make_memory):
    memory = make_memory(CONTENT)

    assert viewer.post(redact_url(memory), form()).status_code == 403
    assert outsider.post(redact_url(memory), form()).status_code == 404
    memory.refresh_from_db()
    assert memory.version == 1


def test_it_keeps_the_page_to_the_same_queries_with_the_form(
    editor, space, actor, make_memory, django_assert_max_num_queries
):
    memory = make_memory(CONTENT)
    services.redact_memory(space, actor, memory.pk, [(18, 58, "secret")], reason="leak")

    with django_assert_max_num_queries(15):
        response = editor.get(page_url(memory))

    assert response.status_code == 200
    assert "[REDACTED:secret]" in response.content.decode()

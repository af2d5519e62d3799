"""A curator redacts a leaked token from a memory's page in a real browser: selecting
it in the content fills the redact form, and the page comes back with the memory's
new version, the token gone."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from apps.audit.actors import Actor
from apps.memories import services
from apps.memories.models import Memory, MemoryVersion

pytestmark = pytest.mark.slow

TOKEN = "ghp_aB3dE5fG7hJ9kL1mN3pQ5rS7tV9wX1yZ3bC5"
# The emoji is one code point but two UTF-16 units: the offsets must be the server's.
CONTENT = f"🙂 Deploy with token {TOKEN} on Fridays."

SELECT_TOKEN = """(token) => {
  const content = document.querySelector("[data-redact-source]");
  const text = content.firstChild;
  const at = text.data.indexOf(token);
  const range = document.createRange();
  range.setStart(text, at);
  range.setEnd(text, at + token.length);
  const selection = window.getSelection();
  selection.removeAllRanges();
  selection.addRange(range);
}"""


def test_select_a_token_and_redact_it(logged_in, live_server, curator_space, shot):
    page = logged_in
    # Let the planted token past the default policy, which would redact it on write.
    curator_space.settings = {"hygiene": {"secret": "allow"}}
    curator_space.save(update_fields=["settings"])
    memory = services.create_memory(curator_space, Actor.system("seed"), content=CONTENT)
    page.goto(f"{live_server.url}/s/lab/memories/{memory.pk}/")

    page.evaluate(SELECT_TOKEN, TOKEN)
    page.locator(".memory-content").dispatch_event("mouseup")

    redact = page.get_by_role("region", name="Redact")
    expect(redact.get_by_label("Text to redact")).to_have_value(TOKEN)
    start = CONTENT.index(TOKEN)
    expect(redact.locator("input[name=start]")).to_have_value(str(start))
    expect(redact.locator("input[name=end]")).to_have_value(str(start + len(TOKEN)))
    redact.get_by_label("What it is").select_option("secret")
    redact.get_by_label("Reason").fill("leaked token")
    shot(page, "memory-redact-form")
    redact.get_by_role("button", name="Redact").click()

    expect(page.get_by_role("status")).to_contain_text("Redacted: saved as version 2")
    expect(page.locator(".memory-content")).to_have_text(
        "🙂 Deploy with token [REDACTED:secret] on Fridays."
    )
    shot(page, "memory-redacted")
    stored = Memory.objects.for_space(curator_space).get(pk=memory.pk)
    assert stored.version == 2
    history = MemoryVersion.objects.for_space(curator_space).filter(memory=memory)
    assert not any(TOKEN in version.content for version in history)


def test_a_typed_text_that_is_not_there_is_a_form_error(
    logged_in, live_server, curator_space, shot
):
    page = logged_in
    # Let the planted token past the default policy, which would redact it on write.
    curator_space.settings = {"hygiene": {"secret": "allow"}}
    curator_space.save(update_fields=["settings"])
    memory = services.create_memory(curator_space, Actor.system("seed"), content=CONTENT)
    page.goto(f"{live_server.url}/s/lab/memories/{memory.pk}/")

    page.get_by_text("Redact", exact=True).first.click()
    redact = page.get_by_role("region", name="Redact")
    redact.get_by_label("Text to redact").fill("ghp_not_in_it")
    redact.get_by_label("Reason").fill("leaked token")
    redact.get_by_role("button", name="Redact").click()

    expect(page.get_by_role("region", name="Redact")).to_contain_text(
        "This text is not in the memory's content"
    )
    shot(page, "memory-redact-error")
    assert Memory.objects.for_space(curator_space).get(pk=memory.pk).version == 1

"""A memory's page and its actions: roles, edits and conflicts, versions and their
diffs, revert, status changes, purge, provenance, links, similar memories and the
access log."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from apps.audit.actors import Actor
from apps.audit.models import AuditEvent
from apps.dashboard import diffing
from apps.memories import services
from apps.memories.models import LinkType, Memory, MemoryVersion, Status
from tests.conftest import edit_data, fresh
from tests.dashboard.conftest import messages_of

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def url(memory, name="memory"):
    return reverse(f"dashboard:{name}", args=[memory.space.slug, memory.pk])


def version_numbers(memory):
    return list(
        MemoryVersion.objects.for_space(memory.space_id)
        .filter(memory_id=memory.pk)
        .order_by("version")
        .values_list("version", flat=True)
    )


# POST bodies that would change the memory if the caller were allowed to.
def post_bodies(memory):
    return {
        "memory_edit": edit_data(memory, content="Changed by an intruder."),
        "memory_status": {"action": "delete", "reason": "x"},
        "memory_revert": {"to_version": "1", "version": str(memory.version)},
        "memory_purge": {"reason": "because", "confirm": "on"},
    }


# ----------------------------------------------------------------- access


def test_it_sends_anonymous_visitors_to_log_in(client, make_memory):
    memory = make_memory()
    for name in ("memory", "memory_versions"):
        response = client.get(url(memory, name) + "?a=1&b=1")
        assert response.status_code == 302, name
        assert response["Location"].startswith("/login/")
    for name, body in post_bodies(memory).items():
        response = client.post(url(memory, name), body)
        assert response.status_code == 302, name
        assert response["Location"].startswith("/login/")
    assert fresh(memory).version == 1


def test_it_hides_memories_from_outsiders_on_every_page(outsider, space, make_memory):
    memory = make_memory()
    services.update_memory(space, Actor.system("t"), memory.pk, expected_version=1, content="Two.")
    for name in ("memory", "memory_versions"):
        assert outsider.get(url(memory, name) + "?a=1&b=2").status_code == 404, name
    for name, body in post_bodies(fresh(memory)).items():
        assert outsider.post(url(memory, name), body).status_code == 404, name
    after = fresh(memory)
    assert (after.content, after.version, after.status) == ("Two.", 2, Status.ACTIVE)
    assert not AuditEvent.objects.for_space(space).filter(action="memory.read").exists()


def test_it_answers_404_for_a_memory_of_another_space_under_this_slug(
    editor, outsider_space, make_memory
):
    foreign = make_memory("Not yours.", space=outsider_space)
    path = reverse("dashboard:memory", args=["home", foreign.pk])
    assert editor.get(path).status_code == 404
    edit_path = reverse("dashboard:memory_edit", args=["home", foreign.pk])
    assert editor.post(edit_path, edit_data(foreign, content="Mine now.")).status_code == 404
    assert fresh(foreign).content == "Not yours."


def test_it_lets_a_viewer_read_but_refuses_every_change(viewer, space, make_memory):
    memory = make_memory("Viewer sees this.")
    services.update_memory(
        space, Actor.system("t"), memory.pk, expected_version=1, content="Version two."
    )
    page = viewer.get(url(memory))
    html = page.content.decode()
    assert page.status_code == 200
    assert "Version two." in html
    assert 'name="content"' not in html  # no edit form
    assert "Purge this memory" not in html
    assert viewer.get(url(memory, "memory_versions") + "?a=1&b=2").status_code == 200
    for name, body in post_bodies(fresh(memory)).items():
        assert viewer.post(url(memory, name), body).status_code == 403, name
    after = fresh(memory)
    assert (after.content, after.version, after.status) == ("Version two.", 2, Status.ACTIVE)
    assert version_numbers(memory) == [1, 2]


def test_it_refuses_posts_without_a_csrf_token(alice, make_memory):
    memory = make_memory()
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    for name, body in post_bodies(memory).items():
        assert client.post(url(memory, name), body).status_code == 403, name
    assert fresh(memory).version == 1
    # The page itself carries the token the forms need.
    assert "csrfmiddlewaretoken" in client.get(url(memory)).content.decode()


def test_it_refuses_get_on_the_action_urls(editor, make_memory):
    memory = make_memory()
    for name in ("memory_edit", "memory_status", "memory_revert", "memory_purge"):
        assert editor.get(url(memory, name)).status_code == 405, name


# ----------------------------------------------------------------- detail


def test_it_shows_the_content_and_the_facts(editor, space, make_memory):
    memory = make_memory(
        "Maya runs <b>every</b> morning.\nEven in winter.",
        kind="preference",
        subject="Maya",
        agent="coach",
        session="chat/42",
        tags=["running", "habits"],
        importance=0.75,
        pinned=True,
    )
    response = editor.get(url(memory))
    html = response.content.decode()
    assert response.status_code == 200
    assert "Maya runs &lt;b&gt;every&lt;/b&gt; morning.\nEven in winter." in html
    assert "<b>every</b>" not in html
    assert "Preference" in html and "coach" in html and "0.75" in html
    assert '<span class="tag">running</span>' in html
    assert reverse("dashboard:session", args=["home", "chat/42"]) in html
    assert "waiting for its embedding" in html
    assert "Retention" in html and "1.000" in html  # just created: nothing forgotten yet
    assert 'aria-current="page"' in html  # the Memories tab


def test_it_offers_only_the_allowed_status_actions(editor, space, actor, make_memory):
    memory = make_memory()

    def offered():
        html = editor.get(url(memory)).content.decode()
        return sorted(
            action
            for action in ("archive", "restore", "delete")
            if f'name="action" value="{action}"' in html
        )

    assert offered() == ["archive", "delete"]
    services.archive_memory(space, actor, memory.pk)
    assert offered() == ["delete", "restore"]
    services.delete_memory(space, actor, memory.pk)
    assert offered() == ["restore"]


def test_it_records_a_read_and_shows_it_with_recalls_in_the_access_log(
    editor, space, actor, make_memory
):
    memory = make_memory()
    services.record_recall(
        space, actor, [memory.pk], at=timezone.now(), query="what does alice drink", mode="text"
    )
    response = editor.get(url(memory))
    html = response.content.decode()
    reads = AuditEvent.objects.for_space(space).filter(
        action="memory.read", target_id=str(memory.pk)
    )
    assert [(e.actor_label, e.summary) for e in reads] == [("user:alice", {"via": "dashboard"})]
    access = html[html.index('id="access"') :]
    assert "read via dashboard" in access
    assert "text search for “what does alice drink”" in access
    assert access.count("user:alice") == 2


def test_it_keeps_the_detail_page_to_a_fixed_number_of_queries(
    editor, space, actor, make_memory, django_assert_max_num_queries
):
    episodes = services.record_episodes(
        space,
        actor,
        [
            {
                "content": f"Turn {i}",
                "session": "s1",
                "occurred_at": timezone.now() + timedelta(minutes=i),
            }
            for i in range(12)
        ],
    )
    memory = make_memory("Busy memory.", source_episodes=[e.pk for e in episodes[2:9:2]])
    for n in range(2, 7):
        memory = services.update_memory(
            space, actor, memory.pk, expected_version=n - 1, content=f"Busy memory v{n}."
        )
    for i in range(6):
        other = make_memory(f"Neighbour {i}.")
        link_type = [LinkType.RELATED_TO, LinkType.DERIVED_FROM, LinkType.CONTRADICTS][i % 3]
        services.link_memories(space, actor, memory.pk, other.pk, link_type)
        services.link_memories(space, actor, other.pk, memory.pk, LinkType.SAME_ENTITY)
    with django_assert_max_num_queries(15):
        response = editor.get(url(memory))
    html = response.content.decode()
    assert response.status_code == 200
    provenance = html[html.index('id="provenance"') : html.index('id="links"')]
    # Turns 0..10 around the sources 2, 4, 6 and 8: one stretch, each turn once.
    assert [i for i in range(12) if f"Turn {i}<" in provenance] == list(range(11))
    assert provenance.count("Turn ") == 11
    assert provenance.count('class="source"') == 4
    assert "Neighbour 5." in html and "Busy memory v6." in html


# ----------------------------------------------------------------- provenance


def test_it_shows_each_source_episode_among_its_neighbours(editor, space, actor, make_memory):
    start = timezone.now() - timedelta(hours=1)
    turns = services.record_episodes(
        space,
        actor,
        [
            {
                "content": f"Turn number {i}",
                "session": "talk",
                "speaker": "Maya" if i % 2 else "Sam",
                "occurred_at": start + timedelta(minutes=i),
            }
            for i in range(1, 8)
        ],
    )
    other_session = services.record_episodes(
        space, actor, [{"content": "Elsewhere", "session": "other", "occurred_at": start}]
    )
    memory = make_memory("Sam likes tea.", source_episodes=[turns[3].pk])
    html = editor.get(url(memory)).content.decode()
    provenance = html[html.index('id="provenance"') : html.index('id="links"')]
    shown = [i for i in range(1, 8) if f"Turn number {i}" in provenance]
    assert shown == [2, 3, 4, 5, 6]
    assert "Elsewhere" not in provenance
    source_item = provenance[provenance.index('class="source"') :]
    assert source_item.index("Turn number 4") < source_item.index("</li>")
    for turn in turns[1:6]:
        assert reverse("dashboard:episode", args=["home", turn.pk]) in provenance
    assert other_session[0].pk  # recorded in the same space, deliberately not shown


def test_it_shows_lineage_after_a_merge(editor, space, actor, make_memory):
    one = make_memory("Alice drinks tea.")
    two = make_memory("Alice drinks green tea in the morning.")
    merged = services.merge_memories(space, actor, [one.pk, two.pk], reason="duplicates")

    merged_html = editor.get(url(merged)).content.decode()
    derived = merged_html[merged_html.index('id="lineage-derived_from"') :]
    derived = derived[: derived.index("</ul>")]
    assert url(one) in derived and url(two) in derived
    assert "Alice drinks tea." in derived

    original_html = editor.get(url(one)).content.decode()
    into = original_html[original_html.index('id="lineage-derived_into"') :]
    assert url(merged) in into[: into.index("</ul>")]


def test_it_shows_lineage_after_a_supersede(editor, space, actor, make_memory):
    old = make_memory("Alice lives in Lyon.")
    new = make_memory("Alice lives in Paris.")
    services.supersede_memory(space, actor, old.pk, new.pk)

    new_html = editor.get(url(new)).content.decode()
    supersedes = new_html[new_html.index('id="lineage-supersedes"') :]
    assert url(old) in supersedes[: supersedes.index("</ul>")]
    old_html = editor.get(url(old)).content.decode()
    superseded_by = old_html[old_html.index('id="lineage-superseded_by"') :]
    assert url(new) in superseded_by[: superseded_by.index("</ul>")]
    assert "lineage-derived_from" not in old_html


def test_it_lists_other_links_in_both_directions(editor, space, actor, make_memory):
    memory = make_memory("Centre.")
    later = make_memory("Comes after.")
    rival = make_memory("Says otherwise.")
    services.link_memories(space, actor, memory.pk, later.pk, LinkType.NEXT_IN_TIME)
    services.link_memories(space, actor, rival.pk, memory.pk, LinkType.CONTRADICTS)
    html = editor.get(url(memory)).content.decode()
    links = html[html.index('id="links"') : html.index('id="similar"')]
    assert "this next in time →" in links and url(later) in links
    assert "← contradicts this" in links and url(rival) in links


def test_it_lists_similar_memories_by_embedding(
    editor, space, outsider_space, actor, make_memory, hashing_backend, embed_now
):
    memory = make_memory("Alice likes green tea in the morning.")
    close = make_memory("Alice likes green tea in the evening.")
    archived = make_memory("Alice likes green tea in the morning too.")
    services.archive_memory(space, actor, archived.pk)
    foreign = make_memory("Alice likes green tea in the morning.", space=outsider_space)
    make_memory("Bob repairs bicycles.")
    embed_now(space)
    embed_now(outsider_space)

    html = editor.get(url(memory)).content.decode()
    similar = html[html.index('id="similar"') : html.index('id="access"')]
    assert url(close) in similar
    assert "similarity" in similar
    assert url(memory) not in similar
    assert str(archived.pk) not in similar and str(foreign.pk) not in similar
    assert fresh(memory).embedding_model in html


def test_it_says_when_a_memory_has_no_embedding_for_similarity(editor, make_memory):
    memory = make_memory()
    html = editor.get(url(memory)).content.decode()
    assert "has no embedding yet" in html


# ----------------------------------------------------------------- edit


def test_it_saves_an_edit_as_a_new_version(editor, space, make_memory):
    memory = make_memory("Alice likes tea.", tags=["drinks"])
    response = editor.post(
        url(memory, "memory_edit"),
        edit_data(
            memory,
            content="Alice likes green tea.\r\nEvery day.",
            tags="drinks, tea , drinks",
            kind="preference",
            importance="0.9",
            valid_from="2024-05-01T09:30",
            pinned="on",
            reason="more precise",
        ),
    )
    assert response.status_code == 302
    # Back at the edit form, where the message is shown.
    assert response["Location"] == url(memory) + "#edit"
    after = fresh(memory)
    assert after.content == "Alice likes green tea.\nEvery day."
    assert (after.version, after.tags, after.kind, after.importance, after.pinned) == (
        2,
        ["drinks", "tea"],
        "preference",
        0.9,
        True,
    )
    assert timezone.localtime(after.valid_from).strftime("%Y-%m-%d %H:%M") == "2024-05-01 09:30"
    v2 = MemoryVersion.objects.for_space(space).get(memory_id=memory.pk, version=2)
    assert (v2.action, v2.actor_label, v2.reason) == ("update", "user:alice", "more precise")
    event = AuditEvent.objects.for_space(space).get(action="memory.update")
    assert event.target_id == str(memory.pk) and event.actor_label == "user:alice"
    assert "Saved version 2." in messages_of(response)


def test_it_answers_an_htmx_edit_with_a_client_redirect(editor, make_memory):
    memory = make_memory("Before.")
    response = editor.post(url(memory, "memory_edit"), edit_data(memory, content="After."), **HTMX)
    assert response.status_code == 200
    assert json.loads(response["HX-Location"])["path"] == url(memory) + "#edit"
    assert fresh(memory).content == "After."


def test_it_writes_no_version_when_nothing_changed(editor, space, actor, make_memory):
    moment = timezone.now().replace(second=37, microsecond=123456)
    memory = make_memory("Same.", valid_from=moment)
    rendered = editor.get(url(memory)).content.decode()
    shown = timezone.localtime(moment).strftime("%Y-%m-%dT%H:%M")
    assert f'value="{shown}"' in rendered
    response = editor.post(url(memory, "memory_edit"), edit_data(memory, valid_from=shown))
    assert response.status_code == 302
    after = fresh(memory)
    assert (after.version, after.valid_from) == (1, moment)  # seconds not shaved off
    assert "Nothing to save: no field was changed." in messages_of(response)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"importance": "2"}, "less than or equal to 1"),
        ({"confidence": "-0.1"}, "greater than or equal to 0"),
        ({"importance": "lots"}, "Enter a number"),
        ({"content": "   "}, "A memory cannot be empty."),
        ({"content": ""}, "This field is required"),
        ({"kind": "gossip"}, "Select a valid choice"),
        ({"valid_from": "2024-05-02T10:00", "valid_to": "2024-05-01T10:00"}, "must be after"),
        ({"valid_to": "yesterday"}, "Enter a valid date/time"),
        ({"tags": "ok, " + "x" * 70}, "longer than 64 characters"),
        ({"version": ""}, "did not say which version you edited"),
    ],
)
def test_it_shows_form_errors_and_saves_nothing(editor, space, make_memory, changes, message):
    memory = make_memory("Untouched.")
    response = editor.post(url(memory, "memory_edit"), edit_data(memory, **changes))
    html = response.content.decode()
    assert response.status_code == 422
    assert message in html
    assert "<html" in html  # the whole page, without JavaScript
    after = fresh(memory)
    assert (after.content, after.version) == ("Untouched.", 1)
    assert version_numbers(memory) == [1]


def test_it_returns_only_the_edit_section_with_errors_to_htmx(editor, make_memory):
    memory = make_memory("Untouched.")
    response = editor.post(
        url(memory, "memory_edit"), edit_data(memory, importance="2", content="New."), **HTMX
    )
    html = response.content.decode()
    assert response.status_code == 422
    assert html.lstrip().startswith('<section id="edit"')
    assert "less than or equal to 1" in html and "New." in html
    assert fresh(memory).content == "Untouched."


def test_it_refuses_to_edit_a_deleted_memory(editor, space, actor, make_memory):
    memory = make_memory("Gone.")
    services.delete_memory(space, actor, memory.pk)
    memory = fresh(memory)
    response = editor.post(url(memory, "memory_edit"), edit_data(memory, content="Back?"))
    assert response.status_code == 422
    assert "restore it first" in response.content.decode()
    assert (fresh(memory).content, fresh(memory).version) == ("Gone.", 2)


def test_it_shows_a_conflict_instead_of_overwriting(editor, space, make_memory, django_user_model):
    memory = make_memory("Alice likes tea.")
    opened = edit_data(memory, content="Alice likes <em>green</em> tea.")
    bob = django_user_model.objects.create_user("bob", password="pw-long-enough-1")
    services.update_memory(
        space, Actor.for_user(bob), memory.pk, expected_version=1, content="Alice hates tea."
    )

    response = editor.post(url(memory, "memory_edit"), opened)
    html = response.content.decode()
    assert response.status_code == 409
    assert "user:bob</strong> changed this memory since you opened it (now version 2)" in html
    assert "Alice hates tea." in html  # theirs
    assert "Alice likes &lt;em&gt;green&lt;/em&gt; tea." in html  # yours, escaped
    assert "<del>hates</del>" in html and "<ins>likes &lt;em&gt;green&lt;/em&gt;</ins>" in html
    assert 'name="version" value="2"' in html  # "save mine over theirs" claims the new version
    after = fresh(memory)
    assert (after.content, after.version) == ("Alice hates tea.", 2)
    assert version_numbers(memory) == [1, 2]


def test_it_shows_the_conflict_to_htmx_and_can_save_mine_over_theirs(
    editor, space, actor, make_memory
):
    memory = make_memory("Alice likes tea.")
    opened = edit_data(memory, content="Mine.", tags="a, b")
    services.update_memory(space, actor, memory.pk, expected_version=1, content="Theirs.")

    response = editor.post(url(memory, "memory_edit"), opened, **HTMX)
    html = response.content.decode()
    assert response.status_code == 409
    assert "<html" not in html and "Save mine over theirs" in html
    assert fresh(memory).content == "Theirs."

    again = editor.post(url(memory, "memory_edit"), {**opened, "version": "2"})
    assert again.status_code == 302
    after = fresh(memory)
    assert (after.content, after.tags, after.version) == ("Mine.", ["a", "b"], 3)


# ----------------------------------------------------------------- versions


def test_it_diffs_two_versions_word_by_word_and_escapes_html(editor, space, actor, make_memory):
    memory = make_memory("Alice likes <script>tea</script> daily.", metadata={"a": 1, "b": 2})
    services.update_memory(
        space,
        actor,
        memory.pk,
        expected_version=1,
        content="Alice loves <script>tea</script> daily.",
        metadata={"b": 3, "c": "new"},
        importance=0.9,
        subject="Alice",
    )
    response = editor.get(url(memory, "memory_versions") + "?a=1&b=2")
    html = response.content.decode()
    assert response.status_code == 200
    assert "<del>likes</del> <ins>loves</ins>" in html
    assert "&lt;script&gt;tea&lt;/script&gt;" in html
    assert "<script>tea" not in html
    metadata = html[html.index('aria-label="Metadata changes"') :]
    for key, change in (("a", "removed"), ("b", "changed"), ("c", "added")):
        assert f"<code>{key}</code></th><td>{change}</td>" in metadata
    assert "<del>2</del>" in metadata and "<ins>3</ins>" in metadata
    fields = html[html.index('aria-label="Other field changes"') :]
    assert "Importance" in fields and "<ins>0.9</ins>" in fields
    assert "Subject" in fields and "<ins>Alice</ins>" in fields
    assert "Kind" not in fields  # unchanged fields are not listed


def test_it_returns_only_the_diff_to_htmx(editor, space, actor, make_memory):
    memory = make_memory("One two.")
    services.update_memory(space, actor, memory.pk, expected_version=1, content="One three.")
    response = editor.get(url(memory, "memory_versions") + "?a=1&b=2", **HTMX)
    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<div id="version-diff"')
    assert "<del>two.</del> <ins>three.</ins>" in html


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("", "This field is required"),
        ("?a=1", "This field is required"),
        ("?a=x&b=2", "Enter a whole number"),
        ("?a=0&b=1", "greater than or equal to 1"),
        ("?a=1&b=9", "has no version 9"),
        ("?a=1&b=1", "Pick two different versions"),
    ],
)
def test_it_shows_the_form_with_an_error_for_bad_version_numbers(
    editor, space, actor, make_memory, query, message
):
    memory = make_memory("One.")
    services.update_memory(space, actor, memory.pk, expected_version=1, content="Two.")
    response = editor.get(url(memory, "memory_versions") + query)
    html = response.content.decode()
    assert response.status_code == 400
    assert message in html
    assert 'name="a"' in html and 'name="b"' in html


def test_it_links_each_version_to_its_diff_and_offers_revert_to_editors(
    editor, space, actor, make_memory
):
    memory = make_memory("One.")
    services.update_memory(space, actor, memory.pk, expected_version=1, content="Two.")
    services.update_memory(space, actor, memory.pk, expected_version=2, content="Three.")
    html = editor.get(url(memory)).content.decode()
    versions = url(memory, "memory_versions")
    assert f"{versions}?a=1&amp;b=2" in html and f"{versions}?a=2&amp;b=3" in html
    assert 'name="to_version" value="1"' in html and 'name="to_version" value="2"' in html
    assert 'name="to_version" value="3"' not in html  # the current one
    assert 'id="compare-form"' in html


# ----------------------------------------------------------------- revert


def test_it_reverts_to_an_older_version_as_a_new_version(editor, space, actor, make_memory):
    memory = make_memory("Original text.", tags=["first"])
    services.update_memory(
        space, actor, memory.pk, expected_version=1, content="Wrong text.", tags=["second"]
    )
    response = editor.post(url(memory, "memory_revert"), {"to_version": "1", "version": "2"})
    assert response.status_code == 302 and response["Location"] == url(memory) + "#versions"
    after = fresh(memory)
    assert (after.content, after.tags, after.version) == ("Original text.", ["first"], 3)
    v3 = MemoryVersion.objects.for_space(space).get(memory_id=memory.pk, version=3)
    assert (v3.action, v3.content) == ("revert", "Original text.")
    assert "Reverted to version 1: saved as version 3." in messages_of(response)


def test_it_refuses_a_stale_revert(editor, space, actor, make_memory):
    memory = make_memory("One.")
    services.update_memory(space, actor, memory.pk, expected_version=1, content="Two.")
    services.update_memory(space, actor, memory.pk, expected_version=2, content="Three.")
    response = editor.post(url(memory, "memory_revert"), {"to_version": "1", "version": "2"})
    assert response.status_code == 302
    assert (fresh(memory).content, fresh(memory).version) == ("Three.", 3)
    assert any("changed since you opened it" in m for m in messages_of(response))


def test_it_reports_a_revert_to_a_missing_version(editor, make_memory):
    memory = make_memory("One.")
    response = editor.post(
        url(memory, "memory_revert"), {"to_version": "7", "version": "1"}, **HTMX
    )
    location = json.loads(response["HX-Location"])["path"]
    assert response.status_code == 200 and location == url(memory) + "#versions"
    assert fresh(memory).version == 1
    assert any("has no version 7" in m for m in messages_of(response))


# ----------------------------------------------------------------- status


def test_it_changes_status_through_the_domain_layer(editor, space, make_memory):
    memory = make_memory()
    response = editor.post(url(memory, "memory_status"), {"action": "archive", "reason": "stale"})
    assert response.status_code == 302 and response["Location"] == url(memory) + "#status"
    after = fresh(memory)
    assert (after.status, after.version) == (Status.ARCHIVED, 2)
    v2 = MemoryVersion.objects.for_space(space).get(memory_id=memory.pk, version=2)
    assert (v2.action, v2.reason) == ("archive", "stale")

    response = editor.post(url(memory, "memory_status"), {"action": "delete"}, **HTMX)
    location = json.loads(response["HX-Location"])["path"]
    assert response.status_code == 200 and location == url(memory) + "#status"
    assert fresh(memory).status == Status.DELETED

    editor.post(url(memory, "memory_status"), {"action": "restore"})
    assert (fresh(memory).status, fresh(memory).version) == (Status.ACTIVE, 4)


def test_it_reports_an_invalid_transition_and_changes_nothing(editor, space, actor, make_memory):
    memory = make_memory()
    services.archive_memory(space, actor, memory.pk)
    response = editor.post(url(memory, "memory_status"), {"action": "archive"})
    assert response.status_code == 302
    assert (fresh(memory).status, fresh(memory).version) == (Status.ARCHIVED, 2)
    assert any("cannot archive a memory that is archived" in m for m in messages_of(response))

    response = editor.post(url(memory, "memory_status"), {"action": "explode"})
    assert response.status_code == 302
    assert fresh(memory).version == 2
    assert any("Choose archive, restore or delete" in m for m in messages_of(response))


# ----------------------------------------------------------------- purge


def test_it_lets_only_admins_purge(editor, admin, space, make_memory):
    memory = make_memory("Secret.")
    assert "Purge this memory" not in editor.get(url(memory)).content.decode()
    assert "Purge this memory" in admin.get(url(memory)).content.decode()
    body = {"reason": "personal data", "confirm": "on"}
    assert editor.post(url(memory, "memory_purge"), body).status_code == 403
    assert Memory.objects.for_space(space).filter(pk=memory.pk).exists()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"reason": "", "confirm": "on"}, "Say why this memory is purged."),
        ({"reason": "   ", "confirm": "on"}, "Say why this memory is purged."),
        ({"reason": "personal data"}, "Tick the box to confirm the purge."),
    ],
)
def test_it_needs_a_reason_and_a_confirmation_to_purge(admin, space, make_memory, body, message):
    memory = make_memory("Secret.")
    response = admin.post(url(memory, "memory_purge"), body)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert Memory.objects.for_space(space).filter(pk=memory.pk).exists()
    assert not AuditEvent.objects.for_space(space).filter(action="memory.purge").exists()


def test_it_purges_with_a_reason_and_returns_to_the_browser(admin, space, make_memory):
    memory = make_memory("Secret.")
    response = admin.post(url(memory, "memory_purge"), {"reason": "personal data", "confirm": "on"})
    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard:browse", args=["home"])
    assert not Memory.objects.for_space(space).filter(pk=memory.pk).exists()
    assert not MemoryVersion.objects.for_space(space).filter(memory_id=memory.pk).exists()
    event = AuditEvent.objects.for_space(space).get(action="memory.purge")
    assert (event.target_id, event.reason, event.actor_label) == (
        str(memory.pk),
        "personal data",
        "user:ada",
    )
    assert any(m.startswith("Purged") for m in messages_of(response))
    assert admin.get(url(memory)).status_code == 404


def test_it_answers_an_htmx_purge_with_a_client_redirect(admin, space, make_memory):
    memory = make_memory("Secret.")
    response = admin.post(url(memory, "memory_purge"), {"reason": "gdpr", "confirm": "on"}, **HTMX)
    assert response.status_code == 200
    assert json.loads(response["HX-Location"])["path"] == reverse("dashboard:browse", args=["home"])
    assert not Memory.objects.for_space(space).filter(pk=memory.pk).exists()


# ----------------------------------------------------------------- diffing


def test_it_diffs_words_and_keeps_the_new_spacing():
    assert diffing.word_diff("the cat sat\n\non the mat", "the dog sat\n\non the  mat today") == [
        ("equal", "the "),
        ("delete", "cat "),
        ("insert", "dog "),
        ("equal", "sat\n\non the  mat "),
        ("insert", "today"),
    ]
    assert diffing.word_diff("same  words", "same words") == [("equal", "same words")]


def test_it_renders_a_diff_as_escaped_html():
    assert str(diffing.render_word_diff("a <b> c", "a <i> c")) == (
        "a <del>&lt;b&gt;</del> <ins>&lt;i&gt;</ins> c"
    )
    assert str(diffing.render_word_diff("a b", "a")) == "a <del>b</del>"
    assert str(diffing.render_word_diff("", "")) == ""


def test_it_diffs_metadata_by_key_and_fields_by_value():
    changes = diffing.metadata_diff(
        {"a": 1, "b": "1", "same": True}, {"b": 1, "c": [2], "same": True}
    )
    assert [(c.key, c.change, c.old, c.new) for c in changes] == [
        ("a", "removed", "1", ""),
        ("b", "changed", '"1"', "1"),
        ("c", "added", "", "[2]"),
    ]
    fields = diffing.field_changes(
        {"content": "x", "tags": ["a"], "pinned": False, "kind": "fact"},
        {"content": "y", "tags": ["a", "b"], "pinned": True, "kind": "fact"},
    )
    assert [(f.label, f.old, f.new) for f in fields] == [
        ("Tags", "a", "a, b"),
        ("Pinned", "no", "yes"),
    ]

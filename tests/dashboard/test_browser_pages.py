"""The memory browser: search and filters, paging, roles, bulk actions and undo."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from apps.audit.models import AuditEvent
from apps.memories import services
from apps.memories.models import Memory

pytestmark = pytest.mark.django_db


def undo_token(html: str) -> str:
    match = re.search(r'name="token" value="([^"]+)"', html)
    assert match, "no undo button"
    return match.group(1)


def memories(space, actor, *contents, **fields):
    return [services.create_memory(space, actor, content=c, **fields) for c in contents]


def test_it_sends_anonymous_visitors_to_log_in(client, space):
    response = client.get("/s/home/memories/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_it_hides_a_space_from_outsiders(outsider, space, actor):
    memories(space, actor, "secret")
    assert outsider.get("/s/home/").status_code == 404
    assert outsider.get("/s/no-such-space/").status_code == 404


def test_it_lists_newest_first_with_kind_status_subject_and_version(editor, space, actor):
    memories(space, actor, "Older memory.", subject="Maya")
    memories(space, actor, "Newer memory.", kind="preference")
    response = editor.get("/s/home/memories/")
    html = response.content.decode()
    assert response.status_code == 200
    assert html.index("Newer memory.") < html.index("Older memory.")
    assert "Preference" in html and "Maya" in html
    assert 'hx-headers=\'{"X-CSRFToken"' in html
    assert "{#" not in html and "{%" not in html, "template syntax leaked into the page"


def test_it_filters_in_the_url(editor, space, actor):
    memories(space, actor, "About Maya.", subject="Maya", tags=["running"])
    memories(space, actor, "About Tomás.", subject="Tomás")
    archived = memories(space, actor, "Archived one.", subject="Maya")[0]
    services.archive_memory(space, actor, archived.pk)

    def shown(query):
        html = editor.get(f"/s/home/memories/?{query}").content.decode()
        return sorted(re.findall(r"About \w+\.|Archived one\.", html))

    assert shown("subject=Maya") == ["About Maya."]
    assert shown("tag=running") == ["About Maya."]
    assert shown("subject=Maya&status=any") == ["About Maya.", "Archived one."]
    assert shown("status=archived") == ["Archived one."]


def test_it_searches_and_highlights_matches(editor, space, actor, hashing_backend):
    memories(space, actor, "Maya is training for the marathon.", "Tomás cooks <b>octopus</b>.")
    html = editor.get("/s/home/memories/?q=marathon&mode=text").content.decode()
    assert "<mark>marathon</mark>" in html
    assert "octopus" not in html
    escaped = editor.get("/s/home/memories/?q=octopus&mode=text").content.decode()
    assert "&lt;b&gt;<mark>octopus</mark>&lt;/b&gt;" in escaped


def test_it_shows_form_errors_for_bad_filters(editor, space):
    response = editor.get("/s/home/memories/?after=not-a-date&kind=gossip")
    html = response.content.decode()
    assert response.status_code == 200
    assert "Enter a valid date." in html
    assert "Select a valid choice." in html


def test_it_explains_an_empty_space_and_an_empty_filter(editor, space, actor):
    assert "no memories yet" in editor.get("/s/home/memories/").content.decode()
    memories(space, actor, "One.")
    assert "No memories match" in editor.get("/s/home/memories/?subject=Nobody").content.decode()


def test_it_pages_with_an_htmx_partial_and_a_plain_link(editor, space, actor, settings):
    services.create_memories(space, actor, [{"content": f"memory number {i}"} for i in range(55)])
    first = editor.get("/s/home/memories/").content.decode()
    found = re.search(r'hx-get="\?([^"]+)"', first)
    assert found, "no next page"
    more = found.group(1).replace("&amp;", "&")
    assert f'href="?{more.replace("&", "&amp;")}"' in first  # works without JavaScript too
    partial = editor.get(f"/s/home/memories/?{more}", HTTP_HX_REQUEST="true")
    body = partial.content.decode()
    assert "<html" not in body and body.count("data-row-check") == 5
    plain = editor.get(f"/s/home/memories/?{more}").content.decode()
    assert "<html" in plain


def test_the_browser_page_answers_in_a_bounded_number_of_queries(
    editor, space, actor, django_assert_max_num_queries
):
    services.create_memories(
        space, actor, [{"content": f"m {i}", "tags": ["t"]} for i in range(60)]
    )
    # session, user, membership, spaces for the switcher, the page of memories, the
    # space's subjects for the Subject filter, the open hygiene flags of the page's memories
    with django_assert_max_num_queries(7):
        response = editor.get("/s/home/memories/")
    assert response.status_code == 200


def test_a_viewer_sees_no_bulk_controls_and_cannot_post(viewer, space, actor):
    memory = memories(space, actor, "Keep me.")[0]
    html = viewer.get("/s/home/memories/").content.decode()
    assert "bulk-form" not in html
    response = viewer.post(
        "/s/home/bulk/", {"action": "delete", "ids": [memory.pk], "confirmed": "1"}
    )
    assert response.status_code == 403
    assert Memory.objects.for_space(space).get(pk=memory.pk).status == "active"


def test_bulk_needs_csrf(space, alice, actor):
    memory = memories(space, actor, "Keep me.")[0]
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    response = client.post(
        "/s/home/bulk/", {"action": "archive", "ids": [memory.pk], "confirmed": "1"}
    )
    assert response.status_code == 403
    assert Memory.objects.for_space(space).get(pk=memory.pk).status == "active"


def test_bulk_asks_for_confirmation_with_the_count_first(editor, space, actor):
    picked = memories(space, actor, "a", "b", "c")
    response = editor.post(
        "/s/home/bulk/",
        {"action": "archive", "ids": [m.pk for m in picked]},
        HTTP_HX_REQUEST="true",
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "Archive 3 memories?" in html
    assert "<html" not in html  # a fragment for the dialog
    assert set(Memory.objects.for_space(space).values_list("status", flat=True)) == {"active"}


def test_bulk_archive_then_undo(editor, space, actor):
    picked = memories(space, actor, "a", "b", "c")
    untouched = memories(space, actor, "d")[0]
    response = editor.post(
        "/s/home/bulk/",
        {"action": "archive", "ids": [m.pk for m in picked], "confirmed": "1"},
        follow=True,
    )
    html = response.content.decode()
    assert "Archive: 3 of 3 memories." in html
    statuses = dict(Memory.objects.for_space(space).values_list("content", "status"))
    assert statuses == {"a": "archived", "b": "archived", "c": "archived", "d": "active"}
    token = undo_token(html)

    undone = editor.post("/s/home/bulk/undo/", {"token": token}, follow=True)
    assert "Undone for 3 memories." in undone.content.decode()
    assert set(Memory.objects.for_space(space).values_list("status", flat=True)) == {"active"}
    assert Memory.objects.for_space(space).get(pk=untouched.pk).version == 1
    assert AuditEvent.objects.for_space(space).filter(action="memory.restore").count() == 3
    again = editor.post("/s/home/bulk/undo/", {"token": token}, follow=True)
    assert "nothing to undo" in again.content.decode()


def test_undo_leaves_alone_what_someone_changed_since(editor, space, actor):
    a, b = memories(space, actor, "a", "b")
    html = editor.post(
        "/s/home/bulk/", {"action": "delete", "ids": [a.pk, b.pk], "confirmed": "1"}, follow=True
    ).content.decode()
    token = undo_token(html)
    services.restore_memory(space, actor, b.pk)  # someone else brought b back
    services.archive_memory(space, actor, b.pk)
    html = editor.post("/s/home/bulk/undo/", {"token": token}, follow=True).content.decode()
    assert "1 changed since" in html
    stored = dict(Memory.objects.for_space(space).values_list("content", "status"))
    assert stored == {"a": "active", "b": "archived"}


def test_bulk_tag_and_untag_and_all_matching(editor, space, actor):
    memories(space, actor, "x1", "x2", subject="Maya")
    memories(space, actor, "y1", subject="Tomás")
    editor.post(
        "/s/home/bulk/",
        {
            "action": "tag",
            "bulk_tag": "reviewed",
            "all_matching": "1",
            "subject": "Maya",
            "confirmed": "1",
        },
    )
    tagged = dict(Memory.objects.for_space(space).values_list("content", "tags"))
    assert tagged == {"x1": ["reviewed"], "x2": ["reviewed"], "y1": []}
    editor.post(
        "/s/home/bulk/",
        {"action": "untag", "bulk_tag": "reviewed", "all_matching": "1", "confirmed": "1"},
    )
    assert all(
        tags == [] for tags in Memory.objects.for_space(space).values_list("tags", flat=True)
    )


def test_bulk_refuses_a_tag_action_without_a_tag_and_other_spaces_ids(
    editor, space, actor, outsider_space
):
    mine = memories(space, actor, "mine")[0]
    theirs = services.create_memory(outsider_space, actor, content="theirs")
    response = editor.post("/s/home/bulk/", {"action": "tag", "ids": [mine.pk], "confirmed": "1"})
    assert response.status_code == 422
    assert "Name the tag" in response.content.decode()
    editor.post("/s/home/bulk/", {"action": "delete", "ids": [theirs.pk, "junk"], "confirmed": "1"})
    assert Memory.objects.for_space(outsider_space).get(pk=theirs.pk).status == "active"


def test_bulk_reembed_drops_vectors_and_skips_what_does_not_apply(
    editor, space, actor, hashing_backend, embed_now
):
    a, b = memories(space, actor, "a", "b")
    embed_now(space)
    services.archive_memory(space, actor, b.pk)
    editor.post("/s/home/bulk/", {"action": "reembed", "ids": [a.pk], "confirmed": "1"})
    assert Memory.objects.for_space(space).get(pk=a.pk).embedding is None
    html = editor.post(
        "/s/home/bulk/", {"action": "archive", "ids": [a.pk, b.pk], "confirmed": "1"}, follow=True
    ).content.decode()
    assert "Archive: 1 of 2 memories. 1 skipped" in html


def test_the_space_switcher_goes_only_to_the_users_spaces(editor, space, outsider_space):
    assert editor.get("/switch/?space=home")["Location"] == "/s/home/"
    assert editor.get("/switch/?space=outsider")["Location"] == "/"


def test_it_filters_by_any_of_several_tags(editor, space, actor):
    memories(space, actor, "Runs.", tags=["running"])
    memories(space, actor, "Eats.", tags=["diet"])
    memories(space, actor, "Sleeps.", tags=["rest"])
    html = editor.get("/s/home/memories/?tag=running,+diet").content.decode()
    assert sorted(re.findall(r"Runs\.|Eats\.|Sleeps\.", html)) == ["Eats.", "Runs."]


def test_list_pages_never_load_embeddings(editor, space, actor, hashing_backend, embed_now):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    services.create_memories(space, actor, [{"content": f"tea note {i}"} for i in range(12)])
    embed_now(space)
    for url in (
        "/s/home/memories/",
        "/s/home/memories/?q=tea&mode=hybrid",
        "/s/home/memories/?q=tea&mode=vector",
    ):
        with CaptureQueriesContext(connection) as queries:
            assert editor.get(url).status_code == 200
        selected = [q["sql"].split(" FROM ")[0] for q in queries if q["sql"].startswith("SELECT")]
        assert not [s for s in selected if re.search(r'"embedding"(?!_)', s)], url


def test_the_search_page_answers_in_a_bounded_number_of_queries(
    editor, space, actor, hashing_backend, embed_now, django_assert_max_num_queries
):
    services.create_memories(space, actor, [{"content": f"tea note {i}"} for i in range(60)])
    embed_now(space)
    # Word counts, the space's size and the links check are cached per process.
    editor.get("/s/home/memories/?q=tea")
    # session, user, membership, switcher; the query's words, both candidate lists (a
    # space this small is searched exactly; a large one in a savepoint that raises
    # ef_search for a page of 50), the hits' rows; the subjects filter, and the open
    # hygiene flags of the hits
    with django_assert_max_num_queries(12):
        response = editor.get("/s/home/memories/?q=tea")
    assert response.status_code == 200 and response.content.decode().count("data-row-check") == 50


def test_search_results_scroll_in_with_an_htmx_partial(editor, space, actor, hashing_backend):
    services.create_memories(space, actor, [{"content": f"tea note {i}"} for i in range(60)])
    first = editor.get("/s/home/memories/?q=tea&mode=text").content.decode()
    found = re.search(r'hx-get="\?([^"]+offset=50[^"]*)"', first)
    assert found, "no next page of results"
    more = found.group(1).replace("&amp;", "&")
    partial = editor.get(f"/s/home/memories/?{more}", HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in partial and partial.count("data-row-check") == 10


def test_all_matching_a_search_says_it_acts_on_the_best_matches(editor, space, actor):
    services.create_memories(space, actor, [{"content": f"weather report {i}"} for i in range(205)])
    html = editor.post(
        "/s/home/bulk/",
        {"action": "archive", "all_matching": "1", "q": "weather", "mode": "text"},
        HTTP_HX_REQUEST="true",
    ).content.decode()
    assert "Archive 200 memories?" in html
    assert "the 200 best matches for “weather”" in html
    assert set(Memory.objects.for_space(space).values_list("status", flat=True)) == {"active"}


def test_logging_out_ends_the_session(editor, space):
    assert editor.get("/s/home/memories/").status_code == 200
    response = editor.post("/logout/")
    assert response.status_code == 302
    assert editor.get("/s/home/memories/").status_code == 302  # back to the login page

"""The recall simulator: a query run as a token would run it, every component of each
hit's score, what fell below the cut, and acting on a hit without leaving the page."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.hygiene.models import Flag
from apps.memories import services
from apps.memories.models import Link, Memory, Status
from apps.retrieval.search import Filters, search
from apps.spaces.models import ApiToken, Scope
from tests.conftest import fresh, versions_of

pytestmark = pytest.mark.django_db

PETS = (
    "Priya has a nine-year-old cat called Miso.",
    "Priya has a three-year-old dog called Pepper.",
    "Maya is running the Lisbon marathon in December.",
    "Tomás is opening Brasa, a wood-fired restaurant in Porto.",
    "Daniel teaches physics at Hillside Academy in Leeds.",
)


@pytest.fixture
def pets(space, actor, embed_now):
    made = [services.create_memory(space, actor, content=c, agent="assistant") for c in PETS]
    embed_now(space)
    return made


def recalls(space):
    return AuditEvent.objects.for_space(space).filter(action="memory.recall").count()


def hit_ids(html, table):
    """The memory ids of one table's rows, in order."""
    section = html.split(f'aria-label="{table}"', 1)[1].split("</table>", 1)[0]
    return re.findall(r'<tr id="hit-([0-9a-f-]+)"', section)


def test_it_shows_each_hits_components_as_search_ranks_them(editor, space, pets):
    response = editor.get("/s/home/recall/?q=What+pet+does+Priya+have%3F&k=3")
    html = response.content.decode()
    assert response.status_code == 200
    expected = search(space, "What pet does Priya have?", k=3, record_access=False, below_cut=10)
    assert hit_ids(html, "Returned hits, best first") == [str(h.memory.pk) for h in expected.hits]
    assert hit_ids(html, "Candidates just below the cut") == [
        str(h.memory.pk) for h in expected.below_cut
    ]
    best = expected.hits[0]
    assert best.memory.content.startswith("Priya has a")
    row = html.split(f'id="hit-{best.memory.pk}"', 1)[1].split("</tr>", 1)[0]
    assert f"#{best.components['vector']['rank']} · {best.components['vector']['score']:.3f}" in row
    assert f"#{best.components['text']['rank']} · {best.components['text']['score']:.2f}" in row
    assert f"{best.components['final']:.4f}" in row
    # The shares add up to the final score when nothing re-scores.
    shares = best.components["vector"]["fused"] + best.components["text"]["fused"]
    shares += sum(c["score"] for c in best.components.get("context", []))
    assert best.components["final"] == pytest.approx(shares, abs=1e-5)


def test_it_records_no_access(editor, space, pets):
    before = {m.pk: (m.access_count, m.strength) for m in Memory.objects.for_space(space)}
    response = editor.get("/s/home/recall/?q=marathon&mode=text")
    assert response.status_code == 200
    assert "Lisbon" in response.content.decode()
    assert recalls(space) == 0
    after = {m.pk: (m.access_count, m.strength) for m in Memory.objects.for_space(space)}
    assert after == before


def test_it_applies_the_filters_and_as_of(editor, space, actor, pets, embed_now):
    later = services.create_memory(space, actor, content="Priya adopted a cat called Tofu.")
    embed_now(space)
    moment = (later.created_at - timedelta(microseconds=1)).isoformat()
    html = editor.get("/s/home/recall/", {"q": "Priya cat", "as_of": moment}).content.decode()
    assert "Miso" in html and "Tofu" not in html
    filtered = editor.get("/s/home/recall/", {"q": "Priya cat", "agent": "assistant"})
    assert "Miso" in filtered.content.decode() and "Tofu" not in filtered.content.decode()


def test_it_runs_as_a_token_of_the_space(editor, space, pets):
    ApiToken.issue(space=space, name="reader", scopes=[Scope.MEMORIES_READ])
    response = editor.get("/s/home/recall/?q=marathon&actor=token%3Areader")
    html = response.content.decode()
    assert response.status_code == 200
    assert "as token:reader" in html and "Lisbon" in html


def test_it_shows_a_token_without_read_scope_nothing(editor, space, pets):
    ApiToken.issue(space=space, name="writer", scopes=[Scope.MEMORIES_WRITE])
    response = editor.get("/s/home/recall/?q=marathon&actor=token%3Awriter")
    html = response.content.decode()
    assert response.status_code == 200
    assert "no memories:read scope" in html
    assert "Lisbon" not in html


def test_it_shows_a_revoked_token_nothing_after_its_revocation(editor, space, pets):
    token, _ = ApiToken.issue(space=space, name="old", scopes=[Scope.MEMORIES_READ])
    token.revoked_at = timezone.now()
    token.save()
    now = editor.get("/s/home/recall/?q=marathon&actor=token%3Aold").content.decode()
    assert "revoked or had expired" in now and "Lisbon" not in now
    before = (token.revoked_at - timedelta(microseconds=1)).isoformat()
    then = editor.get("/s/home/recall/", {"q": "marathon", "actor": "token:old", "as_of": before})
    assert "Lisbon" in then.content.decode()


def test_it_refuses_another_spaces_token(editor, space, outsider_space, pets):
    ApiToken.issue(space=outsider_space, name="theirs", scopes=[Scope.MEMORIES_READ])
    response = editor.get("/s/home/recall/?q=marathon&actor=token%3Atheirs")
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    assert "Lisbon" not in response.content.decode()


def test_a_token_of_another_space_never_sees_this_spaces_memories(
    outsider, space, outsider_space, pets
):
    ApiToken.issue(space=outsider_space, name="theirs", scopes=[Scope.MEMORIES_READ])
    response = outsider.get("/s/outsider/recall/?q=marathon&actor=token%3Atheirs")
    assert response.status_code == 200
    assert "Lisbon" not in response.content.decode()


def test_it_hides_the_space_from_outsiders(outsider, space, pets):
    assert outsider.get("/s/home/recall/?q=marathon").status_code == 404
    memory = pets[0]
    response = outsider.post(f"/s/home/recall/{memory.pk}/pin/", {"version": 1, "pinned": "on"})
    assert response.status_code == 404
    assert not fresh(memory).pinned


@pytest.mark.parametrize(
    "query, error",
    [
        ("q=cat&mode=telepathy", "Select a valid choice"),
        ("q=cat&as_of=last+tuesday", "Enter a valid date/time"),
        ("q=cat&k=0", "greater than or equal to 1"),
        ("q=cat&k=many", "Enter a whole number"),
        ("q=cat&actor=token%3Anobody", "Select a valid choice"),
        ("q=cat&status=lost", "Select a valid choice"),
    ],
)
def test_it_answers_bad_input_with_a_form_error(editor, space, pets, query, error):
    response = editor.get(f"/s/home/recall/?{query}")
    assert response.status_code == 400
    assert error in response.content.decode()
    assert recalls(space) == 0


def test_it_pins_a_hit_and_comes_back_to_the_same_simulation(editor, space, pets):
    memory = pets[0]
    back = "q=cat&mode=hybrid&k=3"
    response = editor.post(
        f"/s/home/recall/{memory.pk}/pin/", {"version": 1, "pinned": "on", "back": back}
    )
    assert response.status_code == 302
    assert response["Location"] == f"/s/home/recall/?q=cat&mode=hybrid&k=3#hit-{memory.pk}"
    assert fresh(memory).pinned
    assert versions_of(memory) == [(1, "create"), (2, "update")]
    page = editor.get(response["Location"]).content.decode()
    row = page.split(f'id="hit-{memory.pk}"', 1)[1].split("</tr>", 1)[0]
    assert "Pinned: now version 2." in row and "Unpin" in row


def test_it_archives_a_hit_through_the_service_layer(editor, space, pets):
    memory = pets[2]
    response = editor.post(
        f"/s/home/recall/{memory.pk}/status/",
        {"action": "archive", "back": "q=marathon"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    assert response["HX-Location"].startswith('{"path": "/s/home/recall/?q=marathon#hit-')
    assert fresh(memory).status == Status.ARCHIVED
    assert versions_of(memory)[-1] == (2, "archive")
    assert AuditEvent.objects.for_space(space).filter(action="memory.archive").count() == 1


def test_it_refuses_to_delete_from_the_simulator(editor, space, pets):
    memory = pets[2]
    editor.post(f"/s/home/recall/{memory.pk}/status/", {"action": "delete", "back": "q=x"})
    assert fresh(memory).status == Status.ACTIVE
    assert versions_of(memory) == [(1, "create")]


def test_it_refuses_a_stale_pin(editor, space, actor, pets):
    memory = pets[0]
    services.update_memory(space, actor, memory.pk, expected_version=1, importance=0.9)
    response = editor.post(f"/s/home/recall/{memory.pk}/pin/", {"version": 1, "pinned": "on"})
    assert response.status_code == 302
    assert not fresh(memory).pinned
    assert (
        "changed since this simulation ran (now version 2)"
        in editor.get("/s/home/recall/?q=cat").content.decode()
    )


def test_it_edits_a_hits_text(editor, space, pets):
    memory = pets[1]
    response = editor.post(
        f"/s/home/recall/{memory.pk}/edit/",
        {"version": 1, "content": "Priya has a four-year-old dog called Pepper.", "back": "q=dog"},
    )
    assert response.status_code == 302
    assert fresh(memory).content == "Priya has a four-year-old dog called Pepper."
    assert versions_of(memory) == [(1, "create"), (2, "update")]
    empty = editor.post(f"/s/home/recall/{memory.pk}/edit/", {"version": 2, "content": "  "})
    assert empty.status_code == 302
    assert versions_of(memory) == [(1, "create"), (2, "update")]


def test_it_links_two_hits(editor, space, pets):
    cat, dog = pets[0], pets[1]
    response = editor.post(
        f"/s/home/recall/{cat.pk}/link/",
        {"target": str(dog.pk), "type": "related_to", "back": "q=pet"},
    )
    assert response.status_code == 302
    link = Link.objects.for_space(space).get()
    assert (link.source_id, link.target_id, link.type) == (cat.pk, dog.pk, "related_to")
    assert AuditEvent.objects.for_space(space).filter(action="link.create").count() == 1
    bad = editor.post(f"/s/home/recall/{cat.pk}/link/", {"target": str(cat.pk), "type": "x"})
    assert bad.status_code == 302
    assert Link.objects.for_space(space).count() == 1


def test_viewers_simulate_but_do_not_act(viewer, space, pets):
    page = viewer.get("/s/home/recall/?q=cat").content.decode()
    assert "Miso" in page and "/pin/" not in page
    response = viewer.post(f"/s/home/recall/{pets[0].pk}/pin/", {"version": 1, "pinned": "on"})
    assert response.status_code == 403
    assert not fresh(pets[0]).pinned


def test_the_access_log_links_to_the_simulation_of_that_recall(editor, space, pets):
    services.record_recall(
        space,
        _token_actor(space),
        [pets[0].pk],
        at=timezone.now(),
        query="What pet does Priya have?",
        mode="hybrid",
    )
    html = editor.get(f"/s/home/memories/{pets[0].pk}/").content.decode()
    link = re.search(r'href="(/s/home/recall/\?[^"]+)" class="why-recalled"', html)
    assert link, "no link to the simulator"
    url = link.group(1).replace("&amp;", "&")
    assert "q=What%20pet%20does%20Priya%20have%3F" in url and "actor=token%3Aagent" in url
    page = editor.get(url)
    assert page.status_code == 200
    body = page.content.decode()
    assert 'value="What pet does Priya have?"' in body
    row = body.split(f'id="hit-{pets[0].pk}"', 1)[1].split("</tr>", 1)[0]
    assert "the memory you came from" in row


def _token_actor(space):
    from apps.audit.actors import Actor

    token, _ = ApiToken.issue(space=space, name="agent", scopes=[Scope.MEMORIES_READ])
    return Actor.for_token(token)


def test_filters_reach_search_unchanged(space, pets):
    # What the page runs is search() itself: the same filters give the same ranking.
    plain = search(space, "cat", k=3, record_access=False)
    explained = search(space, "cat", k=3, record_access=False, below_cut=5)
    assert [h.memory.pk for h in plain.hits] == [h.memory.pk for h in explained.hits]
    assert not {h.memory.pk for h in explained.hits} & {h.memory.pk for h in explained.below_cut}
    filtered = search(space, "cat", k=3, filters=Filters(agent="nobody"), record_access=False)
    assert filtered.hits == []


# ----------------------------------------------------------------- the memory list's weak tail


def test_the_list_counts_matches_and_hides_the_weak_tail(editor, space, pets):
    response = editor.get("/s/home/memories/?q=dog&mode=vector")
    html = response.content.decode()
    assert response.status_code == 200
    assert "Pepper" in html
    # A vector search ranks all five memories; only the dog is near "dog".
    assert "<strong>1 match</strong>" in html
    assert "4 weak matches hidden" in html
    assert "Lisbon" not in html and "Hillside" not in html
    assert re.search(r"score 0\.\d{3} · similarity 0\.\d\d", html)


def test_the_list_shows_the_weak_tail_when_asked(editor, space, pets):
    html = editor.get("/s/home/memories/?q=dog&mode=vector&weak=show").content.decode()
    assert "Lisbon" in html and "Hillside" in html
    assert html.count("weak match</span>") == 4
    assert "weak matches shown and marked" in html


def test_the_list_says_when_only_weak_matches_were_found(editor, space, pets):
    html = editor.get("/s/home/memories/?q=zebra+stripes&mode=vector").content.decode()
    assert "Nothing matched well: only weak matches were found." in html
    assert "5 weak matches hidden" in html
    assert "Pepper" not in html


def test_words_that_match_are_never_weak(editor, space, pets):
    html = editor.get("/s/home/memories/?q=physics&mode=hybrid").content.decode()
    assert "Hillside" in html
    row = html.split("Hillside", 1)[1].split("</tr>", 1)[0]
    assert "weak match</span>" not in row


def test_bulk_all_matching_leaves_out_the_hidden_weak_matches(editor, space, pets):
    response = editor.post(
        "/s/home/bulk/",
        {"action": "archive", "all_matching": "1", "confirmed": "1", "q": "dog", "mode": "vector"},
    )
    assert response.status_code == 302
    archived = set(Memory.objects.for_space(space).filter(status=Status.ARCHIVED))
    assert archived == {pets[1]}


@pytest.mark.parametrize("mode, query", [("vector", "pets at home"), ("text", "Priya")])
def test_below_the_cut_of_a_single_list_search_is_the_rest_of_its_ranking(space, pets, mode, query):
    deeper = search(space, query, mode=mode, k=4, record_access=False)
    explained = search(space, query, mode=mode, k=1, record_access=False, below_cut=3)
    assert [h.memory.pk for h in explained.hits] == [deeper.hits[0].memory.pk]
    assert [h.memory.pk for h in explained.below_cut] == [h.memory.pk for h in deeper.hits[1:]]
    assert all("final" in h.components for h in explained.below_cut)


def test_a_token_that_expires_later_still_searches(editor, space, pets):
    ApiToken.issue(
        space=space,
        name="lease",
        scopes=[Scope.MEMORIES_READ],
        expires_at=timezone.now() + timedelta(days=1),
    )
    html = editor.get("/s/home/recall/?q=marathon&actor=token%3Alease").content.decode()
    assert "Lisbon" in html and "expired" not in html


FLAGGED_PET = "Priya's cat sees the vet; write to ana.ruiz@fastpost.de first."


def badged_hits(html):
    """The ids of the hit rows (either table) that carry the flag badge."""
    rows = [part.split("</tr>", 1)[0] for part in html.split('<tr id="hit-')[1:]]
    return [row[:36] for row in rows if 'class="badge flagged"' in row]


def test_a_hit_with_open_flags_carries_the_flag_badge(viewer, space, actor, pets, embed_now):
    flagged = services.create_memory(space, actor, content=FLAGGED_PET)
    embed_now(space)
    assert Flag.objects.for_space(space).open().filter(memory=flagged).count() == 1

    html = viewer.get("/s/home/recall/?q=Priya+cat+vet&k=3").content.decode()

    assert str(flagged.pk) in hit_ids(html, "Returned hits, best first")
    assert badged_hits(html) == [str(flagged.pk)]
    assert 'title="Personal data: email"' in html


def test_a_dismissed_flag_leaves_the_hit_unbadged(viewer, space, actor, pets, embed_now):
    flagged = services.create_memory(space, actor, content=FLAGGED_PET)
    embed_now(space)
    Flag.objects.for_space(space).filter(memory=flagged).update(status=Flag.Status.DISMISSED)

    html = viewer.get("/s/home/recall/?q=Priya+cat+vet&k=3").content.decode()

    assert str(flagged.pk) in hit_ids(html, "Returned hits, best first")
    assert badged_hits(html) == []

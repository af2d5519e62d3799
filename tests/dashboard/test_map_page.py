"""The embedding map page: empty state, the compact figure, colourings, hover cards,
selections with bulk actions, what is not yet projected, roles and isolation."""

from __future__ import annotations

import base64
import re

import numpy as np
import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.jobs.models import Job
from apps.maps.models import MapPoint, Projection
from apps.memories import services
from apps.spaces.models import Role
from tests.dashboard.conftest import figure_in, member

pytestmark = pytest.mark.django_db


def draw_map(space, memories, clusters=None):
    """A finished projection placing `memories` on a line (what the job would store)."""
    projection = Projection.objects.for_space(space).create(
        space=space,
        embedding_model="test",
        params={"method": "umap"},
        points=len(memories),
        clusters=len({c for c in clusters or [0] if c >= 0}),
        finished_at=timezone.now(),
    )
    for i, memory in enumerate(memories):
        MapPoint.objects.for_space(space).create(
            projection=projection,
            space=space,
            memory=memory,
            ordinal=i,
            x=float(i),
            y=0.0,
            cluster=(clusters or [0] * len(memories))[i],
            nearest_similarity=0.5,
        )
    return projection


@pytest.fixture
def mapped(space, actor, hashing_backend, embed_now):
    memories = services.create_memories(
        space,
        actor,
        [{"content": f"note {i}", "kind": "fact" if i % 2 else "preference"} for i in range(6)],
    )
    embed_now(space)
    return memories, draw_map(space, memories, clusters=[0, 0, 0, 1, 1, -1])


def figure_of(html):
    return figure_in(html, "map-figure")


def test_it_explains_a_space_without_a_map_and_offers_to_project(editor, space):
    html = editor.get("/s/home/map/").content.decode()
    assert "no map yet" in html and "Project this space" in html


def test_projecting_starts_a_job_and_goes_to_it(editor, space):
    response = editor.post("/s/home/map/project/")
    job = Job.objects.for_space(space).get()
    assert job.kind == "project" and job.status == "queued"
    assert response.status_code == 302 and response["Location"] == f"/s/home/jobs/{job.pk}/"


def test_viewers_see_the_map_but_cannot_project(space, mapped):
    viewer = member(space, "victor", Role.VIEWER)
    html = viewer.get("/s/home/map/").content.decode()
    assert "Project again" not in html
    assert viewer.post("/s/home/map/project/").status_code == 403
    assert not Job.objects.for_space(space).exists()


def test_the_figure_sends_typed_arrays_with_a_trace_per_cluster(editor, mapped):
    html = editor.get("/s/home/map/").content.decode()
    figure = figure_of(html)
    assert [t["name"] for t in figure["data"]] == ["cluster 0", "cluster 1", "no cluster"]
    first = figure["data"][0]
    assert first["type"] == "scattergl" and "x" not in first
    # The points once for every trace, as base64 typed arrays: 16-bit x and y steps
    # between their bounds, a byte per point for the cluster's code.
    points = figure["points"]
    assert points["count"] == 6 and points["gaps"] == []
    assert decoded(points["x"], "<u2").tolist() == [0, 13107, 26214, 39321, 52428, 65535]
    assert (points["x"]["low"], points["x"]["high"]) == (0.0, 5.0)
    codes = decoded(points["codes"], "u1").tolist()
    name_of = {trace["code"]: trace["name"] for trace in figure["data"]}
    assert [name_of[code] for code in codes] == ["cluster 0"] * 3 + ["cluster 1"] * 2 + [
        "no cluster"
    ]
    assert "6 memories in 2 clusters" in html


def decoded(column, dtype):
    return np.frombuffer(base64.b64decode(column[dtype.lstrip("<")]), dtype=dtype)


def test_the_figure_takes_a_bounded_number_of_bytes_per_point(editor, space, actor):
    memories = services.create_memories(
        space, actor, [{"content": f"note {i}"} for i in range(2000)]
    )
    draw_map(space, memories, clusters=[i % 300 for i in range(2000)])
    html = editor.get("/s/home/map/").content.decode()
    figure = figure_in(html, "map-figure")
    # 300 clusters: more than a legend holds, one trace coloured by a 16-bit code.
    assert [t["name"] for t in figure["data"]] == ["memories"]
    text = re.search(r'<script id="map-figure" type="application/json">(.*?)</script>', html, re.S)
    assert text is not None
    # 4 bytes of x and y, 2 of code: 8 in base64, plus a few kB of layout.
    assert len(text.group(1)) < 8 * 2000 + 4000


def test_a_drawn_map_is_reused_until_the_memories_change(editor, space, actor, mapped):
    memories, _ = mapped
    first = editor.get("/s/home/map/").content.decode()
    with CaptureQueriesContext(connection) as drawing_again:
        again = editor.get("/s/home/map/").content.decode()
    assert not any("maps_mappoint" in q["sql"] for q in drawing_again.captured_queries)
    assert figure_of(again) == figure_of(first)

    # Each change is seen on the next view, though the map was drawn before it.
    services.update_memory(space, actor, memories[0].pk, expected_version=None, kind="episodic")
    kinds = figure_of(editor.get("/s/home/map/?colour=kind").content.decode())
    assert "Episodic" in [t["name"] for t in kinds["data"]]
    services.delete_memory(space, actor, memories[1].pk)
    assert figure_of(editor.get("/s/home/map/").content.decode())["points"]["gaps"] == [1]


def test_the_cached_map_holds_no_memory_text(editor, mapped):
    memories, _ = mapped
    html = editor.get("/s/home/map/").content.decode()
    assert memories[0].content in html  # listed under the map

    client = cache._cache.get_client(None)  # type: ignore[attr-defined]
    stored = [client.get(key) for key in client.scan_iter()]
    assert any(b"map:" in key for key in client.scan_iter())
    assert not any(b"note 0" in value for value in stored if value)


def test_a_new_projection_is_drawn_anew(editor, space, mapped):
    memories, _ = mapped
    editor.get("/s/home/map/")
    draw_map(space, memories[:2])
    assert figure_of(editor.get("/s/home/map/").content.decode())["points"]["count"] == 2


def test_deleted_memories_leave_gaps_the_page_numbers_around(editor, space, actor, mapped):
    memories, _ = mapped
    services.delete_memory(space, actor, memories[2].pk)
    figure = figure_of(editor.get("/s/home/map/").content.decode())
    assert figure["points"]["count"] == 5 and figure["points"]["gaps"] == [2]


@pytest.mark.parametrize(
    ("colour", "names"),
    [("kind", ["Preference", "Semantic fact"]), ("status", ["active"]), ("age", ["memories"])],
)
def test_it_colours_by_other_properties(editor, mapped, colour, names):
    figure = figure_of(editor.get(f"/s/home/map/?colour={colour}").content.decode())
    assert [t["name"] for t in figure["data"]] == names


def test_the_htmx_answer_is_the_panel(editor, mapped):
    body = editor.get(
        "/s/home/map/?colour=duplicates", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="map-panel"
    ).content.decode()
    assert body.lstrip().startswith('<div id="map-panel"') and "<html" not in body
    assert [t["name"] for t in figure_of(body)["data"]] == ["no close copy"]


def test_it_counts_memories_not_yet_on_the_map(editor, space, actor, mapped, embed_now):
    services.create_memory(space, actor, content="arrived later")
    embed_now(space)
    assert "1 memory is not on this map yet" in editor.get("/s/home/map/").content.decode()


def test_the_count_leaves_out_what_no_map_can_show_and_what_this_one_shows(
    editor, space, actor, mapped, embed_now
):
    memories, _ = mapped
    later = services.create_memory(space, actor, content="arrived later")
    embed_now(space)
    # On the map, but its vector is gone until the edit is embedded: not to count.
    services.update_memory(
        space, actor, memories[0].pk, expected_version=None, content="note 0, edited"
    )
    services.create_memory(space, actor, content="not embedded yet")  # no map could show it
    services.change_status(space, actor, memories[1].pk, "delete")  # on the map, gone
    html = editor.get("/s/home/map/").content.decode()
    assert "1 memory is not on this map yet" in html
    services.change_status(space, actor, later.pk, "delete")
    assert "not on this map yet" not in editor.get("/s/home/map/").content.decode()


def test_a_point_opens_its_memory_or_its_hover_card(editor, mapped):
    memories, projection = mapped
    url = f"/s/home/map/{projection.pk}/points/3/"
    assert editor.get(url)["Location"] == f"/s/home/memories/{memories[3].pk}/"
    card = editor.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert "note 3" in card and "<html" not in card
    assert editor.get(f"/s/home/map/{projection.pk}/points/99/").status_code == 404


def test_a_selection_lists_its_memories_with_bulk_actions(editor, mapped):
    memories, projection = mapped
    response = editor.post(
        f"/s/home/map/{projection.pk}/selection/", {"ordinals": "1,4,junk"}, HTTP_HX_REQUEST="true"
    )
    html = response.content.decode()
    assert response.status_code == 200 and "2 selected" in html
    assert "note 1" in html and "note 4" in html and "note 2" not in html
    assert f'name="ids" value="{memories[1].pk}"' in html
    assert 'name="return_to" value="/s/home/map/?colour=cluster"' in html


def test_a_bulk_action_from_the_map_returns_to_the_map(editor, space, mapped):
    memories, _ = mapped
    response = editor.post(
        "/s/home/bulk/",
        {
            "action": "archive",
            "ids": [memories[1].pk, memories[4].pk],
            "confirmed": "1",
            "return_to": "/s/home/map/",
        },
    )
    assert response["Location"] == "/s/home/map/"
    elsewhere = editor.post(
        "/s/home/bulk/",
        {
            "action": "restore",
            "ids": [memories[1].pk],
            "confirmed": "1",
            "return_to": "https://example.com/",
        },
    )
    assert elsewhere["Location"] == "/s/home/memories/"


def test_another_spaces_map_is_not_found(space, outsider_space, mapped):
    _, projection = mapped
    outsider = member(outsider_space, "olga", Role.ADMIN)
    assert outsider.get("/s/home/map/").status_code == 404
    own = member(outsider_space, "oscar", Role.ADMIN)
    assert own.get(f"/s/{outsider_space.slug}/map/{projection.pk}/points/0/").status_code == 404
    selection = own.post(
        f"/s/{outsider_space.slug}/map/{projection.pk}/selection/", {"ordinals": "0"}
    )
    assert selection.status_code == 404


def test_an_htmx_navigation_to_the_map_gets_the_whole_page(editor, mapped):
    # As after a bulk action: HX-Location swaps the body with the page.
    body = editor.get("/s/home/map/", HTTP_HX_REQUEST="true").content.decode()
    assert "<html" in body and 'id="map-panel"' in body


def test_names_in_the_figure_cannot_close_its_script(editor, space, actor, mapped):
    memories, _ = mapped
    services.update_memory(
        space, actor, memories[0].pk, expected_version=1, agent="</script><b>bot</b>"
    )
    html = editor.get("/s/home/map/?colour=agent").content.decode()
    assert "</script><b>" not in html
    names = [trace["name"] for trace in figure_of(html)["data"]]
    assert names == ["</script><b>bot</b>", "no agent"]


def test_without_clusters_the_map_is_coloured_by_kind(
    editor, space, actor, hashing_backend, embed_now
):
    memories = services.create_memories(
        space,
        actor,
        [{"content": f"n{i}", "kind": "fact" if i % 2 else "episodic"} for i in range(4)],
    )
    embed_now(space)
    draw_map(space, memories, clusters=[-1] * 4)
    html = editor.get("/s/home/map/").content.decode()
    figure = figure_of(html)
    # Not one grey "no cluster" trace: something to tell the points apart.
    assert [t["name"] for t in figure["data"]] == ["Episodic", "Semantic fact"]
    assert '<option value="kind" selected>' in html
    assert "in no clusters" in html


def test_points_are_drawn_large_enough_to_see(editor, mapped):
    figure = figure_of(editor.get("/s/home/map/").content.decode())
    assert all(trace["marker"]["size"] == 12 for trace in figure["data"])


@pytest.mark.parametrize(("count", "size"), [(1, 12), (500, 12), (501, 8), (100_000, 5)])
def test_points_shrink_only_as_they_crowd(count, size):
    from apps.dashboard.views.maps import point_size

    assert point_size(count) == size


def test_the_points_are_listed_with_links_for_whoever_cannot_point(editor, mapped):
    memories, _ = mapped
    html = editor.get("/s/home/map/").content.decode()
    listing = html[html.index('<details class="map-points">') :]
    listing = listing[: listing.index("</details>")]
    # Every plotted memory, cluster by cluster, those in none last.
    links = [f'href="/s/home/memories/{m.pk}/"' for m in memories]
    assert all(link in listing for link in links)
    assert listing.index(links[4]) < listing.index(links[5])
    assert "cluster 1" in listing and "none" in listing


def test_the_points_list_leaves_out_deleted_memories_and_says_when_it_is_cut(
    editor, space, actor, mapped, monkeypatch
):
    from apps.dashboard.views import maps as map_views

    memories, _ = mapped
    services.change_status(space, actor, memories[0].pk, "delete")
    monkeypatch.setattr(map_views, "LISTED_POINTS", 3)
    html = editor.get("/s/home/map/").content.decode()
    assert "the first 3 of 5" in html
    assert f'href="/s/home/memories/{memories[0].pk}/"' not in html


def test_a_selection_keeps_the_chosen_colouring_for_the_way_back(editor, mapped):
    memories, projection = mapped
    html = editor.get("/s/home/map/?colour=status").content.decode()
    assert f'/s/home/map/{projection.pk}/selection/?colour=status"' in html
    selection = editor.post(
        f"/s/home/map/{projection.pk}/selection/?colour=status",
        {"ordinals": "1"},
        HTTP_HX_REQUEST="true",
    ).content.decode()
    assert 'name="return_to" value="/s/home/map/?colour=status"' in selection
    done = editor.post(
        "/s/home/bulk/",
        {
            "action": "archive",
            "ids": [memories[1].pk],
            "confirmed": "1",
            "return_to": "/s/home/map/?colour=status",
        },
        HTTP_HX_REQUEST="true",
    )
    # After the action the map comes back coloured as it was.
    assert "/s/home/map/?colour=status" in done["HX-Location"]
    memories[1].refresh_from_db()
    assert memories[1].status == "archived"
    after = editor.get("/s/home/map/?colour=status").content.decode()
    assert [t["name"] for t in figure_of(after)["data"]] == ["active", "archived"]


def test_an_unknown_colouring_on_a_selection_falls_back_to_the_default(editor, mapped):
    _, projection = mapped
    selection = editor.post(
        f"/s/home/map/{projection.pk}/selection/?colour=%3Cb%3E", {"ordinals": "1"}
    ).content.decode()
    assert 'name="return_to" value="/s/home/map/?colour=cluster"' in selection

"""The graph explorer page: starting points, the figure, recentring, roles, errors."""

from __future__ import annotations

import pytest

from apps.memories import services
from apps.spaces.models import Role
from tests.dashboard.conftest import figure_in, member

pytestmark = pytest.mark.django_db


@pytest.fixture
def linked(space, actor):
    a, b, c = services.create_memories(
        space,
        actor,
        [{"content": "Maya signed up."}, {"content": "Maya trains."}, {"content": "Old plan."}],
    )
    services.link_memories(space, actor, a.pk, b.pk, "related_to")
    services.link_memories(space, actor, b.pk, c.pk, "supersedes")
    return a, b, c


def figure_of(html):
    return figure_in(html, "graph-figure")


def test_it_offers_starting_points_without_a_centre(viewer, linked):
    html = viewer.get("/s/home/graph/").content.decode()
    assert "Pick where to start" in html
    assert f"?center=memory:{linked[0].pk}" in html


def test_it_draws_the_neighbourhood_with_a_trace_per_edge_type(viewer, linked):
    a, _, c = linked
    response = viewer.get(f"/s/home/graph/?center=memory:{a.pk}&hops=2")
    html = response.content.decode()
    assert response.status_code == 200
    figure = figure_of(html)
    names = [trace["name"] for trace in figure["data"]]
    assert names == ["related to", "supersedes", "memories"]
    markers = figure["data"][-1]
    assert len(markers["x"]) == 3
    # Clicking a node recentres on it: its customdata is that graph's URL.
    assert f"/s/home/graph/?center=memory:{c.pk}&hops=2" in markers["customdata"]
    assert "plotly/plotly.min.js" in html
    assert f'href="/s/home/memories/{c.pk}/"' in html  # every node is also a plain link


def test_recentring_through_htmx_answers_the_panel_only(viewer, linked):
    b = linked[1]
    response = viewer.get(
        f"/s/home/graph/?center=memory:{b.pk}", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="graph-panel"
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith('<div id="graph-panel"') and "<html" not in body
    assert len(figure_of(body)["data"][-1]["x"]) == 3  # b and both neighbours


def test_edge_type_filters_narrow_the_graph(viewer, linked):
    a = linked[0]
    html = viewer.get(f"/s/home/graph/?center=memory:{a.pk}&hops=3&types=supersedes").content
    assert len(figure_of(html.decode())["data"][-1]["x"]) == 1


def test_it_says_what_the_node_cap_left_out(viewer, space, actor, settings, monkeypatch):
    from apps.memories import graph

    monkeypatch.setattr(graph, "DEFAULT_NODE_CAP", 3)
    hub, *spokes = services.create_memories(space, actor, [{"content": f"n{i}"} for i in range(6)])
    for spoke in spokes:
        services.link_memories(space, actor, hub.pk, spoke.pk, "related_to")
    html = viewer.get(f"/s/home/graph/?center=memory:{hub.pk}").content.decode()
    assert "3 more not shown" in html


def test_it_answers_404_for_outsiders_and_unknown_centres(viewer, linked, outsider_space):
    outsider = member(outsider_space, "olga", Role.ADMIN)
    assert outsider.get(f"/s/home/graph/?center=memory:{linked[0].pk}").status_code == 404
    assert viewer.get(f"/s/home/graph/?center=memory:{'0' * 32}").status_code == 404


def test_a_malformed_centre_is_a_form_error(viewer, linked):
    response = viewer.get("/s/home/graph/?center=memory:not-an-id")
    assert response.status_code == 400
    assert "center must be memory:" in response.content.decode()


@pytest.fixture
def queued_recalls(monkeypatch):
    """Every access-log write a search queues, instead of sending it to the broker."""
    from apps.retrieval import tasks

    queued: list[tuple] = []

    def delay(space_id, ids, at, query, mode, actor, recall_id=None):
        queued.append((space_id, ids, query))

    monkeypatch.setattr(tasks.record_recall, "delay", delay)
    return queued


def test_words_centre_the_graph_on_the_best_matching_memory(viewer, linked, queued_recalls):
    b = linked[1]
    response = viewer.get("/s/home/graph/?center=trains")
    html = response.content.decode()
    assert response.status_code == 200
    assert "“trains” matched “Maya trains.”" in html
    # The field now holds the centre itself, and the figure is drawn around it.
    assert f'value="memory:{b.pk}"' in html
    assert len(figure_of(html)["data"][-1]["x"]) == 3
    assert queued_recalls == []  # looking a centre up is not a recall by anyone


def test_words_naming_an_entity_centre_on_that_entity(viewer, space, actor, linked):
    from apps.memories.models import Entity

    maya = Entity.objects.for_space(space).create(
        space=space, name="Maya Okafor", normalized_name="maya okafor", kind="person"
    )
    html = viewer.get("/s/home/graph/?center=maya+okafor").content.decode()
    assert "matched the entity Maya Okafor" in html
    assert f'value="entity:{maya.pk}"' in html


def test_words_matching_nothing_are_a_form_error_with_the_starting_points(viewer, linked):
    response = viewer.get("/s/home/graph/?center=zeppelin")
    html = response.content.decode()
    assert response.status_code == 400
    assert "No memory or entity in this space matches “zeppelin”" in html
    assert 'aria-invalid="true"' in html and 'value="zeppelin"' in html
    assert f"?center=memory:{linked[0].pk}" in html  # somewhere to start instead


def test_the_centre_field_follows_a_recentring_swap(viewer, linked):
    c = linked[2]
    response = viewer.get(
        f"/s/home/graph/?center=memory:{c.pk}&hops=2",
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="graph-panel",
    )
    body = response.content.decode()
    # The form is part of the swapped panel, so its field shows the new centre.
    assert f'name="center" id="id_center" value="memory:{c.pk}"' in body
    assert '<option value="2" selected>' in body
    assert "Centred on" in body and "Old plan." in body

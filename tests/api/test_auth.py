"""Who may call the API: tokens, scopes, sessions, other spaces, rate limits."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from rest_framework.test import APIClient

from apps.memories.models import Episode, Link, Memory
from apps.spaces.models import ApiToken, Membership, Role, Space
from tests.api.conftest import ADMIN, READ, WRITE, error_of

pytestmark = pytest.mark.django_db


def test_it_refuses_a_request_without_a_token(space):
    response = APIClient().get("/api/v1/memories")
    assert response.status_code == 401
    assert error_of(response)["code"] == "not_authenticated"
    assert response["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize(
    "header",
    ["Bearer mw_nope_nope", "Bearer", "Bearer not-even-the-format", "Bearer mw_x_y_z"],
)
def test_it_refuses_an_unknown_token(space, header):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    response = client.get("/api/v1/memories")
    assert response.status_code == 401
    assert error_of(response)["code"] == "authentication_failed"


def test_it_stops_accepting_a_token_as_soon_as_it_is_revoked(writer):
    assert writer.get("/api/v1/memories").status_code == 200
    ApiToken.objects.filter(pk=writer.token.pk).update(revoked_at=timezone.now())
    response = writer.get("/api/v1/memories")
    assert response.status_code == 401
    assert error_of(response)["code"] == "authentication_failed"


def test_it_refuses_an_expired_token(agent_for, space):
    client = agent_for(space, WRITE, expires_at=timezone.now() - timedelta(seconds=1))
    assert client.get("/api/v1/memories").status_code == 401


def test_it_needs_the_write_scope_to_write(reader, space):
    response = reader.post("/api/v1/memories", {"content": "x"}, format="json")
    assert response.status_code == 403
    assert "memories:write" in error_of(response)["message"]
    assert not Memory.objects.for_space(space).exists()


def test_it_needs_the_admin_scope_to_purge(writer, admin_agent, space):
    memory_id = writer.post("/api/v1/memories", {"content": "secret"}, format="json").json()["id"]
    refused = writer.post(f"/api/v1/memories/{memory_id}/purge", {"reason": "x"}, format="json")
    assert refused.status_code == 403
    assert Memory.objects.for_space(space).filter(pk=memory_id).exists()
    done = admin_agent.post(
        f"/api/v1/memories/{memory_id}/purge", {"reason": "asked"}, format="json"
    )
    assert done.status_code == 200
    assert not Memory.objects.for_space(space).filter(pk=memory_id).exists()


def test_it_records_when_a_token_was_last_used(writer):
    assert writer.token.last_used_at is None
    writer.get("/api/v1/memories")
    writer.token.refresh_from_db()
    assert writer.token.last_used_at is not None


def _memory_in(client: APIClient) -> str:
    response = client.post("/api/v1/memories", {"content": "Bob parks on level 4"}, format="json")
    assert response.status_code == 201
    return str(response.json()["id"])


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("get", "/api/v1/memories/{id}", None),
        ("patch", "/api/v1/memories/{id}", {"content": "stolen"}),
        ("delete", "/api/v1/memories/{id}", None),
        ("post", "/api/v1/memories/{id}/archive", {}),
        ("post", "/api/v1/memories/{id}/restore", {}),
        ("post", "/api/v1/memories/{id}/purge", {"reason": "x"}),
        ("post", "/api/v1/memories/{id}/supersede", {"memory": {"content": "mine"}}),
        ("get", "/api/v1/memories/{id}/versions", None),
        ("get", "/api/v1/memories/{id}/versions/1", None),
        ("post", "/api/v1/memories/{id}/revert", {"version": 1}),
        (
            "post",
            "/api/v1/memories/{id}/redact",
            {"spans": [{"start": 0, "end": 5, "type": "name"}], "reason": "x"},
        ),
        ("get", "/api/v1/memories/{id}/access", None),
        ("get", "/api/v1/memories/{id}/links", None),
    ],
)
def test_it_answers_404_for_another_spaces_memory(writer, outsider, space, method, path, body):
    memory_id = _memory_in(writer)
    response = getattr(outsider, method)(path.format(id=memory_id), body, format="json")
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"
    memory = Memory.objects.for_space(space).get(pk=memory_id)
    assert (memory.content, memory.status, memory.version) == ("Bob parks on level 4", "active", 1)


def test_it_never_lists_or_finds_another_spaces_rows(writer, outsider, space):
    memory_id = _memory_in(writer)
    assert outsider.get("/api/v1/memories?status=any").json()["results"] == []
    found = outsider.post("/api/v1/search", {"query": "PIN", "mode": "text"}, format="json")
    assert found.json()["hits"] == []
    # Paired with one of the outsider's own memories: a foreign id must not
    # become usable by being mixed with ids the caller may touch.
    own_id = _memory_in(outsider)
    merge = outsider.post("/api/v1/memories/merge", {"ids": [own_id, memory_id]}, format="json")
    assert merge.status_code == 404
    link = outsider.post(
        "/api/v1/links",
        {"source": own_id, "target": memory_id, "type": "related_to"},
        format="json",
    )
    assert link.status_code == 404
    assert not Link.objects.for_space(space).exists()


def test_it_lets_a_person_use_the_api_with_their_session_and_csrf(space, alice):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(alice)
    without_csrf = client.post("/api/v1/memories", {"content": "from the browser"}, format="json")
    assert without_csrf.status_code == 403
    assert "CSRF" in error_of(without_csrf)["message"]
    client.get("/login/")  # sets the csrftoken cookie
    csrf = client.cookies["csrftoken"].value
    response = client.post(
        "/api/v1/memories", {"content": "from the browser"}, format="json", HTTP_X_CSRFTOKEN=csrf
    )
    assert response.status_code == 201
    memory = Memory.objects.for_space(space).get(pk=response.json()["id"])
    assert memory.versions.get().actor_label == "user:alice"


def test_it_gives_a_viewer_read_access_only(space):
    viewer = get_user_model().objects.create_user("victor", password="pw-long-enough-1")
    Membership.objects.create(space=space, user=viewer, role=Role.VIEWER)
    client = APIClient()
    client.force_login(viewer)
    assert client.get("/api/v1/memories").status_code == 200
    response = client.post("/api/v1/memories", {"content": "x"}, format="json")
    assert response.status_code == 403


def test_it_asks_a_member_of_several_spaces_which_one(space, outsider_space, alice):
    Membership.objects.create(space=outsider_space, user=alice, role=Role.VIEWER)
    client = APIClient()
    client.force_login(alice)
    unsure = client.get("/api/v1/memories")
    assert unsure.status_code == 400
    assert "space" in error_of(unsure)["details"]
    assert client.get("/api/v1/memories?space=outsider").status_code == 200
    assert client.get("/api/v1/memories", HTTP_X_SPACE="home").status_code == 200
    stranger = Space.objects.create(slug="stranger", name="Stranger")
    assert client.get(f"/api/v1/memories?space={stranger.slug}").status_code == 404


def test_it_rate_limits_each_token_with_retry_after(agent_for, space, settings):
    settings.API_RATE_LIMIT = (3, 60)
    client = agent_for(space, READ)
    other = agent_for(space, READ)
    statuses = [client.get("/api/v1/memories").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    limited = client.get("/api/v1/memories")
    assert error_of(limited)["code"] == "rate_limited"
    assert 1 <= int(limited["Retry-After"]) <= 60
    assert other.get("/api/v1/memories").status_code == 200  # per token


def test_it_lets_an_admin_token_do_everything(admin_agent):
    assert admin_agent.post("/api/v1/memories", {"content": "x"}, format="json").status_code == 201
    assert admin_agent.get("/api/v1/tokens").status_code == 200


def test_it_keeps_tokens_admin_only(writer, reader):
    assert writer.get("/api/v1/tokens").status_code == 403
    assert (
        reader.post("/api/v1/tokens", {"name": "x", "scopes": ADMIN}, format="json").status_code
        == 403
    )


def test_it_answers_json_404_for_unknown_api_paths(writer):
    response = writer.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"


def test_it_answers_404_for_another_spaces_episodes_and_links(writer, outsider, space):
    stored = writer.post(
        "/api/v1/episodes",
        {"session": "s1", "remember": True, "messages": [{"speaker": "Bob", "content": "Hi."}]},
        format="json",
    )
    assert stored.status_code == 201, stored.content
    episode_id = Episode.objects.for_space(space).get().pk
    first, second = _memory_in(writer), _memory_in(writer)
    link = writer.post(
        "/api/v1/links", {"source": first, "target": second, "type": "related_to"}, format="json"
    )
    assert link.status_code == 201, link.content
    link_id = link.json()["id"]
    for method, path in (
        ("get", f"/api/v1/episodes/{episode_id}"),
        ("get", f"/api/v1/episodes/{episode_id}/memories"),
        ("get", f"/api/v1/links/{link_id}"),
        ("delete", f"/api/v1/links/{link_id}"),
    ):
        response = getattr(outsider, method)(path)
        assert response.status_code == 404, (method, path)
        assert error_of(response)["code"] == "not_found"
    assert outsider.get("/api/v1/episodes").json()["results"] == []
    assert outsider.get("/api/v1/links").json()["results"] == []
    assert Link.objects.for_space(space).filter(pk=link_id).exists()

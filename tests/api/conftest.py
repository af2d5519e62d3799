from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from apps.spaces.models import ApiToken, Scope, Space

READ = [Scope.MEMORIES_READ]
WRITE = [Scope.MEMORIES_READ, Scope.MEMORIES_WRITE]
ADMIN = [Scope.ADMIN]


def bearer(raw: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


@pytest.fixture
def agent_for(db: Any) -> Callable[..., APIClient]:
    """A client holding a fresh token of `space` with `scopes`."""
    count = 0

    def make(space: Space, scopes: list[str], **options: Any) -> APIClient:
        nonlocal count
        count += 1
        token, raw = ApiToken.issue(
            space=space, name=f"agent-{count}", scopes=list(scopes), **options
        )
        client = bearer(raw)
        client.token = token  # type: ignore[attr-defined]
        return client

    return make


@pytest.fixture
def writer(agent_for: Callable[..., APIClient], space: Space) -> APIClient:
    return agent_for(space, WRITE)


@pytest.fixture
def reader(agent_for: Callable[..., APIClient], space: Space) -> APIClient:
    return agent_for(space, READ)


@pytest.fixture
def admin_agent(agent_for: Callable[..., APIClient], space: Space) -> APIClient:
    return agent_for(space, ADMIN)


@pytest.fixture
def outsider(agent_for: Callable[..., APIClient], outsider_space: Space) -> APIClient:
    """An admin of another space: sees nothing of `space`."""
    return agent_for(outsider_space, ADMIN)


def error_of(response: Any) -> dict[str, Any]:
    """The error body, checked to have the one shape every API error has."""
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "details"}, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return dict(body["error"])

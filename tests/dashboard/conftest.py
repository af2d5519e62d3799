"""People signed in to the dashboard, one client each, for the page tests."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from apps.spaces.models import Membership, Role, Space


def member(space: Space, name: str, role: str) -> Client:
    """A client signed in as a new user with `role` in `space`."""
    user = get_user_model().objects.create_user(name, password="pw-long-enough-1")
    Membership.objects.create(space=space, user=user, role=role)
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def editor(space: Space, alice: Any) -> Client:
    client = Client()
    client.force_login(alice)
    return client


@pytest.fixture
def viewer(space: Space) -> Client:
    return member(space, "victor", Role.VIEWER)


@pytest.fixture
def admin(space: Space) -> Client:
    return member(space, "ada", Role.ADMIN)


@pytest.fixture
def outsider(outsider_space: Space) -> Client:
    """An admin of another space, and nothing of `space`."""
    return member(outsider_space, "olga", Role.ADMIN)


def messages_of(response: Any) -> list[str]:
    """The flash messages the request queued, in order."""
    return [str(m) for m in response.wsgi_request._messages]


def figure_in(html: str, element_id: str) -> dict[str, Any]:
    """The plotly figure a page carries in <script id=element_id type=application/json>."""
    found = re.search(
        rf'<script id="{element_id}" type="application/json">(.*?)</script>', html, re.S
    )
    assert found, f"no {element_id} on the page"
    return dict(json.loads(found.group(1)))

"""The MCP server over stdio, as a desktop client launches it: `manage.py mcp` in a
child process on the test database, driven by the official client."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest
from django.conf import settings
from django.utils import timezone
from mcp import Client, StdioServerParameters

from apps.audit.models import AuditEvent
from apps.memories.models import Memory
from apps.spaces.models import ApiToken, Space
from tests.conftest import worker_env
from tests.mcp.conftest import READ, WRITE, error_of, run_client, text_of

pytestmark = pytest.mark.django_db(transaction=True)


def stdio_client(*args: str, **env: str) -> Client:
    return Client(
        StdioServerParameters(
            command=sys.executable,
            args=["manage.py", "mcp", *args],
            env=worker_env(**env),
            cwd=str(settings.BASE_DIR),
        )
    )


@pytest.fixture
def home(transactional_db: Any) -> Space:
    return Space.objects.create(slug="home", name="Home")


def test_it_serves_the_tools_over_stdio_as_the_token(
    home: Space, token_for: Callable[..., str]
) -> None:
    raw = token_for(home, WRITE)

    async def session(client: Client) -> tuple[list[str], Any, Any]:
        tools = await client.list_tools()
        stored = await client.call_tool(
            "remember", {"content": "Maya prefers window seats.", "subject": "Maya"}
        )
        found = await client.call_tool("recall", {"query": "window seats", "mode": "text"})
        return [t.name for t in tools.tools], stored, found

    names, stored, found = run_client(stdio_client("--token", raw), session)
    assert "recall" in names and "remember" in names
    memory = Memory.objects.for_space(home).get()
    assert (memory.content, memory.subject) == ("Maya prefers window seats.", "Maya")
    assert stored.structured_content["id"] == str(memory.pk)
    assert f"id {memory.pk}" in text_of(found)
    token = ApiToken.objects.get(space=home)
    assert (
        AuditEvent.objects.for_space(home)
        .filter(action="memory.create", actor_token=token, target_id=str(memory.pk))
        .exists()
    )


def test_it_takes_the_token_from_the_environment_with_its_scopes(
    home: Space, token_for: Callable[..., str]
) -> None:
    reader = token_for(home, READ)

    async def session(client: Client) -> Any:
        return await client.call_tool("remember", {"content": "Injected."})

    error = error_of(run_client(stdio_client(MEMORYWEB_TOKEN=reader), session))
    assert error["code"] == "forbidden"
    assert not Memory.objects.for_space(home).exists()


def test_it_will_not_start_with_a_revoked_or_missing_token(home: Space) -> None:
    token, raw = ApiToken.issue(space=home, name="revoked", scopes=WRITE)
    token.revoked_at = timezone.now()
    token.save(update_fields=["revoked_at"])
    env = worker_env()
    env.pop("MEMORYWEB_TOKEN", None)
    for args in (["--token", raw], []):
        finished = subprocess.run(
            [sys.executable, "manage.py", "mcp", *args],
            cwd=settings.BASE_DIR,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            stdin=subprocess.DEVNULL,
        )
        assert finished.returncode != 0
        assert "token" in finished.stderr, finished.stderr

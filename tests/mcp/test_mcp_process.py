"""`make run`'s MCP process, started from the Procfile as honcho starts it: it serves
streamable HTTP at /mcp on MEMORYWEB_MCP_PORT, and a health answer for containers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from apps.memories.models import Memory
from apps.spaces.models import Space
from tests.mcp.conftest import WRITE, http_client, run_client, text_of

pytestmark = pytest.mark.django_db(transaction=True)


def test_it_serves_mcp_from_the_procfile(procfile_mcp: str, token_for: Callable[..., str]) -> None:
    home = Space.objects.create(slug="home", name="Home")
    raw = token_for(home, WRITE)
    assert httpx.get(f"{procfile_mcp}/mcp").status_code == 401

    async def session(client: Any) -> Any:
        return await client.call_tool("remember", {"content": "Maya likes figs."})

    result = run_client(http_client(f"{procfile_mcp}/mcp", raw), session)
    assert not result.is_error, text_of(result)
    assert Memory.objects.for_space(home).get().content == "Maya likes figs."

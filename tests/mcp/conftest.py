"""The MCP server as clients meet it: over streamable HTTP from a uvicorn server in this
test session, and over stdio from `manage.py mcp` in a child process, both driven by
the official `mcp` client. Tests are transactional: the server answers from other
threads (and processes), which see only committed rows."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
import uvicorn
from django.conf import settings
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp_types import CallToolResult

from apps.mcp.http import PATH, build_app
from apps.spaces.models import ApiToken, Scope, Space
from tests.conftest import free_port, worker_env
from tests.test_dev_server import procfile_command

READ: list[str] = [Scope.MEMORIES_READ]
WRITE: list[str] = [Scope.MEMORIES_READ, Scope.MEMORIES_WRITE]


@pytest.fixture(scope="session")
def mcp_url(django_db_setup: Any, django_db_blocker: Any) -> Iterator[str]:
    """The streamable HTTP app, served by uvicorn in a thread of this process."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(build_app(), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    with django_db_blocker.unblock():
        thread.start()
        deadline = time.monotonic() + 30
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("the MCP server did not start")
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}{PATH}"
        server.should_exit = True
        thread.join(timeout=10)
        _close_server_connections()


def _close_server_connections() -> None:
    """The server's threads keep their database connections (CONN_MAX_AGE), and the test
    database cannot be dropped while any is open: end them from here."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


def http_client(url: str, raw_token: str) -> Client:
    headers = {"Authorization": f"Bearer {raw_token}"}
    return Client(streamable_http_client(url, http_client=create_mcp_http_client(headers=headers)))


def run_client(client: Client, session: Callable[[Client], Awaitable[Any]]) -> Any:
    """Open `client`, run `session` with it, close it; from a synchronous test."""

    async def main() -> Any:
        async with client:
            return await session(client)

    # In a thread of its own: after the browser tests, Playwright's event loop is still
    # running in this one, and an event loop cannot start inside another.
    with ThreadPoolExecutor(max_workers=1) as thread:
        return thread.submit(anyio.run, main).result()


@pytest.fixture
def token_for(transactional_db: Any) -> Callable[..., str]:
    """A fresh raw token of `space` with `scopes`."""

    def make(space: Space, scopes: list[str]) -> str:
        _, raw = ApiToken.issue(
            space=space, name=f"agent-{ApiToken.objects.count() + 1}", scopes=scopes
        )
        return raw

    return make


@pytest.fixture
def call(mcp_url: str) -> Callable[..., CallToolResult]:
    """Call one tool over streamable HTTP with `raw_token`."""

    def call_tool(raw_token: str, name: str, **arguments: Any) -> CallToolResult:
        return run_client(http_client(mcp_url, raw_token), lambda c: c.call_tool(name, arguments))

    return call_tool


def text_of(result: CallToolResult) -> str:
    return "\n".join(getattr(part, "text", "") for part in result.content)


def error_of(result: CallToolResult) -> dict[str, Any]:
    """A tool error: flagged, worded as the REST error body, with its code."""
    assert result.is_error, text_of(result)
    assert result.structured_content is not None
    error = dict(result.structured_content["error"])
    assert text_of(result).startswith(f"{error['code']}: {error['message']}")
    return error


@pytest.fixture
def procfile_mcp(transactional_db: Any, tmp_path: Path) -> Iterator[str]:
    """The Procfile's `mcp` process as `make run` starts it, on a free port: its base URL."""
    port = free_port()
    log_path = tmp_path / "mcp.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            ["/bin/sh", "-c", procfile_command("mcp")],
            cwd=settings.BASE_DIR,
            env=worker_env(MEMORYWEB_MCP_PORT=str(port)),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"the mcp process did not answer:\n{log_path.read_text()}")
            time.sleep(0.2)
        yield base
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)

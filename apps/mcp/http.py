"""The MCP server over streamable HTTP, as an ASGI app of its own process (`manage.py mcp
--http`, the `mcp` line of the Procfile and the compose file).

Why not mounted in the web process: gunicorn runs sync workers, and an MCP client may
hold a stream open for as long as its session lasts; a few clients would tie up every
worker the dashboard and the REST API need. An async server (uvicorn) holds those for
free, and the tools still answer through the same in-process API (dispatch.py).

The door checks the bearer token before any MCP message is read: a missing, unknown,
revoked or expired token gets the API's 401 body, so a client without a valid token
cannot even list the tools.
"""

from __future__ import annotations

import json
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections
from mcp.server.transport_security import TransportSecuritySettings
from starlette.types import ASGIApp, Receive, Scope, Send

from apps.mcp.server import build_server
from apps.spaces.models import ApiToken

PATH = "/mcp"
# Answered without a token, for container health checks: the process is up and serving.
HEALTH_PATH = "/health"


def build_app(host: str = "127.0.0.1") -> ASGIApp:
    server = build_server()
    inner = server.streamable_http_app(
        streamable_http_path=PATH,
        # Each call stands alone (the token comes with it), and answers as JSON rather
        # than an event stream: nothing to keep between requests, any replica can answer.
        stateless_http=True,
        json_response=True,
        transport_security=_transport_security(),
        host=host,
    )
    return TokenDoor(inner)


def _transport_security() -> TransportSecuritySettings:
    """DNS-rebinding protection with the hosts the site itself answers (ALLOWED_HOSTS)."""
    hosts = [h for h in settings.ALLOWED_HOSTS if h and "*" not in h]
    if "*" in settings.ALLOWED_HOSTS:
        return TransportSecuritySettings(enable_dns_rebinding_protection=False)
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=[*hosts, *(f"{h}:*" for h in hosts)],
        allowed_origins=[
            *(f"{scheme}://{h}" for h in hosts for scheme in ("http", "https")),
            *(f"{scheme}://{h}:*" for h in hosts for scheme in ("http", "https")),
        ],
    )


class TokenDoor:
    """Lets through HTTP requests that carry a live API token; answers the rest 401."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # lifespan: the session manager starts here
            await self.app(scope, receive, send)
            return
        if scope["path"] == HEALTH_PATH:
            await _answer(send, 200, {"status": "ok"})
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        scheme, _, raw = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not raw.strip():
            await _refuse(send, "not_authenticated", "send an API token: Bearer mw_...")
            return
        if not await sync_to_async(_is_live, thread_sensitive=False)(raw.strip()):
            await _refuse(send, "authentication_failed", "invalid, expired or revoked token")
            return
        await self.app(scope, receive, send)


def _is_live(raw_token: str) -> bool:
    try:
        return ApiToken.objects.authenticate(raw_token) is not None
    finally:
        # Outside Django's request cycle nothing else tidies this thread's connection.
        close_old_connections()


async def _refuse(send: Send, code: str, message: str) -> None:
    error = {"error": {"code": code, "message": message, "details": {}}}
    await _answer(send, 401, error, ((b"www-authenticate", b'Bearer realm="memoryweb"'),))


async def _answer(
    send: Send, status: int, data: dict[str, Any], extra: tuple[tuple[bytes, bytes], ...] = ()
) -> None:
    body = json.dumps(data).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *extra,
    ]
    start: dict[str, Any] = {"type": "http.response.start", "status": status, "headers": headers}
    await send(start)
    await send({"type": "http.response.body", "body": body})

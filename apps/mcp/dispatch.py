"""Each MCP tool is a call of a REST endpoint, answered in-process by the whole Django
stack: the same middleware, token check, scopes, throttles, idempotency, audit and
error body as over HTTP. MCP is a second transport to one API, so the two cannot drift
apart (a scope checked in one place, an error worded in another).
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler

# One handler for the process: it loads the middleware chain once, as a WSGI server does.
_handler: WSGIHandler | None = None

# Marks the calls in the access log's request metadata and in server logs.
USER_AGENT = "memoryweb-mcp"


@dataclass
class ApiAnswer:
    status: int
    data: Any
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def error(self) -> dict[str, Any]:
        """The API's error body: {"code", "message", "details"}."""
        body = self.data.get("error") if isinstance(self.data, dict) else None
        if isinstance(body, dict):
            return body
        return {"code": "error", "message": f"the API answered {self.status}", "details": {}}


def call_api(
    token: str,
    method: str,
    path: str,
    *,
    body: Any = None,
    query: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> ApiAnswer:
    """Answer `method path` as the API would answer the same HTTP request with this token."""
    global _handler
    if _handler is None:
        _handler = WSGIHandler()
    payload = b"" if body is None else json.dumps(body).encode()
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "SCRIPT_NAME": "",
        "QUERY_STRING": urlencode(
            {k: v for k, v in (query or {}).items() if v is not None}, doseq=True
        ),
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(payload)),
        "SERVER_NAME": _host(),
        "SERVER_PORT": "443" if settings.SECURE_SSL_REDIRECT else "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": _host(),
        "HTTP_ACCEPT": "application/json",
        "HTTP_USER_AGENT": USER_AGENT,
        "HTTP_AUTHORIZATION": f"Bearer {token}",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "https" if settings.SECURE_SSL_REDIRECT else "http",
        "wsgi.input": io.BytesIO(payload),
        "wsgi.errors": io.StringIO(),
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    for name, value in (headers or {}).items():
        environ["HTTP_" + name.upper().replace("-", "_")] = value
    if settings.SECURE_SSL_REDIRECT:
        # Behind the production proxy the API only answers https requests.
        environ["HTTP_X_FORWARDED_PROTO"] = "https"

    started: dict[str, Any] = {}

    def start_response(
        status: str, response_headers: list[tuple[str, str]], exc_info: Any = None
    ) -> Callable[[bytes], object]:
        started["status"] = int(status.split(" ", 1)[0])
        started["headers"] = dict(response_headers)
        return _no_write

    response = _handler(environ, start_response)
    try:
        raw = b"".join(response)
    finally:
        close = getattr(response, "close", None)
        if close is not None:
            close()  # fires request_finished: the connection is tidied as after any request
    data = json.loads(raw) if raw else None
    return ApiAnswer(started["status"], data, started["headers"])


def _no_write(data: bytes) -> None:
    raise RuntimeError("Django answers through the iterable, never through write()")


def _host() -> str:
    """A host name the site accepts (ALLOWED_HOSTS), for the in-process request."""
    for host in settings.ALLOWED_HOSTS:
        if host and "*" not in host and not host.startswith("."):
            return str(host)
    return "localhost"

"""`manage.py mcp`: the MCP server. Over stdio for desktop clients (the default, with
`--token` or MEMORYWEB_TOKEN), or over streamable HTTP with `--http`."""

from __future__ import annotations

import os
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.spaces.models import ApiToken


class Command(BaseCommand):
    help = "Serve MemoryWeb's MCP tools: stdio (default) or streamable HTTP (--http)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--token", help="the API token the stdio server acts as (default: $MEMORYWEB_TOKEN)"
        )
        parser.add_argument(
            "--http", action="store_true", help="serve streamable HTTP at /mcp instead"
        )
        parser.add_argument("--host", default="127.0.0.1", help="with --http (127.0.0.1)")
        parser.add_argument("--port", type=int, default=8001, help="with --http (8001)")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["http"]:
            self.serve_http(options["host"], options["port"])
        else:
            self.serve_stdio(options["token"] or os.environ.get("MEMORYWEB_TOKEN", ""))

    def serve_stdio(self, token: str) -> None:
        from apps.mcp.server import build_server

        if not token:
            raise CommandError("give an API token: --token mw_... or MEMORYWEB_TOKEN")
        # Refused here, once, rather than on every tool call of a session that cannot work.
        if ApiToken.objects.authenticate(token) is None:
            raise CommandError("invalid, expired or revoked token")
        build_server(token=token).run("stdio")

    def serve_http(self, host: str, port: int) -> None:
        import uvicorn

        from apps.mcp.http import PATH, build_app

        self.stderr.write(f"MCP over streamable HTTP at http://{host}:{port}{PATH}")
        uvicorn.run(build_app(host), host=host, port=port, log_level="info")

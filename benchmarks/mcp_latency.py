"""Recall over MCP against the same search over REST, at 100k memories, in one run.

    .venv/bin/python benchmarks/mcp_latency.py [--size 100000] [--queries 200]

Starts the two servers as `make run` does, one process each: gunicorn (one sync worker)
for REST and the MCP process (uvicorn) for streamable HTTP, both on the same database
and the same benchmark space as benchmarks/search_latency.py (built there, reused here).
A client then times, from its side, `POST /api/v1/search` over keep-alive HTTP and the
`recall` tool over one MCP session, alternating query by query, so both meet the same
cache and the same load. Each server embeds the query with the real model.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from common import ROOT, machine, summary
from django.db import connection
from django.utils import timezone
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from search_latency import build

from apps.retrieval.lexical import refresh_lexicon
from apps.spaces.models import ApiToken, Scope

QUESTIONS = [
    "what did Maya say about the marathon",
    "where does Tomás live now",
    "which food does the user avoid",
    "when is the next team offsite",
    "topic12 w3 w17",
    "topic150 w1 w8 w40",
]


# A line per request would bury the figures.
for noisy in ("httpx", "httpx2", "mcp"):
    logging.getLogger(noisy).setLevel(logging.WARNING)


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def server(command: list[str], health: str) -> Iterator[subprocess.Popen[bytes]]:
    env = {
        **os.environ,
        "DEBUG": "false",
        "MEMORYWEB_RELOAD": "false",
        "MEMORYWEB_EMBEDDING_THREADS": "1",
        # The benchmark's one client sends faster than an agent's rate limit allows.
        "MEMORYWEB_API_RATE_LIMIT": "1000000/minute",
    }
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                if httpx.get(health, timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"{command[0]} did not start")
            time.sleep(0.3)
        yield process
    finally:
        process.terminate()
        process.wait(timeout=60)


async def measure(rest_url: str, mcp_url: str, token: str, mode: str, queries: int) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    rest_ms: list[float] = []
    mcp_ms: list[float] = []
    async with (
        httpx.AsyncClient(base_url=rest_url, headers=headers, timeout=60) as rest,
        Client(
            streamable_http_client(mcp_url, http_client=create_mcp_http_client(headers=headers))
        ) as mcp,
    ):
        for i in range(queries + 20):  # the first 20 of each warm up the caches
            question = f"{QUESTIONS[i % len(QUESTIONS)]} {i}"
            began = time.perf_counter()
            answer = await rest.post(
                "/api/v1/search", json={"query": question, "k": 10, "mode": mode}
            )
            rest_took = (time.perf_counter() - began) * 1000
            answer.raise_for_status()
            began = time.perf_counter()
            result = await mcp.call_tool("recall", {"query": question, "k": 10, "mode": mode})
            mcp_took = (time.perf_counter() - began) * 1000
            if result.is_error:
                raise SystemExit(f"recall failed: {result.content}")
            if i >= 20:
                rest_ms.append(rest_took)
                mcp_ms.append(mcp_took)
    print(f"{mode:6} REST search  {summary(rest_ms)}")
    print(f"{mode:6} MCP recall   {summary(mcp_ms)}")
    overhead = sorted(m - r for m, r in zip(mcp_ms, rest_ms, strict=True))
    print(f"{mode:6} MCP minus REST median {overhead[len(overhead) // 2]:+.2f} ms", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()

    space = build(args.size)
    refresh_lexicon(space.pk)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE) memories_memory")
    token, raw = ApiToken.issue(
        space=space, name=f"mcp-benchmark-{int(time.time())}", scopes=[Scope.MEMORIES_READ]
    )
    connection.close()  # the servers need the database more than this process does
    print(f"machine: {machine()}")
    print(f"space: {args.size} memories; {args.queries} queries per mode, sequential")
    web_port, mcp_port = free_port(), free_port()
    bin_dir = os.path.dirname(sys.executable)
    gunicorn: list[Any] = [f"{bin_dir}/gunicorn", "memoryweb.wsgi", "--workers", "1"]
    with (
        server(
            [*gunicorn, "--bind", f"127.0.0.1:{web_port}"],
            f"http://127.0.0.1:{web_port}/api/v1/health",
        ),
        server(
            [sys.executable, "manage.py", "mcp", "--http", "--port", str(mcp_port)],
            f"http://127.0.0.1:{mcp_port}/health",
        ),
    ):
        for mode in ("text", "hybrid"):
            asyncio.run(
                measure(
                    f"http://127.0.0.1:{web_port}",
                    f"http://127.0.0.1:{mcp_port}/mcp",
                    raw,
                    mode,
                    args.queries,
                )
            )
    token.revoked_at = timezone.now()
    token.save(update_fields=["revoked_at"])


if __name__ == "__main__":
    main()

"""An agent's memory through MemoryWeb's MCP server, with the official `mcp` client.

Remember a short conversation, recall from it, correct a memory the user corrects,
and tell the server which recalled memories helped.

    MEMORYWEB_TOKEN=mw_... python examples/mcp_agent.py

against `make run` (MEMORYWEB_MCP_URL, default http://127.0.0.1:8001/mcp). Make a token
with `python manage.py create_token --space demo --name my-agent --scopes memories:read
memories:write`.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from typing import Any

from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp_types import CallToolResult


class ToolFailed(Exception):
    pass


async def use(client: Client, tool: str, **arguments: Any) -> dict[str, Any]:
    """Call a tool; the model would read the text, a program reads the structured part."""
    result: CallToolResult = await client.call_tool(tool, arguments)
    text = "\n".join(getattr(part, "text", "") for part in result.content)
    print(f"--- {tool}\n{text}")
    if result.is_error:
        raise ToolFailed(text)
    return dict(result.structured_content or {})


async def run(url: str, token: str) -> dict[str, Any]:
    http = create_mcp_http_client(headers={"Authorization": f"Bearer {token}"})
    async with Client(streamable_http_client(url, http_client=http)) as client:
        tools = await client.list_tools()
        print("tools:", ", ".join(tool.name for tool in tools.tools))

        # 1. What was said, as episodes and memories. The key makes a retry safe.
        session = f"call-{uuid.uuid4().hex[:8]}"
        await use(
            client,
            "remember",
            session=session,
            idempotency_key=f"{session}/messages",
            messages=[
                {
                    "role": "user",
                    "speaker": "Maya",
                    "content": "I'm running the Lisbon marathon on October 11.",
                    "occurred_at": "2026-03-01T10:00:00Z",
                },
                {
                    "role": "assistant",
                    "speaker": "coach",
                    "content": "Then your long runs start in June.",
                    "occurred_at": "2026-03-01T10:00:05Z",
                },
            ],
        )
        # ... and one fact the agent drew from it.
        fact = await use(
            client,
            "remember",
            content="Maya's marathon is in Lisbon on October 11.",
            subject="Maya",
            kind="fact",
            tags=["running"],
            occurred_at="2026-03-01T10:00:00Z",
            session=session,
        )

        # 2. Later: what do we know? Text search here, so the example needs no vectors.
        found = await use(
            client, "recall", query="When is Maya's marathon?", subject="Maya", mode="text"
        )
        hits = [hit["memory"] for hit in found["hits"]]
        best = next(memory for memory in hits if memory["id"] == fact["id"])

        # 3. Maya corrects the date: edit what was read, naming the version read.
        corrected = await use(
            client,
            "update_memory",
            memory_id=best["id"],
            expected_version=best["version"],
            content="Maya's marathon is in Lisbon on October 18.",
            reason="Maya said the race moved to October 18",
        )

        # 4. Tell the server which recalled memories helped: they are kept stronger, and
        #    the ones that keep not helping are shown to the people who curate them.
        others = [memory["id"] for memory in hits if memory["id"] != best["id"]]
        feedback = await use(
            client,
            "feedback",
            recall_id=found["recall_id"],
            useful=[best["id"]],
            not_useful=others,
            note="the date question",
        )
        history = await use(client, "history", memory_id=best["id"])
    return {
        "fact": fact,
        "recall": found,
        "corrected": corrected,
        "feedback": feedback,
        "history": history,
    }


if __name__ == "__main__":
    asyncio.run(
        run(
            os.environ.get("MEMORYWEB_MCP_URL", "http://127.0.0.1:8001/mcp"),
            os.environ["MEMORYWEB_TOKEN"],
        )
    )

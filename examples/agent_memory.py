"""An agent's memory through MemoryWeb's REST API, in plain HTTP.

Store a conversation, search it, correct a memory, read its history.

    MEMORYWEB_URL=http://127.0.0.1:8000 MEMORYWEB_TOKEN=mw_... python examples/agent_memory.py

Make a token with `python manage.py create_token --space demo --name my-agent
--scopes memories:read,memories:write`.
"""

from __future__ import annotations

import os
import uuid

import httpx


def run(base_url: str, token: str) -> dict[str, object]:
    api = httpx.Client(
        base_url=f"{base_url.rstrip('/')}/api/v1",
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    with api:
        # 1. Store what was said. remember=true also makes each message an episodic
        #    memory. The Idempotency-Key makes a retry after a timeout safe.
        stored = api.post(
            "/episodes",
            headers={"Idempotency-Key": str(uuid.uuid4())},
            json={
                "session": "call-2026-03-01",
                "remember": True,
                "messages": [
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
            },
        )
        stored.raise_for_status()

        # 2. Search: hybrid (meaning + words) by default. Memories are searchable by
        #    their words at once and by meaning as soon as the worker embeds them.
        found = api.post("/search", json={"query": "When is Maya's marathon?", "k": 3})
        found.raise_for_status()
        memory = found.json()["hits"][0]["memory"]
        print("found:", memory["content"])

        # 3. Correct it. If-Match carries the version we read: if someone changed the
        #    memory meanwhile, the answer is 412 and nothing is overwritten.
        corrected = api.patch(
            f"/memories/{memory['id']}",
            headers={"If-Match": f'"{memory["version"]}"'},
            json={
                "content": "Maya is running the Lisbon marathon on October 18.",
                "reason": "the race moved a week",
            },
        )
        corrected.raise_for_status()

        # 4. Its history: every version, by whom, and why.
        history = api.get(f"/memories/{memory['id']}/versions")
        history.raise_for_status()
        for version in history.json()["results"]:
            print(
                f"v{version['version']} {version['action']} by {version['actor_label']}:",
                version["content"],
                f"({version['reason']})" if version["reason"] else "",
            )
        return {"memory": corrected.json(), "versions": history.json()["results"]}


if __name__ == "__main__":
    run(os.environ.get("MEMORYWEB_URL", "http://127.0.0.1:8000"), os.environ["MEMORYWEB_TOKEN"])

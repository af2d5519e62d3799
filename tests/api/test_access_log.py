"""A search through the API is recorded, by the real worker, as each hit's recall."""

from __future__ import annotations

import time

import pytest

from apps.memories.models import Memory
from apps.spaces.models import Scope

pytestmark = [pytest.mark.slow, pytest.mark.services]


def test_an_api_search_shows_in_the_memorys_access_log(agent_for, space, celery_worker_process):
    agent = agent_for(space, [Scope.MEMORIES_READ, Scope.MEMORIES_WRITE])
    memory_id = agent.post(
        "/api/v1/memories", {"content": "Inês runs front of house at Brasa."}, format="json"
    ).json()["id"]
    hits = agent.post(
        "/api/v1/search", {"query": "front of house", "mode": "text", "k": 1}, format="json"
    ).json()["hits"]
    assert [h["memory"]["id"] for h in hits] == [memory_id]

    deadline = time.monotonic() + 60
    while Memory.objects.for_space(space).get(pk=memory_id).access_count == 0:
        assert time.monotonic() < deadline, "the worker never recorded the recall"
        time.sleep(0.2)
    log = agent.get(f"/api/v1/memories/{memory_id}/access").json()["results"]
    recall = next(e for e in log if e["action"] == "memory.recall")
    assert recall["actor_label"] == f"token:{agent.token.name}"
    assert recall["summary"]["query"] == "front of house"

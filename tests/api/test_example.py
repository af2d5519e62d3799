"""The example an agent developer reads first must work against a real server."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from apps.memories.models import Memory
from apps.spaces.models import ApiToken, Scope

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "agent_memory.py"


@pytest.mark.django_db(transaction=True)
def test_the_agent_example_runs_against_a_live_server(live_server, space, capsys):
    _token, raw = ApiToken.issue(
        space=space, name="example", scopes=[Scope.MEMORIES_READ, Scope.MEMORIES_WRITE]
    )
    spec = importlib.util.spec_from_file_location("agent_memory", EXAMPLE)
    assert spec is not None and spec.loader is not None
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)

    result = example.run(live_server.url, raw)

    assert [v["action"] for v in result["versions"]] == ["create", "update"]
    memory = Memory.objects.for_space(space).get(pk=result["memory"]["id"])
    assert memory.content == "Maya is running the Lisbon marathon on October 18."
    assert memory.versions.get(version=2).reason == "the race moved a week"
    assert "found: I'm running the Lisbon marathon on October 11." in capsys.readouterr().out

"""The MCP example an agent developer copies must work against the server `make run`
starts: run as a script, against the Procfile's mcp process."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from django.conf import settings

from apps.audit.models import AuditEvent
from apps.memories.models import Memory
from apps.spaces.models import Space
from tests.conftest import worker_env
from tests.mcp.conftest import WRITE

EXAMPLE = Path(settings.BASE_DIR) / "examples" / "mcp_agent.py"


@pytest.mark.django_db(transaction=True)
def test_the_mcp_agent_example_runs_against_the_procfile_server(
    procfile_mcp: str, token_for: Callable[..., str]
) -> None:
    home = Space.objects.create(slug="home", name="Home")
    raw = token_for(home, WRITE)
    finished = subprocess.run(
        [sys.executable, str(EXAMPLE)],
        env=worker_env(MEMORYWEB_MCP_URL=f"{procfile_mcp}/mcp", MEMORYWEB_TOKEN=raw),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert "tools: remember, recall" in finished.stdout

    corrected = Memory.objects.for_space(home).get(subject="Maya", kind="fact")
    assert corrected.content == "Maya's marathon is in Lisbon on October 18."
    assert corrected.version == 2
    assert Memory.objects.for_space(home).filter(session__startswith="call-").count() == 3
    # The useful mark made it stronger than a memory only recalled once.
    assert corrected.strength > 1
    feedback = AuditEvent.objects.for_space(home).filter(action="memory.feedback")
    assert feedback.filter(target_id=str(corrected.pk)).exists()

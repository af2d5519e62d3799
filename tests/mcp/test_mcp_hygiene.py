"""The hygiene policy and flags over MCP: refused and redacted writes, marked recall hits,
and recall without flagged memories."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from mcp_types import CallToolResult

from apps.memories.models import Memory
from apps.spaces.models import Space
from tests.hygiene.test_policy import KEY, WITH_INJECTION, WITH_KEY, set_policy
from tests.mcp.conftest import WRITE, error_of, text_of

pytestmark = pytest.mark.django_db(transaction=True)

Call = Callable[..., CallToolResult]


@pytest.fixture
def home(transactional_db: Any) -> Space:
    return Space.objects.create(slug="home", name="Home")


@pytest.fixture
def writer(home: Space, token_for: Callable[..., str]) -> str:
    return token_for(home, WRITE)


def test_remember_is_refused_by_the_policy_without_echoing_the_text(
    call: Call, writer: str, home: Space
) -> None:
    set_policy(home, secret="reject")
    error = error_of(call(writer, "remember", content=WITH_KEY))
    assert error["code"] == "content_refused"
    assert error["details"] == {"findings": [{"category": "secret", "type": "aws_key"}]}
    assert KEY not in str(error)
    assert not Memory.objects.for_space(home).exists()


def test_remember_redacts_a_secret(call: Call, writer: str, home: Space) -> None:
    result = call(writer, "remember", content=WITH_KEY)
    assert not result.is_error, text_of(result)
    assert KEY not in text_of(result)
    assert Memory.objects.for_space(home).get().content.count("[REDACTED:aws_key]") == 1


def test_recall_marks_an_injection_hit_and_can_leave_it_out(
    call: Call, writer: str, home: Space
) -> None:
    call(writer, "remember", content=f"Deploy notes. {WITH_INJECTION}")
    call(writer, "remember", content="Deploy notes: run the tests first.")

    result = call(writer, "recall", query="deploy notes", mode="text")
    text = text_of(result)
    flagged_line = next(line for line in text.splitlines() if "ignore all previous" in line)
    assert "[flagged: possible prompt injection (override)]" in flagged_line
    plain_line = next(line for line in text.splitlines() if "run the tests" in line)
    assert "[flagged" not in plain_line
    assert result.structured_content is not None
    flags = [hit["flags"] for hit in result.structured_content["hits"]]
    assert sorted(flags, key=len) == [[], [{"category": "injection", "type": "override"}]]

    result = call(writer, "recall", query="deploy notes", mode="text", exclude_flagged=True)
    assert "ignore all previous" not in text_of(result)
    assert "run the tests" in text_of(result)

"""Compact text for a model to read: one line per memory, the facts it needs to use or
cite it (what, when, about whom, which id and version), nothing it would have to skip.
The full JSON goes along as the tool's structured content."""

from __future__ import annotations

from typing import Any

from apps.hygiene.marks import describe_marks


def describe_memory(memory: dict[str, Any]) -> str:
    """`content` — when; subject; kind; status; id; version (the fields the token may see)."""
    parts = [str(memory.get("content", "")).strip() or "(content not shown to this token)"]
    when = _day(memory.get("occurred_at")) or _day(memory.get("created_at"))
    details = [
        f"when {when}" if when else "",
        f"about {memory['subject']}" if memory.get("subject") else "",
        str(memory.get("kind") or ""),
        f"status {memory['status']}" if memory.get("status") not in (None, "active") else "",
        f"tags {', '.join(memory['tags'])}" if memory.get("tags") else "",
        f"id {memory['id']}" if memory.get("id") else "",
        f"version {memory['version']}" if memory.get("version") else "",
    ]
    return " | ".join([parts[0], *(d for d in details if d)])


def describe_hits(answer: dict[str, Any]) -> str:
    hits = answer.get("hits") or []
    lines = [f"recall_id {answer.get('recall_id')}"] if answer.get("recall_id") else []
    if answer.get("notice"):
        lines.append(f"note: {answer['notice']}")
    if not hits:
        lines.append("No memory matches.")
    for rank, hit in enumerate(hits, start=1):
        marks = describe_marks(hit.get("flags") or [])
        lines.append(
            f"{rank}. [score {hit.get('score', 0):.3f}]{f' {marks}' if marks else ''} "
            f"{describe_memory(hit['memory'])}"
        )
    return "\n".join(lines)


def describe_versions(answer: dict[str, Any]) -> str:
    lines = []
    for version in answer.get("results") or []:
        who = version.get("actor_label") or version.get("actor_type") or "someone"
        why = f" ({version['reason']})" if version.get("reason") else ""
        lines.append(
            f"v{version['version']} {version['action']} by {who} on "
            f"{_day(version.get('created_at'))}{why}: {version.get('content', '')}"
        )
    return "\n".join(lines) or "No versions."


def _day(instant: Any) -> str:
    """An ISO instant to the minute, 2026-03-01 09:00 (seconds are noise for a model)."""
    if not instant:
        return ""
    text = str(instant).replace("T", " ")
    return text[:16]

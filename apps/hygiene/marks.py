"""How flags show where memories are shown: the open flags of a page of memories in one
query, the marks an agent sees on a recall hit, and the flagged spans of a memory's
text wrapped in <mark> for its page."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from apps.hygiene.models import Flag
from apps.memories.models import Memory
from apps.spaces.models import Space

# How an agent reads a flag on a recall hit (apps.mcp.formatting).
CATEGORY_WORDS = {
    "injection": "possible prompt injection",
    "secret": "possible secret",
    "pii": "personal data",
}


def open_flags_by_memory(space: Space, memory_ids: Iterable[object]) -> dict[object, list[Flag]]:
    """The open flags of these memories, by memory id, in one query."""
    ids = list(memory_ids)
    found: dict[object, list[Flag]] = defaultdict(list)
    if not ids:
        return found
    for flag in (
        Flag.objects.for_space(space)
        .open()
        .filter(memory_id__in=ids)
        .only("pk", "memory_id", "category", "type", "start", "end", "content_hash")
        .order_by("start", "pk")
    ):
        found[flag.memory_id].append(flag)
    return found


def attach_open_flags(space: Space, memories: Sequence[Memory]) -> None:
    """Set `open_flags` on each memory (a list, maybe empty)."""
    flags = open_flags_by_memory(space, [m.pk for m in memories])
    for memory in memories:
        memory.open_flags = flags.get(memory.pk, [])  # type: ignore[attr-defined]


def hit_marks(flags: Iterable[Flag]) -> list[dict[str, Any]]:
    """What a recall hit says of its open flags: category and type, each once."""
    seen = dict.fromkeys((f.category, f.type) for f in flags)
    return [{"category": category, "type": kind} for category, kind in seen]


def describe_marks(marks: Iterable[dict[str, Any]]) -> str:
    """E.g. "[flagged: possible prompt injection (override)]"; "" when unflagged."""
    words = [f"{CATEGORY_WORDS.get(m['category'], m['category'])} ({m['type']})" for m in marks]
    return f"[flagged: {'; '.join(words)}]" if words else ""


def marked_text(text: str, content_hash: str, flags: Iterable[Flag]) -> SafeString:
    """`text` escaped, with each open flag's span in <mark id="flag-N">. Flags computed on
    another text (their hash differs) mark nothing; of overlapping spans the first wins."""
    parts: list[str] = []
    cursor = 0
    for flag in sorted(flags, key=lambda f: (f.start, f.pk)):
        if flag.content_hash != content_hash or flag.start < cursor or flag.end > len(text):
            continue
        parts.append(escape(text[cursor : flag.start]))
        label = escape(f"{flag.get_category_display()}: {flag.type}")
        parts.append(
            f'<mark id="flag-{flag.pk}" class="flag flag-{escape(flag.category)}" '
            f'title="{label}">{escape(text[flag.start : flag.end])}</mark>'
        )
        cursor = flag.end
    parts.append(escape(text[cursor:]))
    return mark_safe("".join(parts))  # every piece above is escaped

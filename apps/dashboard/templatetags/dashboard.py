"""Template helpers: match highlighting and short ages."""

from __future__ import annotations

import re
from datetime import datetime

from django import template
from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

register = template.Library()

_WORD = re.compile(r"\w{3,}", re.UNICODE)
SNIPPET_CHARS = 240


@register.simple_tag
def highlight(text: str, query: str, length: int = SNIPPET_CHARS) -> SafeString:
    """An escaped snippet of `text` around the first match of a query word, with the
    matches in <mark>. Words match by prefix, so "runs" finds "running"."""
    words = sorted({w.casefold()[:5] for w in _WORD.findall(query or "")}, key=len, reverse=True)
    text = text or ""
    pattern = (
        re.compile(r"\b(" + "|".join(map(re.escape, words)) + r")\w*", re.I) if words else None
    )
    start = 0
    if pattern:
        first = pattern.search(text)
        if first and first.start() > length // 3:
            start = first.start() - length // 3
    snippet = text[start : start + length]
    prefix = "…" if start else ""
    suffix = "…" if start + length < len(text) else ""
    if pattern is None:
        return mark_safe(prefix + escape(snippet) + suffix)
    parts: list[str] = []
    last = 0
    for match in pattern.finditer(snippet):
        parts.append(escape(snippet[last : match.start()]))
        parts.append(f"<mark>{escape(match.group(0))}</mark>")
        last = match.end()
    parts.append(escape(snippet[last:]))
    return mark_safe(prefix + "".join(parts) + suffix)


@register.filter
def age(moment: datetime | None) -> str:
    """'3d', '5h', '2mo': compact enough for a dense list."""
    if moment is None:
        return "—"
    seconds = max(0, int((timezone.now() - moment).total_seconds()))
    for unit, size in (("y", 31_536_000), ("mo", 2_592_000), ("d", 86_400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return "now"

"""Template helpers: match highlighting, relative times and job counters in words."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from django import template
from django.template.defaultfilters import pluralize
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe

from apps.consolidation.models import Operation
from apps.consolidation.services import ENTITIES

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


# Whole units, largest first: "3 months", never "3mo" (or "6m", minutes or months?).
AGE_UNITS = (
    ("year", 365 * 86_400),
    ("month", 30 * 86_400),
    ("week", 7 * 86_400),
    ("day", 86_400),
    ("hour", 3600),
    ("minute", 60),
)


@register.filter
def age(moment: datetime | None) -> str:
    """How long ago (or ahead) `moment` is, in words: '3 months', '1 minute'. The one
    wording of a relative time on every page; `ago` wraps it in a <time> element."""
    if moment is None:
        return "—"
    seconds = abs(int((timezone.now() - moment).total_seconds()))
    for unit, size in AGE_UNITS:
        if seconds >= size:
            count = seconds // size
            return f"{count} {unit}{pluralize(count)}"
    return "less than a minute"


@register.filter
def ago(moment: datetime | None) -> SafeString:
    """'3 months ago' (or 'in 2 days') in a <time> element whose title is the exact time."""
    if moment is None:
        return mark_safe('<span class="muted">—</span>')
    words = age(moment)
    relative = f"in {words}" if moment > timezone.now() else f"{words} ago"
    exact = date_format(timezone.localtime(moment), "Y-m-d H:i:s T")
    return format_html(
        '<time datetime="{}" title="{}">{}</time>', moment.isoformat(), exact, relative
    )


# What each job counter counts, as (one, many): "4 entities applied", "1 merge proposed".
# The consolidation job counts per operation; the others count what they did.
_OPERATION_NOUNS: dict[str, tuple[str, str]] = {
    Operation.MERGE: ("merge", "merges"),
    Operation.LINK: ("link", "links"),
    Operation.SUPERSEDE: ("supersession", "supersessions"),
    Operation.SUMMARY: ("summary", "summaries"),
    Operation.ARCHIVE: ("archival", "archivals"),
    ENTITIES: ("entity", "entities"),
}
COUNTER_SENTENCES: dict[str, tuple[str, str]] = {
    "embedded": ("{n} memory embedded", "{n} memories embedded"),
    "points": ("{n} memory placed on the map", "{n} memories placed on the map"),
    "clusters": ("{n} cluster found", "{n} clusters found"),
    "scanned": ("{n} text scanned", "{n} texts scanned"),
    "flagged": ("{n} new flag raised", "{n} new flags raised"),
    "sampled": ("{n} query sampled", "{n} queries sampled"),
    "unflagged": ("{n} flag no longer applying", "{n} flags no longer applying"),
    "rechecked": ("{n} changed proposal re-checked", "{n} changed proposals re-checked"),
    "recheck_pending": (
        "{n} re-checked proposal back to pending",
        "{n} re-checked proposals back to pending",
    ),
    "recheck_retired": ("{n} re-checked proposal retired", "{n} re-checked proposals retired"),
    "recheck_stale": (
        "{n} re-checked proposal still stale",
        "{n} re-checked proposals still stale",
    ),
    **{
        f"{operation}_{outcome}": (f"{{n}} {one} {words}", f"{{n}} {many} {words}")
        for operation, (one, many) in _OPERATION_NOUNS.items()
        for outcome, words in (("proposed", "proposed"), ("applied", "applied by policy"))
    },
}


@register.filter
def counter_sentences(counts: dict[str, int] | None) -> list[str]:
    """A job's counters as short sentences, the zeros left out: what it did, not its
    field names. A counter without a wording still reads: 'foo_bar 3' → '3 foo bar'."""
    sentences = []
    # In the table's order (re-checks, then each operation's proposed and applied):
    # Postgres hands a JSON object's keys back sorted by length.
    order = {name: i for i, name in enumerate(COUNTER_SENTENCES)}
    for name, value in sorted((counts or {}).items(), key=lambda item: order.get(item[0], 999)):
        if not value:
            continue
        one, many = COUNTER_SENTENCES.get(name, ("{n} " + name.replace("_", " "),) * 2)
        sentences.append((one if value == 1 else many).format(n=value))
    return sentences


@register.filter
def flag_categories(flags: list[Any]) -> list[str]:
    """The categories of some flags, each once, as a curator reads them."""
    return list(dict.fromkeys(flag.get_category_display() for flag in flags))

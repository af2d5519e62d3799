"""Taking purged text out of the audit trail while the trail stays.

A redacted event keeps its action, actor, time, target and request id, and in its
summary every id, number, boolean and the enumeration values the caller names (kinds,
statuses, modes): what happened, to what, by whom, stays readable. Its reason and
every other text value of its summary, which may be the purged words, are replaced.

Redacting a span (apps.memories.services.redaction) scrubs less: only the exact
texts it names are replaced, wherever they stand in a reason or a summary value
(`scrub_events`, with `scrubbed` for any stored value).

The audit table refuses updates (a trigger); apps.audit.migrations.0003 lets a
transaction that names the space (`rewriting_history`) rewrite `reason` and
`summary`, nothing else; memories.0005 and 0006 let it rewrite the texts of versions and
episodes.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

from django.db import connection, transaction
from django.db.models import Q, QuerySet

from apps.audit.models import AuditEvent
from apps.spaces.models import Space

REDACTED = "[redacted]"


@transaction.atomic
def redact_events(space: Space, events: QuerySet[AuditEvent], *, keep: Collection[str] = ()) -> int:
    """Empty the reason and replace the text values of these events' summaries; the
    values in `keep` are vocabulary, not anyone's words, and stay. Returns how many
    events changed."""
    changed = []
    for event in AuditEvent.objects.for_space(space).filter(pk__in=events.values("pk")):
        summary = _redacted(event.summary, frozenset(keep))
        if summary != event.summary or event.reason:
            event.summary, event.reason = summary, ""
            changed.append(event)
    _rewrite(space, changed)
    return len(changed)


@transaction.atomic
def redact_summary_key(space: Space, events: QuerySet[AuditEvent], key: str) -> int:
    """Replace one value of these events' summaries (e.g. the query of a search),
    leaving the rest of each event as it was. Returns how many events changed."""
    changed = []
    for event in AuditEvent.objects.for_space(space).filter(pk__in=events.values("pk")):
        if isinstance(event.summary, dict) and event.summary.get(key) not in (None, REDACTED):
            event.summary = {**event.summary, key: REDACTED}
            changed.append(event)
    _rewrite(space, changed)
    return len(changed)


@transaction.atomic
def scrub_events(space: Space, replacements: Mapping[str, str]) -> int:
    """Replace each text (a key of `replacements`) by its value wherever it stands in
    the reason or the summary of the space's events. Returns how many events changed."""
    changed = []
    events = AuditEvent.objects.for_space(space)
    for event in events.filter(holding_any(replacements, "reason", json_fields=["summary"])):
        summary, reason = (
            scrubbed(event.summary, replacements),
            scrubbed(event.reason, replacements),
        )
        if (summary, reason) != (event.summary, event.reason):
            event.summary, event.reason = summary, reason
            changed.append(event)
    _rewrite(space, changed)
    return len(changed)


def scrubbed(value: Any, replacements: Mapping[str, str], *, keys: bool = False) -> Any:
    """`value` (a string, or JSON made of lists and dicts) with each text replaced
    wherever it stands in a string. One pass, the longest texts first: a text holding
    a shorter one goes whole, and a replacement is never replaced again.

    Keys of dicts are the writers' own names (an audit summary's "version") and stay,
    unless `keys`: a memory's metadata, and what copies it, is the agent's data, keys
    and all. Two keys that come out the same are told apart by " (2)", " (3)"..."""
    if not replacements:
        return value
    if isinstance(value, str):
        return _pattern(tuple(replacements)).sub(lambda m: replacements[m.group()], value)
    if isinstance(value, list):
        return [scrubbed(item, replacements, keys=keys) for item in value]
    if isinstance(value, dict):
        result: dict[str, Any] = {}
        for key, item in value.items():
            name = scrubbed(key, replacements) if keys and isinstance(key, str) else key
            if name != key:
                name = _unused(name, result, value)
            result[name] = scrubbed(item, replacements, keys=keys)
        return result
    return value


def occurrences(text: str, replacements: Mapping[str, str]) -> list[tuple[int, int, str]]:
    """Where `scrubbed` replaces a text in `text`: (start, end, replacement), in order."""
    if not replacements:
        return []
    return [
        (found.start(), found.end(), replacements[found.group()])
        for found in _pattern(tuple(replacements)).finditer(text)
    ]


def _unused(name: str, *taken: Mapping[str, Any]) -> str:
    candidate, number = name, 1
    while any(candidate in keys for keys in taken):
        number += 1
        candidate = f"{name} ({number})"
    return candidate


@lru_cache(maxsize=16)
def _pattern(texts: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile("|".join(re.escape(text) for text in sorted(texts, key=len, reverse=True)))


def holding_any(texts: Collection[str], *text_fields: str, json_fields: Collection[str] = ()) -> Q:
    """Rows whose text fields or JSON fields may hold any of the texts: a filter to
    narrow the rows that `scrubbed` then rewrites exactly. A JSON field is searched as
    text, case-insensitively, in the escaped spelling a JSON document gives a string."""
    found = Q(pk__in=[])
    for text in texts:
        for name in text_fields:
            found |= Q(**{f"{name}__contains": text})
        for name in json_fields:
            found |= Q(**{f"{name}__icontains": json_spelling(text)})
    return found


def json_spelling(text: str) -> str:
    """How a string appears inside PostgreSQL's text form of a JSON document."""
    return json.dumps(text, ensure_ascii=False)[1:-1]


@contextmanager
def rewriting_history(space: Space) -> Iterator[None]:
    """Inside this block, in this transaction and this space only, the append-only
    triggers let redaction rewrite the text of audit events, versions and episodes."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('memoryweb.redacting_space', %s, true)", [str(space.pk)])
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            # Only these rows: the rest of the transaction is append-only again.
            cursor.execute("SELECT set_config('memoryweb.redacting_space', '', true)")


def _rewrite(space: Space, events: list[AuditEvent]) -> None:
    if not events:
        return
    with rewriting_history(space):
        AuditEvent.objects.for_space(space).bulk_update(
            events, ["reason", "summary"], batch_size=1000
        )


def _redacted(value: Any, keep: frozenset[str]) -> Any:
    if isinstance(value, str):
        return value if value in keep or _is_id(value) else REDACTED
    if isinstance(value, list):
        return [_redacted(item, keep) for item in value]
    if isinstance(value, dict):
        # Keys are the writers' own field names, never stored text.
        return {key: _redacted(item, keep) for key, item in value.items()}
    return value


def _is_id(value: str) -> bool:
    if value.isdigit():
        return True
    try:
        return str(uuid.UUID(value)) == value
    except ValueError:
        return False

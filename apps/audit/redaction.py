"""Taking purged text out of the audit trail while the trail stays.

A redacted event keeps its action, actor, time, target and request id, and in its
summary every id, number, boolean and the enumeration values the caller names (kinds,
statuses, modes): what happened, to what, by whom, stays readable. Its reason and
every other text value of its summary, which may be the purged words, are replaced.

The audit table refuses updates (a trigger); apps.audit.migrations.0003 lets a
transaction that names the space rewrite `reason` and `summary`, nothing else.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from typing import Any

from django.db import connection, transaction
from django.db.models import QuerySet

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


def _rewrite(space: Space, events: list[AuditEvent]) -> None:
    if not events:
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('memoryweb.redacting_space', %s, true)", [str(space.pk)])
    AuditEvent.objects.for_space(space).bulk_update(events, ["reason", "summary"], batch_size=1000)
    with connection.cursor() as cursor:
        # Only these rows: the rest of the transaction is append-only again.
        cursor.execute("SELECT set_config('memoryweb.redacting_space', '', true)")


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

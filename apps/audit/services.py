"""Writing audit events. Called inside the transaction of the change it records."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Required, TypedDict, Unpack

from django.utils import timezone

from apps.audit.actors import Actor
from apps.audit.context import request_id_var
from apps.audit.models import AuditEvent
from apps.core.bulk import copy_insert
from apps.spaces.models import Space


class EventFields(TypedDict, total=False):
    """new_event's keyword arguments, so record_event's callers are checked too."""

    target_type: Required[str]
    target_id: Required[object]
    reason: str
    summary: dict[str, Any] | None


def record_event(
    space: Space, actor: Actor, action: str, **fields: Unpack[EventFields]
) -> AuditEvent:
    """Write one event now."""
    event = new_event(space, actor, action, **fields)
    event.save(force_insert=True)
    return event


def new_event(
    space: Space | int,
    actor: Actor,
    action: str,
    *,
    target_type: str,
    target_id: object,
    reason: str = "",
    summary: dict[str, Any] | None = None,
) -> AuditEvent:
    """An event not yet saved: for a caller that writes it with the change's other rows.

    A space id will do, so that an event about a row need not load the row's space.
    """
    return AuditEvent(
        space_id=space if isinstance(space, int) else space.pk,
        action=action,
        target_type=target_type,
        target_id=str(target_id),
        request_id=request_id_var.get(),
        reason=reason,
        summary=summary or {},
        **actor.as_fields(),
    )


def record_events(
    space: Space,
    actor: Actor,
    action: str,
    targets: list[tuple[str, object, dict[str, Any]]],
    *,
    reason: str = "",
    at: datetime | None = None,
) -> None:
    """One event per (target_type, target_id, summary), written with one COPY.

    `at` dates events that report something already done (a recall's time)."""
    request_id = request_id_var.get()
    created_at = at or timezone.now()
    copy_insert(
        [
            AuditEvent(
                space=space,
                created_at=created_at,
                action=action,
                target_type=target_type,
                target_id=str(target_id),
                request_id=request_id,
                reason=reason,
                summary=summary,
                **actor.as_fields(),
            )
            for target_type, target_id, summary in targets
        ]
    )

"""What every API view shares: the caller's space and actor, query-parameter checks,
If-Match, read logging."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db.models import QuerySet
from rest_framework import viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from apps.api.access import Caller, caller_of
from apps.api.errors import ApiError
from apps.api.pagination import KeysetPagination
from apps.audit.actors import Actor
from apps.audit.services import record_event, record_events
from apps.core.params import parse_instant
from apps.spaces.models import Space

# Accepted by every endpoint besides its own filters.
COMMON_PARAMS = frozenset({"cursor", "limit", "space", "fields"})
_IF_MATCH = re.compile(r'^\s*(?:W/)?"?([0-9]{1,9})"?\s*$')


class SpaceScopedViewSet(viewsets.GenericViewSet):
    """A viewset whose objects all come from the caller's space.

    `query_params` maps an action to the query parameters it understands; anything
    else is refused, so a misspelt filter is an error rather than an unfiltered list.
    """

    pagination_class = KeysetPagination
    query_params: dict[str, frozenset[str]] = {}
    # Reads of what holds no memory text (links, entities, the audit log, tokens) are
    # audited once per request under "<read_audit>.read"; memory and episode reads are
    # audited per item by their views (the access log).
    read_audit = ""

    @property
    def caller(self) -> Caller:
        return caller_of(self.request)

    @property
    def space(self) -> Space:
        return self.caller.space

    @property
    def actor(self) -> Actor:
        return self.caller.actor

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        allowed = self.query_params.get(self.action or "", frozenset()) | COMMON_PARAMS
        unknown = sorted(set(request.query_params) - allowed)
        if unknown:
            raise ApiError(
                400,
                "unknown_parameter",
                f"unknown query parameters: {', '.join(unknown)}",
                {"unknown": unknown, "allowed": sorted(allowed)},
            )

    def finalize_response(
        self, request: Request, response: Response, *args: Any, **kwargs: Any
    ) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)
        if self.read_audit and request.method == "GET" and 200 <= response.status_code < 300:
            space = self.audited_space()
            if space is None:
                return response
            record_event(
                space,
                self.actor,
                f"{self.read_audit}.read",
                target_type=self.read_audit,
                target_id=kwargs.get("pk", ""),
                summary={"path": request.path, "query": request.query_params.urlencode()[:500]},
            )
        return response

    def audited_space(self) -> Space | None:
        """The space whose audit log records this read."""
        return self.space

    def page(self, queryset: QuerySet[Any]) -> list[Any]:
        rows = self.paginate_queryset(queryset)
        assert rows is not None  # every viewset here paginates
        return rows

    def date_param(self, name: str) -> datetime | None:
        raw = self.request.query_params.get(name)
        return parse_instant(raw, name) if raw else None

    def list_param(self, name: str) -> list[str]:
        """Repeated (?kind=a&kind=b) or comma-separated (?kind=a,b) values."""
        return [
            value.strip()
            for raw in self.request.query_params.getlist(name)
            for value in raw.split(",")
            if value.strip()
        ]


def if_match_version(request: Request) -> int | None:
    """The version named by If-Match (`"3"`, `W/"3"` or `3`), or None when absent."""
    raw = request.headers.get("If-Match")
    if raw is None:
        return None
    match = _IF_MATCH.match(raw)
    if match is None:
        raise ApiError(
            400,
            "invalid_request",
            'If-Match must be the memory\'s version as its ETag gives it, e.g. "3"',
            {"If-Match": raw},
        )
    return int(match.group(1))


def log_reads(caller: Caller, memory_ids: Iterable[object], via: str) -> None:
    """The access log: one audit event per memory read, written in one statement."""
    targets: list[tuple[str, object, dict[str, Any]]] = [
        ("memory", memory_id, {"via": via}) for memory_id in memory_ids
    ]
    if targets:
        record_events(caller.space, caller.actor, "memory.read", targets)


def log_episode_reads(caller: Caller, episode_ids: Iterable[object]) -> None:
    """Episodes are what was said, verbatim: reading them is logged like memories."""
    targets: list[tuple[str, object, dict[str, Any]]] = [
        ("episode", episode_id, {}) for episode_id in episode_ids
    ]
    if targets:
        record_events(caller.space, caller.actor, "episode.read", targets)

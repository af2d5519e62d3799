"""Keyset ("cursor") pagination: newest first, stable under concurrent inserts.

The cursor is the (time, id) of the last row served, so a row written meanwhile can
neither shift a page nor be served twice, and deep pages cost what the first does.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Model, Q, QuerySet
from rest_framework.pagination import BasePagination
from rest_framework.request import Request
from rest_framework.response import Response

from apps.api.errors import ApiError
from apps.core.params import parse_instant, parse_int


def encode_cursor(value: Any, pk: Any) -> str:
    raw = json.dumps([value.isoformat() if isinstance(value, datetime) else value, str(pk)])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[Any, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value, pk = json.loads(raw)
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
        raise ApiError(400, "invalid_cursor", "the cursor is not one this API gave out") from None
    if not isinstance(pk, str):
        raise ApiError(400, "invalid_cursor", "the cursor is not one this API gave out")
    return value, pk


def page_limit(request: Request) -> int:
    raw = request.query_params.get("limit", "")
    if not raw:
        return int(settings.API_PAGE_SIZE)
    return parse_int(raw, "limit", minimum=1, maximum=settings.API_MAX_PAGE_SIZE)


class KeysetPagination(BasePagination):
    """Orders by the view's `cursor_field` (default created_at), then id, descending."""

    def paginate_queryset(
        self, queryset: QuerySet[Any], request: Request, view: Any = None
    ) -> list[Any]:
        field = getattr(view, "cursor_field", "created_at")
        limit = page_limit(request)
        ordered = queryset.order_by(f"-{field}", "-pk")
        cursor = request.query_params.get("cursor")
        if cursor:
            value, pk = decode_cursor(cursor)
            try:
                if isinstance(value, str):
                    value = parse_instant(value, "cursor")
                ordered = ordered.filter(
                    Q(**{f"{field}__lt": value}) | Q(**{field: value, "pk__lt": pk})
                )
                rows = list(ordered[: limit + 1])
            except (ValueError, TypeError, ValidationError):  # InvalidParameter is a ValueError
                raise ApiError(
                    400, "invalid_cursor", "the cursor is not one this API gave out"
                ) from None
        else:
            rows = list(ordered[: limit + 1])
        self.request = request
        self.next_cursor: str | None = None
        if len(rows) > limit:
            rows = rows[:limit]
            last: Model = rows[-1]
            self.next_cursor = encode_cursor(getattr(last, field), last.pk)
        return rows

    def next_link(self) -> str | None:
        if self.next_cursor is None:
            return None
        params = self.request.query_params.copy()
        params["cursor"] = self.next_cursor
        return self.request.build_absolute_uri(
            f"{self.request.path}?{urlencode(list(params.lists()), doseq=True)}"
        )

    def get_paginated_response(self, data: Any) -> Response:
        return Response(
            {"results": data, "next_cursor": self.next_cursor, "next": self.next_link()}
        )

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "object",
            "required": ["results", "next_cursor", "next"],
            "properties": {
                "results": schema,
                "next_cursor": {"type": "string", "nullable": True},
                "next": {"type": "string", "nullable": True, "format": "uri"},
            },
        }

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return [
            {
                "name": "cursor",
                "in": "query",
                "required": False,
                "description": "next_cursor of the previous page",
                "schema": {"type": "string"},
            },
            {
                "name": "limit",
                "in": "query",
                "required": False,
                "schema": {"type": "integer", "minimum": 1, "maximum": 200},
            },
        ]

"""/api/v1/export and /api/v1/import: a space as JSON Lines."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.db import connections, transaction
from django.http import StreamingHttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import parsers
from rest_framework.request import Request
from rest_framework.response import Response

from apps.api import serializers as s
from apps.api.errors import ApiError
from apps.api.views.base import SpaceScopedViewSet
from apps.audit.services import record_event
from apps.core import replicas
from apps.memories.transfer import export_space, import_lines

JSONL = "application/x-ndjson"


class JsonLinesParser(parsers.BaseParser):
    """Hands the view the raw body, read in bounded pieces up to the import limit."""

    media_type = JSONL

    def parse(  # type: ignore[override]
        self, stream: Any, media_type: Any = None, parser_context: Any = None
    ) -> bytes:
        limit = settings.API_MAX_IMPORT_BYTES
        body = stream.read(limit + 1) if stream is not None else b""
        if len(body) > limit:
            raise ApiError(
                413,
                "request_too_large",
                f"an import holds at most {limit} bytes; split it into several",
                {"limit": limit},
            )
        return bytes(body)


class PlainTextLinesParser(JsonLinesParser):
    media_type = "text/plain"


class ExportViewSet(SpaceScopedViewSet):
    @extend_schema(
        responses={(200, JSONL): OpenApiResponse(OpenApiTypes.STR)},
        description="The whole space as JSON Lines: a header, then episodes, memories "
        "(with their versions), links and entities. Embeddings are not included.",
    )
    def list(self, request: Request) -> StreamingHttpResponse:
        space = self.space
        record_event(space, self.actor, "space.export", target_type="space", target_id=space.slug)
        using = replicas.for_reading(request)

        def lines() -> Iterator[bytes]:
            # One snapshot for the whole file: a link written while the export streams
            # must not point at a memory the file does not hold.
            # (Inside an outer transaction, as in tests, the snapshot is that one's.)
            # A replica takes the same snapshot of what it has replayed.
            connection = connections[using]
            outermost = not connection.in_atomic_block
            with transaction.atomic(using=using), connection.cursor() as cursor:
                if outermost:
                    cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
                for row in export_space(space, using=using):
                    yield (json.dumps(row, ensure_ascii=False) + "\n").encode()

        stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
        response = StreamingHttpResponse(lines(), content_type=JSONL)
        response["Content-Disposition"] = f'attachment; filename="{space.slug}-{stamp}.jsonl"'
        return response


class ImportViewSet(SpaceScopedViewSet):
    parser_classes = [JsonLinesParser, PlainTextLinesParser]
    query_params = {"create": frozenset({"atomic"})}

    @extend_schema(
        request={JSONL: OpenApiTypes.STR},
        parameters=[
            OpenApiParameter("atomic", bool, description="true: import nothing if any line is bad")
        ],
        responses={200: s.ImportReportSerializer, 422: s.ErrorSerializer},
        description="Import an export (ids are renewed). Each bad line is reported with its "
        "number and skipped; with atomic=true one bad line imports nothing (422).",
    )
    def create(self, request: Request) -> Response:
        atomic_raw = request.query_params.get("atomic", "false")
        if atomic_raw not in ("true", "false"):
            raise ApiError(
                400, "invalid_request", "atomic must be true or false", {"atomic": atomic_raw}
            )
        body = request.data
        if not isinstance(body, bytes):
            raise ApiError(415, "unsupported_media_type", f"send the export as {JSONL}", {})
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise ApiError(400, "invalid_request", "the import must be UTF-8 text") from None
        report = import_lines(
            self.space, self.actor, text.splitlines(), atomic=atomic_raw == "true"
        )
        if atomic_raw == "true" and report.errors:
            raise ApiError(
                422,
                "invalid_import",
                f"{len(report.errors)} line(s) could not be imported, so nothing was",
                {"imported": report.imported, "errors": report.errors},
            )
        return Response({"imported": report.imported, "errors": report.errors})

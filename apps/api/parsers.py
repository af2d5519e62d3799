"""JSON bodies, refused with a clear error when they hold text PostgreSQL cannot store
(U+0000), before anything reads them: otherwise a field name or value with it would
reach a text or jsonb column, or an answer that echoes it, and fail there."""

from __future__ import annotations

from collections.abc import Mapping
from typing import IO, Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from apps.memories.services import holds_nul


class NulInBody(ParseError):
    default_detail = "the body holds the NUL character (U+0000), which cannot be stored"


class StrictJSONParser(JSONParser):
    def parse(
        self,
        stream: IO[Any],
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        data = super().parse(stream, media_type, parser_context)
        if holds_nul(data):
            raise NulInBody()
        return data

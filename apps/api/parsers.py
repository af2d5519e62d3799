"""JSON bodies, checked before anything reads them: nested no deeper than
apps.core.payload.MAX_DEPTH, and holding only text PostgreSQL can store. Otherwise a
field name or value with U+0000 or half a surrogate pair would reach a text or jsonb
column, or an answer that echoes it, and fail there, after other rows of the request
may have been written; the whole body is refused instead."""

from __future__ import annotations

from collections.abc import Mapping
from typing import IO, Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import (  # type: ignore[attr-defined]  # stubs lack get_encoding
    JSONParser,
    get_encoding,
)

from apps.core.payload import UnusableJSON, load_json


class StrictJSONParser(JSONParser):
    def parse(
        self,
        stream: IO[Any],
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        encoding = get_encoding(parser_context or {})
        try:
            text = stream.read().decode(encoding)
            return load_json(text)
        except UnusableJSON:
            raise  # apps.api.errors answers 400 with its code and the path
        except ValueError as exc:  # malformed JSON, or not text in that encoding
            raise ParseError(f"JSON parse error - {exc}") from None
